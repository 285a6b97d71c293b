/* mpi_describe.c: a rank's files as bytes for the others (mpi_describe.h), and back. */
#include <stdlib.h>
#include <string.h>

#include "mpi_describe.h"

static void put(em_buf *b, const void *p, size_t len)
{
	if (b->failed)
		return;
	if (b->cap - b->len < len) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < len)
			cap *= 2;
		unsigned char *grown = realloc(b->data, cap);
		if (grown == NULL) {
			b->failed = true;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

static void put_u32(em_buf *b, uint32_t v)
{
	put(b, &v, sizeof v);
}

static void put_u64(em_buf *b, uint64_t v)
{
	put(b, &v, sizeof v);
}

static void put_str(em_buf *b, const char *s)
{
	size_t len = strlen(s) + 1;
	put_u32(b, (uint32_t)len);
	put(b, s, len);
}

/* One file's shard fields and tables; an ordinary store as shard 0 of 1 holding each table whole. */
static embstore_status describe_file(em_buf *b, const embstore *store, const char *path)
{
	embstore_shard_info shard;
	embstore_status st = embstore_shard_get(store, &shard);
	if (st != EMBSTORE_OK && st != EMBSTORE_NOT_FOUND)
		return st;
	int is_shard = st == EMBSTORE_OK;
	embstore_info info;
	embstore_get_info(store, &info);
	if (!is_shard)
		shard = (embstore_shard_info){"", 0, 1, info.table_count, EMBSTORE_SHARD_NONE};
	put_str(b, path);
	put_u32(b, (uint32_t)is_shard);
	put(b, shard.set_id, sizeof shard.set_id);
	put_u32(b, shard.index);
	put_u32(b, shard.count);
	put_u32(b, shard.tables);
	put_u32(b, (uint32_t)shard.by);
	put_u32(b, info.table_count);
	for (uint32_t k = 0; k < info.table_count; k++) {
		embstore_table t;
		uint32_t position = k;
		uint64_t first = 0, total;
		embstore_table_at(store, k, &t);
		total = t.matrix.rows;
		if (is_shard && (st = embstore_shard_table(store, k, &position, &first, &total)) != EMBSTORE_OK)
			return st;
		put_str(b, t.name);
		put_u32(b, position);
		put_u64(b, first);
		put_u64(b, total);
		put_u64(b, t.matrix.rows);
		put_u32(b, t.matrix.dim);
		put_u32(b, (uint32_t)t.matrix.dtype);
		put_u32(b, (uint32_t)t.has_vocab);
	}
	return EMBSTORE_OK;
}

void em_describe(em_buf *b, embstore *const *stores, const char *const *paths, uint32_t n, embstore_status status,
                 const char *detail)
{
	size_t start = b->len;
	if (status == EMBSTORE_OK) {
		put_u32(b, EMBSTORE_OK);
		put_str(b, "");
		put_u32(b, n);
		for (uint32_t i = 0; status == EMBSTORE_OK && i < n; i++) {
			status = describe_file(b, stores[i], paths[i]);
			if (status != EMBSTORE_OK) {
				/* A malformed shard key: this rank's failure, naming the file. */
				em_detail("'%.200s': %.280s", paths[i], embstore_error_detail());
				detail = embstore_mpi_error_detail();
			}
		}
		if (status == EMBSTORE_OK)
			return;
		b->len = start;
	}
	put_u32(b, (uint32_t)status);
	put_str(b, detail);
	put_u32(b, 0);
}
