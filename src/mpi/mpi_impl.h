/* mpi_impl.h: libembstore_mpi's handle and the pieces its files share. The library sees embstore only through its
 * public header (it links libembstore like any user), so it keeps its own record of which rank holds what. */
#ifndef EMBSTORE_MPI_IMPL_H
#define EMBSTORE_MPI_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "embstore_mpi.h"

/* Rows [first, first + rows) of a table, held by rank `rank` as table `table_index` of its store `store` (an
 * index into that rank's own list of opened files; meaningful on every rank, usable only on `rank`). */
typedef struct em_piece {
	uint64_t first, rows;
	int rank;
	uint32_t store, table_index;
} em_piece;

/* What each rank tells every other one before any data moves: its status after its own checks, what it
 * called (which must agree), and how many items it sends to the receiving rank. */
typedef struct em_record {
	int64_t status;
	int64_t call[3]; /* table, mode, flags or alpha's bits: the same on every rank */
	int64_t items;   /* ids (or rows) for the receiver */
	int64_t groups;  /* bags: sub-bags for the receiver */
	int64_t extra;   /* bags: 1 when weights come along */
} em_record;

/* One call's routing: for each rank, how many items go there and where they start in the send order. */
typedef struct em_route {
	int *send_counts, *send_displs, *recv_counts, *recv_displs; /* in items; size entries each */
	size_t sent, received;                                     /* items in all */
	em_record *in, *out;                                      /* what each rank told this one, and is told */
} em_route;

/* Buffers a handle keeps between calls, grown and never shrunk, so that a stream of batches does not map and
 * fault in fresh pages at every call (which cost more than the copies themselves). */
enum { EM_SEND, EM_SLOT, EM_ASKED, EM_ROWS_OUT, EM_ROWS_IN, EM_KEY_ANSWERS, EM_KEY_ROWS, EM_SCRATCH_N };
typedef struct em_scratch {
	void *p;
	size_t cap;
} em_scratch;

typedef struct em_table {
	embstore_set_table info;  /* name points into the handle's names */
	uint64_t row_bytes;       /* embstore_row_bytes of dtype and dim: what travels per row */
	em_piece *pieces;         /* sorted by first; they cover [0, info.rows) exactly */
	uint32_t n_pieces;
	uint32_t *mine;           /* positions in pieces of this rank's pieces, by first */
	uint32_t n_mine;
} em_table;

struct embstore_mpi {
	MPI_Comm comm;            /* a duplicate, with MPI_ERRORS_RETURN */
	int rank, size;
	embstore **stores;        /* this rank's files, in the order given */
	uint32_t n_stores;
	bool writable;
	embstore_mpi_info info;
	em_table *tables;         /* by position in the set */
	uint32_t *by_name;        /* positions sorted by name */
	em_piece *pieces;         /* every table's, one allocation */
	uint32_t *mine;           /* every table's `mine`, one allocation */
	char *names;              /* every table's name, one allocation */
	em_route route;           /* the arrays of one call's exchange, allocated once */
	em_scratch scratch[EM_SCRATCH_N];
	embstore_mpi_stats stats;
};

/* ---- errors (mpi_util.c) ---- */
void em_detail_clear(void);
void em_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For a failed MPI call `what` with code `rc`: the detail names both, and the status is IO. */
embstore_status em_mpi_failed(const char *what, int rc);
#define EM_MPI(h, call, name)                                                                                 \
	do {                                                                                                    \
		int em_rc_ = (call);                                                                                \
		(h)->stats.collectives++;                                                                           \
		if (em_rc_ != MPI_SUCCESS)                                                                          \
			return em_mpi_failed(name, em_rc_);                                                             \
	} while (0)

/* The agreed status of a step every rank reached: the largest of all ranks' statuses (one MPI_Allreduce). The
 * value does not matter much (a rank that failed knows why; embstore_mpi_error_detail says it there), only that
 * every rank returns the same one. */
embstore_status em_agree_max(embstore_mpi *h, embstore_status local);

