/* embstore_mpi.h: a shard set served by the ranks of an MPI communicator (libembstore_mpi, built only where
 * MPI is found; libembstore itself never depends on MPI). docs/DISTRIBUTED.md says how to lay a set out on a
 * cluster, what each call sends and what it costs.
 *
 * Each rank opens the shard files it holds (zero or more); together the ranks hold every shard of one set
 * exactly once. The calls below that say "collective" must be made by every rank of the communicator, in the same
 * order, with the same table (and the same mode and flags for bags); ids, bags and gradients are each rank's own,
 * any number on each rank (zero included). Conventions of embstore.h hold, and besides:
 *  - The caller initialises MPI (MPI_Init or MPI_Init_thread) before embstore_mpi_open and finalises it after
 *    embstore_mpi_close. The library never calls MPI_Abort, never prints and never exits.
 *  - Every collective call returns the same status on every rank: each rank first checks its own arguments and
 *    ids, then all ranks agree on one status before any data moves (the status of the lowest rank that found a
 *    problem; for a failure found later, such as memory for what a rank is about to receive, the largest status
 *    value any rank found). So a bad id on one rank gives every rank ID_OUT_OF_RANGE, *bad_index is written on
 *    the rank whose id it was (its first bad position there), and nothing is written anywhere: no output, no
 *    table row. embstore_mpi_error_detail says which rank found what.
 *  - The handle works on a duplicate of the communicator with MPI_ERRORS_RETURN, so an MPI failure comes back as
 *    EMBSTORE_IO with embstore_mpi_error_detail naming the MPI call and MPI's error string. After such a failure
 *    the ranks may no longer agree on where they are: close the handle.
 *  - MPI counts are ints. A call that would send or receive more than INT_MAX ids (rows, sub-bags) to or from
 *    one rank, or in all, fails with LIMIT on every rank (split the batch). Rows travel as one MPI datatype each.
 *  - A handle keeps the buffers of its largest call (ids, rows out and in) until it is closed, so that a stream of
 *    batches does not fault fresh pages in at every call.
 *  - One thread at a time per handle (MPI collectives on one communicator must be issued in the same order on
 *    every rank); different handles may be used from different threads when MPI was initialised with
 *    MPI_THREAD_MULTIPLE.
 */
#ifndef EMBSTORE_MPI_H
#define EMBSTORE_MPI_H

#include <mpi.h>

#include "embstore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct embstore_mpi embstore_mpi;

/* What the last failed embstore_mpi_* call of this thread found, as embstore_error_detail does for the core
 * library: which shard is missing ("shard 2 of 4 is missing (expected 'w-00002-of-00004.emb'); 3 of 4 given"),
 * which rank's file failed to open and why, which MPI call failed. The same text on every rank when the problem
 * was agreed on. "" when there is nothing to add to the status' sentence. */
EMBSTORE_API const char *embstore_mpi_error_detail(void);

/* Collective. Opens this rank's `n` shard files (each with embstore_open and `flags`: EMBSTORE_OPEN_VERIFY,
 * EMBSTORE_OPEN_WRITABLE for scatter-add, the advise flags), then the ranks exchange what they hold (set id,
 * shard index, and each table's name, dim, dtype and global row range; one MPI_Allgather and one
 * MPI_Allgatherv) and every rank checks, as embstore_set_open does, that the files of all ranks make one
 * complete, consistent set; every rank then knows the owner rank of every row range. A rank may pass n = 0
 * (paths may then be NULL). One ordinary store on one rank, and no file elsewhere, opens as a set of one.
 * Errors (the same on every rank): STATE (MPI not initialised, or finalised; returned at once, without any
 * collective), INVALID_ARGUMENT (NULL out, paths NULL with n > 0, an unknown flag bit, MPI_COMM_NULL), those of embstore_open on any rank (the detail names the rank and the file),
 * BAD_SET (no file on any rank; a shard missing, named; a shard held twice, by which ranks; a file of another
 * set; parts that disagree or do not cover a table; an ordinary store among shards), NO_MEMORY, LIMIT, IO (MPI
 * failed). On failure every rank's files are closed. */
EMBSTORE_API embstore_status embstore_mpi_open(MPI_Comm comm, const char *const *paths, size_t n, unsigned flags,
                                               embstore_mpi **out);
/* The same with the communicator as its Fortran handle (MPI_Comm_c2f; mpi4py: comm.py2f()), for bindings that
 * cannot name an MPI_Comm, whose type differs between MPI implementations. */
