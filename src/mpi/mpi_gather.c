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

/* Rows per peer in one round of the rows' exchange: a round's rows are copied while the previous round is in
 * flight, and still sit in this core's cache when MPI reads them. */
enum { ROUND_ROWS = 8192, PROGRESS_ROWS = 512 };

/* Round q of blocks counts[k] at displs[k]: rows [q * ROUND_ROWS, ..) of each, into c[] and d[]. */
static void round_of(const int *counts, const int *displs, int size, int64_t q, int *c, int *d)
{
	for (int k = 0; k < size; k++) {
		int64_t from = q * ROUND_ROWS, left = counts[k] - from;
		c[k] = left <= 0 ? 0 : (int)(left < ROUND_ROWS ? left : ROUND_ROWS);
		d[k] = displs[k] + (left <= 0 ? 0 : (int)from);
	}
}

/* Copies the stored rows of gids[0 .. n) into dst, letting MPI move the round in flight (*req) meanwhile: Open
 * MPI progresses a non-blocking collective only inside MPI calls. */
static void copy_progressing(const embstore_mpi *h, const em_table *t, const int64_t *gids, size_t n,
                             unsigned char *dst, MPI_Request *req)
{
	for (size_t i = 0; i < n; i += PROGRESS_ROWS) {
		size_t k = n - i < PROGRESS_ROWS ? n - i : PROGRESS_ROWS;
		em_copy_rows(h, t, gids + i, k, dst + i * t->row_bytes);
		int done;
		MPI_Test(req, &done, MPI_STATUS_IGNORE);
	}
}

/* The rows back to their requesters in `rounds` rounds (MPI_Ialltoallv each), at most two in flight; this
 * rank's own rows (own[0 .. mine) into own_dst) are copied while the last one is. */
static embstore_status send_rows(embstore_mpi *h, const em_table *t, const int64_t *asked, unsigned char *rows_out,
                                 unsigned char *rows_in, MPI_Datatype row_type, int64_t rounds, const int64_t *own,
                                 size_t mine, unsigned char *own_dst)
{
	const em_route *r = &h->route;
	int size = h->size;
	MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
	embstore_status st = EMBSTORE_OK;
	for (int64_t q = 0; q < rounds && st == EMBSTORE_OK; q++) {
		MPI_Request *prev = &req[(q + 1) % 2];
		int *sc = r->rounds + (q % 2) * 4 * size, *sd = sc + size, *rc = sd + size, *rd = rc + size;
		round_of(r->recv_counts, r->recv_displs, size, q, sc, sd);
		round_of(r->send_counts, r->send_displs, size, q, rc, rd);
		for (int k = 0; k < size; k++)
			copy_progressing(h, t, asked + sd[k], (size_t)sc[k], rows_out + (size_t)sd[k] * t->row_bytes, prev);
		st = em_ialltoallv_counts(h, sc, sd, rows_out, rc, rd, rows_in, row_type, t->row_bytes, &req[q % 2]);
		if (st == EMBSTORE_OK && MPI_Wait(prev, MPI_STATUS_IGNORE) != MPI_SUCCESS)
			st = em_mpi_failed("MPI_Wait", MPI_ERR_OTHER);
	}
	MPI_Request *last = &req[(rounds + 1) % 2];
	if (st == EMBSTORE_OK)
		copy_progressing(h, t, own, mine, own_dst, last);
	if (st == EMBSTORE_OK && MPI_Wait(last, MPI_STATUS_IGNORE) != MPI_SUCCESS)
		st = em_mpi_failed("MPI_Wait", MPI_ERR_OTHER);
	return st;
}

/* The rounds of this call: enough for the largest block any rank sends another. */
static int64_t rounds_of(const em_route *r, int size)
{
	int64_t most = 0;
	for (int k = 0; k < size; k++)
		most = r->in[k].most > most ? r->in[k].most : most;
	return (most + ROUND_ROWS - 1) / ROUND_ROWS;
}

/* The exchange: `local` is this rank's verdict on its own arguments; call[] what must agree. Messages: one
 * MPI_Alltoall (records), one MPI_Allreduce (buffers allocated), one MPI_Alltoallv (ids out), and the rows back
 * in rounds of ROUND_ROWS per peer (one MPI_Ialltoallv each). */
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
	if (st == EMBSTORE_OK)
		st = send_rows(h, t, asked, rows_out, f->rows, row_type, rounds_of(r, h->size), send + r->send_displs[me],
		               (size_t)mine, f->rows + (size_t)r->send_displs[me] * t->row_bytes);
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
