/* mpi_gather.c: collective gather, and bags pooled by the requester: the stored rows the ids need travel to the
 * requester, which runs the core kernel over them in its own order, so the results are the unsharded call's bit
 * for bit, for every dtype (a row arrives as the very bytes the unsharded store holds). */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

/* The stored rows of this rank's ids, received: rows[slot[i] * row_bytes ..] is the row of ids[i]. Both are the
 * handle's scratch buffers. */
typedef struct fetched {
	unsigned char *rows;
	int64_t *slot;
} fetched;

/* The exchange: `local` is this rank's verdict on its own arguments; call[] what must agree. Messages: one
 * MPI_Alltoall (records), one MPI_Allreduce (buffers allocated), two MPI_Alltoallv (ids out, rows back). */
static embstore_status fetch(embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type type, size_t n,
                             embstore_status local, const int64_t call[3], fetched *f)
{
	em_route *r = &h->route;
	const em_table *t = local == EMBSTORE_OK ? &h->tables[table] : NULL;
	int64_t *send = NULL, *asked = NULL;
	unsigned char *rows_out = NULL;
	MPI_Datatype row_type = MPI_DATATYPE_NULL;
	*f = (fetched){0};
	if (local == EMBSTORE_OK) {
		send = em_scratch_get(h, EM_SEND, (n + 1) * sizeof *send);
		f->slot = em_scratch_get(h, EM_SLOT, (n + 1) * sizeof *f->slot);
		local = send && f->slot ? em_bucket(h, t, ids, type, n, r, send, f->slot) : EMBSTORE_NO_MEMORY;
	}
	if (local == EMBSTORE_OK)
		local = em_row_type(t->row_bytes, &row_type);
	em_route_records(h, local, call[0], call[1], call[2]);
	embstore_status st = em_route_exchange(h);
	if (st != EMBSTORE_OK)
		goto out;
	st = em_route_displs(r->recv_counts, r->recv_displs, h->size, &r->received);
	if (st == EMBSTORE_OK) {
		asked = em_scratch_get(h, EM_ASKED, (r->received + 1) * sizeof *asked);
		rows_out = em_scratch_get(h, EM_ROWS_OUT, (r->received + 1) * t->row_bytes);
		f->rows = em_scratch_get(h, EM_ROWS_IN, (n + 1) * t->row_bytes);
		st = asked && rows_out && f->rows ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	}
	if ((st = em_agree_max(h, st)) != EMBSTORE_OK)
		goto out;
	/* This rank's own ids skip the exchange: their rows go from its shards straight to where the requester's
	 * kernel reads them, one copy instead of three (into the send buffer, MPI's, out of it). */
	int me = h->rank, mine = r->send_counts[me];
	r->send_counts[me] = r->recv_counts[me] = 0;
	st = em_alltoallv(h, false, send, asked, MPI_INT64_T, 8);
	if (st == EMBSTORE_OK) {
		em_copy_rows(h, t, send + r->send_displs[me], (size_t)mine,
		             f->rows + (size_t)r->send_displs[me] * t->row_bytes);
		for (int k = 0; k < h->size; k++)
			em_copy_rows(h, t, asked + r->recv_displs[k], (size_t)r->recv_counts[k],
			             rows_out + (size_t)r->recv_displs[k] * t->row_bytes);
		st = em_alltoallv(h, true, rows_out, f->rows, row_type, t->row_bytes);
	}
	r->send_counts[me] = r->recv_counts[me] = mine;
out:
	if (row_type != MPI_DATATYPE_NULL)
		MPI_Type_free(&row_type);
	return st;
}

/* The received rows as a matrix the kernels read (one row when there are none: the kernels want a table). */
static embstore_matrix received(const em_table *t, const fetched *f, size_t n)
{
	return (embstore_matrix){f->rows, n > 0 ? n : 1, t->row_bytes, t->info.dim, t->info.dtype,
	                         EMBSTORE_MATRIX_READ_ONLY};
}

embstore_status embstore_mpi_gather(embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type id_type,
                                    size_t n, float *out, size_t *bad_index)
{
	if (h == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	em_detail_clear();
	embstore_status local = em_check_ids(h, table, ids, id_type, n, bad_index);
	if (local == EMBSTORE_OK && out == NULL && n > 0)
		local = EMBSTORE_INVALID_ARGUMENT;
	const int64_t call[3] = {table, -1, 0};
	fetched f;
	embstore_status st = fetch(h, table, ids, id_type, n, local, call, &f);
	if (st != EMBSTORE_OK)
		return st;
	const em_table *t = &h->tables[table];
	embstore_matrix m = received(t, &f, n);
	if (n > 0)
		st = embstore_gather(&m, f.slot, EMBSTORE_ID64, n, out, NULL);
	return st;
}

/* CSR offsets as embstore_gather_bag takes them. */
static bool offsets_ok(const int64_t *offsets, size_t n_bags, size_t n_ids)
{
	if (offsets == NULL || offsets[0] != 0 || offsets[n_bags] < 0 || (uint64_t)offsets[n_bags] != n_ids)
		return false;
	for (size_t b = 0; b < n_bags; b++)
		if (offsets[b + 1] < offsets[b])
			return false;
	return true;
}

embstore_status em_check_bag(const embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type id_type,
                             size_t n_ids, const int64_t *offsets, size_t n_bags, embstore_bag_mode mode,
                             unsigned flags, const float *out, size_t *bad_index)
{
	if ((mode != EMBSTORE_BAG_SUM && mode != EMBSTORE_BAG_MEAN && mode != EMBSTORE_BAG_MAX) ||
	    (flags & ~EMBSTORE_MPI_POOL_ON_OWNER) != 0 || (out == NULL && n_bags > 0) ||
	    !offsets_ok(offsets, n_bags, n_ids))
		return EMBSTORE_INVALID_ARGUMENT;
	return em_check_ids(h, table, ids, id_type, n_ids, bad_index);
}

embstore_status embstore_mpi_gather_bag(embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type id_type,
                                        size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                        embstore_bag_mode mode, unsigned flags, float *out, size_t *bad_index)
{
	if (h == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	em_detail_clear();
	embstore_status local = em_check_bag(h, table, ids, id_type, n_ids, offsets, n_bags, mode, flags, out, bad_index);
	if (flags & EMBSTORE_MPI_POOL_ON_OWNER)
		return em_bag_on_owner(h, table, ids, id_type, n_ids, offsets, n_bags, weights, mode, out, local);
	const int64_t call[3] = {table, mode, flags};
	fetched f;
	embstore_status st = fetch(h, table, ids, id_type, n_ids, local, call, &f);
	if (st != EMBSTORE_OK)
		return st;
	const em_table *t = &h->tables[table];
	embstore_matrix m = received(t, &f, n_ids);
	st = embstore_gather_bag(&m, f.slot, EMBSTORE_ID64, n_ids, offsets, n_bags, weights, mode, out, NULL);
	return st;
}
