/* lookup.c: prints rows of a table by id, one line per id, values as %.9g (like `embstore get`).
 *
 *   lookup STORE TABLE ID...        e.g.  lookup words.emb words 3 17 42
 *
 * Exit status 0 on success, 1 on any error (with a message on standard error).
 */
#include <embstore.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The library's sentence for `st`; for an I/O error, the system's (errno holds it). */
static const char *reason(embstore_status st)
{
	return st == EMBSTORE_IO ? strerror(errno) : embstore_strerror(st);
}

/* The ids given as decimal integers in int64_t range (whether they name rows is the kernel's check), in a
 * malloc'd array; NULL, after a message, when one is malformed or memory is short. */
static int64_t *parse_ids(char **text, size_t n)
{
	int64_t *ids = calloc(n, sizeof *ids);
	if (ids == NULL) {
		fprintf(stderr, "lookup: %s\n", embstore_strerror(EMBSTORE_NO_MEMORY));
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char *end;
		errno = 0;
		long long v = strtoll(text[i], &end, 10);
		if (end == text[i] || *end != '\0' || errno == ERANGE) {
			fprintf(stderr, "lookup: '%s' is not a decimal id\n", text[i]);
			free(ids);
			return NULL;
		}
		ids[i] = v;
	}
	return ids;
}

/* Gathers rows `ids` of table `name` as f32 (whatever dtype the table stores) and prints them. */
static int print_rows(const embstore *store, const char *name, const int64_t *ids, size_t n)
{
	embstore_table table;
	embstore_status st = embstore_table_find(store, name, &table);
	if (st != EMBSTORE_OK) {
		fprintf(stderr, "lookup: table '%s': %s\n", name, reason(st));
		return EXIT_FAILURE;
	}
	uint32_t dim = table.matrix.dim;
	float *rows = calloc(n, dim * sizeof *rows); /* n rows of dim floats; calloc checks the product */
	if (rows == NULL) {
		fprintf(stderr, "lookup: %s\n", embstore_strerror(EMBSTORE_NO_MEMORY));
		return EXIT_FAILURE;
	}
	size_t bad;
	st = embstore_gather(&table.matrix, ids, EMBSTORE_ID64, n, rows, &bad);
	if (st == EMBSTORE_ID_OUT_OF_RANGE)
		fprintf(stderr, "lookup: %s: %" PRId64 " (table '%s' has %" PRIu64 " rows)\n", reason(st), ids[bad],
		        name, table.matrix.rows);
	else if (st != EMBSTORE_OK)
		fprintf(stderr, "lookup: table '%s': %s\n", name, reason(st));
	else
		for (size_t i = 0; i < n; i++)
			for (uint32_t j = 0; j < dim; j++)
				printf("%.9g%c", (double)rows[i * dim + j], j + 1 < dim ? ' ' : '\n');
	free(rows);
	return st == EMBSTORE_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: lookup STORE TABLE ID...\n");
		return EXIT_FAILURE;
	}
	size_t n = (size_t)argc - 3;
	int64_t *ids = parse_ids(argv + 3, n);
	if (ids == NULL)
		return EXIT_FAILURE;

	embstore *store;
	embstore_status st = embstore_open(argv[1], 0, &store);
	if (st != EMBSTORE_OK) { /* nothing was opened: nothing to close */
		fprintf(stderr, "lookup: %s: %s\n", argv[1], reason(st));
		free(ids);
		return EXIT_FAILURE;
	}
	int rc = print_rows(store, argv[2], ids, n);
	embstore_close(store);
	free(ids);
	if (fflush(stdout) != 0) { /* a full disk must not pass for success */
		perror("lookup: standard output");
		rc = EXIT_FAILURE;
	}
	return rc;
}
