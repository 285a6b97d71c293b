/* shard_split.c: splits a store into a shard set (docs/FORMAT.md, "Sharded sets"). The shards are written one
 * after the other from the mapped store through the writer, each sealed (complete and durable, still unnamed)
 * before the next starts, and only when all are sealed are they put in place: a failure before that leaves every
 * existing file as it was, and memory stays that of one writer whatever the count. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "format.h"
#include "shard.h"
#include "writer.h"

#define KEY_BATCH 4096u

typedef struct split {
	const embstore *store;
	embstore_info info;
	uint32_t count;
	embstore_shard_by by;
	uint32_t *owner; /* by table: the shard of each table */
	char set_id[33];
} split;

static embstore_status make_set_id(char *out)
{
	uint8_t bits[16];
	size_t got = 0;
	while (got < sizeof bits) {
		ssize_t n = getrandom(bits + got, sizeof bits - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		ES_CHECKF(n > 0, EMBSTORE_IO, "getrandom failed");
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof bits; i++)
		snprintf(out + 2 * i, 3, "%02x", bits[i]);
	return EMBSTORE_OK;
}

typedef struct sized {
	uint64_t bytes;
	uint32_t table;
} sized;

static int larger_first(const void *a, const void *b)
{
	const sized *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->table < y->table ? -1 : x->table > y->table;
}

/* By table: largest first, each to the shard with the fewest bytes so far (the lowest index among equals). */
static embstore_status assign_tables(split *s)
{
	uint32_t T = s->info.table_count;
	sized *order = malloc(T * sizeof *order);
	uint64_t *load = calloc(s->count, sizeof *load);
	s->owner = malloc(T * sizeof *s->owner);
	embstore_status st = order && load && s->owner ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	for (uint32_t t = 0; st == EMBSTORE_OK && t < T; t++) {
		embstore_table table;
		embstore_table_at(s->store, t, &table);
		order[t] = (sized){table.matrix.rows * table.matrix.row_stride, t};
	}
	if (st == EMBSTORE_OK)
		qsort(order, T, sizeof *order, larger_first);
	for (uint32_t k = 0; st == EMBSTORE_OK && k < T; k++) {
		uint32_t best = 0;
		for (uint32_t i = 1; i < s->count; i++)
			best = load[i] < load[best] ? i : best;
		s->owner[order[k].table] = best;
		load[best] += order[k].bytes;
	}
	free(order);
	free(load);
	return st;
}

/* The rows [*first, *first + *rows) of `table` that shard `index` holds (*rows 0: none). */
static void range_of(const split *s, uint32_t table, uint64_t total, uint32_t index, uint64_t *first, uint64_t *rows)
{
	if (s->by == EMBSTORE_SHARD_BY_TABLE) {
		*first = 0;
		*rows = s->owner[table] == index ? total : 0;
		return;
	}
	uint64_t q = total / s->count, r = total % s->count;
	*first = index * q + (index < r ? index : r);
	*rows = q + (index < r ? 1 : 0);
}

static embstore_status add_meta_u64(embstore_writer *w, const char *key, uint64_t v)
{
	char text[24];
	snprintf(text, sizeof text, "%llu", (unsigned long long)v);
	return embstore_writer_add_meta(w, key, text);
}

static embstore_status shard_meta(const split *s, embstore_writer *w, uint32_t index)
{
	for (uint32_t i = 0; i < s->info.meta_count; i++) {
		const char *key, *value;
		embstore_meta_at(s->store, i, &key, &value);
		ES_TRY(embstore_writer_add_meta(w, key, value));
	}
	ES_TRY(embstore_writer_add_meta(w, ES_SHARD_PREFIX "set", s->set_id));
	ES_TRY(add_meta_u64(w, ES_SHARD_PREFIX "index", index));
	ES_TRY(add_meta_u64(w, ES_SHARD_PREFIX "count", s->count));
	ES_TRY(embstore_writer_add_meta(w, ES_SHARD_PREFIX "by", s->by == EMBSTORE_SHARD_BY_ROWS ? "rows" : "table"));
	ES_TRY(add_meta_u64(w, ES_SHARD_PREFIX "tables", s->info.table_count));
	char value[72];
	for (uint32_t t = 0; t < s->info.table_count; t++) {
		embstore_table table;
		embstore_table_at(s->store, t, &table);
		uint64_t first, rows;
		range_of(s, t, table.matrix.rows, index, &first, &rows);
		if (rows == 0)
			continue;
		size_t len = strlen(ES_SHARD_TABLE_PREFIX) + strlen(table.name) + 1;
		char *key = malloc(len);
		ES_CHECK(key, EMBSTORE_NO_MEMORY);
		snprintf(key, len, "%s%s", ES_SHARD_TABLE_PREFIX, table.name);
		snprintf(value, sizeof value, "%u %llu %llu", t, (unsigned long long)first,
		         (unsigned long long)table.matrix.rows);
		embstore_status st = embstore_writer_add_meta(w, key, value);
		free(key);
		ES_TRY(st);
	}
	return EMBSTORE_OK;
}

/* Rows [first, first + rows) of `table`, with their keys when it has a vocabulary. */
static embstore_status copy_rows(const split *s, embstore_writer *w, const embstore_table *table, uint64_t first,
                                 uint64_t rows)
{
	const embstore_matrix *m = &table->matrix;
	ES_TRY(embstore_writer_set_chunk_bytes(w, table->chunk_rows * m->row_stride));
	ES_TRY(embstore_writer_begin_table(w, table->name, m->dtype, rows, m->dim));
	const char *base = (const char *)m->data + first * m->row_stride;
	if (!table->has_vocab)
		return embstore_writer_append(w, base, m->dtype, rows, m->row_stride);
	const char **keys = malloc(KEY_BATCH * sizeof *keys);
	size_t *lens = malloc(KEY_BATCH * sizeof *lens);
	embstore_status st = keys && lens ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	for (uint64_t done = 0; st == EMBSTORE_OK && done < rows;) {
		uint64_t n = rows - done < KEY_BATCH ? rows - done : KEY_BATCH;
		for (uint64_t i = 0; st == EMBSTORE_OK && i < n; i++)
			st = embstore_table_key(s->store, table->index, first + done + i, &keys[i], &lens[i]);
		if (st == EMBSTORE_OK)
			st = embstore_writer_append_keyed(w, base + done * m->row_stride, m->dtype, n, m->row_stride, keys,
			                                  lens);
		done += n;
	}
	free(keys);
	free(lens);
	return st;
}

static embstore_status write_shard(const split *s, embstore_writer *w, uint32_t index, int wait)
{
	ES_TRY(embstore_writer_set_alignment(w, s->info.data_alignment));
	ES_TRY(embstore_writer_set_wait(w, wait));
	ES_TRY(shard_meta(s, w, index));
	for (uint32_t t = 0; t < s->info.table_count; t++) {
		embstore_table table;
		embstore_table_at(s->store, t, &table);
		uint64_t first, rows;
		range_of(s, t, table.matrix.rows, index, &first, &rows);
		if (rows > 0)
			ES_TRY(copy_rows(s, w, &table, first, rows));
	}
	return es_writer_seal(w);
}

static embstore_status check_split(split *s)
{
	es_shard shard;
	bool is_shard;
	ES_TRY(es_shard_read(s->store, &shard, &is_shard));
	if (is_shard)
		es_shard_free(&shard);
	ES_CHECKF(!is_shard, EMBSTORE_INVALID_ARGUMENT, "the store is a shard already (of set %s)", shard.info.set_id);
	uint64_t largest = 0;
	size_t prefix = strlen(ES_SHARD_TABLE_PREFIX);
	for (uint32_t t = 0; t < s->info.table_count; t++) {
		embstore_table table;
		embstore_table_at(s->store, t, &table);
		largest = table.matrix.rows > largest ? table.matrix.rows : largest;
		size_t len = strlen(table.name);
		ES_CHECKF(prefix + len <= ES_MAX_NAME_LEN, EMBSTORE_LIMIT,
		          "table '%.60s...' has a name of %zu bytes: its shard key '%sNAME' would be %zu bytes, over the "
		          "cap of %u on metadata keys, so a table of a sharded set has a name of at most %zu bytes",
		          table.name, len, ES_SHARD_TABLE_PREFIX, prefix + len, ES_MAX_NAME_LEN,
		          ES_MAX_NAME_LEN - prefix);
	}
	if (s->by == EMBSTORE_SHARD_BY_TABLE) {
		ES_CHECKF(s->count <= s->info.table_count, EMBSTORE_INVALID_ARGUMENT,
		          "%u shards by table need at least %u tables; the store has %u", s->count, s->count,
		          s->info.table_count);
		return assign_tables(s);
	}
	ES_CHECKF(s->count <= largest, EMBSTORE_INVALID_ARGUMENT,
	          "%u shards by rows would leave a shard without rows: the largest table has %llu", s->count,
	          (unsigned long long)largest);
	return EMBSTORE_OK;
}

embstore_status embstore_shard_split(const embstore *store, const char *out, uint32_t count, embstore_shard_by by,
                                     int wait)
{
	es_detail_clear();
	ES_CHECK(store && out && count >= 1 && count <= EMBSTORE_SHARD_MAX, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(by == EMBSTORE_SHARD_BY_ROWS || by == EMBSTORE_SHARD_BY_TABLE, EMBSTORE_INVALID_ARGUMENT);
	split s = {.store = store, .count = count, .by = by};
	embstore_get_info(store, &s.info);
	embstore_status st = check_split(&s);
	if (st == EMBSTORE_OK)
		st = make_set_id(s.set_id);
	size_t cap = embstore_shard_path(out, 0, count, NULL, 0) + 1;
	embstore_writer **w = calloc(count, sizeof *w);
	char *paths = malloc(cap * count);
	if (st == EMBSTORE_OK && (w == NULL || paths == NULL))
		st = EMBSTORE_NO_MEMORY;
	for (uint32_t i = 0; st == EMBSTORE_OK && i < count; i++) {
		embstore_shard_path(out, i, count, paths + i * cap, cap);
		st = embstore_writer_create(paths + i * cap, &w[i]);
		if (st == EMBSTORE_OK)
			st = write_shard(&s, w[i], i, wait);
	}
	/* Every file to be replaced is locked, in index order, before the first is: a trainer holding any of them
	 * makes the split fail (or wait) with the old set whole. A writable open never waits for a lock, and another
	 * split of the same names locks in the same order: waiting cannot deadlock. Then all the shards are put in
	 * place, or none: a failure on the way puts back the files replaced so far. */
	if (st == EMBSTORE_OK)
		st = es_writers_publish(w, count);
	if (st == EMBSTORE_IO && errno == EMFILE) {
		char detail[320];
		snprintf(detail, sizeof detail, "%s", embstore_error_detail());
		/* put first: the detail's room is short, and the path before it may be long */
		es_detail("RLIMIT_NOFILE too low for %u shards (a descriptor each and one per file replaced): %s", count,
		          detail);
		errno = EMFILE;
	}
	for (uint32_t i = 0; w != NULL && i < count; i++)
		embstore_writer_free(w[i]);
	free(w);
	free(paths);
	free(s.owner);
	return st;
}
