/* set_impl.h: an open shard set (set.c), as its lookups (set_ops.c) and merge (set_merge.c) see it. */
#ifndef EMBSTORE_SET_IMPL_H
#define EMBSTORE_SET_IMPL_H

#include <stdbool.h>

#include "util.h"

/* Rows [first, first + table.matrix.rows) of a set table, held by shard `shard` as its table table.index. */
typedef struct es_piece {
	uint32_t shard;
	uint64_t first;
	embstore_table table;
} es_piece;

typedef struct es_set_table {
	embstore_set_table info;
	es_piece *pieces; /* sorted by first; they cover [0, info.rows) exactly */
} es_set_table;

struct embstore_set {
	embstore **stores; /* by shard index */
	char **paths;      /* copies, by shard index */
	uint32_t n;
	bool writable;
	embstore_set_info info;
	es_set_table *tables; /* by position */
	uint32_t *by_name;    /* positions sorted by name */
	es_piece *pieces;     /* every table's, one allocation */
};

/* The piece of `t` holding global row `row` (< t->info.rows). */
const es_piece *es_set_owner(const es_set_table *t, uint64_t row);

#endif
