/* mpi_keys.c: lookups by key. Each key goes to every rank that holds a part of the table, which looks it up in
 * its shards' own vocabularies (the hash index in the file: no state, nothing loaded at open); the one that has
 * it answers the global row. docs/DISTRIBUTED.md ("Lookups by key") says why this and not a directory
 * partitioned by key hash, and what each costs. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

/* The longest key a vocabulary holds (docs/FORMAT.md); a longer one is sent empty, and found nowhere. */
#define KEY_MAX 65535u

/* An owner's answer for a key it does not have, and for one its vocabulary could not be read for. */
#define NOT_HERE (-1)
#define FAILED_HERE (-2)

/* Counts and displacements of the key bytes, per rank, each side. */
typedef struct key_route {
	int *sc, *sd, *rc, *rd;
} key_route;

static embstore_status check_keys(const embstore_mpi *h, uint32_t table, const char *const *keys, const size_t *lens,
                                  size_t n, const void *out)
{
	if (table >= h->info.set.table_count || ((keys == NULL || lens == NULL || out == NULL) && n > 0))
		return EMBSTORE_INVALID_ARGUMENT;
	for (size_t i = 0; i < n; i++)
		if (keys[i] == NULL && lens[i] > 0)
			return EMBSTORE_INVALID_ARGUMENT;
	return h->tables[table].info.has_vocab ? EMBSTORE_OK : EMBSTORE_NO_VOCAB;
}

static uint32_t wire_len(size_t len)
{
	return len <= KEY_MAX ? (uint32_t)len : 0;
}

/* This rank's keys to every owner of the table (the same n keys to each): send counts in the route (keys) and in
 * kr (bytes), the lengths and bytes laid out in the send buffers. */
static embstore_status lay_out(embstore_mpi *h, const em_table *t, const char *const *keys, const size_t *lens,
                               size_t n, key_route *kr, uint32_t **lens_out, char **bytes_out)
{
	em_route *r = &h->route;
	size_t bytes = 0, owners = 0;
	for (size_t i = 0; i < n; i++)
		bytes += wire_len(lens[i]);
	for (int k = 0; k < h->size; k++) {
		r->send_counts[k] = 0;
		kr->sc[k] = 0;
	}
	for (uint32_t p = 0; p < t->n_pieces; p++) {
		int k = t->pieces[p].rank;
		owners += r->send_counts[k] == 0;
		r->send_counts[k] = 1;
	}
	if (n > INT_MAX || bytes > INT_MAX || (owners > 0 && (n > INT_MAX / owners || bytes > INT_MAX / owners))) {
		em_detail("%zu keys of %zu bytes to %zu ranks: more than MPI counts (ints) can say; split the batch", n,
		          bytes, owners);
		return EMBSTORE_LIMIT;
	}
	for (int k = 0; k < h->size; k++) {
		int owner = r->send_counts[k];
		r->send_counts[k] = owner ? (int)n : 0;
		kr->sc[k] = owner ? (int)bytes : 0;
	}
	embstore_status st = em_route_displs(r->send_counts, r->send_displs, h->size, &r->sent);
	size_t total_bytes;
	if (st == EMBSTORE_OK)
		st = em_route_displs(kr->sc, kr->sd, h->size, &total_bytes);
	if (st != EMBSTORE_OK)
		return st;
	uint32_t *lo = em_scratch_get(h, EM_SEND, (r->sent + 1) * sizeof *lo);
	char *bo = em_scratch_get(h, EM_ROWS_OUT, total_bytes + 1);
	if (lo == NULL || bo == NULL)
		return EMBSTORE_NO_MEMORY;
	for (int k = 0; k < h->size; k++) {
		if (r->send_counts[k] == 0)
			continue;
		uint32_t *l = lo + r->send_displs[k];
		char *b = bo + kr->sd[k];
		for (size_t i = 0; i < n; i++) {
			l[i] = wire_len(lens[i]);
			if (l[i] > 0)
				memcpy(b, keys[i], l[i]);
			b += l[i];
		}
	}
	*lens_out = lo;
	*bytes_out = bo;
	return EMBSTORE_OK;
}

