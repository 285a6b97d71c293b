/* import_vectors.h: word-vector files (vecparse.h) into a table with a vocabulary. */
#ifndef EMBSTORE_IMPORT_VECTORS_H
#define EMBSTORE_IMPORT_VECTORS_H

#include "vecparse.h"

/* Table `name` from `in` in o->format (WORD2VEC, WORD2VEC_TEXT or GLOVE): every row with its word as key; a
 * repeated word drops its row (o->duplicates). Fills o->rows and o->dim. */
embstore_status es_import_vectors(embstore_writer *w, const char *name, const es_vec_input *in, embstore_import *o);

#endif
