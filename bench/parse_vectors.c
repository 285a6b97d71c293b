/* parse_vectors: runs one of the library's word-vector parsers over a file into a sink that counts the rows (and,
 * with --keep, copies them into one matrix, as gensim's loader does), then prints one line:
 *     rows=R dim=D seconds=S cpu_seconds=U checksum=C peak_rss_mib=M
 * S is the parse alone (wall clock), U the processor time it took (user and system); C is the sum over rows i of fnv1a(key i) * (2i + 1) plus the sum over values k (row-major)
 * of their bits * (2k + 1), modulo 2^64, which bench/import_vs_gensim.py computes from gensim's vectors with numpy;
 * M is the process's peak resident set (VmHWM). Exit status 1 with the library's error on a failed parse. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vecparse.h"

typedef struct counter {
	uint64_t rows, checksum, k;
	uint32_t dim;
	bool keep;
	float *matrix;
	uint64_t capacity; /* rows */
} counter;

static embstore_status begin(void *ctx, uint64_t rows_hint, uint32_t dim)
{
	counter *c = ctx;
	c->dim = dim;
	if (c->keep) {
		c->capacity = rows_hint ? rows_hint : 1024;
		c->matrix = malloc(c->capacity * dim * sizeof(float));
		if (!c->matrix)
			return EMBSTORE_NO_MEMORY;
	}
	return EMBSTORE_OK;
}

static embstore_status row(void *ctx, const uint8_t *key, size_t key_len, const float *values, const es_vec_pos *pos)
{
	counter *c = ctx;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < key_len; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	c->checksum += h * (2 * pos->row + 1);
	for (uint32_t j = 0; j < c->dim; j++, c->k++) {
		uint32_t u;
		memcpy(&u, &values[j], 4);
		c->checksum += u * (2 * c->k + 1);
	}
	if (c->keep) {
		if (pos->row == c->capacity) {
			float *m = realloc(c->matrix, 2 * c->capacity * c->dim * sizeof(float));
			if (!m)
				return EMBSTORE_NO_MEMORY;
			c->matrix = m;
			c->capacity *= 2;
		}
		memcpy(c->matrix + pos->row * c->dim, values, c->dim * sizeof(float));
	}
	c->rows++;
	return EMBSTORE_OK;
}

static double seconds(struct timespec a, struct timespec b)
{
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
}

static double peak_rss_mib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double kib = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "VmHWM: %lf kB", &kib) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kib / 1024;
}

int main(int argc, char **argv)
{
	bool keep = argc > 1 && strcmp(argv[1], "--keep") == 0;
	if (argc - keep < 3) {
		fprintf(stderr, "usage: %s [--keep] word2vec|word2vec-text|fasttext|glove FILE [LIMIT]\n", argv[0]);
		return 2;
	}
	const char *format = argv[1 + keep], *path = argv[2 + keep];
	es_vec_options o = {.limit = argc - keep > 3 ? strtoull(argv[3 + keep], NULL, 10) : 0};
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	counter c = {.keep = keep};
	es_vec_sink sink = {&c, begin, row};
	es_vec_input in = {.fd = fd};
	struct timespec t0, t1, u0, u1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &u0);
	embstore_status st;
	if (strcmp(format, "word2vec") == 0)
		st = es_parse_word2vec_binary(&in, &o, &sink);
	else
		st = es_parse_vectors_text(&in, strcmp(format, "glove") != 0, &o, &sink);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &u1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	free(c.matrix);
	if (st != EMBSTORE_OK) {
		fprintf(stderr, "%s: %s: %s\n", path, embstore_strerror(st), embstore_error_detail());
		return 1;
	}
	printf("rows=%llu dim=%u seconds=%.4f cpu_seconds=%.4f checksum=%016llx peak_rss_mib=%.1f\n",
	       (unsigned long long)c.rows, c.dim, seconds(t0, t1), seconds(u0, u1), (unsigned long long)c.checksum,
	       peak_rss_mib());
	return 0;
}
