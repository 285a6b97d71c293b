/* page_state.c: random-row gather on one store in each page state a reader meets (just written, dropped and read
 * back from disk, an anonymous copy on 2 MiB or 4 KiB pages), with the mapping's page sizes from
 * /proc/self/smaps, open and first-lookup latency and build time (docs/BENCHMARKS.md, "Page state"). Linux only;
 * public API only; plain C. */
#define _GNU_SOURCE
#include <embstore.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define IDS 262144u
#define CALLS 7
#define HUGE ((size_t)2 << 20)

enum { S_WRITTEN, S_WRITTEN_HUGE, S_READ_BACK, S_READ_BACK_ADVISED, S_COPY_HUGE, S_COPY_SMALL, S_COUNT };

static const char *const state_names[S_COUNT] = {
	"just built (writer's default)",
	"just built, embstore_writer_set_huge_pages",
	"dropped, read back from disk",
	"dropped, read back, EMBSTORE_ADVISE_HUGEPAGE",
	"anonymous copy, MADV_HUGEPAGE",
	"anonymous copy, MADV_NOHUGEPAGE",
};

typedef struct sample {
	double gb_per_s;   /* best of CALLS gathers of IDS random rows */
	double open_ms;    /* open, or the copy into anonymous memory */
	double first_us;   /* the first gather of one id after it */
	double touch_ms;   /* one read of every 4 KiB of the table, right after the first gather */
	double huge_share; /* of the table's resident bytes, those mapped with 2 MiB entries */
} sample;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9a6e5u;

static uint64_t next_random(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void random_ids(int64_t *ids, size_t n, uint64_t rows)
{
	for (size_t i = 0; i < n; i++)
		ids[i] = (int64_t)(((next_random() >> 32) * rows) >> 32);
}

/* Share of the resident bytes of the mapping holding p that are mapped with PMD (2 MiB) entries. */
static double huge_share(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (f == NULL)
		return -1;
	char line[256];
	int inside = 0;
	double rss = 0, huge = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long lo, hi, kb;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		} else if (inside && sscanf(line, "Rss: %lu kB", &kb) == 1) {
			rss = (double)kb;
		} else if (inside && (sscanf(line, "FilePmdMapped: %lu kB", &kb) == 1 ||
		                      sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)) {
			huge += (double)kb;
		}
	}
	fclose(f);
	return rss > 0 ? huge / rss : 0;
}

/* Times a first one-id gather, a read of every page, then CALLS gathers of IDS random rows. */
static int measure(const embstore_matrix *m, int64_t *ids, float *out, sample *s)
{
	size_t bad;
	random_ids(ids, 1, m->rows);
	double t0 = now();
	if (embstore_gather(m, ids, EMBSTORE_ID64, 1, out, &bad) != EMBSTORE_OK)
		return -1;
	s->first_us = (now() - t0) * 1e6;
	t0 = now();
	volatile unsigned char sink = 0;
	const unsigned char *bytes = m->data;
	for (uint64_t at = 0; at < m->rows * m->row_stride; at += 4096)
		sink ^= bytes[at];
	s->touch_ms = (now() - t0) * 1e3;
	s->huge_share = huge_share(m->data);
	s->gb_per_s = 0;
	for (int c = 0; c < CALLS; c++) {
		random_ids(ids, IDS, m->rows);
		t0 = now();
		if (embstore_gather(m, ids, EMBSTORE_ID64, IDS, out, &bad) != EMBSTORE_OK)
			return -1;
		double gbs = (double)IDS * (double)m->row_stride / (now() - t0) / 1e9;
		if (gbs > s->gb_per_s)
			s->gb_per_s = gbs;
	}
	return 0;
}

/* Writes its pages back and drops them from the page cache: the next reader reads the file from disk. */
static int drop_pages(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fdatasync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0 ? 0 : -1;
	close(fd);
	return rc;
}

static int build(const char *path, int huge_pages, uint64_t rows, uint32_t dim, double *seconds)
{
	double t0 = now();
	embstore_writer *w;
	embstore_init init = {EMBSTORE_INIT_UNIFORM, 0.05, 1};
	if (embstore_writer_create(path, &w) != EMBSTORE_OK)
		return -1;
	embstore_status st = embstore_writer_set_huge_pages(w, huge_pages);
	if (st == EMBSTORE_OK)
		st = embstore_writer_init_table(w, "t", EMBSTORE_F32, rows, dim, &init);
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	*seconds = now() - t0;
	return st == EMBSTORE_OK ? 0 : -1;
}

static int from_file(const char *path, unsigned flags, int64_t *ids, float *out, sample *s)
{
	double t0 = now();
	embstore *store;
	embstore_table t;
	if (embstore_open(path, flags, &store) != EMBSTORE_OK)
		return -1;
	s->open_ms = (now() - t0) * 1e3;
	int rc = embstore_table_at(store, 0, &t) == EMBSTORE_OK ? measure(&t.matrix, ids, out, s) : -1;
	embstore_close(store);
	return rc;
}

