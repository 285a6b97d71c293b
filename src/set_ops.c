/* set_ops.c: gather, bag, scatter-add and key lookups over the global ids of a shard set, bit for bit what the
 * same call gives on the unsharded store. Every id is checked first, so a bad one writes nothing. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "set_impl.h"

#define ID_BATCH 4096u
#define BAG_SCRATCH_BYTES ((size_t)4 << 20)

static int64_t load_id(const void *ids, embstore_id_type type, size_t i)
{
	return type == EMBSTORE_ID64 ? ((const int64_t *)ids)[i] : ((const int32_t *)ids)[i];
}

static embstore_status check_ids(const es_set_table *t, const void *ids, embstore_id_type type, size_t n,
                                 size_t *bad_index)
{
	for (size_t i = 0; i < n; i++) {
		int64_t id = load_id(ids, type, i);
		if (id < 0 || (uint64_t)id >= t->info.rows) {
			if (bad_index != NULL)
				*bad_index = i;
			return EMBSTORE_ID_OUT_OF_RANGE;
		}
	}
	return EMBSTORE_OK;
}

static embstore_status table_of(const embstore_set *set, uint32_t table, const void *ids, embstore_id_type type,
                                size_t n, const es_set_table **out)
{
	ES_CHECK(set && table < set->info.table_count && (ids || n == 0), EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(type == EMBSTORE_ID32 || type == EMBSTORE_ID64, EMBSTORE_INVALID_ARGUMENT);
	*out = &set->tables[table];
	return EMBSTORE_OK;
}

/* Calls fn once per run of ids owned by one piece, with the run's local ids (int64) and its start in ids. */
typedef embstore_status (*run_fn)(void *ctx, const es_piece *piece, const int64_t *local, size_t start, size_t n);

