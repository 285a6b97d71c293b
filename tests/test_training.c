/* test_training.c: training with the kernels. SGD through gather and scatter-add learns a small task, on a plain
 * array and in place on a writable store, which after sync verifies again (and did not before). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
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

/* Learn a table so that each row's dot product with a fixed vector v hits that row's target, by SGD through
 * gather and the parallel scatter-add: loss = mean over a batch of (row . v - y)^2, d loss / d row =
 * 2 (row . v - y) v / B. */
Test(training, sgd_on_an_array)
{
	enum { SGD_ROWS = 64, SGD_DIM = 16, SGD_BATCH = 32, STEPS = 400 };
	static float table[SGD_ROWS][SGD_DIM];
	float v[SGD_DIM], y[SGD_ROWS];
	uint64_t rng = 11;
	for (int j = 0; j < SGD_DIM; j++)
		v[j] = tu_randf(&rng);
	for (int r = 0; r < SGD_ROWS; r++) {
		y[r] = tu_randf(&rng) * 4.0f;
		for (int j = 0; j < SGD_DIM; j++)
			table[r][j] = tu_randf(&rng) * 0.1f;
	}
	embstore_matrix m = {.data = table, .rows = SGD_ROWS, .row_stride = SGD_DIM * 4, .dim = SGD_DIM,
	                     .dtype = EMBSTORE_F32};
	double first = 0, last = 0;
	for (int step = 0; step <= STEPS; step++) {
		int64_t ids[SGD_BATCH];
		float rows[SGD_BATCH * SGD_DIM], grads[SGD_BATCH * SGD_DIM];
		size_t bad;
		for (int i = 0; i < SGD_BATCH; i++)
			ids[i] = (int64_t)(tu_rand(&rng) % SGD_ROWS);
		cr_assert_eq(embstore_gather(&m, ids, EMBSTORE_ID64, SGD_BATCH, rows, &bad), EMBSTORE_OK);
		double loss = 0;
		for (int i = 0; i < SGD_BATCH; i++) {
			float dot = 0;
			for (int j = 0; j < SGD_DIM; j++)
				dot += rows[i * SGD_DIM + j] * v[j];
			float err = dot - y[ids[i]];
			loss += (double)err * err / SGD_BATCH;
			for (int j = 0; j < SGD_DIM; j++)
				grads[i * SGD_DIM + j] = 2.0f * err * v[j] / SGD_BATCH;
		}
		if (step == 0)
			first = loss;
		last = loss;
		if (step < STEPS)
			cr_assert_eq(embstore_scatter_add_mt(&m, ids, EMBSTORE_ID64, SGD_BATCH, grads, -1.0f, &bad, 2),
			             EMBSTORE_OK);
	}
	/* Full loss over every row at the end. */
	double full = 0;
	for (int r = 0; r < SGD_ROWS; r++) {
		float dot = 0;
		for (int j = 0; j < SGD_DIM; j++)
			dot += table[r][j] * v[j];
		full += (double)(dot - y[r]) * (dot - y[r]) / SGD_ROWS;
	}
	cr_log_info("SGD loss %g -> %g (batch), %g (all rows)", first, last, full);
	cr_assert(full < first / 1000, "loss fell from %g to only %g", first, full);
}
