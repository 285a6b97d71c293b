/* mpi_bag.c: bags pooled on the owners, as TorchRec's row-wise sharding does: each owner pools its part of each
 * bag (its sub-bag) with the core kernel, and one partial row per (bag, owner) comes back, combined by the
 * requester in rank order. Sum and mean are pooled as sums by the owners and divided by the whole bag's length
 * at the end, as the kernel divides; max is pooled as max. */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

/* This rank's bags cut by owner: per destination rank, its ids, weights and sub-bag lengths, and which bag each
 * sub-bag belongs to. Sub-bag counts and displacements are in sc/sd (the route holds the ids'). */
typedef struct split {
	int64_t *ids, *lens, *bag_of;
	unsigned char *seen; /* per bag, while combining */
	float *weights, *back; /* back: the partial rows that come back, one per sub-bag */
	int *sc, *sd, *rc, *rd, *wsc, *wrc; /* sub-bags, and weights, per rank */
	size_t subs;
} split;

static void split_free(split *s)
{
	free(s->ids);
	free(s->lens);
	free(s->bag_of);
	free(s->seen);
	free(s->weights);
	free(s->back);
	free(s->sc);
	free(s->sd);
	free(s->rc);
	free(s->rd);
	free(s->wsc);
	free(s->wrc);
}

static embstore_status split_bags(embstore_mpi *h, const em_table *t, const void *ids, embstore_id_type type,
                                  size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                  split *s)
{
	em_route *r = &h->route;
	size_t P = (size_t)h->size;
	int64_t *last = malloc(P * sizeof *last);
	size_t *ids_to = calloc(P, sizeof *ids_to), *subs_to = calloc(P, sizeof *subs_to);
	int *owner = malloc((n_ids + 1) * sizeof *owner);
	s->ids = malloc((n_ids + 1) * sizeof *s->ids);
	s->weights = weights ? malloc((n_ids + 1) * sizeof *s->weights) : NULL;
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (!last || !ids_to || !subs_to || !owner || !s->ids || (weights && !s->weights))
		goto out;
	for (size_t k = 0; k < P; k++)
		last[k] = -1;
	for (size_t b = 0; b < n_bags; b++)
		for (int64_t i = offsets[b]; i < offsets[b + 1]; i++) {
			int o = em_owner(t, (uint64_t)em_load_id(ids, type, (size_t)i))->rank;
			owner[i] = o;
			ids_to[o]++;
			if (last[o] != (int64_t)b) {
				last[o] = (int64_t)b;
				subs_to[o]++;
				s->subs++;
			}
		}
	s->lens = malloc((s->subs + 1) * sizeof *s->lens);
	s->bag_of = malloc((s->subs + 1) * sizeof *s->bag_of);
	s->seen = malloc(n_bags + 1);
	s->back = malloc((s->subs + 1) * t->info.dim * sizeof *s->back);
	if (!s->lens || !s->bag_of || !s->seen || !s->back)
		goto out;
	st = EMBSTORE_LIMIT;
	for (size_t k = 0; k < P; k++) {
		if (ids_to[k] > INT32_MAX || subs_to[k] > INT32_MAX)
			goto out;
		r->send_counts[k] = (int)ids_to[k];
		s->sc[k] = (int)subs_to[k];
	}
	size_t total;
	if ((st = em_route_displs(r->send_counts, r->send_displs, h->size, &total)) != EMBSTORE_OK ||
	    (st = em_route_displs(s->sc, s->sd, h->size, &total)) != EMBSTORE_OK)
		goto out;
	for (size_t k = 0; k < P; k++) {
		last[k] = -1;
		ids_to[k] = (size_t)r->send_displs[k];
		subs_to[k] = (size_t)s->sd[k];
	}
	for (size_t b = 0; b < n_bags; b++)
		for (int64_t i = offsets[b]; i < offsets[b + 1]; i++) {
			int o = owner[i];
			size_t at = ids_to[o]++;
			s->ids[at] = em_load_id(ids, type, (size_t)i);
			if (weights)
				s->weights[at] = weights[i];
			if (last[o] != (int64_t)b) {
				last[o] = (int64_t)b;
				s->bag_of[subs_to[o]] = (int64_t)b;
				s->lens[subs_to[o]++] = 0;
			}
			s->lens[subs_to[o] - 1]++;
		}
	st = EMBSTORE_OK;
out:
	free(last);
	free(ids_to);
	free(subs_to);
	free(owner);
	return st;
}

/* What this rank received: per source rank, ids, weights (when that rank sent any) and sub-bag lengths; pooled
 * into one partial row per sub-bag. */
