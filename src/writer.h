/* writer.h: what the importers (import.c) use of the writer beyond the public calls. */
#ifndef EMBSTORE_WRITER_H
#define EMBSTORE_WRITER_H

#include "convert.h"

/* embstore_writer_append, also from the source types only importers have (ES_SRC_F64). */
embstore_status es_writer_append(embstore_writer *w, const void *src, embstore_dtype src_type, uint64_t n,
                                 uint64_t src_stride);

/* For importers of keyed formats: the next row's key (with its es_key_hash) into the current table's vocabulary,
 * unless the table has it already (*repeated is then true, and the row is to be dropped: the first is kept). The
 * row itself follows, in a batch, through es_writer_append_keyed_rows. Errors: those of
 * embstore_writer_append_keyed. */
embstore_status es_writer_add_key(embstore_writer *w, const void *key, size_t len, uint64_t hash, bool *repeated);
/* A hint before es_writer_add_key of a key of this hash, a few keys ahead (es_vocab_build_prefetch). */
void es_writer_prefetch_key(const embstore_writer *w, uint64_t hash);
/* Rows whose keys es_writer_add_key took, in the same order. */
embstore_status es_writer_append_keyed_rows(embstore_writer *w, const void *src, embstore_dtype src_type, uint64_t n);

/* The value of metadata `key` added so far, or NULL. */
const char *es_writer_meta_value(const embstore_writer *w, const char *key);

/* embstore_writer_finish in two steps, for a set of files that must appear together (shard_split.c): seal
 * writes everything but the name and makes it durable (the file stays unnamed); publish takes, in order, the lock
 * finish takes on each file at a path (see embstore_writer_set_wait; a writer holding any of them is found before
 * the first is replaced), then puts them all in place or none (es_commit_finish_all). Errors: those of finish,
 * split between the two. */
embstore_status es_writer_seal(embstore_writer *w);
embstore_status es_writers_publish(embstore_writer *const *w, uint32_t n);

#endif
