/* import.h: the importers' entry points below the public calls, for inputs that are not plain descriptors, and
 * what the importers of several tables (import_safetensors.c, import_npz.c) share with import.c. */
#ifndef EMBSTORE_IMPORT_H
#define EMBSTORE_IMPORT_H

#include "stream.h"

/* Imports the .npy read from `in` as table `name`, stored as `dtype` (0: the file's own), exactly as
 * embstore_writer_import_npy does: the rows the header announces, then the stream must end. Clears the detail.
 * Errors: those of embstore_writer_import_npy. */
embstore_status es_import_npy_stream(embstore_writer *w, const char *name, es_stream *in, embstore_dtype dtype);

/* The same with o->dtype and o->limit, filling o->rows and o->dim; does not clear the detail. */
embstore_status es_import_npy_with(embstore_writer *w, const char *name, es_stream *in, embstore_import *o);

/* Reads the .npy header at the front of `in`. *refused is true when the bytes were read but embstore_npy_parse
 * refused them (its status and detail are returned: not a 2-D float array, or not a .npy at all); false for a
 * read error, which is the stream's. */
embstore_status es_npy_read_header(es_stream *in, embstore_npy_info *out, bool *refused);

/* Every table of a safetensors input (fd, after its first head_len bytes, given back here), or o->tensor's; with
 * `name` NULL each named after its tensor, otherwise the one table is `name`. Fills o as embstore_import says. */
embstore_status es_import_safetensors(embstore_writer *w, const char *name, int fd, const char *path,
                                      const uint8_t *head, size_t head_len, embstore_import *o);
/* The same for a .npz archive: fd must be a regular file (read whole, by seeking). */
embstore_status es_import_npz(embstore_writer *w, const char *name, int fd, const char *path, embstore_import *o);

/* Counts a table made and tells o->table_made. */
void es_import_table_made(embstore_import *o, const char *name, uint64_t rows, uint32_t dim);

/* INVALID_ARGUMENT, with a detail saying that `input` holds `count` candidate `what` ("tensors"), naming a few,
 * and how to pick one. */
embstore_status es_import_pick_one(const char *input, const char *what, const char *const *names, size_t count);

#endif