static embstore_status for_runs(const es_set_table *t, const void *ids, embstore_id_type type, size_t n, run_fn fn,
                                void *ctx)
{
	int64_t *local = malloc(ID_BATCH * sizeof *local);
	ES_CHECK(local, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	for (size_t start = 0; start < n && st == EMBSTORE_OK;) {
		size_t k = 0;
		const es_piece *owner = es_set_owner(t, (uint64_t)load_id(ids, type, start));
		for (; k < ID_BATCH && start + k < n; k++) {
			uint64_t id = (uint64_t)load_id(ids, type, start + k);
			if (id < owner->first || id - owner->first >= owner->table.matrix.rows)
				break;
			local[k] = (int64_t)(id - owner->first);
		}
		st = fn(ctx, owner, local, start, k);
		start += k;
	}
	free(local);
	return st;
}

/* The rows of ids, checked, from their shards: their addresses a batch at a time, read by the kernel set's
 * gather_rows, which prefetches across shards and streams a large output as a gather from one store does. */
static embstore_status gather_checked(const es_set_table *t, const void *ids, embstore_id_type type, size_t n,
                                      float *out)
{
	if (t->info.parts == 1)
		return embstore_gather(&t->pieces[0].table.matrix, ids, type, n, out, NULL);
	const unsigned char **rows = malloc(ID_BATCH * sizeof *rows);
	ES_CHECK(rows, EMBSTORE_NO_MEMORY);
	const embstore_kernel_table *k = embstore_kernels_active();
	size_t dim = t->info.dim;
	int stream = es_output_streams(n, dim, EMBSTORE_F32);
	embstore_status st = EMBSTORE_OK;
	for (size_t start = 0; start < n && st == EMBSTORE_OK; start += ID_BATCH) {
		size_t m = n - start < ID_BATCH ? n - start : ID_BATCH;
		for (size_t i = 0; i < m; i++) {
			uint64_t id = (uint64_t)load_id(ids, type, start + i);
			const es_piece *p = es_set_owner(t, id);
			const embstore_matrix *pm = &p->table.matrix;
			rows[i] = (const unsigned char *)pm->data + (id - p->first) * pm->row_stride;
		}
		st = k->gather_rows(rows, m, t->info.dtype, t->info.dim, out + start * dim, stream);
	}
	free(rows);
	return st;
}

embstore_status embstore_set_gather(const embstore_set *set, uint32_t table, const void *ids,
                                    embstore_id_type id_type, size_t n, float *out, size_t *bad_index)
{
	const es_set_table *t;
	ES_TRY(table_of(set, table, ids, id_type, n, &t));
	ES_CHECK(out || n == 0, EMBSTORE_INVALID_ARGUMENT);
	ES_TRY(check_ids(t, ids, id_type, n, bad_index));
	return gather_checked(t, ids, id_type, n, out);
}

static embstore_status check_offsets(const int64_t *offsets, size_t n_bags, size_t n_ids)
{
	ES_CHECK(offsets && offsets[0] == 0 && (uint64_t)offsets[n_bags] == n_ids, EMBSTORE_INVALID_ARGUMENT);
	for (size_t b = 0; b < n_bags; b++)
		ES_CHECK(offsets[b] <= offsets[b + 1], EMBSTORE_INVALID_ARGUMENT);
	return EMBSTORE_OK;
}

/* Bags [b0, b1): their stored rows copied into `scratch` in id order (row_bytes each), then pooled by the kernel
 * over that copy, which therefore computes exactly what it computes over the unsharded table. */
static embstore_status bag_group(const es_set_table *t, const void *ids, embstore_id_type type,
                                 const int64_t *offsets, size_t b0, size_t b1, const float *weights,
                                 embstore_bag_mode mode, float *out, unsigned char *scratch, size_t row_bytes,
                                 int64_t *seq, int64_t *local_offsets)
{
	size_t lo = (size_t)offsets[b0], m = (size_t)offsets[b1] - lo;
	for (size_t i = 0; i < m; i++) {
		uint64_t id = (uint64_t)load_id(ids, type, lo + i);
		const es_piece *p = es_set_owner(t, id);
		const embstore_matrix *pm = &p->table.matrix;
		memcpy(scratch + i * row_bytes, (const unsigned char *)pm->data + (id - p->first) * pm->row_stride,
		       row_bytes);
	}
	for (size_t b = b0; b <= b1; b++)
		local_offsets[b - b0] = offsets[b] - (int64_t)lo;
	embstore_matrix rows = {scratch, m > 0 ? m : 1, row_bytes, t->info.dim, t->info.dtype, 0};
	return embstore_gather_bag(&rows, seq, EMBSTORE_ID64, m, local_offsets, b1 - b0, weights ? weights + lo : NULL,
	                           mode, out + b0 * t->info.dim, NULL);
}

embstore_status embstore_set_gather_bag(const embstore_set *set, uint32_t table, const void *ids,
                                        embstore_id_type id_type, size_t n_ids, const int64_t *offsets,
                                        size_t n_bags, const float *weights, embstore_bag_mode mode, float *out,
                                        size_t *bad_index)
{
	const es_set_table *t;
	ES_TRY(table_of(set, table, ids, id_type, n_ids, &t));
	ES_CHECK(out || n_bags == 0, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(mode == EMBSTORE_BAG_SUM || mode == EMBSTORE_BAG_MEAN || mode == EMBSTORE_BAG_MAX,
	         EMBSTORE_INVALID_ARGUMENT);
	ES_TRY(check_offsets(offsets, n_bags, n_ids));
	ES_TRY(check_ids(t, ids, id_type, n_ids, bad_index));
	if (t->info.parts == 1)
		return embstore_gather_bag(&t->pieces[0].table.matrix, ids, id_type, n_ids, offsets, n_bags, weights, mode,
		                           out, NULL);
	size_t row_bytes = (size_t)embstore_row_bytes(t->info.dtype, t->info.dim);
	size_t cap = BAG_SCRATCH_BYTES / row_bytes, largest = 1;
	for (size_t b = 0; b < n_bags; b++) {
		size_t len = (size_t)(offsets[b + 1] - offsets[b]);
		largest = len > largest ? len : largest;
	}
	cap = cap > largest ? cap : largest;
	cap = cap < n_ids ? cap : (n_ids > 0 ? n_ids : 1);
	unsigned char *scratch = malloc(cap * row_bytes);
	int64_t *seq = malloc(cap * sizeof *seq);
	int64_t *local_offsets = malloc((n_bags + 1) * sizeof *local_offsets);
	embstore_status st = scratch && seq && local_offsets ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	for (size_t i = 0; st == EMBSTORE_OK && i < cap; i++)
		seq[i] = (int64_t)i;
	for (size_t b0 = 0; st == EMBSTORE_OK && b0 < n_bags;) {
		size_t b1 = b0 + 1;
		while (b1 < n_bags && (size_t)(offsets[b1 + 1] - offsets[b0]) <= cap)
			b1++;
		st = bag_group(t, ids, id_type, offsets, b0, b1, weights, mode, out, scratch, row_bytes, seq,
		               local_offsets);
		b0 = b1;
	}
	free(scratch);
	free(seq);
	free(local_offsets);
	return st;
}

typedef struct scatter_ctx {
	embstore_set *set;
	const float *grads;
	float alpha;
	uint32_t dim;
} scatter_ctx;

static embstore_status scatter_run(void *opaque, const es_piece *piece, const int64_t *local, size_t start,
                                   size_t n)
{
	scatter_ctx *c = opaque;
	return embstore_table_scatter_add(c->set->stores[piece->shard], piece->table.index, local, EMBSTORE_ID64, n,
	                                  c->grads + start * c->dim, c->alpha, NULL, 0);
}

embstore_status embstore_set_scatter_add(embstore_set *set, uint32_t table, const void *ids,
                                         embstore_id_type id_type, size_t n, const float *grads, float alpha,
                                         size_t *bad_index)
{
	const es_set_table *t;
	ES_TRY(table_of(set, table, ids, id_type, n, &t));
	ES_CHECK(grads || n == 0, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(set->writable, EMBSTORE_READ_ONLY);
	ES_CHECK(t->info.dtype == EMBSTORE_F32, EMBSTORE_BAD_DTYPE);
	ES_TRY(check_ids(t, ids, id_type, n, bad_index));
	scatter_ctx c = {set, grads, alpha, t->info.dim};
	return for_runs(t, ids, id_type, n, scatter_run, &c);
}

embstore_status embstore_set_sync(embstore_set *set)
{
	ES_CHECK(set, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(set->writable, EMBSTORE_READ_ONLY);
	for (uint32_t i = 0; i < set->n; i++)
		ES_TRY(embstore_sync(set->stores[i]));
	return EMBSTORE_OK;
}

embstore_status embstore_set_find_key(const embstore_set *set, uint32_t table, const void *key, size_t len,
                                      uint64_t *row)
{
	ES_CHECK(set && table < set->info.table_count && row, EMBSTORE_INVALID_ARGUMENT);
	const es_set_table *t = &set->tables[table];
	for (uint32_t k = 0; k < t->info.parts; k++) {
		const es_piece *p = &t->pieces[k];
		uint64_t local;
		embstore_status st = embstore_table_find_key(set->stores[p->shard], p->table.index, key, len, &local);
		if (st == EMBSTORE_OK) {
			*row = p->first + local;
			return EMBSTORE_OK;
		}
		if (st != EMBSTORE_UNKNOWN_KEY)
			return st;
	}
	return EMBSTORE_UNKNOWN_KEY;
}

embstore_status embstore_set_key(const embstore_set *set, uint32_t table, uint64_t row, const char **key,
                                 size_t *len)
{
	ES_CHECK(set && table < set->info.table_count && row < set->tables[table].info.rows, EMBSTORE_INVALID_ARGUMENT);
	const es_piece *p = es_set_owner(&set->tables[table], row);
	return embstore_table_key(set->stores[p->shard], p->table.index, row - p->first, key, len);
}
