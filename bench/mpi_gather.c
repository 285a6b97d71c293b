/* mpi_gather.c: the figures of docs/DISTRIBUTED.md. R ranks serve a ROWS x DIM f32 table split by rows into R
 * shards (rank r holds shard r) and each gathers BATCH uniform random ids of the whole table per call; against one
 * process gathering BATCH ids from the unsharded table, timed first while the other ranks sleep. Then the bytes
 * each call moved against the model, and bags of BAG ids pooled by the requester and by the owners.
 *
 *   mpirun -np 2 build/tests/mpi/mpi_gather DIR [ROWS DIM BATCH REPS BAG]
 *
 * DIR keeps the stores between runs (rank 0 writes DIR/mpi-ROWSxDIM.emb and its split into R shards when they
 * are missing; 1,000,000 x 128 takes 512 MB, and as much again for the shards). Each time is the best of REPS
 * calls, a call's time being the slowest rank's. */
#include "mpi_bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static embstore_status write_table(const char *path, uint64_t rows, uint32_t dim)
{
	embstore_writer *w;
	embstore_init init = {EMBSTORE_INIT_NORMAL, 1.0, 1};
	embstore_status st = embstore_writer_create(path, &w);
	if (st == EMBSTORE_OK)
		st = embstore_writer_init_table(w, "t", EMBSTORE_F32, rows, dim, &init);
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	return st;
}

int main(int argc, char **argv)
{
	mb_init(&argc, &argv, "mpi_gather");
	if (argc < 2) {
		if (mb_rank == 0)
			fprintf(stderr, "usage: mpirun -np R mpi_gather DIR [ROWS DIM BATCH REPS BAG]\n");
		MPI_Finalize();
		return 2;
	}
	uint64_t rows = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	uint32_t dim = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 128;
	size_t batch = argc > 4 ? strtoull(argv[4], NULL, 10) : 65536;
	int reps = argc > 5 ? atoi(argv[5]) : 15;
	size_t bag = argc > 6 ? strtoull(argv[6], NULL, 10) : 20;
	char whole[512], shard[600];
	snprintf(whole, sizeof whole, "%s/mpi-%llux%u.emb", argv[1], (unsigned long long)rows, dim);
	embstore_shard_path(whole, 0, (uint32_t)mb_size, shard, sizeof shard);
	mb_make_stores(whole, shard, rows, dim, write_table);

	int64_t *ids = malloc(batch * sizeof *ids);
	float *out = malloc(batch * dim * sizeof *out);
	uint64_t s = 88172645463325252ull + (uint64_t)mb_rank;
	for (size_t i = 0; i < batch; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		ids[i] = (int64_t)(s % rows);
	}
	/* One process on the whole table, the other ranks asleep. */
	double single = 1e30;
	if (mb_rank == 0) {
		embstore *store;
		embstore_table t;
		embstore_status st = embstore_open(whole, 0, &store);
		if (st != EMBSTORE_OK || (st = embstore_table_at(store, 0, &t)) != EMBSTORE_OK)
			mb_die("opening the table", st);
		for (int r = 0; r < reps; r++) {
			double t0 = mb_now();
			embstore_gather(&t.matrix, ids, EMBSTORE_ID64, batch, out, NULL);
			double dt = mb_now() - t0;
			single = dt < single ? dt : single;
		}
		embstore_close(store);
	}
	mb_idle_barrier();

	embstore_shard_path(whole, (uint32_t)mb_rank, (uint32_t)mb_size, shard, sizeof shard);
	const char *mine = mb_size > 1 ? shard : whole;
	embstore_mpi *h;
	embstore_status st = embstore_mpi_open(MPI_COMM_WORLD, &mine, 1, 0, &h);
	if (st != EMBSTORE_OK)
		mb_die("opening the set", st);
	double best = 1e30;
	embstore_mpi_stats stats;
	for (int r = 0; r < reps; r++) {
		MPI_Barrier(MPI_COMM_WORLD);
		embstore_mpi_reset_stats(h);
		double t0 = mb_now();
		if ((st = embstore_mpi_gather(h, 0, ids, EMBSTORE_ID64, batch, out, NULL)) != EMBSTORE_OK)
			mb_die("gather", st);
		double dt = mb_slowest(mb_now() - t0);
		best = dt < best ? dt : best;
	}
	embstore_mpi_get_stats(h, &stats);
	uint64_t remote = 0;
	for (size_t i = 0; i < batch; i++) {
		int owner;
		embstore_mpi_owner(h, 0, (uint64_t)ids[i], &owner);
		remote += owner != mb_rank;
	}
	uint64_t sent = mb_total(stats.bytes_sent), all_remote = mb_total(remote);
	uint64_t lookups = (uint64_t)batch * (uint64_t)mb_size;
	if (mb_rank == 0) {
		double one = (double)batch / single, many = (double)lookups / best;
		printf("table %llu x %u f32, %zu random ids per rank and call, best of %d\n", (unsigned long long)rows, dim,
		       batch, reps);
		printf("one process, whole table:   %8.2f M lookups/s\n", one / 1e6);
		printf("%d ranks, set of %d shards:  %8.2f M lookups/s (all ranks)  ratio %.2fx\n", mb_size, mb_size, many / 1e6,
		       many / one);
		printf("bytes moved per lookup:     %8.1f (model: %.1f = %.3f remote x (8 + %u))\n",
		       (double)sent / (double)lookups, (double)all_remote * (8.0 + 4.0 * dim) / (double)lookups,
		       (double)all_remote / (double)lookups, 4 * dim);
	}

	/* Bags of `bag` ids, sum: requester-pooled (rows travel) against owner-pooled (partials travel). */
	size_t n_bags = batch / bag;
	int64_t *offsets = malloc((n_bags + 1) * sizeof *offsets);
	for (size_t b = 0; b <= n_bags; b++)
		offsets[b] = (int64_t)(b * bag);
	for (unsigned flags = 0; flags <= EMBSTORE_MPI_POOL_ON_OWNER; flags++) {
		double bag_best = 1e30;
		for (int r = 0; r < reps; r++) {
			MPI_Barrier(MPI_COMM_WORLD);
			embstore_mpi_reset_stats(h);
			double t0 = mb_now();
			st = embstore_mpi_gather_bag(h, 0, ids, EMBSTORE_ID64, n_bags * bag, offsets, n_bags, NULL,
			                             EMBSTORE_BAG_SUM, flags, out, NULL);
			if (st != EMBSTORE_OK)
				mb_die("bag", st);
			double dt = mb_slowest(mb_now() - t0);
			bag_best = dt < bag_best ? dt : bag_best;
		}
		embstore_mpi_get_stats(h, &stats);
		uint64_t received = mb_total(stats.bytes_received), bags_all = (uint64_t)n_bags * (uint64_t)mb_size;
		if (mb_rank == 0)
			printf("bags of %zu, sum, %-15s %8.2f M bags/s, %9.1f bytes moved per bag (bound for the partials: "
			       "%u other owner(s) x %u = %u)\n", bag, flags ? "owner-pooled:" : "requester-pooled:",
			       (double)bags_all / bag_best / 1e6, (double)received / (double)bags_all, mb_size - 1, 4 * dim,
			       (unsigned)(mb_size - 1) * 4 * dim);
	}
	embstore_mpi_close(h);
	free(ids);
	free(out);
	free(offsets);
	MPI_Finalize();
	return 0;
}
