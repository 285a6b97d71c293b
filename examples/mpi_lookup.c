/* mpi_lookup.c: rows of a sharded set looked up by the ranks of an MPI job, printed as `embstore get` prints them.
 *
 *   mpirun -np R mpi_lookup [--table NAME] --ids-from FILE SHARD...
 *
 * Every rank is given all the files of the set and keeps those whose shard index i has i % R == its rank (an
 * ordinary store counts as shard 0). The ids in FILE (decimal, separated by blanks, newlines or commas) are spread
 * over the ranks in contiguous blocks; each rank asks for its block with the collective embstore_mpi_gather, and
 * rank 0 collects the rows in FILE's order and prints one line per id, values as %.9g separated by one space:
 * the output of `embstore get --ids ... STORE` on the unsharded store, byte for byte. --table may be left out when
 * the set has one table.
 *
 * Exit status 0 on success, 1 on an error of the files or MPI, 2 on a usage error or a bad id (as `get`); every
 * rank exits with the same status, rank 0 prints the message.
 */
#include <embstore_mpi.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;

/* Rank 0 says what went wrong (every rank comes to the same verdict); returns the exit status `code`. */
static int fail(int code, const char *what, const char *detail)
{
	if (rank == 0)
		fprintf(stderr, "mpi_lookup: %s%s%s\n", what, detail[0] ? ": " : "", detail);
	return code;
}

/* All ids of `path` into a malloc'd array; NULL (with *n the position of a bad one, or SIZE_MAX when the file
 * cannot be read) on failure. */
static int64_t *read_ids(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1024, count = 0;
	int64_t *ids = malloc(cap * sizeof *ids);
	*n = SIZE_MAX;
	if (f == NULL || ids == NULL)
		goto fail;
	char word[64];
	int c = 0;
	while (c != EOF) {
		size_t len = 0;
		while ((c = fgetc(f)) != EOF && c != ',' && c != ' ' && c != '\n' && c != '\t' && c != '\r')
			if (len + 1 < sizeof word)
				word[len++] = (char)c;
		if (len == 0)
			continue;
		word[len] = 0;
		char *end;
		errno = 0;
		long long v = strtoll(word, &end, 10);
		if (*end != 0 || errno == ERANGE || len + 1 >= sizeof word) {
			*n = count;
			goto fail;
		}
		if (count == cap) {
			int64_t *grown = realloc(ids, 2 * cap * sizeof *ids);
			if (grown == NULL)
				goto fail;
			ids = grown;
			cap *= 2;
		}
		ids[count++] = v;
	}
	fclose(f);
	*n = count;
	return ids;
fail:
	if (f != NULL)
		fclose(f);
	free(ids);
	return NULL;
}

/* The files among `all` that this rank serves. */
static size_t mine(char **all, size_t n, const char **out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		embstore *s;
		embstore_shard_info info = {.index = 0};
		if (embstore_open(all[i], 0, &s) != EMBSTORE_OK) {
			out[k++] = all[i]; /* let the collective open name it on every rank */
			continue;
		}
		embstore_shard_get(s, &info);
		embstore_close(s);
		if (info.index % (uint32_t)size == (uint32_t)rank)
			out[k++] = all[i];
	}
	return k;
}

static int run(const char *table_name, const char *ids_path, char **files, size_t n_files)
{
	const char **paths = calloc(n_files + 1, sizeof *paths);
	if (paths == NULL)
		return fail(2, embstore_strerror(EMBSTORE_NO_MEMORY), "");
	embstore_mpi *h;
	embstore_status st = embstore_mpi_open(MPI_COMM_WORLD, paths, mine(files, n_files, paths), 0, &h);
	free(paths);
	if (st != EMBSTORE_OK)
		return fail(1, embstore_strerror(st), embstore_mpi_error_detail());
	embstore_set_table t;
	embstore_mpi_info info;
	embstore_mpi_get_info(h, &info);
	if (table_name != NULL)
		st = embstore_mpi_table_find(h, table_name, &t);
	else if (info.set.table_count == 1)
		st = embstore_mpi_table_at(h, 0, &t);
	else
		st = EMBSTORE_INVALID_ARGUMENT;
	if (st != EMBSTORE_OK) {
		embstore_mpi_close(h);
		return fail(2, table_name ? "no such table" : "the set has several tables: give --table NAME",
		            table_name ? table_name : "");
	}
	size_t n;
	int64_t *ids = read_ids(ids_path, &n);
	if (ids == NULL) {
		embstore_mpi_close(h);
		return fail(2, n == SIZE_MAX ? "cannot read the ids of" : "an id is not a decimal integer in", ids_path);
	}
	size_t lo = n * (size_t)rank / (size_t)size, hi = n * (size_t)(rank + 1) / (size_t)size, dim = t.dim;
	float *rows = malloc((hi - lo) * dim * sizeof *rows + 1);
	float *all = rank == 0 ? malloc(n * dim * sizeof *all + 1) : NULL;
	int *counts = calloc((size_t)size, sizeof *counts), *displs = calloc((size_t)size, sizeof *displs);
	size_t bad = SIZE_MAX;
	st = rows && (rank != 0 || all) && counts && displs ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	if (n > INT_MAX / dim) /* rank 0 collects the rows with one MPI_Gatherv, whose counts are ints */
		st = EMBSTORE_LIMIT;
	if (st == EMBSTORE_OK)
		st = embstore_mpi_gather(h, t.index, ids + lo, EMBSTORE_ID64, hi - lo, rows, &bad);
	int code = 0;
	if (st == EMBSTORE_OK) {
		for (int r = 0; r < size; r++) {
			counts[r] = (int)((n * (size_t)(r + 1) / (size_t)size - n * (size_t)r / (size_t)size) * dim);
			displs[r] = (int)(n * (size_t)r / (size_t)size * dim);
		}
		MPI_Gatherv(rows, counts[rank], MPI_FLOAT, all, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD);
		for (size_t i = 0; rank == 0 && i < n; i++) {
			for (size_t j = 0; j < dim; j++)
				printf(j == 0 ? "%.9g" : " %.9g", (double)all[i * dim + j]);
			putchar('\n');
		}
	} else if (st == EMBSTORE_ID_OUT_OF_RANGE) {
		code = 2;
		if (bad < hi - lo) /* on the rank whose id it was */
			fprintf(stderr, "mpi_lookup: id #%zu (%lld) is out of range: table \"%s\" has ids 0-%llu\n", lo + bad + 1,
			        (long long)ids[lo + bad], t.name, (unsigned long long)(t.rows - 1));
	} else {
		code = fail(1, embstore_strerror(st), embstore_mpi_error_detail());
	}
	free(rows);
	free(all);
	free(counts);
	free(displs);
	free(ids);
	embstore_mpi_close(h);
	return code;
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	const char *table = NULL, *ids = NULL;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--table") == 0)
			table = argv[i + 1];
		else if (strcmp(argv[i], "--ids-from") == 0)
			ids = argv[i + 1];
		else
			break;
	}
	int code;
	if (ids == NULL || i >= argc || strncmp(argv[i], "--", 2) == 0)
		code = fail(2, "usage: mpirun -np R mpi_lookup [--table NAME] --ids-from FILE SHARD...", "");
	else
		code = run(table, ids, argv + i, (size_t)(argc - i));
	MPI_Finalize();
	return code;
}
