/* shard.h: the shard keys of a store's metadata (docs/FORMAT.md, "Sharded sets"), read and checked as untrusted
 * input; shared by the set calls (set.c), the splitter (shard_split.c) and the fuzz target. */
#ifndef EMBSTORE_SHARD_H
#define EMBSTORE_SHARD_H

#include <stdbool.h>

#include "util.h"

#define ES_SHARD_PREFIX "embstore.shard."
#define ES_SHARD_TABLE_PREFIX "embstore.shard.table."
#define ES_SHARD_MAX_TABLES 65536u
#define ES_SHARD_MAX_ROWS ((uint64_t)1 << 40)

/* Where one table of a shard lies in the set. */
typedef struct es_shard_part {
	uint32_t position;
	uint64_t first, total;
} es_shard_part;

typedef struct es_shard {
	embstore_shard_info info;
	es_shard_part *parts; /* one per table of the file, in file order (owned) */
	uint32_t n_parts;
} es_shard;

/* What the parser reads: a store's metadata entries and its tables' names and rows. */
typedef struct es_shard_input {
	uint32_t n_meta;
	const char *const *meta_keys, *const *meta_values;
	uint32_t n_tables;
	const char *const *table_names;
	const uint64_t *table_rows;
} es_shard_input;

/* Parses and checks every shard key. *is_shard is false (and OK returned, *out untouched) when the input has
 * none of the keys FORMAT.md defines. Errors: BAD_SET (the detail names the key and what is wrong), NO_MEMORY.
 * Does not clear the detail. */
embstore_status es_shard_parse(const es_shard_input *in, es_shard *out, bool *is_shard);
/* The same over an open store. */
embstore_status es_shard_read(const embstore *store, es_shard *out, bool *is_shard);
void es_shard_free(es_shard *shard);

/* Strict canonical decimal of `len` bytes: digits only, no leading zero (but "0"), at most `max`. */
bool es_shard_decimal(const char *s, size_t len, uint64_t max, uint64_t *out);

#endif