/* Scratch buffer `which` of at least `bytes` (contents not kept); NULL when out of memory. */
void *em_scratch_get(embstore_mpi *h, int which, size_t bytes);

/* The piece of `t` holding global row `row` (< t->info.rows). */
const em_piece *em_owner(const em_table *t, uint64_t row);

/* ---- the exchange of one collective call (mpi_route.c) ---- */

/* Allocates the route's arrays (at open: a call must not fail before it has told the others). NO_MEMORY. */
embstore_status em_route_init(const embstore_mpi *h, em_route *r);
void em_route_free(em_route *r);
/* Sets every out record to this rank's status, the call and its send counts (none when `status` is not OK). */
void em_route_records(embstore_mpi *h, embstore_status status, int64_t c0, int64_t c1, int64_t c2);
/* Exchanges the records (one MPI_Alltoall; out[k] goes to rank k), then agrees on one status: the lowest rank's
 * failure, else INVALID_ARGUMENT if the calls differ. Fills recv_counts. IO when MPI fails (then without
 * agreement: the handle is to be closed). */
embstore_status em_route_exchange(embstore_mpi *h);
/* Displacements of the counts, each side; LIMIT when a total does not fit an int. */
embstore_status em_route_displs(const int *counts, int *displs, int size, size_t *total);
/* One MPI_Alltoallv of `type` (extent `bytes` each) along the route, forward (send -> recv) or back. Counts the
 * bytes that leave and enter the process. */
embstore_status em_alltoallv(embstore_mpi *h, bool back, const void *send, void *recv,
                             MPI_Datatype type, size_t bytes);
/* The same with other counts and displacements than the route's (the sub-bags of a pooled bag call). */
embstore_status em_alltoallv_counts(embstore_mpi *h, const int *sc, const int *sd, const void *send, const int *rc,
                                    const int *rd, void *recv, MPI_Datatype type, size_t bytes);

/* This rank's checks common to every lookup: table in range, id_type known, every id in range (the first bad
 * position into *bad_index). */
embstore_status em_check_ids(const embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type type, size_t n,
                             size_t *bad_index);
static inline int64_t em_load_id(const void *ids, embstore_id_type type, size_t i)
{
	return type == EMBSTORE_ID64 ? ((const int64_t *)ids)[i] : ((const int32_t *)ids)[i];
}

/* Buckets ids by owner rank: counts per rank into r->send_counts (and displs), each id's global value into
 * send[] at its slot, and slot[i] = its position in the send order (stable: in each rank's block, in order). */
embstore_status em_bucket(const embstore_mpi *h, const em_table *t, const void *ids, embstore_id_type type, size_t n,
                          em_route *r, int64_t *send, int64_t *slot);
/* A committed datatype of `bytes` contiguous bytes (a row, a partial row); the caller frees it. LIMIT above
 * INT_MAX bytes. */
embstore_status em_row_type(size_t bytes, MPI_Datatype *out);

/* Copies the stored rows of global ids gids[0 .. n), all held by this rank, into dst (row_bytes each). */
void em_copy_rows(const embstore_mpi *h, const em_table *t, const int64_t *gids, size_t n, unsigned char *dst);

/* ---- bags (mpi_gather.c, mpi_bag.c) ---- */

/* This rank's checks of a bag call: mode, flags, out, offsets (CSR over n_ids), then em_check_ids. */
embstore_status em_check_bag(const embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type id_type,
                             size_t n_ids, const int64_t *offsets, size_t n_bags, embstore_bag_mode mode,
                             unsigned flags, const float *out, size_t *bad_index);
/* embstore_mpi_gather_bag with EMBSTORE_MPI_POOL_ON_OWNER; `local` is this rank's verdict on its arguments. */
embstore_status em_bag_on_owner(embstore_mpi *h, uint32_t table, const void *ids, embstore_id_type type,
                                size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                embstore_bag_mode mode, float *out, embstore_status local);

#endif
