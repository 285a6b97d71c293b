/* gather_stream.c: where non-temporal stores start to pay in a gather (docs/BENCHMARKS.md, "Streaming gather
 * output"). Each call gathers n random rows of a 1M x 128 f32 table and then reads its output once, as the next
 * layer would; for outputs from 512 KiB to 128 MiB, the best kernel set (which streams outputs of 16 MiB or more)
 * against the scalar set (which never streams). The table is anonymous memory on 4 KiB pages, the page state of
 * a store just written. Plain C, public API. */
#define _GNU_SOURCE
#include <embstore.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define ROWS 1000000u
#define DIM 128u
#define TOTAL_IDS 262144u
#define REPS 9

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The consumer: one pass over the output. */
static float consume(const float *o, size_t n)
{
	float acc[16] = {0};
	for (size_t i = 0; i < n; i += 16)
		for (size_t k = 0; k < 16; k++)
			acc[k] += o[i + k];
	float s = 0;
	for (size_t k = 0; k < 16; k++)
		s += acc[k];
	return s;
}

/* Best of REPS passes over all ids, n per call, in ns per row. */
static double pass_ns(const embstore_matrix *m, const int64_t *ids, size_t n, float *out, float *sink)
{
	double best = 1e30;
	for (int r = 0; r < REPS; r++) {
		double t0 = now();
		for (size_t lo = 0; lo + n <= TOTAL_IDS; lo += n) {
			if (embstore_gather(m, ids + lo, EMBSTORE_ID64, n, out, NULL) != EMBSTORE_OK)
				return -1;
			*sink += consume(out, n * DIM);
		}
		double t = now() - t0;
		best = t < best ? t : best;
	}
	return best / TOTAL_IDS * 1e9;
}

int main(void)
{
	size_t bytes = (size_t)ROWS * DIM * 4;
	float *table = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	float *out = aligned_alloc(64, (size_t)TOTAL_IDS * DIM * 4);
	int64_t *ids = malloc(TOTAL_IDS * sizeof *ids);
	if (table == MAP_FAILED || !out || !ids) {
		fprintf(stderr, "gather_stream: out of memory\n");
		return 1;
	}
	madvise(table, bytes, MADV_NOHUGEPAGE);
	uint64_t x = 1;
	for (size_t i = 0; i < (size_t)ROWS * DIM; i++)
		table[i] = (float)(i % 1000) * 0.001f;
	for (size_t i = 0; i < TOTAL_IDS; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		ids[i] = (int64_t)((x >> 33) % ROWS);
	}
	memset(out, 0, (size_t)TOTAL_IDS * DIM * 4);
	embstore_matrix m = {.data = table, .rows = ROWS, .row_stride = DIM * 4, .dim = DIM, .dtype = EMBSTORE_F32};
	embstore_isa best;
	if (embstore_isa_active(&best) != EMBSTORE_OK) {
		fprintf(stderr, "gather_stream: no kernel set\n");
		return 1;
	}
	float sink = 0;
	printf("gather of n random rows of %u x %u f32 (4 KiB pages), then one read of the output; ns per row, "
	       "best of %d passes over %u ids\n", ROWS, DIM, REPS, TOTAL_IDS);
	printf("%8s %10s %10s %10s %14s\n", "n", "output", embstore_isa_name(best), "scalar", "scalar/best");
	for (size_t n = 1024; n <= TOTAL_IDS; n *= 4) {
		embstore_isa_set(best);
		double b = pass_ns(&m, ids, n, out, &sink);
		embstore_isa_set(EMBSTORE_ISA_SCALAR);
		double s = pass_ns(&m, ids, n, out, &sink);
		if (b < 0 || s < 0) {
			fprintf(stderr, "gather_stream: gather failed\n");
			return 1;
		}
		printf("%8zu %7.1f MiB %10.2f %10.2f %13.2fx\n", n, (double)n * DIM * 4 / (1 << 20), b, s, s / b);
	}
	return sink == 0.5f; /* keeps the consumer's work */
}