static int from_copy(const char *path, int advice, int64_t *ids, float *out, sample *s)
{
	double t0 = now();
	embstore *store;
	embstore_table t;
	if (embstore_open(path, 0, &store) != EMBSTORE_OK || embstore_table_at(store, 0, &t) != EMBSTORE_OK)
		return -1;
	size_t bytes = (size_t)(t.matrix.rows * t.matrix.row_stride);
	size_t room = (bytes + HUGE - 1) / HUGE * HUGE;
	unsigned char *raw = mmap(NULL, room + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc = -1;
	if (raw != MAP_FAILED) {
		unsigned char *copy = (unsigned char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
		madvise(copy, room, advice);
		memcpy(copy, t.matrix.data, bytes);
		s->open_ms = (now() - t0) * 1e3;
		embstore_matrix m = t.matrix;
		m.data = copy;
		rc = measure(&m, ids, out, s);
		munmap(raw, room + HUGE);
	}
	embstore_close(store);
	return rc;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	uint64_t rows = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000;
	uint32_t dim = 128;
	if (rounds < 1 || rounds > 100 || rows < 1024) {
		fputs("usage: bench_pages [DIR [ROUNDS [ROWS]]]  (defaults: . 5 1000000)\n", stderr);
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/pages_%llux%u.emb", dir, (unsigned long long)rows, dim);
	int64_t *ids = malloc(IDS * sizeof *ids);
	float *out = malloc((size_t)IDS * dim * sizeof *out);
	sample *all = calloc((size_t)rounds * S_COUNT, sizeof *all);
	double *builds = calloc((size_t)rounds * 2, sizeof *builds);
	if (ids == NULL || out == NULL || all == NULL || builds == NULL)
		return 2;
	memset(out, 0, (size_t)IDS * dim * sizeof *out);
	for (int r = 0; r < rounds; r++) {
		sample *s = all + (size_t)r * S_COUNT;
		int rc = build(path, 0, rows, dim, &builds[r]);
		rc |= from_file(path, 0, ids, out, &s[S_WRITTEN]);
		rc |= build(path, 1, rows, dim, &builds[rounds + r]);
		rc |= from_file(path, 0, ids, out, &s[S_WRITTEN_HUGE]);
		rc |= drop_pages(path);
		rc |= from_file(path, 0, ids, out, &s[S_READ_BACK]);
		rc |= drop_pages(path);
		rc |= from_file(path, EMBSTORE_ADVISE_HUGEPAGE, ids, out, &s[S_READ_BACK_ADVISED]);
		rc |= from_copy(path, MADV_HUGEPAGE, ids, out, &s[S_COPY_HUGE]);
		rc |= from_copy(path, MADV_NOHUGEPAGE, ids, out, &s[S_COPY_SMALL]);
		if (rc != 0) {
			fprintf(stderr, "bench_pages: round %d failed: %s (%s)\n", r + 1, strerror(errno),
			        embstore_error_detail());
			return 1;
		}
	}
	unlink(path);
	printf("%llu x %u f32 (%.0f MB), %u random ids per gather, one thread, best of %d gathers; medians of %d "
	       "rounds\nbuild (writer, fsync included): %.3f s, with huge pages %.3f s\n\n",
	       (unsigned long long)rows, dim, (double)rows * dim * 4 / 1e6, IDS, CALLS, rounds, median(builds, rounds),
	       median(builds + rounds, rounds));
	printf("%-46s %8s %8s %9s %10s %11s %9s\n", "page state", "GB/s", "vs read", "2M-mapped", "open ms",
	       "first us", "touch ms");
	double v[100], base;
	for (int k = 0; k < rounds; k++)
		v[k] = all[(size_t)k * S_COUNT + S_READ_BACK].gb_per_s;
	base = median(v, rounds);
	for (int st = 0; st < S_COUNT; st++) {
		double m[5];
		for (int f = 0; f < 5; f++) {
			for (int k = 0; k < rounds; k++) {
				const sample *s = &all[(size_t)k * S_COUNT + (size_t)st];
				const double fields[5] = {s->gb_per_s, s->huge_share, s->open_ms, s->first_us, s->touch_ms};
				v[k] = fields[f];
			}
			m[f] = median(v, rounds);
		}
		printf("%-46s %8.2f %7.2fx %8.0f%% %10.3f %11.1f %9.1f\n", state_names[st], m[0], m[0] / base, m[1] * 100,
		       m[2], m[3], m[4]);
	}
	free(ids);
	free(out);
	free(all);
	free(builds);
	return 0;
}
