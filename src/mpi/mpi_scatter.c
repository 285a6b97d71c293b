/* mpi_scatter.c: collective scatter-add, and sync. Gradient rows go to their owners, which apply what they
 * receive in rank order and, from each rank, in its order: since no two ranks own a row, every row sees its
 * updates in the order of the concatenation of all ranks' calls, whatever the number of ranks. */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

/* This rank's received (id, gradient) pairs applied, each run of ids of one part of the table in one call. */
static embstore_status apply(embstore_mpi *h, const em_table *t, const int64_t *gids, const float *grads, size_t n,
                             float alpha, int64_t *local)
{
	size_t dim = t->info.dim;
	for (size_t start = 0; start < n;) {
		const em_piece *piece = em_owner(t, (uint64_t)gids[start]);
		size_t k = 0;
		for (; start + k < n; k++) {
			uint64_t g = (uint64_t)gids[start + k];
			if (g < piece->first || g - piece->first >= piece->rows)
				break;
			local[k] = (int64_t)(g - piece->first);
		}
		embstore_status st = embstore_table_scatter_add(h->stores[piece->store], piece->table_index, local,
		                                                EMBSTORE_ID64, k, grads + start * dim, alpha, NULL, 0);
		if (st != EMBSTORE_OK)
			return st;
		start += k;
	}
	return EMBSTORE_OK;
}

embstore_status embstore_mpi_scatter_add(embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type id_type,
                                         size_t n, const float *grads, float alpha, size_t *bad_index)
{
	if (h == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	em_detail_clear();
	em_route *r = &h->route;
	embstore_status local = em_check_ids(h, table, ids, id_type, n, bad_index);
	const em_table *t = local == EMBSTORE_OK ? &h->tables[table] : NULL;
	if (local == EMBSTORE_OK && grads == NULL && n > 0)
		local = EMBSTORE_INVALID_ARGUMENT;
	if (local == EMBSTORE_OK && t->info.dtype != EMBSTORE_F32)
		local = EMBSTORE_BAD_DTYPE;
	if (local == EMBSTORE_OK && t->n_mine > 0 && !h->writable)
		local = EMBSTORE_READ_ONLY;
	size_t dim = t != NULL ? t->info.dim : 0;
	int64_t *send = NULL, *slot = NULL, *asked = NULL, *local_ids = NULL;
	float *grads_out = NULL, *grads_in = NULL;
	MPI_Datatype row = MPI_DATATYPE_NULL;
	if (local == EMBSTORE_OK) {
		send = malloc((n + 1) * sizeof *send);
		slot = malloc((n + 1) * sizeof *slot);
		grads_out = malloc((n + 1) * dim * sizeof *grads_out);
		local = send && slot && grads_out ? em_bucket(h, t, ids, id_type, n, r, send, slot) : EMBSTORE_NO_MEMORY;
	}
	if (local == EMBSTORE_OK)
		local = em_row_type(dim * sizeof(float), &row);
	for (size_t i = 0; local == EMBSTORE_OK && i < n; i++)
		memcpy(grads_out + (size_t)slot[i] * dim, grads + i * dim, dim * sizeof *grads_out);
	uint32_t alpha_bits;
	memcpy(&alpha_bits, &alpha, sizeof alpha_bits);
	em_route_records(h, local, table, -2, alpha_bits);
	embstore_status st = em_route_exchange(h);
	if (st != EMBSTORE_OK)
		goto out;
	st = em_route_displs(r->recv_counts, r->recv_displs, h->size, &r->received);
	if (st == EMBSTORE_OK) {
		asked = malloc((r->received + 1) * sizeof *asked);
		local_ids = malloc((r->received + 1) * sizeof *local_ids);
		grads_in = malloc((r->received + 1) * dim * sizeof *grads_in);
		st = asked && local_ids && grads_in ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	}
	if ((st = em_agree_max(h, st)) != EMBSTORE_OK ||
	    (st = em_alltoallv(h, false, send, asked, MPI_INT64_T, 8)) != EMBSTORE_OK ||
	    (st = em_alltoallv(h, false, grads_out, grads_in, row, dim * sizeof(float))) != EMBSTORE_OK)
		goto out;
	/* Checked before anything moved, so it cannot fail; agreed all the same, so that no rank waits alone. */
	st = em_agree_max(h, apply(h, t, asked, grads_in, r->received, alpha, local_ids));
out:
	if (row != MPI_DATATYPE_NULL)
		MPI_Type_free(&row);
	free(send);
	free(slot);
	free(asked);
	free(local_ids);
	free(grads_out);
	free(grads_in);
	return st;
}

embstore_status embstore_mpi_sync(embstore_mpi *h)
{
	if (h == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	em_detail_clear();
	embstore_status st = h->writable ? EMBSTORE_OK : EMBSTORE_READ_ONLY;
	for (uint32_t i = 0; st == EMBSTORE_OK && i < h->n_stores; i++)
		if ((st = embstore_sync(h->stores[i])) != EMBSTORE_OK)
			em_detail("rank %d: sync of its file %u failed", h->rank, i);
	return em_agree_max(h, st);
}
