/* train.c: updates in place on a writable store, with the bookkeeping that lets sync rehash only the chunks
 * that changed (a 3.6 GB table touched in a few thousand rows resyncs in microseconds, not seconds). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

static embstore_matrix table_matrix(const embstore *s, const es_table *t)
{
	return (embstore_matrix){s->base + t->data_offset, t->rows, t->row_stride, t->dim, t->dtype, 0};
}

embstore_status embstore_table_scatter_add(embstore *s, uint32_t index, const void *ids, embstore_id_type id_type,
                                           size_t n, const float *grads, float alpha, size_t *bad_index,
                                           unsigned threads)
{
	const es_table *t;
	ES_TRY(writable_table(s, index, &t));
	embstore_matrix m = table_matrix(s, t);
	embstore_status st = embstore_scatter_add_mt(&m, ids, id_type, n, grads, alpha, bad_index, threads);
	if ((st == EMBSTORE_OK || st == EMBSTORE_ID_OUT_OF_RANGE) && ids)
		mark_ids(s, t, ids, id_type, n);
	return st;
}

embstore_status embstore_table_sgd_update(embstore *s, uint32_t index, const void *ids, embstore_id_type id_type,
                                          size_t n, const float *grads, size_t grad_stride, float lr,
                                          size_t *bad_index)
{
	const es_table *t;
	ES_TRY(writable_table(s, index, &t));
	embstore_matrix m = table_matrix(s, t);
	/* The update writes all rows or none (embstore.h), so only success marks. */
	ES_TRY(embstore_sgd_update(&m, ids, id_type, n, grads, grad_stride, lr, bad_index));
	mark_ids(s, t, ids, id_type, n);
	return EMBSTORE_OK;
}

embstore_status embstore_table_rowwise_adagrad_update(embstore *s, uint32_t index, uint32_t state_index,
                                                      const void *ids, embstore_id_type id_type, size_t n,
                                                      const float *grads, size_t grad_stride, float lr, float eps,
                                                      float weight_decay, size_t *bad_index)
{
	const es_table *t, *st;
	ES_TRY(writable_table(s, index, &t));
	ES_TRY(writable_table(s, state_index, &st));
	ES_CHECK(state_index != index, EMBSTORE_INVALID_ARGUMENT);
	embstore_matrix m = table_matrix(s, t), state = table_matrix(s, st);
	ES_TRY(embstore_rowwise_adagrad_update(&m, &state, ids, id_type, n, grads, grad_stride, lr, eps, weight_decay,
	                                       bad_index));
	mark_ids(s, t, ids, id_type, n);
	mark_ids(s, st, ids, id_type, n);
	return EMBSTORE_OK;
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

/* msync of the pages holding [off, off + len) of the file. */
static embstore_status flush(embstore *s, uint64_t off, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = off / page * page;
	ES_CHECKF(msync(s->base + start, (size_t)(off + len - start), MS_SYNC) == 0, EMBSTORE_IO, "flushing bytes %llu "
	          "to %llu of the store", (unsigned long long)off, (unsigned long long)(off + len));
	return EMBSTORE_OK;
}

/* New checksums for the changed chunks, and their rows on disk before anything refers to them. */
static embstore_status rehash_and_flush_rows(embstore *s)
{
	es_layout *L = &s->layout;
	for (uint32_t i = 0; i < L->table_count; i++) {
		const es_table *t = &L->tables[i];
		for (uint64_t k = 0; k < t->chunk_count; k++) {
			if (!s->dirty[t->chunk_first + k])
				continue;
			/* a run of changed chunks is one flush */
			uint64_t end = k;
			while (end < t->chunk_count && s->dirty[t->chunk_first + end]) {
				L->sums[t->chunk_first + end] = es_chunk_checksum(s->base, t, end);
				end++;
			}
			uint64_t first = k * t->chunk_rows, last = end * t->chunk_rows < t->rows ? end * t->chunk_rows : t->rows;
			ES_TRY(flush(s, t->data_offset + first * t->row_stride, (last - first) * t->row_stride));
			k = end;
		}
	}
	return EMBSTORE_OK;
}

/* The slot that is not current gets every checksum and the next generation; once it is on disk it is current.
 * Until then the previous slot, intact and untouched, still describes the rows as of the previous sync. */
static embstore_status commit_slot(embstore *s)
{
	es_layout *L = &s->layout;
	unsigned next = 1 - L->current_slot;
	es_encode_slot(s->base + L->slot_offset[next], L->generation + 1, L->sums, L->checksum_count);
	ES_TRY(flush(s, L->slot_offset[next], L->slot_size));
	L->current_slot = next;
	L->generation++;
	return EMBSTORE_OK;
}

/* Format 1.0 has one copy of the checksums, in the directory under the header checksum: rewritten in place, so a
 * crash between the two leaves a header checksum mismatch (embstore_reseal repairs it). */
static embstore_status commit_in_place(embstore *s)
{
	es_layout *L = &s->layout;
	uint8_t *sums = s->base + L->dir_offset + (uint64_t)L->table_count * ES_TABLE_ENTRY_SIZE +
	                (uint64_t)L->meta_count * ES_META_ENTRY_SIZE;
	for (uint64_t i = 0; i < L->checksum_count; i++)
		es_put64(sums + 8 * i, L->sums[i]);
	es_put64(s->base + ES_SB_CHECKSUM, es_header_checksum(s->base, s->base + L->dir_offset, L->dir_size));
	return flush(s, 0, s->len);
}

embstore_status embstore_sync(embstore *s)
{
	ES_CHECK(s, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(s->writable, EMBSTORE_READ_ONLY);
	ES_TRY(rehash_and_flush_rows(s));
	ES_TRY(s->layout.flags & ES_FLAG_SUM_SLOTS ? commit_slot(s) : commit_in_place(s));
	memset(s->dirty, 0, (size_t)s->layout.checksum_count);
	return EMBSTORE_OK;
}

embstore_status embstore_reseal(const char *path)
{
	es_detail_clear();
	ES_CHECK(path, EMBSTORE_INVALID_ARGUMENT);
	embstore *s;
	ES_TRY(es_open(path, EMBSTORE_OPEN_WRITABLE, ES_PARSE_RESEAL, &s));
	memset(s->dirty, 1, (size_t)s->layout.checksum_count);
	embstore_status st = embstore_sync(s);
	int saved = errno;
	embstore_close(s);
	errno = saved;
	return st;
}