EMBSTORE_API embstore_status embstore_mpi_open_f(MPI_Fint comm, const char *const *paths, size_t n,
                                                 unsigned flags, embstore_mpi **out);
/* Collective (it frees the duplicated communicator). Closes this rank's shards. NULL is a no-op. */
EMBSTORE_API void embstore_mpi_close(embstore_mpi *h);

typedef struct embstore_mpi_info {
	embstore_set_info set;  /* as embstore_set_get_info: shard 0's fields, shard_count, table_count */
	int rank, size;         /* in the communicator */
	uint32_t local_shards;  /* shards this rank opened */
} embstore_mpi_info;

/* Errors: INVALID_ARGUMENT (NULL). */
EMBSTORE_API embstore_status embstore_mpi_get_info(const embstore_mpi *h, embstore_mpi_info *out);
/* A table of the set, as embstore_set_table_at / embstore_set_table_find; known on every rank, whether or not
 * it holds a part of it (name points into the handle, valid until close). `parts` counts the set's shards that
 * hold a part. Errors: INVALID_ARGUMENT (NULL, index out of range), NOT_FOUND. */
EMBSTORE_API embstore_status embstore_mpi_table_at(const embstore_mpi *h, uint32_t index, embstore_set_table *out);
EMBSTORE_API embstore_status embstore_mpi_table_find(const embstore_mpi *h, const char *name,
                                                     embstore_set_table *out);
/* The rank that holds global row `row` of table `index`. Errors: INVALID_ARGUMENT (NULL, out of range). */
EMBSTORE_API embstore_status embstore_mpi_owner(const embstore_mpi *h, uint32_t index, uint64_t row, int *rank);

/* Collective. As embstore_gather over the global ids of the set: this rank's `n` ids (0 <= id < the table's
 * rows), their rows into out[i * dim ..] in this rank's order, bit for bit what embstore_gather gives on the
 * unsharded store. Ids are bucketed by owner rank; counts go by MPI_Alltoall, ids (8 bytes each) by
 * MPI_Alltoallv; each owner copies the stored rows (embstore_row_bytes each: dim x 4 for f32, dim x 2 for f16
 * and bf16, dim + 8 for int8) and sends them back by MPI_Alltoallv; the requester widens them into `out` in its
 * order with embstore_gather over the received rows.
 * Errors: INVALID_ARGUMENT (ids or out NULL with n > 0, table out of range, unknown id_type, different tables on
 * different ranks), ID_OUT_OF_RANGE, NO_MEMORY, LIMIT, IO (MPI). */
EMBSTORE_API embstore_status embstore_mpi_gather(embstore_mpi *h, uint32_t table, const void *ids,
                                                 embstore_id_type id_type, size_t n, float *out,
                                                 size_t *bad_index);

/* Flags of embstore_mpi_gather_bag. */
/* Each owner pools its part of each bag and sends one partial row per (bag, owner) instead of the bag's rows;
 * the requester combines the partials in rank order (sum: added, mean: added then divided by the bag's length,
 * max: element-wise max). Bit for bit the unsharded result whenever each bag's rows lie on one rank (a set split
 * by table, or a bag whose ids one rank owns) and for max (but for which zero's sign wins a tie of -0 and +0,
 * and which NaN); for sum and mean over a bag whose rows are on several ranks, the f32 additions happen in
 * another order and the result may differ in the last bits. */
#define EMBSTORE_MPI_POOL_ON_OWNER (1u << 0)

/* Collective. As embstore_gather_bag over global ids: bag b of this rank covers ids[offsets[b] .. offsets[b+1]),
 * with weights[i] when `weights` is not NULL, pooled by `mode` into out[b * dim ..]. Without flags, the rows the
 * bags need travel as in embstore_mpi_gather and the requester pools them with embstore_gather_bag in each bag's
 * id order: bit for bit the unsharded embstore_gather_bag. With EMBSTORE_MPI_POOL_ON_OWNER see above: ids and
 * weights go to the owners, one partial row of dim x 4 bytes per (bag, owner with rows of it) comes back.
 * Errors: those of embstore_mpi_gather, INVALID_ARGUMENT (bad offsets, unknown mode or flag, different modes or
 * flags on different ranks). */
