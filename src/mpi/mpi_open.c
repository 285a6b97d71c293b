/* mpi_open.c: opening a set over the ranks of a communicator, and what the handle tells about it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_layout.h"

#define KNOWN_FLAGS                                                                                             \
	(EMBSTORE_OPEN_VERIFY | EMBSTORE_OPEN_WRITABLE | EMBSTORE_ADVISE_RANDOM | EMBSTORE_ADVISE_SEQUENTIAL |          \
	 EMBSTORE_ADVISE_WILLNEED | EMBSTORE_ADVISE_HUGEPAGE)

static void free_handle(embstore_mpi *h)
{
	for (uint32_t i = 0; i < h->n_stores; i++)
		embstore_close(h->stores[i]);
	free(h->stores);
	free(h->tables);
	free(h->by_name);
	free(h->pieces);
	free(h->mine);
	free(h->names);
	em_route_free(&h->route);
	if (h->comm != MPI_COMM_NULL)
		MPI_Comm_free(&h->comm);
	free(h);
}

void embstore_mpi_close(embstore_mpi *h)
{
	if (h != NULL)
		free_handle(h);
}

/* This rank's files, each opened with `flags`; on failure none stays open and the detail names the file. */
static embstore_status open_mine(embstore_mpi *h, const char *const *paths, size_t n, unsigned flags)
{
	if (n > EMBSTORE_SHARD_MAX) {
		em_detail("%zu files: a set has at most %u shards", n, EMBSTORE_SHARD_MAX);
		return EMBSTORE_BAD_SET;
	}
	h->stores = calloc(n + 1, sizeof *h->stores);
	if (h->stores == NULL)
		return EMBSTORE_NO_MEMORY;
	for (size_t i = 0; i < n; i++) {
		if (paths[i] == NULL)
			return EMBSTORE_INVALID_ARGUMENT;
		embstore_status st = embstore_open(paths[i], flags, &h->stores[i]);
		if (st != EMBSTORE_OK) {
			const char *why = embstore_error_detail();
			em_detail("'%.200s': %.280s", paths[i], why[0] ? why : embstore_strerror(st));
			return st;
		}
		h->n_stores++;
	}
	return EMBSTORE_OK;
}

/* Every rank's description of its files, on every rank (MPI_Allgather of the lengths, MPI_Allgatherv of the
 * bytes), parsed. The parsed descriptions point into *received, which the caller frees after them. */
static embstore_status share(embstore_mpi *h, const em_buf *mine, em_desc *all, unsigned char **received)
{
	/* What a rank that could not describe itself sends instead: status NO_MEMORY, detail "", no files. */
	static const uint32_t no_memory[] = {EMBSTORE_NO_MEMORY, 1, 0, 0};
	const void *send = mine->failed ? (const void *)no_memory : mine->data;
	size_t send_len = mine->failed ? 13 : mine->len;
	int len = send_len <= INT_MAX ? (int)send_len : 0;
	int *lens = calloc((size_t)h->size, sizeof *lens), *displs = calloc((size_t)h->size, sizeof *displs);
	unsigned char *bytes = NULL;
	*received = NULL;
	embstore_status routed = em_route_init(h, &h->route);
	embstore_status st = em_agree_max(h, lens && displs && all && routed == EMBSTORE_OK ? EMBSTORE_OK
	                                                                                  : EMBSTORE_NO_MEMORY);
	if (st != EMBSTORE_OK)
		goto out;
	int rc = MPI_Allgather(&len, 1, MPI_INT, lens, 1, MPI_INT, h->comm);
	h->stats.collectives++;
	if (rc != MPI_SUCCESS) {
		st = em_mpi_failed("MPI_Allgather", rc);
		goto out;
	}
	size_t total = 0;
	for (int r = 0; r < h->size; r++) {
		displs[r] = (int)total;
		total += (size_t)lens[r];
		if (lens[r] == 0 || total > INT_MAX) {
			em_detail("rank %d's description of its files does not fit an MPI count", r);
			st = EMBSTORE_LIMIT;
			goto out;
		}
	}
	bytes = malloc(total);
	st = em_agree_max(h, bytes != NULL ? EMBSTORE_OK : EMBSTORE_NO_MEMORY);
	if (st != EMBSTORE_OK)
		goto out;
	rc = MPI_Allgatherv(send, len, MPI_BYTE, bytes, lens, displs, MPI_BYTE, h->comm);
	h->stats.collectives++;
	if (rc != MPI_SUCCESS) {
		st = em_mpi_failed("MPI_Allgatherv", rc);
		goto out;
	}
	for (int r = 0; r < h->size && st == EMBSTORE_OK; r++)
		st = em_parse(bytes + displs[r], (size_t)lens[r], r, &all[r]);
out:
	free(lens);
	free(displs);
	*received = bytes;
	return st;
}

