/* mpi_keys.c: the key-lookup figures of docs/DISTRIBUTED.md. R ranks serve a ROWS x DIM f32 table whose row r
 * has the key "key-r", split by rows into R shards (rank r holds shard r); each rank looks up BATCH keys of
 * uniform random rows per call, by embstore_mpi_find_keys (key -> global row) and embstore_mpi_gather_keys
 * (key -> row's values); against one process doing the same with embstore_table_find_key and
 * embstore_gather_keys on the unsharded table, timed first while the other ranks sleep.
 *
 *   mpirun -np 2 build/tests/mpi/mpi_keys DIR [ROWS DIM BATCH REPS]
 *
 * DIR keeps the stores between runs (rank 0 writes DIR/keys-ROWSxDIM.emb and its split when they are missing).
 * Each time is the best of REPS calls, a call's time being the slowest rank's. */
#include "mpi_bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { KEY_LEN = 24, CHUNK = 4096 };

static size_t key_of(uint64_t row, char *key)
{
	return (size_t)snprintf(key, KEY_LEN, "key-%llu", (unsigned long long)row);
}

static embstore_status write_table(const char *path, uint64_t rows, uint32_t dim)
{
	embstore_writer *w;
	float *v = calloc((size_t)CHUNK * dim, sizeof *v);
	char(*text)[KEY_LEN] = malloc((size_t)CHUNK * KEY_LEN);
	const char **keys = malloc(CHUNK * sizeof *keys);
	size_t *lens = malloc(CHUNK * sizeof *lens);
	embstore_status st = v && text && keys && lens ? embstore_writer_create(path, &w) : EMBSTORE_NO_MEMORY;
	if (st != EMBSTORE_OK)
		return st;
	st = embstore_writer_begin_table(w, "t", EMBSTORE_F32, rows, dim);
	for (uint64_t r = 0; st == EMBSTORE_OK && r < rows; r += CHUNK) {
		size_t n = rows - r < CHUNK ? (size_t)(rows - r) : CHUNK;
		for (size_t i = 0; i < n; i++) {
			v[i * dim] = (float)(r + i);
			lens[i] = key_of(r + i, text[i]);
			keys[i] = text[i];
		}
		st = embstore_writer_append_keyed(w, v, EMBSTORE_F32, n, 0, keys, lens);
	}
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	free(v);
	free(text);
	free(keys);
	free(lens);
	return st;
}

int main(int argc, char **argv)
{
	mb_init(&argc, &argv, "mpi_keys");
	if (argc < 2) {
		if (mb_rank == 0)
			fprintf(stderr, "usage: mpirun -np R mpi_keys DIR [ROWS DIM BATCH REPS]\n");
		MPI_Finalize();
		return 2;
	}
	uint64_t rows = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	uint32_t dim = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 128;
	size_t batch = argc > 4 ? strtoull(argv[4], NULL, 10) : 65536;
	int reps = argc > 5 ? atoi(argv[5]) : 10;
	char whole[512], shard[600];
	snprintf(whole, sizeof whole, "%s/keys-%llux%u.emb", argv[1], (unsigned long long)rows, dim);
	embstore_shard_path(whole, 0, (uint32_t)mb_size, shard, sizeof shard);
	mb_make_stores(whole, shard, rows, dim, write_table);

	char(*text)[KEY_LEN] = malloc(batch * KEY_LEN);
	const char **keys = malloc(batch * sizeof *keys);
	size_t *lens = malloc(batch * sizeof *lens), key_bytes = 0;
	uint64_t *found = malloc(batch * sizeof *found);
	float *out = malloc(batch * dim * sizeof *out);
	uint64_t s = 88172645463325252ull + (uint64_t)mb_rank;
	for (size_t i = 0; i < batch; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		lens[i] = key_of(s % rows, text[i]);
		keys[i] = text[i];
		key_bytes += lens[i];
	}
	/* One process on the whole table, the other ranks asleep. */
	double single_find = 1e30, single_gather = 1e30;
	if (mb_rank == 0) {
		embstore *store;
		embstore_status st = embstore_open(whole, 0, &store);
		if (st != EMBSTORE_OK)
			mb_die("opening the table", st);
		for (int r = 0; r < reps; r++) {
			double t0 = mb_now();
			for (size_t i = 0; i < batch && st == EMBSTORE_OK; i++)
				st = embstore_table_find_key(store, 0, keys[i], lens[i], &found[i]);
			double t1 = mb_now();
			if (st == EMBSTORE_OK)
				st = embstore_gather_keys(store, 0, keys, lens, batch, out, NULL);
			double t2 = mb_now();
			if (st != EMBSTORE_OK)
				mb_die("one process", st);
			single_find = t1 - t0 < single_find ? t1 - t0 : single_find;
			single_gather = t2 - t1 < single_gather ? t2 - t1 : single_gather;
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
	double best[2] = {1e30, 1e30};
	uint64_t moved[2] = {0, 0};
	for (int call = 0; call < 2; call++)
		for (int r = 0; r < reps; r++) {
			MPI_Barrier(MPI_COMM_WORLD);
			embstore_mpi_reset_stats(h);
			double t0 = mb_now();
			st = call == 0 ? embstore_mpi_find_keys(h, 0, keys, lens, batch, found, NULL)
			               : embstore_mpi_gather_keys(h, 0, keys, lens, batch, out, NULL);
			if (st != EMBSTORE_OK)
				mb_die("key lookup", st);
			double dt = mb_slowest(mb_now() - t0);
			best[call] = dt < best[call] ? dt : best[call];
			embstore_mpi_stats stats;
			embstore_mpi_get_stats(h, &stats);
			moved[call] = stats.bytes_sent;
		}
	uint64_t lookups = (uint64_t)batch * (uint64_t)mb_size, all_key_bytes = mb_total(key_bytes);
	uint64_t sent[2] = {mb_total(moved[0]), mb_total(moved[1])};
	if (mb_rank == 0) {
		printf("table %llu x %u f32 with keys, %zu random keys per rank and call (%.1f bytes each), best of %d\n",
		       (unsigned long long)rows, dim, batch, (double)all_key_bytes / (double)lookups, reps);
		printf("one process, find_key:      %8.2f M keys/s\n", (double)batch / single_find / 1e6);
		printf("one process, gather_keys:   %8.2f M keys/s\n", (double)batch / single_gather / 1e6);
		printf("%d ranks, find_keys:         %8.2f M keys/s (all ranks), ratio %.2fx, %.1f bytes moved per key\n",
		       mb_size, (double)lookups / best[0] / 1e6, (double)lookups / best[0] * single_find / (double)batch,
		       (double)sent[0] / (double)lookups);
		printf("%d ranks, gather_keys:       %8.2f M keys/s (all ranks), ratio %.2fx, %.1f bytes moved per key\n",
		       mb_size, (double)lookups / best[1] / 1e6, (double)lookups / best[1] * single_gather / (double)batch,
		       (double)sent[1] / (double)lookups);
	}
	embstore_mpi_close(h);
	free(text);
	free(keys);
	free(lens);
	free(found);
	free(out);
	MPI_Finalize();
	return 0;
}