/* The owner's side: the global row of each received key in this rank's parts of the table, NOT_HERE, or
 * FAILED_HERE (then the failure, such as CORRUPT, is this rank's status, the detail naming the file's table). */
static embstore_status answer(const embstore_mpi *h, const em_table *t, const uint32_t *lens, const char *bytes,
                              size_t count, int64_t *rows)
{
	embstore_status failed = EMBSTORE_OK;
	for (size_t j = 0; j < count; j++) {
		rows[j] = NOT_HERE;
		for (uint32_t m = 0; lens[j] > 0 && m < t->n_mine; m++) {
			const em_piece *p = &t->pieces[t->mine[m]];
			uint64_t local;
			embstore_status st = embstore_table_find_key(h->stores[p->store], p->table_index, bytes, lens[j], &local);
			if (st == EMBSTORE_OK) {
				rows[j] = (int64_t)(p->first + local);
				break;
			}
			if (st != EMBSTORE_UNKNOWN_KEY) {
				rows[j] = FAILED_HERE;
				if (failed == EMBSTORE_OK) {
					em_detail("rank %d, table '%.100s': %s", h->rank, t->info.name, embstore_strerror(st));
					failed = st;
				}
				break;
			}
		}
		bytes += lens[j];
	}
	return failed;
}

/* The agreed status of the last step: the lowest rank's failure (one MPI_Allgather). */
static embstore_status agree_first(embstore_mpi *h, embstore_status local, int *all)
{
	int mine = (int)local;
	EM_MPI(h, MPI_Allgather(&mine, 1, MPI_INT, all, 1, MPI_INT, h->comm), "MPI_Allgather");
	for (int k = 0; k < h->size; k++)
		if (all[k] != EMBSTORE_OK) {
			if (k != h->rank)
				em_detail("rank %d: %s", k, embstore_strerror((embstore_status)all[k]));
			return (embstore_status)all[k];
		}
	return EMBSTORE_OK;
}

/* find_keys into `rows`, which is written only when every rank succeeded. `kind` tells the calls apart (they
 * must agree); `local` is this rank's verdict on its arguments. Messages: MPI_Alltoall (records, with the byte counts), MPI_Allreduce (buffers), MPI_Alltoallv x 3
 * (lengths, key bytes, answers back), MPI_Allgather (the outcome). */
