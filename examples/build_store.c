/* build_store.c: writes a store with the writer API: a metadata entry, table "words" imported from a .npy
 * file and stored as f16, and table "grid" streamed from memory a batch of rows at a time.
 *
 *   build_store OUT VECTORS.npy     e.g.  build_store words.emb vectors.npy
 *
 * Exit status 0 on success, 1 on any error (with a message on standard error). On error nothing appears at
 * OUT, and a store already there is left as it was: the writer commits atomically in embstore_writer_finish.
 */
#include <embstore.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRID_ROWS 100
#define GRID_DIM 8
#define BATCH_ROWS 32 /* memory use is one batch, whatever the table's size */

/* Prints "build_store: WHAT: reason" (for an I/O error the system's reason, which errno holds) and returns
 * EXIT_FAILURE. */
static int fail(const char *what, embstore_status st)
{
	fprintf(stderr, "build_store: %s: %s\n", what, st == EMBSTORE_IO ? strerror(errno) : embstore_strerror(st));
	return EXIT_FAILURE;
}

/* Rows first .. first + n - 1 of "grid": row r holds r + c / 8 in column c (exact in f32). */
static void grid_rows(uint64_t first, uint64_t n, float *out)
{
	for (uint64_t i = 0; i < n; i++)
		for (unsigned c = 0; c < GRID_DIM; c++)
			out[i * GRID_DIM + c] = (float)(first + i) + (float)c / GRID_DIM;
}

static int write_tables(embstore_writer *w, const char *out, const char *npy)
{
	embstore_status st = embstore_writer_add_meta(w, "licence", "CC0");
	if (st != EMBSTORE_OK)
		return fail("metadata", st);
	st = embstore_writer_import_npy(w, "words", npy, EMBSTORE_F16);
	if (st != EMBSTORE_OK)
		return fail(npy, st);

	st = embstore_writer_begin_table(w, "grid", EMBSTORE_F32, GRID_ROWS, GRID_DIM);
	float batch[BATCH_ROWS * GRID_DIM];
	for (uint64_t first = 0; st == EMBSTORE_OK && first < GRID_ROWS; first += BATCH_ROWS) {
		uint64_t n = GRID_ROWS - first < BATCH_ROWS ? GRID_ROWS - first : BATCH_ROWS;
		grid_rows(first, n, batch);
		st = embstore_writer_append(w, batch, EMBSTORE_F32, n, 0);
	}
	if (st != EMBSTORE_OK)
		return fail("table 'grid'", st);

	st = embstore_writer_finish(w);
	if (st != EMBSTORE_OK)
		return fail(out, st);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: build_store OUT VECTORS.npy\n");
		return EXIT_FAILURE;
	}
	embstore_writer *w;
	embstore_status st = embstore_writer_create(argv[1], &w);
	if (st != EMBSTORE_OK)
		return fail(argv[1], st);
	int rc = write_tables(w, argv[1], argv[2]);
	embstore_writer_free(w); /* after a failure, also removes the temporary file */
	return rc;
}