typedef struct pooled {
	int64_t *ids, *lens, *local, *offsets;
	float *weights, *partials;
	unsigned char *scratch;
	size_t ids_n, subs_n;
} pooled;

static void pooled_free(pooled *p)
{
	free(p->ids);
	free(p->lens);
	free(p->local);
	free(p->offsets);
	free(p->weights);
	free(p->partials);
	free(p->scratch);
}

/* Source k's sub-bags pooled by the kernel: over this rank's one part of the table with local ids, or, when it
 * holds several, over its rows copied out in order. */
static embstore_status pool_source(const embstore_mpi *h, const em_table *t, const split *s, pooled *p, int k,
                                   embstore_bag_mode mode)
{
	size_t i0 = (size_t)h->route.recv_displs[k], n = (size_t)h->route.recv_counts[k];
	size_t g0 = (size_t)s->rd[k], groups = (size_t)s->rc[k];
	if (groups == 0)
		return EMBSTORE_OK;
	int64_t *offsets = p->offsets + g0 + (size_t)k;
	offsets[0] = 0;
	for (size_t g = 0; g < groups; g++)
		offsets[g + 1] = offsets[g] + p->lens[g0 + g];
	embstore_matrix m;
	int64_t *local = p->local + i0;
	if (t->n_mine == 1) {
		const em_piece *piece = &t->pieces[t->mine[0]];
		embstore_table view;
		embstore_table_at(h->stores[piece->store], piece->table_index, &view);
		m = view.matrix;
		for (size_t i = 0; i < n; i++)
			local[i] = p->ids[i0 + i] - (int64_t)piece->first;
	} else {
		em_copy_rows(h, t, p->ids + i0, n, p->scratch);
		m = (embstore_matrix){p->scratch, n, t->row_bytes, t->info.dim, t->info.dtype, EMBSTORE_MATRIX_READ_ONLY};
		for (size_t i = 0; i < n; i++)
			local[i] = (int64_t)i;
	}
	const float *w = h->route.in[k].extra ? p->weights + i0 : NULL;
	return embstore_gather_bag(&m, local, EMBSTORE_ID64, n, offsets, groups, w,
	                           mode == EMBSTORE_BAG_MAX ? EMBSTORE_BAG_MAX : EMBSTORE_BAG_SUM,
	                           p->partials + g0 * t->info.dim, NULL);
}

/* The partials, in rank order, into the bags' outputs; then empty bags zeroed and means divided. */
static void combine(const em_table *t, const split *s, const float *partials, const int64_t *offsets, size_t n_bags,
                    embstore_bag_mode mode, float *out)
{
	size_t dim = t->info.dim;
	unsigned char *seen = s->seen;
	memset(seen, 0, n_bags);
	for (size_t g = 0; g < s->subs; g++) {
		size_t b = (size_t)s->bag_of[g];
		float *o = out + b * dim;
		const float *x = partials + g * dim;
		if (!seen[b])
			memcpy(o, x, dim * sizeof *o);
		else if (mode == EMBSTORE_BAG_MAX)
			for (size_t j = 0; j < dim; j++)
				o[j] = o[j] > x[j] ? o[j] : x[j];
		else
			for (size_t j = 0; j < dim; j++)
				o[j] = x[j] + o[j];
		seen[b] = 1;
	}
	for (size_t b = 0; b < n_bags; b++) {
		float *o = out + b * dim;
		int64_t len = offsets[b + 1] - offsets[b];
		if (len == 0)
			memset(o, 0, dim * sizeof *o);
		else if (mode == EMBSTORE_BAG_MEAN)
			for (size_t j = 0; j < dim; j++)
				o[j] = o[j] / (float)len;
	}
}

/* The receiving side's buffers, sized by what the records announced. */
static embstore_status receive_alloc(const embstore_mpi *h, const em_table *t, split *s, pooled *p, bool weighted)
{
	const em_route *r = &h->route;
	for (int k = 0; k < h->size; k++)
		s->rc[k] = (int)r->in[k].groups; /* each at most INT_MAX: its sender checked */
	embstore_status st;
	if ((st = em_route_displs(r->recv_counts, r->recv_displs, h->size, &p->ids_n)) != EMBSTORE_OK ||
	    (st = em_route_displs(s->rc, s->rd, h->size, &p->subs_n)) != EMBSTORE_OK)
		return st;
	size_t dim = t->info.dim;
	p->ids = malloc((p->ids_n + 1) * sizeof *p->ids);
	p->local = malloc((p->ids_n + 1) * sizeof *p->local);
	p->weights = weighted ? malloc((p->ids_n + 1) * sizeof *p->weights) : NULL;
	p->lens = malloc((p->subs_n + 1) * sizeof *p->lens);
	p->offsets = malloc((p->subs_n + (size_t)h->size) * sizeof *p->offsets);
	p->partials = malloc((p->subs_n + 1) * dim * sizeof *p->partials);
	p->scratch = t->n_mine > 1 ? malloc((p->ids_n + 1) * t->row_bytes) : NULL;
	if (!p->ids || !p->local || (weighted && !p->weights) || !p->lens || !p->offsets || !p->partials ||
	    (t->n_mine > 1 && !p->scratch))
		return EMBSTORE_NO_MEMORY;
	return EMBSTORE_OK;
}

