/* bench_calls.c: what a kernel call costs apart from its rows, and what a second thread gains. Public API only.
 *   build/bench_calls small [REPS]          ns per call of gather and bag, 0 / 1 / 8 / 64 / 512 ids, one thread
 *                                           and _mt with 2 threads, a 4096 x 128 f32 table (2 MiB, in L2)
 *   build/bench_calls sweep [REPS]          ns per call of gather and bag, 32 to 16384 ids, one thread and _mt
 *                                           with 2 threads, on the small table and on the large one below
 *   build/bench_calls scale [REPS] [4k|2m]  1 thread against 2 on the large table: gather and bag of 262,144 ids,
 *                                           and memcpy of the gather's output bytes (1 thread, 2 threads), with
 *                                           the CPUs the process got meanwhile (CPU time / wall time)
 * The large table is 1M x 128 f32 (512 MiB) of anonymous memory, on 4 KiB pages (madvise NOHUGEPAGE, the
 * default) or 2 MiB ones (madvise HUGEPAGE), faulted in before timing; its huge-page share (AnonHugePages of
 * /proc/self/smaps) is printed. Bags hold 8 ids (small, sweep; n = 1: one bag of 1) or 32 (scale). Every figure is
 * the median of REPS (default 9) repetitions, the contenders of one figure interleaved, ratios in the same run;
 * /proc/loadavg is printed before and after, as the machine may be shared. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "embstore.h"

#define DIM 128u
#define SMALL_ROWS 4096u
#define LARGE_ROWS (1u << 20)
#define SCALE_IDS (1u << 18)
#define SCALE_BAG 32u
#define MAX_REPS 101

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *xalloc(size_t bytes)
{
	void *p = malloc(bytes);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memset(p, 0, bytes); /* faulted in before any timing */
	return p;
}

