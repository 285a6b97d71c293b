/* train.c: updates in place on a writable store, with the bookkeeping that lets sync rehash only the chunks
 * that changed (a 3.6 GB table touched in a few thousand rows resyncs in microseconds, not seconds). */
#include <errno.h>
#include <sys/mman.h>

#include "kernels.h"
#include "store_impl.h"

static embstore_status writable_table(embstore *s, uint32_t index, const es_table **t)
{
	ES_CHECK(s, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(s->writable, EMBSTORE_READ_ONLY);
	ES_CHECK(index < s->layout.table_count, EMBSTORE_INVALID_ARGUMENT);
	*t = &s->layout.tables[index];
	return EMBSTORE_OK;
}

static void mark_ids(embstore *s, const es_table *t, const void *ids, embstore_id_type id_type, size_t n)
{
	uint8_t *dirty = s->dirty + t->chunk_first;
	for (size_t i = 0; i < n; i++) {
		int64_t id = es_id_at(ids, id_type == EMBSTORE_ID64, i); /* ids need no alignment, as in the kernels */
		/* Out-of-range ids wrote nothing; marking every in-range id over-marks at worst, which only costs a
		 * rehash, whatever subset of rows a failed parallel call had written. */
		if (id >= 0 && (uint64_t)id < t->rows)
			dirty[(uint64_t)id / t->chunk_rows] = 1;
	}
}

embstore_status embstore_table_scatter_add(embstore *s, uint32_t index, const void *ids, embstore_id_type id_type,
                                           size_t n, const float *grads, float alpha, size_t *bad_index,
                                           unsigned threads)
{
	const es_table *t;
	ES_TRY(writable_table(s, index, &t));
	embstore_matrix m = {s->base + t->data_offset, t->rows, t->row_stride, t->dim, t->dtype, 0};
	embstore_status st = embstore_scatter_add_mt(&m, ids, id_type, n, grads, alpha, bad_index, threads);
	if ((st == EMBSTORE_OK || st == EMBSTORE_ID_OUT_OF_RANGE) && ids)
		mark_ids(s, t, ids, id_type, n);
	return st;
}

embstore_status embstore_table_mark_rows(embstore *s, uint32_t index, uint64_t first_row, uint64_t row_count)
{
	const es_table *t;
	ES_TRY(writable_table(s, index, &t));
	uint64_t end;
	ES_CHECK(es_add_u64(first_row, row_count, &end) && end <= t->rows, EMBSTORE_INVALID_ARGUMENT);
	if (row_count == 0)
		return EMBSTORE_OK;
	for (uint64_t k = first_row / t->chunk_rows; k <= (end - 1) / t->chunk_rows; k++)
		s->dirty[t->chunk_first + k] = 1;
	return EMBSTORE_OK;
}

embstore_status embstore_sync(embstore *s)
{
	ES_CHECK(s, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(s->writable, EMBSTORE_READ_ONLY);
	es_layout *L = &s->layout;
	/* The checksum array lies in the directory, inside the writable mapping. */
	uint8_t *sums = s->base + (L->checksums - s->base);
	for (uint32_t i = 0; i < L->table_count; i++) {
		const es_table *t = &L->tables[i];
		for (uint64_t k = 0; k < t->chunk_count; k++) {
			if (!s->dirty[t->chunk_first + k])
				continue;
			es_put64(sums + 8 * (t->chunk_first + k), es_chunk_checksum(s->base, t, k));
			s->dirty[t->chunk_first + k] = 0;
		}
	}
	es_put64(s->base + ES_SB_CHECKSUM, es_header_checksum(s->base, s->base + L->dir_offset, L->dir_size));
	ES_CHECK(msync(s->base, (size_t)s->len, MS_SYNC) == 0, EMBSTORE_IO);
	return EMBSTORE_OK;
}