/* Weights go only from the ranks that have them: the others send and are sent none. */
static void weight_counts(const embstore_mpi *h, bool mine, int *sc, int *rc)
{
	for (int k = 0; k < h->size; k++) {
		sc[k] = mine ? h->route.send_counts[k] : 0;
		rc[k] = h->route.in[k].extra ? h->route.recv_counts[k] : 0;
	}
}

/* Messages: one MPI_Alltoall (records), one MPI_Allreduce (buffers), MPI_Alltoallv of the sub-bag lengths, the
 * ids, the weights (when any rank has some) and the partial rows back. */
embstore_status em_bag_on_owner(embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type type,
                                size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                embstore_bag_mode mode, float *out, embstore_status local)
{
	em_route *r = &h->route;
	const em_table *t = local == EMBSTORE_OK ? &h->tables[table] : NULL;
	size_t P = (size_t)h->size;
	split s = {0};
	pooled p = {0};
	MPI_Datatype partial = MPI_DATATYPE_NULL;
	s.sc = calloc(P, sizeof *s.sc);
	s.sd = calloc(P, sizeof *s.sd);
	s.rc = calloc(P, sizeof *s.rc);
	s.rd = calloc(P, sizeof *s.rd);
	s.wsc = calloc(P, sizeof *s.wsc);
	s.wrc = calloc(P, sizeof *s.wrc);
	if (local == EMBSTORE_OK && !(s.sc && s.sd && s.rc && s.rd && s.wsc && s.wrc))
		local = EMBSTORE_NO_MEMORY;
	if (local == EMBSTORE_OK)
		local = split_bags(h, t, ids, type, n_ids, offsets, n_bags, weights, &s);
	if (local == EMBSTORE_OK)
		local = em_row_type((size_t)t->info.dim * sizeof(float), &partial);
	em_route_records(h, local, table, mode, EMBSTORE_MPI_POOL_ON_OWNER);
	for (size_t k = 0; local == EMBSTORE_OK && k < P; k++) {
		r->out[k].groups = s.sc[k];
		r->out[k].extra = weights != NULL;
	}
	embstore_status st = em_route_exchange(h);
	if (st != EMBSTORE_OK)
		goto out;
	bool weighted = false;
	for (size_t k = 0; k < P; k++)
		weighted = weighted || r->in[k].extra;
	if ((st = em_agree_max(h, receive_alloc(h, t, &s, &p, weighted))) != EMBSTORE_OK)
		goto out;
	size_t dim = t->info.dim;
	if ((st = em_alltoallv_counts(h, s.sc, s.sd, s.lens, s.rc, s.rd, p.lens, MPI_INT64_T, 8)) != EMBSTORE_OK ||
	    (st = em_alltoallv(h, false, s.ids, p.ids, MPI_INT64_T, 8)) != EMBSTORE_OK)
		goto out;
	if (weighted) {
		weight_counts(h, weights != NULL, s.wsc, s.wrc);
		st = em_alltoallv_counts(h, s.wsc, r->send_displs, s.weights, s.wrc, r->recv_displs, p.weights, MPI_FLOAT, 4);
		if (st != EMBSTORE_OK)
			goto out;
	}
	embstore_status pooled_st = EMBSTORE_OK;
	for (int k = 0; k < h->size && pooled_st == EMBSTORE_OK; k++)
		pooled_st = pool_source(h, t, &s, &p, k, mode);
	/* The kernel cannot fail on ids checked by their senders; agreed all the same, so no rank waits alone. */
	if ((st = em_agree_max(h, pooled_st)) == EMBSTORE_OK &&
	    (st = em_alltoallv_counts(h, s.rc, s.rd, p.partials, s.sc, s.sd, s.back, partial, dim * 4)) == EMBSTORE_OK)
		combine(t, &s, s.back, offsets, n_bags, mode, out);
out:
	if (partial != MPI_DATATYPE_NULL)
		MPI_Type_free(&partial);
	split_free(&s);
	pooled_free(&p);
	return st;
}