EMBSTORE_API embstore_status embstore_mpi_gather_bag(embstore_mpi *h, uint32_t table, const void *ids,
                                                     embstore_id_type id_type, size_t n_ids,
                                                     const int64_t *offsets, size_t n_bags, const float *weights,
                                                     embstore_bag_mode mode, unsigned flags, float *out,
                                                     size_t *bad_index);

/* Collective. As embstore_scatter_add over global ids: table[ids[i]] += alpha * grads[i * dim ..]. Each rank's
 * (id, gradient row) pairs go to the rows' owners (MPI_Alltoallv), and each owner applies what it receives in
 * rank order, then in each rank's order, with embstore_table_scatter_add, marking the rows for
 * embstore_mpi_sync. So the tables end up bit for bit as embstore_scatter_add over the concatenation of every
 * rank's ids and gradients in rank order leaves the unsharded table, whatever the number of ranks. `alpha` must
 * be the same on every rank. The files must be opened with EMBSTORE_OPEN_WRITABLE and the table be f32.
 * Errors: those of embstore_mpi_gather, READ_ONLY (an owner of the table opened it read-only), BAD_DTYPE (not
 * f32), INVALID_ARGUMENT (grads NULL with n > 0, different alphas). */
EMBSTORE_API embstore_status embstore_mpi_scatter_add(embstore_mpi *h, uint32_t table, const void *ids,
                                                      embstore_id_type id_type, size_t n, const float *grads,
                                                      float alpha, size_t *bad_index);

/* Collective. As embstore_set_find_key for each of this rank's `n` keys (keys[i], lens[i] bytes, no NUL needed):
 * the global row of keys[i] into rows[i]. Each key goes to every rank that holds a part of the table (once per
 * such rank, itself included), which looks it up in its shards' vocabularies; the rank that has it sends its
 * global row back. Bytes per key and remote owner: 4 + its length out, 8 back (docs/DISTRIBUTED.md, "Lookups by
 * key", says why the keys are not routed by hash). A key in no vocabulary gives UNKNOWN_KEY on every rank, with
 * its position (the first such on this rank) in *bad_index on the rank whose key it was, and no rows written
 * anywhere. Errors: INVALID_ARGUMENT (keys, lens or rows NULL with n > 0, keys[i] NULL with lens[i] > 0, table
 * out of range, different tables or calls on different ranks), NO_VOCAB, UNKNOWN_KEY, CORRUPT (an owner's
 * vocabulary is damaged), NO_MEMORY, LIMIT (more than INT_MAX keys or key bytes to the owners), IO (MPI). */
EMBSTORE_API embstore_status embstore_mpi_find_keys(embstore_mpi *h, uint32_t table, const char *const *keys,
                                                    const size_t *lens, size_t n, uint64_t *rows,
                                                    size_t *bad_index);
/* Collective. embstore_mpi_find_keys, then embstore_mpi_gather of the rows found: the rows of the keys into
 * out[i * dim ..], bit for bit what embstore_gather_keys gives on the unsharded store. Unlike that call, an
 * unknown key leaves `out` untouched on every rank. Errors: those of embstore_mpi_find_keys (out NULL with n > 0
 * is INVALID_ARGUMENT) and of embstore_mpi_gather. */
EMBSTORE_API embstore_status embstore_mpi_gather_keys(embstore_mpi *h, uint32_t table, const char *const *keys,
                                                      const size_t *lens, size_t n, float *out,
                                                      size_t *bad_index);

/* Collective. embstore_sync on every shard of every rank; a failure on any rank is returned on every rank.
 * Errors: those of embstore_sync (READ_ONLY when the files were not opened writable), IO (MPI). */
EMBSTORE_API embstore_status embstore_mpi_sync(embstore_mpi *h);

/* What this rank's handle has sent and received since open or the last reset, for checking the cost model
 * (docs/DISTRIBUTED.md): payload bytes of the collective calls' data exchanges, its own share (what a rank
 * sends to itself) excluded since it never leaves the process; and how many MPI collective operations it
 * started. */
typedef struct embstore_mpi_stats {
	uint64_t bytes_sent, bytes_received;
	uint64_t collectives;
} embstore_mpi_stats;

/* Errors: INVALID_ARGUMENT (NULL). */
EMBSTORE_API embstore_status embstore_mpi_get_stats(const embstore_mpi *h, embstore_mpi_stats *out);
/* Sets the counters to zero. NULL is a no-op. */
EMBSTORE_API void embstore_mpi_reset_stats(embstore_mpi *h);

#ifdef __cplusplus
}
#endif
#endif /* EMBSTORE_MPI_H */
