/* mpi_bench.c: the scaffolding the MPI benchmarks share (mpi_bench.h). */
#include "mpi_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int mb_rank, mb_size;
static const char *prog_name = "mpi bench";

void mb_init(int *argc, char ***argv, const char *prog)
{
	MPI_Init(argc, argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &mb_rank);
	MPI_Comm_size(MPI_COMM_WORLD, &mb_size);
	prog_name = prog;
}

double mb_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void mb_die(const char *what, embstore_status st)
{
	fprintf(stderr, "%s (rank %d): %s: %s %s %s\n", prog_name, mb_rank, what, embstore_strerror(st),
	        embstore_error_detail(), embstore_mpi_error_detail());
	MPI_Abort(MPI_COMM_WORLD, 1);
}

void mb_make_stores(const char *whole, const char *shard0, uint64_t rows, uint32_t dim,
                    embstore_status (*write)(const char *path, uint64_t rows, uint32_t dim))
{
	embstore_status st = EMBSTORE_OK;
	if (mb_rank == 0 && access(whole, R_OK) != 0)
		st = write(whole, rows, dim);
	if (mb_rank == 0 && st == EMBSTORE_OK && mb_size > 1 && access(shard0, R_OK) != 0) {
		embstore *s;
		st = embstore_open(whole, 0, &s);
		if (st == EMBSTORE_OK)
			st = embstore_shard_split(s, whole, (uint32_t)mb_size, EMBSTORE_SHARD_BY_ROWS, 0);
		embstore_close(s);
	}
	if (st != EMBSTORE_OK)
		mb_die("writing the table", st);
	MPI_Barrier(MPI_COMM_WORLD);
}

void mb_idle_barrier(void)
{
	MPI_Request req;
	int done = 0;
	MPI_Ibarrier(MPI_COMM_WORLD, &req);
	while (!done) {
		MPI_Test(&req, &done, MPI_STATUS_IGNORE);
		if (!done)
			nanosleep(&(struct timespec){0, 200000}, NULL);
	}
}

double mb_slowest(double t)
{
	double max;
	MPI_Allreduce(&t, &max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
	return max;
}

uint64_t mb_total(uint64_t x)
{
	uint64_t sum;
	MPI_Allreduce(&x, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	return sum;
}
