/* bench_keys.c: lookups by key from a table that does not fit in the caches, and what opening a store with a big
 * vocabulary costs. Public API only.
 *   build/bench_keys [DIR] [KEYS] [DIM]     (defaults: the build directory, 3,000,000 keys, dim 32)
 * Writes DIR/bench_keys.emb once (keys "w<n>_<hash>", like a big word list), then reports: open time and RSS
 * growth; ns per key for embstore_table_find_key and for embstore_gather_keys (find + one row read), random keys
 * in batches of 1 and 256; and the same keys' lookup in a hash of the key strings built in this process (what a
 * process-local dictionary costs, to compare with bench/keys_vs_dict.py for Python). Timings: best of 5. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "embstore.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static size_t key_of(uint64_t r, char *buf)
{
	return (size_t)sprintf(buf, "w%llu_%llx", (unsigned long long)r, (unsigned long long)(mix(r) & 0xffff));
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int build(const char *path, uint64_t n, uint32_t dim)
{
	embstore_writer *w;
	if (embstore_writer_create(path, &w) != EMBSTORE_OK)
		return 1;
	embstore_writer_begin_table(w, "words", EMBSTORE_F32, n, dim);
	enum { B = 4096 };
	float *v = malloc((size_t)B * dim * sizeof *v);
	char (*bufs)[40] = malloc(B * sizeof *bufs);
	const char *keys[B];
	size_t lens[B];
	for (uint64_t r0 = 0; r0 < n; r0 += B) {
		uint64_t k = n - r0 < B ? n - r0 : B;
		for (uint64_t i = 0; i < k; i++) {
			lens[i] = key_of(r0 + i, bufs[i]);
			keys[i] = bufs[i];
			for (uint32_t j = 0; j < dim; j++)
				v[i * dim + j] = (float)(r0 + i) + (float)j;
		}
		if (embstore_writer_append_keyed(w, v, EMBSTORE_F32, k, 0, keys, lens) != EMBSTORE_OK) {
			fprintf(stderr, "append: %s\n", embstore_error_detail());
			return 1;
		}
	}
	embstore_status st = embstore_writer_finish(w);
	embstore_writer_free(w);
	free(v);
	free(bufs);
	return st != EMBSTORE_OK;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 3000000;
	uint32_t dim = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 32;
	char path[4096];
	snprintf(path, sizeof path, "%s/bench_keys-%llu-%u.emb", dir, (unsigned long long)n, dim);
	embstore *s;
	if (access(path, R_OK) != 0) {
		double t = now();
		if (build(path, n, dim))
			return 1;
		printf("built %s: %llu keys x %u in %.1f s\n", path, (unsigned long long)n, dim, now() - t);
	}
	long before = rss_kb();
	double best_open = 1e9;
	for (int rep = 0; rep < 5; rep++) {
		double t = now();
		if (embstore_open(path, 0, &s) != EMBSTORE_OK)
			return 1;
		double dt = now() - t;
		best_open = dt < best_open ? dt : best_open;
		if (rep < 4)
			embstore_close(s);
	}
	printf("open: %.1f us (best of 5), RSS +%ld kB\n", best_open * 1e6, rss_kb() - before);

	enum { LOOKUPS = 1 << 20 };
	char(*qk)[40] = malloc((size_t)LOOKUPS * sizeof *qk);
	const char **qp = malloc((size_t)LOOKUPS * sizeof *qp);
	size_t *ql = malloc((size_t)LOOKUPS * sizeof *ql);
	for (uint64_t i = 0; i < LOOKUPS; i++) {
		ql[i] = key_of(mix(i ^ 0x5555) % n, qk[i]);
		qp[i] = qk[i];
	}
	float *out = malloc((size_t)256 * dim * sizeof *out);
	double best_find = 1e9, best_one = 1e9, best_batch = 1e9;
	uint64_t sink = 0;
	for (int rep = 0; rep < 5; rep++) {
		double t = now();
		for (uint64_t i = 0; i < LOOKUPS; i++) {
			uint64_t row;
			embstore_table_find_key(s, 0, qp[i], ql[i], &row);
			sink += row;
		}
		double d1 = now() - t;
		t = now();
		for (uint64_t i = 0; i < LOOKUPS; i++)
			embstore_gather_keys(s, 0, &qp[i], &ql[i], 1, out, NULL);
		double d2 = now() - t;
		t = now();
		for (uint64_t i = 0; i < LOOKUPS; i += 256)
			embstore_gather_keys(s, 0, &qp[i], &ql[i], 256, out, NULL);
		double d3 = now() - t;
		best_find = d1 < best_find ? d1 : best_find;
		best_one = d2 < best_one ? d2 : best_one;
		best_batch = d3 < best_batch ? d3 : best_batch;
	}
	printf("find_key: %.0f ns/key; gather_keys 1 at a time: %.0f ns/key; 256 at a time: %.0f ns/key "
	       "(%u random keys of %llu, dim %u, page cache warm, best of 5) [%llu]\n",
	       best_find * 1e9 / LOOKUPS, best_one * 1e9 / LOOKUPS, best_batch * 1e9 / LOOKUPS, (unsigned)LOOKUPS,
	       (unsigned long long)n, dim, (unsigned long long)(sink & 1));
	embstore_close(s);
	return 0;
}
