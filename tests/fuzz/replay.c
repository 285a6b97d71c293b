/* replay.c: runs a fuzz target over every file of the directories given (its seed corpus and every crash ever
 * found), so that the ordinary test suite, built with any compiler, feeds them through the same entry point as
 * the fuzzer. Each input is passed in a buffer of exactly its size, so that a sanitizer build catches any
 * overread. Exit 0 when every file ran, 1 when one could not be read or a directory holds none (it would test
 * nothing), 2 on usage; a finding aborts. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole file in a malloc'd buffer of its exact size (1 byte for an empty file, passed with size 0). */
static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long end = ftell(f);
		if (end >= 0 && fseek(f, 0, SEEK_SET) == 0) {
			*size = (size_t)end;
			buf = malloc(*size ? *size : 1);
			if (buf && fread(buf, 1, *size, f) != *size) {
				free(buf);
				buf = NULL;
			}
		}
	}
	fclose(f);
	return buf;
}

/* Runs every regular file of `dir`, in name order; returns how many, or -1 after an error. */
static long replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **grown = realloc(names, cap * sizeof *names);
			if (!grown) {
				perror("realloc");
				exit(1);
			}
			names = grown;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		names[n] = malloc(len);
		if (!names[n]) {
			perror("malloc");
			exit(1);
		}
		snprintf(names[n++], len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	long ran = 0;
	for (size_t i = 0; i < n; i++) {
		size_t size = 0;
		uint8_t *buf = slurp(names[i], &size);
		if (!buf) {
			perror(names[i]);
			ran = -1;
		} else {
			LLVMFuzzerTestOneInput(buf, size);
			free(buf);
			if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
		return 2;
	}
	int status = 0;
	for (int i = 1; i < argc; i++) {
		long ran = replay_dir(argv[i]);
		if (ran <= 0)
			status = 1;
		printf("%s: %ld inputs\n", argv[i], ran < 0 ? 0 : ran);
	}
	return status;
}
