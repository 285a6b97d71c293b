/* mpi_route.c: what every collective lookup does the same way: check this rank's ids, bucket them by owner,
 * agree on a status with the counts (one MPI_Alltoall), then move data along the route (MPI_Alltoallv). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

embstore_status em_route_init(const embstore_mpi *h, em_route *r)
{
	size_t n = (size_t)h->size;
	*r = (em_route){0};
	r->send_counts = calloc(n, sizeof(int));
	r->send_displs = calloc(n, sizeof(int));
	r->recv_counts = calloc(n, sizeof(int));
	r->recv_displs = calloc(n, sizeof(int));
	r->in = calloc(n, sizeof *r->in);
	r->out = calloc(n, sizeof *r->out);
	if (!r->send_counts || !r->send_displs || !r->recv_counts || !r->recv_displs || !r->in || !r->out)
		return EMBSTORE_NO_MEMORY;
	return EMBSTORE_OK;
}

void em_route_free(em_route *r)
{
	free(r->send_counts);
	free(r->send_displs);
	free(r->recv_counts);
	free(r->recv_displs);
	free(r->in);
	free(r->out);
	*r = (em_route){0};
}

embstore_status em_route_displs(const int *counts, int *displs, int size, size_t *total)
{
	size_t sum = 0;
	for (int k = 0; k < size; k++) {
		displs[k] = (int)sum;
		sum += (size_t)counts[k];
		if (sum > INT_MAX) {
			em_detail("more than %d items to or from the other ranks in one call (MPI counts are ints)", INT_MAX);
			return EMBSTORE_LIMIT;
		}
	}
	*total = sum;
	return EMBSTORE_OK;
}

void em_route_records(embstore_mpi *h, embstore_status status, int64_t c0, int64_t c1, int64_t c2)
{
	em_route *r = &h->route;
	for (int k = 0; k < h->size; k++) {
		if (status != EMBSTORE_OK)
			r->send_counts[k] = 0;
		r->out[k] = (em_record){status, {c0, c1, c2}, r->send_counts[k], 0, 0};
	}
}

embstore_status em_route_exchange(embstore_mpi *h)
{
	em_route *r = &h->route;
	EM_MPI(h, MPI_Alltoall(r->out, (int)sizeof *r->out, MPI_BYTE, r->in, (int)sizeof *r->in, MPI_BYTE, h->comm),
	       "MPI_Alltoall");
	for (int k = 0; k < h->size; k++) {
		if (r->in[k].status != EMBSTORE_OK) {
			embstore_status st = (embstore_status)r->in[k].status;
			if (k != h->rank)
				em_detail("rank %d: %s", k, embstore_strerror(st));
			return st;
		}
	}
	for (int k = 0; k < h->size; k++) {
		if (memcmp(r->in[k].call, r->in[0].call, sizeof r->in[0].call) != 0) {
			em_detail("ranks 0 and %d made different calls (table, mode, flags or alpha)", k);
			return EMBSTORE_INVALID_ARGUMENT;
		}
		r->recv_counts[k] = (int)r->in[k].items; /* each at most INT_MAX: its sender checked */
	}
	return EMBSTORE_OK;
}

embstore_status em_alltoallv_counts(embstore_mpi *h, const int *sc, const int *sd, const void *send, const int *rc,
                                    const int *rd, void *recv, MPI_Datatype type, size_t bytes)
{
	for (int k = 0; k < h->size; k++) {
		if (k == h->rank)
			continue;
		h->stats.bytes_sent += (uint64_t)sc[k] * bytes;
		h->stats.bytes_received += (uint64_t)rc[k] * bytes;
	}
	EM_MPI(h, MPI_Alltoallv(send, sc, sd, type, recv, rc, rd, type, h->comm), "MPI_Alltoallv");
	return EMBSTORE_OK;
}

embstore_status em_alltoallv(embstore_mpi *h, bool back, const void *send, void *recv, MPI_Datatype type,
                             size_t bytes)
{
	const em_route *r = &h->route;
	if (back)
		return em_alltoallv_counts(h, r->recv_counts, r->recv_displs, send, r->send_counts, r->send_displs, recv,
		                           type, bytes);
	return em_alltoallv_counts(h, r->send_counts, r->send_displs, send, r->recv_counts, r->recv_displs, recv, type,
	                           bytes);
}

