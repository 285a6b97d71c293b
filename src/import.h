/* import.h: the importers' entry points below the public calls, for inputs that are not plain descriptors. */
#ifndef EMBSTORE_IMPORT_H
#define EMBSTORE_IMPORT_H

#include "stream.h"

/* Imports the .npy read from `in` as table `name`, stored as `dtype` (0: the file's own), exactly as
 * embstore_writer_import_npy does: the rows the header announces, then the stream must end. Clears the detail.
 * Errors: those of embstore_writer_import_npy. */
embstore_status es_import_npy_stream(embstore_writer *w, const char *name, es_stream *in, embstore_dtype dtype);

#endif