static embstore_status dup_comm(MPI_Comm comm, MPI_Comm *out)
{
	/* The caller's handler (by default: abort) is set aside while the duplicate is made, so that a failure
	 * comes back as a status; the duplicate keeps MPI_ERRORS_RETURN. */
	MPI_Errhandler old;
	int rc = MPI_Comm_get_errhandler(comm, &old);
	if (rc != MPI_SUCCESS)
		return em_mpi_failed("MPI_Comm_get_errhandler", rc);
	MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
	rc = MPI_Comm_dup(comm, out);
	MPI_Comm_set_errhandler(comm, old);
	MPI_Errhandler_free(&old);
	return rc == MPI_SUCCESS ? EMBSTORE_OK : em_mpi_failed("MPI_Comm_dup", rc);
}

embstore_status embstore_mpi_open(MPI_Comm comm, const char *const *paths, size_t n, unsigned flags,
                                  embstore_mpi **out)
{
	em_detail_clear();
	int initialized = 0, finalized = 1;
	MPI_Initialized(&initialized);
	MPI_Finalized(&finalized);
	if (!initialized || finalized) {
		em_detail("MPI is not initialised, or already finalised");
		return EMBSTORE_STATE;
	}
	if (comm == MPI_COMM_NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	embstore_mpi *h = calloc(1, sizeof *h);
	if (h == NULL)
		return EMBSTORE_NO_MEMORY; /* before any collective: the other ranks then wait in theirs */
	h->comm = MPI_COMM_NULL;
	embstore_status st = dup_comm(comm, &h->comm);
	if (st != EMBSTORE_OK) {
		free_handle(h);
		return st;
	}
	MPI_Comm_rank(h->comm, &h->rank);
	MPI_Comm_size(h->comm, &h->size);
	h->writable = (flags & EMBSTORE_OPEN_WRITABLE) != 0;

	/* This rank's own problems are told to the others in its description, never returned early. */
	st = EMBSTORE_OK;
	if (out == NULL || (paths == NULL && n > 0) || (flags & ~(unsigned)KNOWN_FLAGS) != 0)
		st = EMBSTORE_INVALID_ARGUMENT;
	if (st == EMBSTORE_OK)
		st = open_mine(h, paths, n, flags);
	if (st != EMBSTORE_OK) {
		for (uint32_t i = 0; i < h->n_stores; i++)
			embstore_close(h->stores[i]);
		h->n_stores = 0;
	}
	em_buf mine = {0};
	em_describe(&mine, h->stores, paths, h->n_stores, st, embstore_mpi_error_detail());
	em_desc *all = calloc((size_t)h->size, sizeof *all);
	unsigned char *received;
	st = share(h, &mine, all, &received);
	free(mine.data);
	if (st == EMBSTORE_OK)
		st = em_layout(h, all);
	for (int r = 0; all != NULL && r < h->size; r++)
		em_desc_free(&all[r]);
	free(all);
	free(received);
	/* The layout is the same on every rank but for running out of memory on one: agreed once more. */
	embstore_status agreed = em_agree_max(h, st);
	if (agreed != EMBSTORE_OK) {
		free_handle(h);
		return agreed;
	}
	h->info.rank = h->rank;
	h->info.size = h->size;
	h->info.local_shards = h->n_stores;
	*out = h;
	return EMBSTORE_OK;
}

embstore_status embstore_mpi_open_f(MPI_Fint comm, const char *const *paths, size_t n, unsigned flags,
                                    embstore_mpi **out)
{
	return embstore_mpi_open(MPI_Comm_f2c(comm), paths, n, flags, out);
}

embstore_status embstore_mpi_get_info(const embstore_mpi *h, embstore_mpi_info *out)
{
	if (h == NULL || out == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	*out = h->info;
	return EMBSTORE_OK;
}

embstore_status embstore_mpi_table_at(const embstore_mpi *h, uint32_t index, embstore_set_table *out)
{
	if (h == NULL || out == NULL || index >= h->info.set.table_count)
		return EMBSTORE_INVALID_ARGUMENT;
	*out = h->tables[index].info;
	return EMBSTORE_OK;
}

embstore_status embstore_mpi_table_find(const embstore_mpi *h, const char *name, embstore_set_table *out)
{
	if (h == NULL || name == NULL || out == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	uint32_t lo = 0, hi = h->info.set.table_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(h->tables[h->by_name[mid]].info.name, name);
		if (c == 0) {
			*out = h->tables[h->by_name[mid]].info;
			return EMBSTORE_OK;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return EMBSTORE_NOT_FOUND;
}

embstore_status embstore_mpi_owner(const embstore_mpi *h, uint32_t index, uint64_t row, int *rank)
{
	if (h == NULL || rank == NULL || index >= h->info.set.table_count || row >= h->tables[index].info.rows)
		return EMBSTORE_INVALID_ARGUMENT;
	*rank = em_owner(&h->tables[index], row)->rank;
	return EMBSTORE_OK;
}