embstore_status em_check_ids(const embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type type, size_t n,
                             size_t *bad_index)
{
	embstore_isa isa;
	if (table >= h->info.set.table_count || (type != EMBSTORE_ID32 && type != EMBSTORE_ID64) || (ids == NULL && n > 0))
		return EMBSTORE_INVALID_ARGUMENT;
	if (embstore_isa_active(&isa) != EMBSTORE_OK)
		return EMBSTORE_UNSUPPORTED_ISA;
	uint64_t rows = h->tables[table].info.rows;
	for (size_t i = 0; i < n; i++) {
		int64_t id = em_load_id(ids, type, i);
		if (id < 0 || (uint64_t)id >= rows) {
			if (bad_index != NULL)
				*bad_index = i;
			em_detail("id #%zu (%lld) is out of range: table '%.100s' has ids 0-%llu", i, (long long)id,
			          h->tables[table].info.name, (unsigned long long)(rows - 1));
			return EMBSTORE_ID_OUT_OF_RANGE;
		}
	}
	return EMBSTORE_OK;
}

embstore_status em_bucket(const embstore_mpi *h, const em_table *t, const void *ids, embstore_id_type type, size_t n,
                          em_route *r, int64_t *send, int64_t *slot)
{
	size_t *counts = calloc((size_t)h->size, sizeof *counts);
	if (counts == NULL)
		return EMBSTORE_NO_MEMORY;
	int whole = t->n_pieces == 1 ? t->pieces[0].rank : -1;
	for (size_t i = 0; i < n; i++) {
		int owner = whole >= 0 ? whole : em_owner(t, (uint64_t)em_load_id(ids, type, i))->rank;
		slot[i] = owner;
		counts[owner]++;
	}
	embstore_status st = EMBSTORE_OK;
	for (int k = 0; k < h->size && st == EMBSTORE_OK; k++) {
		if (counts[k] > INT_MAX) {
			em_detail("more than %d ids for rank %d in one call (MPI counts are ints)", INT_MAX, k);
			st = EMBSTORE_LIMIT;
		}
		r->send_counts[k] = (int)counts[k];
	}
	if (st == EMBSTORE_OK)
		st = em_route_displs(r->send_counts, r->send_displs, h->size, &r->sent);
	for (int k = 0; st == EMBSTORE_OK && k < h->size; k++)
		counts[k] = (size_t)r->send_displs[k];
	for (size_t i = 0; st == EMBSTORE_OK && i < n; i++) {
		size_t at = counts[slot[i]]++;
		send[at] = em_load_id(ids, type, i);
		slot[i] = (int64_t)at;
	}
	free(counts);
	return st;
}

void em_copy_rows(const embstore_mpi *h, const em_table *t, const int64_t *gids, size_t n, unsigned char *dst)
{
	const em_piece *piece = NULL;
	embstore_table view = {0};
	for (size_t i = 0; i < n; i++) {
		uint64_t g = (uint64_t)gids[i];
		if (piece == NULL || g < piece->first || g - piece->first >= piece->rows) {
			piece = em_owner(t, g);
			embstore_table_at(h->stores[piece->store], piece->table_index, &view);
		}
		const unsigned char *row = (const unsigned char *)view.matrix.data + (g - piece->first) *
		                           view.matrix.row_stride;
		memcpy(dst + i * t->row_bytes, row, t->row_bytes);
	}
}

embstore_status em_row_type(size_t bytes, MPI_Datatype *out)
{
	if (bytes > INT_MAX)
		return EMBSTORE_LIMIT;
	int rc = MPI_Type_contiguous((int)bytes, MPI_BYTE, out);
	if (rc == MPI_SUCCESS && (rc = MPI_Type_commit(out)) != MPI_SUCCESS)
		MPI_Type_free(out);
	return rc == MPI_SUCCESS ? EMBSTORE_OK : em_mpi_failed("MPI_Type_contiguous", rc);
}