static embstore_status find(embstore_mpi *h, uint32_t table, const char *const *keys, const size_t *lens, size_t n,
                            int64_t kind, embstore_status local, uint64_t *rows, size_t *bad_index)
{
	em_route *r = &h->route;
	const em_table *t = local == EMBSTORE_OK ? &h->tables[table] : NULL;
	int *ints = calloc(5 * (size_t)h->size, sizeof *ints);
	key_route kr = {0};
	uint32_t *lens_out = NULL, *lens_in = NULL;
	char *bytes_out = NULL, *bytes_in = NULL;
	int64_t *answers = NULL, *back = NULL;
	if (ints == NULL && local == EMBSTORE_OK)
		local = EMBSTORE_NO_MEMORY;
	if (ints != NULL)
		kr = (key_route){ints, ints + h->size, ints + 2 * h->size, ints + 3 * h->size};
	if (local == EMBSTORE_OK)
		local = lay_out(h, t, keys, lens, n, &kr, &lens_out, &bytes_out);
	em_route_records(h, local, table, kind, 0);
	for (int k = 0; k < h->size; k++)
		r->out[k].groups = local == EMBSTORE_OK ? kr.sc[k] : 0;
	embstore_status st = em_route_exchange(h);
	if (st != EMBSTORE_OK)
		goto out;
	t = &h->tables[table];
	for (int k = 0; k < h->size; k++)
		kr.rc[k] = (int)r->in[k].groups; /* at most INT_MAX: its sender checked */
	size_t received_bytes = 0;
	st = em_route_displs(r->recv_counts, r->recv_displs, h->size, &r->received);
	if (st == EMBSTORE_OK)
		st = em_route_displs(kr.rc, kr.rd, h->size, &received_bytes);
	if (st == EMBSTORE_OK) {
		lens_in = em_scratch_get(h, EM_ASKED, (r->received + 1) * sizeof *lens_in);
		bytes_in = em_scratch_get(h, EM_ROWS_IN, received_bytes + 1);
		answers = em_scratch_get(h, EM_SLOT, (r->received + 1) * sizeof *answers);
		back = em_scratch_get(h, EM_KEY_ANSWERS, (r->sent + 1) * sizeof *back);
		st = lens_in && bytes_in && answers && back ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	}
	if ((st = em_agree_max(h, st)) != EMBSTORE_OK)
		goto out;
	if ((st = em_alltoallv(h, false, lens_out, lens_in, MPI_UINT32_T, 4)) != EMBSTORE_OK ||
	    (st = em_alltoallv_counts(h, kr.sc, kr.sd, bytes_out, kr.rc, kr.rd, bytes_in, MPI_CHAR, 1)) != EMBSTORE_OK)
		goto out;
	local = answer(h, t, lens_in, bytes_in, r->received, answers);
	if ((st = em_alltoallv(h, true, answers, back, MPI_INT64_T, 8)) != EMBSTORE_OK)
		goto out;
	/* Each key's row: the first owner, in rank order, that has it. */
	size_t unknown = n;
	for (size_t i = 0; i < n && local == EMBSTORE_OK; i++) {
		int64_t row = NOT_HERE;
		for (int k = 0; k < h->size && row < 0; k++)
			if (r->send_counts[k] > 0)
				row = back[r->send_displs[k] + (int)i];
		if (row < 0) {
			unknown = i;
			em_detail("key #%zu ('%.*s') is not in table '%.100s'", i, (int)(lens[i] < 100 ? lens[i] : 100),
			          keys[i] ? keys[i] : "", t->info.name);
			local = EMBSTORE_UNKNOWN_KEY;
		}
	}
	if (unknown < n && bad_index != NULL)
		*bad_index = unknown;
	st = agree_first(h, local, ints + 4 * h->size);
	for (size_t i = 0; st == EMBSTORE_OK && i < n; i++)
		for (int k = 0; k < h->size; k++)
			if (r->send_counts[k] > 0 && back[r->send_displs[k] + (int)i] >= 0) {
				rows[i] = (uint64_t)back[r->send_displs[k] + (int)i];
				break;
			}
out:
	free(ints);
	return st;
}

embstore_status embstore_mpi_find_keys(embstore_mpi *h, uint32_t table, const char *const *keys, const size_t *lens,
                                       size_t n, uint64_t *rows, size_t *bad_index)
{
	if (h == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	em_detail_clear();
	embstore_status local = check_keys(h, table, keys, lens, n, rows);
	return find(h, table, keys, lens, n, -3, local, rows, bad_index);
}

embstore_status embstore_mpi_gather_keys(embstore_mpi *h, uint32_t table, const char *const *keys, const size_t *lens,
                                         size_t n, float *out, size_t *bad_index)
{
	if (h == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	em_detail_clear();
	embstore_status local = check_keys(h, table, keys, lens, n, out);
	uint64_t *rows = local == EMBSTORE_OK ? em_scratch_get(h, EM_KEY_ROWS, (n + 1) * sizeof *rows) : NULL;
	if (local == EMBSTORE_OK && rows == NULL)
		local = EMBSTORE_NO_MEMORY;
	embstore_status st = find(h, table, keys, lens, n, -4, local, rows, bad_index);
	if (st != EMBSTORE_OK)
		return st;
	/* Global rows, each below the table's rows (< 2^63): the same values as int64. */
	return embstore_mpi_gather(h, table, (const int64_t *)rows, EMBSTORE_ID64, n, out, NULL);
}
