/* train.c: one SGD step in place on an f32 table, then embstore_sync so that the file's checksums match its
 * rows again (`embstore verify` passes).
 *
 *   train STORE TABLE ID...         e.g.  train model.emb words 3 17 3   (TABLE must be f32)
 *
 * A trainer takes its gradients from the backward pass; to stay self-contained this one uses the gradient of
 * 0.5 * |row|^2, which is the row itself, so each step moves the rows named by ID toward zero. An id given
 * twice is updated twice, as in an embedding's backward pass.
 * Exit status 0 on success, 1 on any error (with a message on standard error).
 */
#include <embstore.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEARNING_RATE 0.25f

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
		fprintf(stderr, "train: %s\n", embstore_strerror(EMBSTORE_NO_MEMORY));
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char *end;
		errno = 0;
		long long v = strtoll(text[i], &end, 10);
		if (end == text[i] || *end != '\0' || errno == ERANGE) {
			fprintf(stderr, "train: '%s' is not a decimal id\n", text[i]);
			free(ids);
			return NULL;
		}
		ids[i] = v;
	}
	return ids;
}

static int sgd_step(embstore *store, const char *name, const int64_t *ids, size_t n)
{
	embstore_table table;
	embstore_status st = embstore_table_find(store, name, &table);
	if (st != EMBSTORE_OK) {
		fprintf(stderr, "train: table '%s': %s\n", name, reason(st));
		return EXIT_FAILURE;
	}
	float *grads = calloc(n, table.matrix.dim * sizeof *grads);
	if (grads == NULL) {
		fprintf(stderr, "train: %s\n", embstore_strerror(EMBSTORE_NO_MEMORY));
		return EXIT_FAILURE;
	}
	size_t bad;
	st = embstore_gather(&table.matrix, ids, EMBSTORE_ID64, n, grads, &bad);
	if (st == EMBSTORE_OK) /* row -= LEARNING_RATE * grad, id by id; marks the chunks it changes */
		st = embstore_table_scatter_add(store, table.index, ids, EMBSTORE_ID64, n, grads, -LEARNING_RATE, &bad, 1);
	if (st == EMBSTORE_OK) /* new checksums for the changed chunks and the header, then msync */
		st = embstore_sync(store);
	free(grads);

	if (st == EMBSTORE_ID_OUT_OF_RANGE)
		fprintf(stderr, "train: %s: %" PRId64 " (table '%s' has %" PRIu64 " rows)\n", reason(st), ids[bad],
		        name, table.matrix.rows);
	else if (st != EMBSTORE_OK)
		fprintf(stderr, "train: table '%s': %s\n", name, reason(st));
	return st == EMBSTORE_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: train STORE TABLE ID...\n");
		return EXIT_FAILURE;
	}
	size_t n = (size_t)argc - 3;
	int64_t *ids = parse_ids(argv + 3, n);
	if (ids == NULL)
		return EXIT_FAILURE;

	embstore *store;
	embstore_status st = embstore_open(argv[1], EMBSTORE_OPEN_WRITABLE, &store);
	if (st != EMBSTORE_OK) { /* nothing was opened: nothing to close */
		fprintf(stderr, "train: %s: %s\n", argv[1], reason(st));
		free(ids);
		return EXIT_FAILURE;
	}
	int rc = sgd_step(store, argv[2], ids, n);
	embstore_close(store);
	free(ids);
	return rc;
}
