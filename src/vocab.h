/* vocab.h: table vocabularies (format 1.2): key -> row through the hash index, row -> key, the full check, and
 * the writer's side that builds one while rows stream in (docs/FORMAT.md, "Vocabulary"). */
#ifndef EMBSTORE_VOCAB_H
#define EMBSTORE_VOCAB_H

#include "format.h"

/* XXH3-64 (seed 0) of the key bytes: the index's hash. */
uint64_t es_key_hash(const void *key, size_t len);

/* Whether a key may be stored: 1 to ES_MAX_KEY_LEN bytes of UTF-8 without zero bytes. Sets the detail. */
embstore_status es_key_check(const void *key, size_t len);

/* Reader side, over a validated table with ES_TABLE_FLAG_VOCAB in the file at `base`. Every byte read from the
 * vocabulary is checked where it is read: a damaged one gives CORRUPT, never a read outside it. */
embstore_status es_vocab_find(const uint8_t *base, const es_table *t, const void *key, size_t len, uint64_t *row);
embstore_status es_vocab_key(const uint8_t *base, const es_table *t, uint64_t row, const uint8_t **key,
                             uint32_t *len);

/* The full check for verify: calls bad(ctx, first_row, row_count) for every problem (row_count 1: that row's key;
 * first_row 0 and row_count = rows: the section's checksum or its index) and stops when it returns non-zero. */
void es_vocab_verify(const uint8_t *base, const es_table *t, int (*bad)(void *ctx, uint64_t first_row,
                                                                      uint64_t row_count), void *ctx);

/* Writer side: keys spill to an unnamed temporary file (they may not fit in memory); memory keeps, per key, its
 * entry offset and hash, and the index itself (about 32-48 bytes per key). */
typedef struct es_vocab_build {
	int fd;             /* the spill: key entries as the blob will hold them */
	uint64_t flushed;   /* bytes of the blob already in the spill */
	uint8_t *buf;       /* the blob's tail, not yet written */
	size_t buf_len;
	uint64_t n;         /* keys */
	uint64_t *offsets;  /* entry offset of key r */
	uint64_t *hashes;   /* hash of key r, to rebuild the index when it grows */
	uint64_t cap;
	uint64_t *buckets;  /* the index, as the file will hold it */
	uint64_t bucket_count;
} es_vocab_build;

/* dir: where the output goes (the spill is created there, on the same disk). Errors: NO_MEMORY, IO. */
embstore_status es_vocab_build_init(es_vocab_build *b, const char *dir);
/* OK with the row of `key`, or UNKNOWN_KEY. Errors: IO. */
embstore_status es_vocab_build_find(es_vocab_build *b, const void *key, size_t len, uint64_t *row);
/* The key of the next row. Errors: BAD_STRING, LIMIT, DUPLICATE_NAME, NO_MEMORY, IO. */
embstore_status es_vocab_build_add(es_vocab_build *b, const void *key, size_t len);
/* The same with the key's hash (es_key_hash) given, but a key the vocabulary has gives DUPLICATE_NAME with its
 * row in *first and no detail set. */
embstore_status es_vocab_build_add_once(es_vocab_build *b, const void *key, size_t len, uint64_t hash,
                                        uint64_t *first);
/* Asks the CPU for the index bucket where a key of this hash starts its probe (a miss in a large index costs
 * more than the rest of an insert: importers prefetch a few keys ahead). */
void es_vocab_build_prefetch(const es_vocab_build *b, uint64_t hash);
/* Writes the whole section to out_fd (at its current position) and returns its size and checksum. */
embstore_status es_vocab_build_write(es_vocab_build *b, int out_fd, uint64_t *size, uint64_t *checksum);
void es_vocab_build_free(es_vocab_build *b);

#endif
