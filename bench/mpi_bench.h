/* mpi_bench.h: what the MPI benchmarks (mpi_gather.c, mpi_keys.c) share: the rank and size, a clock, a fatal
 * error, the store written once and split by rows into one shard per rank, and the collective timing helpers. */
#ifndef EMBSTORE_BENCH_MPI_BENCH_H
#define EMBSTORE_BENCH_MPI_BENCH_H

#include <embstore_mpi.h>
#include <stdint.h>

extern int mb_rank, mb_size;

/* MPI_Init and the rank and size; `prog` names the program in mb_die's messages. */
void mb_init(int *argc, char ***argv, const char *prog);
double mb_now(void);
/* Prints what failed, with the library's details, and aborts the job. */
void mb_die(const char *what, embstore_status st);
/* On rank 0, writes `whole` with write() unless it exists, then splits it by rows into mb_size shards unless the
 * first one (`shard0`) exists; every rank waits for it. */
void mb_make_stores(const char *whole, const char *shard0, uint64_t rows, uint32_t dim,
                    embstore_status (*write)(const char *path, uint64_t rows, uint32_t dim));
/* Sleeps until rank 0 is done timing alone (a plain barrier would spin on a core the timed rank needs). */
void mb_idle_barrier(void);
/* The slowest rank's time; the sum over ranks. */
double mb_slowest(double t);
uint64_t mb_total(uint64_t x);

#endif
