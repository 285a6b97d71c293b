/* test_training.c: training in place. SGD with scatter-add on a writable store learns a small task, and after
 * sync the file verifies again (and did not before). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ROWS 200
#define DIM 24
#define BATCH 64

/* Task: row r must satisfy dot(E[r], w) == target(r) for a fixed w. */
static float target(int64_t r)
{
	return (float)(r % 7) - 3.0f;
}

static char *build_random_store(const char *name)
{
	char *path = tu_path(name);
	float *rows = malloc(sizeof(float) * ROWS * DIM);
	uint64_t s = 99;
	for (size_t i = 0; i < ROWS * DIM; i++)
		rows[i] = tu_randf(&s) * 0.1f;
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_chunk_bytes(w, 16 * DIM * 4), EMBSTORE_OK); /* 13 chunks */
	cr_assert_eq(embstore_writer_begin_table(w, "frozen", EMBSTORE_F16, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "emb", EMBSTORE_F32, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	free(rows);
	return path;
}

static double loss_and_grads(const embstore_matrix *m, const int64_t *ids, const float *wv, float *grads)
{
	float rows[BATCH * DIM];
	size_t bad;
	cr_assert_eq(embstore_gather(m, ids, EMBSTORE_ID64, BATCH, rows, &bad), EMBSTORE_OK);
	double loss = 0;
	for (int i = 0; i < BATCH; i++) {
		float dot = 0;
		for (int j = 0; j < DIM; j++)
			dot += rows[i * DIM + j] * wv[j];
		float err = dot - target(ids[i]);
		loss += (double)err * err;
		for (int j = 0; j < DIM; j++)
			grads[i * DIM + j] = 2.0f * err * wv[j] / BATCH;
	}
	return loss / BATCH;
}

Test(training, sgd_in_place_then_sync_verifies)
{
	char *path = build_random_store("train.emb");
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_OK);
	embstore_table t;
	cr_assert_eq(embstore_table_find(s, "emb", &t), EMBSTORE_OK);

	uint64_t rng = 5;
	float wv[DIM], grads[BATCH * DIM];
	for (int j = 0; j < DIM; j++)
		wv[j] = tu_randf(&rng);
	/* Only rows < 150 are trained: the chunks past them must stay untouched and keep their checksums. */
	int64_t eval[BATCH];
	for (int i = 0; i < BATCH; i++)
		eval[i] = (int64_t)(tu_rand(&rng) % 150);
	double first = loss_and_grads(&t.matrix, eval, wv, grads);
	for (int step = 0; step < 400; step++) {
		int64_t ids[BATCH];
		for (int i = 0; i < BATCH; i++)
			ids[i] = (int64_t)(tu_rand(&rng) % 150); /* plenty of duplicates */
		loss_and_grads(&t.matrix, ids, wv, grads);
		size_t bad;
		cr_assert_eq(embstore_table_scatter_add(s, 1, ids, EMBSTORE_ID64, BATCH, grads, -0.5f, &bad, step % 3),
		             EMBSTORE_OK);
	}
	double last = loss_and_grads(&t.matrix, eval, wv, grads);
	cr_expect_lt(last, first / 100, "loss %g -> %g", first, last);

	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_DATA_CHECKSUM); /* not yet synced */
	cr_assert_eq(embstore_sync(s), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK);
	embstore_close(s);

	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(s, "emb", &t), EMBSTORE_OK);
	double reopened = loss_and_grads(&t.matrix, eval, wv, grads);
	cr_expect_eq(reopened, last, "the file holds the trained rows");
	embstore_close(s);
	free(path);
}

/* A table of a read-only store lies in a PROT_READ mapping: a writing kernel given its matrix must refuse with
 * READ_ONLY (it used to die of SIGSEGV), and so must the _mt variant. Reading it stays allowed. */
Test(training, read_only_matrix_is_refused)
{
	char *path = build_random_store("ro.emb");
	embstore *ro, *rw;
	embstore_table t;
	int64_t ids[2] = {1, 2};
	float g[2 * DIM] = {0}, out[2 * DIM];
	size_t bad = 0;
	cr_assert_eq(embstore_open(path, 0, &ro), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(ro, "emb", &t), EMBSTORE_OK);
	cr_expect(t.matrix.flags & EMBSTORE_MATRIX_READ_ONLY);
	cr_expect_eq(embstore_scatter_add(&t.matrix, ids, EMBSTORE_ID64, 2, g, -0.1f, &bad), EMBSTORE_READ_ONLY);
	cr_expect_eq(embstore_scatter_add_mt(&t.matrix, ids, EMBSTORE_ID64, 2, g, -0.1f, &bad, 2), EMBSTORE_READ_ONLY);
	cr_expect_eq(embstore_gather(&t.matrix, ids, EMBSTORE_ID64, 2, out, &bad), EMBSTORE_OK);
	cr_assert_eq(embstore_table_at(ro, 0, &t), EMBSTORE_OK);
	cr_expect(t.matrix.flags & EMBSTORE_MATRIX_READ_ONLY);
	embstore_close(ro);

	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &rw), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(rw, "emb", &t), EMBSTORE_OK);
	cr_expect_eq(t.matrix.flags, 0);
	cr_expect_eq(t.index, 1); /* "frozen" is table 0 */
	cr_expect_eq(embstore_scatter_add(&t.matrix, ids, EMBSTORE_ID64, 2, g, -0.1f, &bad), EMBSTORE_OK);
	embstore_close(rw);
	free(path);
}

Test(training, guards)
{
	char *path = build_random_store("guards.emb");
	embstore *ro, *rw;
	int64_t ids[2] = {1, ROWS};
	float g[2 * DIM] = {0};
	size_t bad = 0;
	cr_assert_eq(embstore_open(path, 0, &ro), EMBSTORE_OK);
	cr_expect_eq(embstore_table_scatter_add(ro, 1, ids, EMBSTORE_ID64, 1, g, 1, &bad, 1), EMBSTORE_READ_ONLY);
	cr_expect_eq(embstore_sync(ro), EMBSTORE_READ_ONLY);
	cr_expect_eq(embstore_table_mark_rows(ro, 1, 0, 1), EMBSTORE_READ_ONLY);
	embstore_close(ro);

	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &rw), EMBSTORE_OK);
	cr_expect_eq(embstore_table_scatter_add(rw, 0, ids, EMBSTORE_ID64, 1, g, 1, &bad, 1), EMBSTORE_BAD_DTYPE);
	cr_expect_eq(embstore_table_scatter_add(rw, 2, ids, EMBSTORE_ID64, 1, g, 1, &bad, 1),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_scatter_add(rw, 1, ids, EMBSTORE_ID64, 2, g, 1, &bad, 1), EMBSTORE_ID_OUT_OF_RANGE);
	cr_expect_eq(bad, 1);
	cr_expect_eq(embstore_table_mark_rows(rw, 1, ROWS - 1, 2), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_mark_rows(rw, 1, UINT64_MAX, 2), EMBSTORE_INVALID_ARGUMENT);

	/* rows written by hand, then marked: sync must rehash them */
	embstore_table t;
	cr_assert_eq(embstore_table_at(rw, 1, &t), EMBSTORE_OK);
	((float *)t.matrix.data)[5 * DIM] += 1.0f;
	cr_assert_eq(embstore_table_mark_rows(rw, 1, 5, 1), EMBSTORE_OK);
	cr_assert_eq(embstore_sync(rw), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(rw, NULL, NULL), EMBSTORE_OK);
	embstore_close(rw);
	free(path);
}