static void print_load(const char *when)
{
	char buf[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("load average %s: %s\n", when, buf);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

typedef struct table {
	float *data;
	size_t bytes;
	embstore_matrix m;
} table;

/* kB of the mapping at p backed by huge pages, from /proc/self/smaps; -1 when unknown. */
static long huge_kb(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int inside = 0;
	long kb = -1;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (inside && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kb;
}

static void table_new(table *t, uint32_t rows, int huge)
{
	t->bytes = (size_t)rows * DIM * sizeof(float);
	t->data = mmap(NULL, t->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->data == MAP_FAILED) {
		fprintf(stderr, "mmap of %zu bytes failed\n", t->bytes);
		exit(1);
	}
	madvise(t->data, t->bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (size_t i = 0; i < (size_t)rows * DIM; i++)
		t->data[i] = (float)(next_rand() >> 40) * 0x1p-24f - 0.5f;
	t->m = (embstore_matrix){t->data, rows, DIM * sizeof(float), DIM, EMBSTORE_F32, 0};
}

static int64_t *random_ids(size_t n, uint32_t rows)
{
	int64_t *ids = xalloc(n * sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = (int64_t)(next_rand() % rows);
	return ids;
}

/* offsets of n ids in bags of `len` (the last one shorter); returns the bag count. */
static size_t make_bags(int64_t *offsets, size_t n, size_t len)
{
	size_t b = 0;
	offsets[0] = 0;
	for (size_t i = 0; i < n; i += len, b++)
		offsets[b + 1] = (int64_t)(i + len < n ? i + len : n);
	return b;
}

typedef struct call {
	const embstore_matrix *m;
	const int64_t *ids;
	size_t n, n_bags;
	const int64_t *offsets;
	float *out;
} call;

static void check(embstore_status s, const char *what)
{
	if (s != EMBSTORE_OK) {
		fprintf(stderr, "%s: %s\n", what, embstore_status_name(s));
		exit(1);
	}
}

/* One timed call: gather (bag 0) or bag sum, on `threads` (0: the single-thread call). */
static void one_call(const call *c, int bag, unsigned threads)
{
	embstore_status s;
	if (bag && threads)
		s = embstore_gather_bag_mt(c->m, c->ids, EMBSTORE_ID64, c->n, c->offsets, c->n_bags, NULL,
		                           EMBSTORE_BAG_SUM, c->out, NULL, threads);
	else if (bag)
		s = embstore_gather_bag(c->m, c->ids, EMBSTORE_ID64, c->n, c->offsets, c->n_bags, NULL, EMBSTORE_BAG_SUM,
		                        c->out, NULL);
	else if (threads)
		s = embstore_gather_mt(c->m, c->ids, EMBSTORE_ID64, c->n, c->out, NULL, threads);
	else
		s = embstore_gather(c->m, c->ids, EMBSTORE_ID64, c->n, c->out, NULL);
	check(s, "kernel call");
}

/* Median ns per call of single-thread and 2-thread calls, interleaved; each repetition runs enough calls for
 * about 2 ms, the ids of each call the next n of `pool` ids (so that a DRAM table is not warmed by repeats). */
static void per_call(const embstore_matrix *m, const int64_t *pool, size_t pool_n, size_t n, int bag, int reps,
                     int64_t *offsets, float *out, double res[2])
{
	size_t per_bag = n < 8 ? n : 8;
	call c = {m, pool, n, 0, offsets, out};
	if (bag)
		c.n_bags = n ? make_bags(offsets, n, per_bag) : 0;
	if (!bag || n == 0)
		offsets[0] = 0;
	size_t starts = pool_n / (n ? n : 1);
	/* calls per repetition: from one trial of 200 calls */
	double t0 = now_ns();
	for (int i = 0; i < 200; i++)
		one_call(&c, bag, 0);
	double each = (now_ns() - t0) / 200;
	long calls = (long)(2e6 / (each > 1 ? each : 1));
	if (calls < 10)
		calls = 10;
	double v[2][MAX_REPS];
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < 2; k++) {
			double a = now_ns();
			for (long i = 0; i < calls; i++) {
				c.ids = pool + ((size_t)i % starts) * n;
				one_call(&c, bag, k ? 2 : 0);
			}
			v[k][r] = (now_ns() - a) / (double)calls;
		}
	}
	res[0] = median(v[0], reps);
	res[1] = median(v[1], reps);
}

static void run_small(int reps)
{
	table t;
	table_new(&t, SMALL_ROWS, 0);
	size_t pool_n = 1u << 16;
	int64_t *ids = random_ids(pool_n, SMALL_ROWS), *offsets = xalloc((512 + 2) * sizeof *offsets);
	float *out = xalloc(512 * DIM * sizeof *out);
	static const size_t ns[] = {0, 1, 8, 64, 512};
	printf("\n%u x %u f32 (in cache), ns per call, median of %d\n", SMALL_ROWS, DIM, reps);
	printf("%-7s %6s %12s %12s %8s\n", "op", "ids", "1 thread", "_mt(2)", "ratio");
	for (int bag = 0; bag < 2; bag++)
		for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
			double r[2];
			per_call(&t.m, ids, pool_n, ns[i], bag, reps, offsets, out, r);
			printf("%-7s %6zu %12.1f %12.1f %8.2f\n", bag ? "bag" : "gather", ns[i], r[0], r[1], r[1] / r[0]);
		}
	munmap(t.data, t.bytes);
	free(ids), free(offsets), free(out);
}

static void run_sweep(int reps, int huge)
{
	size_t pool_n = 1u << 20, max_n = 16384;
	int64_t *offsets = xalloc((max_n + 2) * sizeof *offsets);
	float *out = xalloc(max_n * DIM * sizeof *out);
	for (int large = 0; large < 2; large++) {
		table t;
		table_new(&t, large ? LARGE_ROWS : SMALL_ROWS, huge);
		int64_t *ids = random_ids(pool_n, (uint32_t)t.m.rows);
		printf("\n%llu x %u f32, ns per call, median of %d: 2 threads against 1\n", (unsigned long long)t.m.rows,
		       DIM, reps);
		printf("%-7s %6s %12s %12s %8s\n", "op", "ids", "1 thread", "_mt(2)", "speedup");
		for (int bag = 0; bag < 2; bag++)
			for (size_t n = 32; n <= max_n; n *= 2) {
				double r[2];
				per_call(&t.m, ids, pool_n, n, bag, reps, offsets, out, r);
				printf("%-7s %6zu %12.0f %12.0f %8.2f\n", bag ? "bag" : "gather", n, r[0], r[1], r[0] / r[1]);
			}
		munmap(t.data, t.bytes);
		free(ids);
	}
	free(offsets), free(out);
}

typedef struct copy_job {
	void *dst;
	const void *src;
	size_t bytes;
} copy_job;

static void *copy_fn(void *arg)
{
	copy_job *j = arg;
	memcpy(j->dst, j->src, j->bytes);
	return NULL;
}

/* memcpy of `bytes` on 1 or 2 threads (halves). */
static void timed_copy(void *dst, const void *src, size_t bytes, int threads)
{
	if (threads == 1) {
		memcpy(dst, src, bytes);
		return;
	}
	size_t half = bytes / 2;
	copy_job j[2] = {{dst, src, half}, {(char *)dst + half, (const char *)src + half, bytes - half}};
	pthread_t tid;
	int started = pthread_create(&tid, NULL, copy_fn, &j[1]) == 0;
	copy_fn(&j[0]);
	if (started)
		pthread_join(tid, NULL);
	else
		copy_fn(&j[1]);
}

static void run_scale(int reps, int huge)
{
	table t;
	table_new(&t, LARGE_ROWS, huge);
	long hk = huge_kb(t.data);
	printf("\ntable %u x %u f32, anonymous memory, %s pages asked; %ld of %zu kB on huge pages\n", LARGE_ROWS, DIM,
	       huge ? "2 MiB" : "4 KiB", hk, t.bytes / 1024);
	int64_t *ids = random_ids(SCALE_IDS, LARGE_ROWS), *offsets = xalloc((SCALE_IDS / SCALE_BAG + 1) * 8);
	size_t out_bytes = (size_t)SCALE_IDS * DIM * sizeof(float);
	float *out = xalloc(out_bytes);
	call c = {&t.m, ids, SCALE_IDS, make_bags(offsets, SCALE_IDS, SCALE_BAG), offsets, out};
	/* [what][threads - 1]: gather, bag, memcpy; wall time, and the CPUs the process used meanwhile (CPU time
	 * over wall time: 2 threads that really run at once use 2) */
	double v[3][2][MAX_REPS], used[3][2][MAX_REPS];
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < 2; k++) {
			for (int w = 0; w < 3; w++) {
				double a = now_ns(), ca = cpu_ns();
				if (w < 2)
					one_call(&c, w, (unsigned)k + 1);
				else
					timed_copy(out, t.data, out_bytes, k + 1);
				v[w][k][r] = now_ns() - a;
				used[w][k][r] = (cpu_ns() - ca) / v[w][k][r];
			}
		}
	}
	static const char *names[3] = {"gather", "bag sum", "memcpy"};
	printf("%u ids (bags of %u), %zu MiB out; median of %d, ms\n", SCALE_IDS, SCALE_BAG, out_bytes >> 20, reps);
	printf("%-8s %10s %10s %8s %10s %10s\n", "", "1 thread", "2 threads", "speedup", "GB/s (2)", "CPUs (2)");
	double gain[3];
	for (int w = 0; w < 3; w++) {
		double one = median(v[w][0], reps), two = median(v[w][1], reps);
		gain[w] = one / two;
		printf("%-8s %10.2f %10.2f %8.2f %10.2f %10.2f\n", names[w], one / 1e6, two / 1e6, gain[w],
		       (double)out_bytes / two, median(used[w][1], reps));
	}
	printf("2-thread gain against memcpy's: gather %.2f, bag %.2f\n", gain[0] / gain[2], gain[1] / gain[2]);
	munmap(t.data, t.bytes);
	free(ids), free(offsets), free(out);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	int reps = argc > 2 ? atoi(argv[2]) : 9;
	int huge = argc > 3 && strcmp(argv[3], "2m") == 0;
	if (reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "REPS: 1 to %d\n", MAX_REPS);
		return 2;
	}
	embstore_isa isa;
	print_load("before");
	printf("kernel set %s\n", embstore_isa_active(&isa) == EMBSTORE_OK ? embstore_isa_name(isa) : "?");
	if (strcmp(what, "small") == 0)
		run_small(reps);
	else if (strcmp(what, "sweep") == 0)
		run_sweep(reps, huge);
	else if (strcmp(what, "scale") == 0)
		run_scale(reps, huge);
	else {
		fprintf(stderr, "usage: bench_calls small|sweep|scale [REPS] [4k|2m]\n");
		return 2;
	}
	print_load("after");
	return 0;
}
