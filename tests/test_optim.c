/* test_optim.c: the sparse optimizer steps (embstore_sgd_update, embstore_rowwise_adagrad_update and their
 * writable-store forms) on the active kernel set (ctest runs this once per forced set), against references
 * written here: the header's formulas followed literally, with duplicates found by a quadratic scan rather than
 * a sort (bitwise); the same step given the summed gradients of each distinct id once (bitwise); and the
 * formulas in double (close). Then every error, each leaving table and state byte for byte as they were. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- the references ---- */

typedef struct sparse_case {
	embstore_dtype dtype;
	uint64_t rows;
	uint32_t dim;
	size_t n, grad_stride;
	float lr, eps, weight_decay;
} sparse_case;

static float get(const embstore_matrix *m, uint64_t r, uint32_t j)
{
	const unsigned char *row = (const unsigned char *)m->data + r * m->row_stride;
	uint16_t h;
	float v;
	switch (m->dtype) {
	case EMBSTORE_F16:
		memcpy(&h, row + 2 * j, 2);
		return embstore_f16_to_f32(h);
	case EMBSTORE_BF16:
		memcpy(&h, row + 2 * j, 2);
		return embstore_bf16_to_f32(h);
	default:
		memcpy(&v, row + 4 * j, 4);
		return v;
	}
}

static void put(embstore_matrix *m, uint64_t r, uint32_t j, float v)
{
	unsigned char *row = (unsigned char *)m->data + r * m->row_stride;
	uint16_t h;
	switch (m->dtype) {
	case EMBSTORE_F16:
		h = embstore_f32_to_f16(v);
		memcpy(row + 2 * j, &h, 2);
		break;
	case EMBSTORE_BF16:
		h = embstore_f32_to_bf16(v);
		memcpy(row + 2 * j, &h, 2);
		break;
	default:
		memcpy(row + 4 * j, &v, 4);
		break;
	}
}

/* The summed gradient of the id at position `first` (its first occurrence): position order, first row first. */
static void summed_grad(const int64_t *ids, size_t n, const float *grads, size_t stride, uint32_t dim,
                        size_t first, float *g)
{
	memcpy(g, grads + first * stride, dim * sizeof(float));
	for (size_t k = first + 1; k < n; k++)
		if (ids[k] == ids[first])
			for (uint32_t j = 0; j < dim; j++)
				g[j] = g[j] + grads[k * stride + j];
}

static int first_occurrence(const int64_t *ids, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (ids[k] == ids[i])
			return 0;
	return 1;
}

/* embstore.h's formulas, one distinct id at a time (state == NULL: SGD). */
static void reference_step(const sparse_case *c, embstore_matrix *m, float *state, const int64_t *ids,
                           const float *grads)
{
	float *g = malloc(c->dim * sizeof(float)), *gd = malloc(c->dim * sizeof(float));
	for (size_t i = 0; i < c->n; i++) {
		if (!first_occurrence(ids, i))
			continue;
		uint64_t r = (uint64_t)ids[i];
		summed_grad(ids, c->n, grads, c->grad_stride, c->dim, i, g);
		if (!state) {
			for (uint32_t j = 0; j < c->dim; j++)
				put(m, r, j, fmaf(-c->lr, g[j], get(m, r, j)));
			continue;
		}
		float p[16] = {0};
		for (uint32_t j = 0; j < c->dim; j++) {
			gd[j] = c->weight_decay == 0.0f ? g[j] : fmaf(c->weight_decay, get(m, r, j), g[j]);
			p[j % 16] = fmaf(gd[j], gd[j], p[j % 16]);
		}
		for (unsigned w = 8; w >= 1; w /= 2)
			for (unsigned k = 0; k < w; k++)
				p[k] = p[k] + p[k + w];
		state[r] = state[r] + p[0] / (float)c->dim;
		float mult = c->lr / (sqrtf(state[r]) + c->eps);
		for (uint32_t j = 0; j < c->dim; j++)
			put(m, r, j, fmaf(-mult, gd[j], get(m, r, j)));
	}
	free(g);
	free(gd);
}

/* ---- fixtures ---- */

typedef struct sparse_data {
	sparse_case c;
	embstore_matrix m, state_m;
	unsigned char *rows;
	float *state;
	int64_t *ids;
	float *grads;
	size_t bytes;
} sparse_data;

static void data_new(sparse_data *d, const sparse_case *c, uint64_t seed)
{
	d->c = *c;
	size_t elem = c->dtype == EMBSTORE_F32 ? 4 : 2;
	d->bytes = (size_t)c->rows * c->dim * elem;
	d->rows = malloc(d->bytes);
	d->m = (embstore_matrix){.data = d->rows, .rows = c->rows, .row_stride = c->dim * elem, .dim = c->dim,
	                         .dtype = c->dtype};
	for (uint64_t r = 0; r < c->rows; r++)
		for (uint32_t j = 0; j < c->dim; j++)
			put(&d->m, r, j, tu_randf(&seed));
	d->state = malloc(c->rows * sizeof(float));
	for (uint64_t r = 0; r < c->rows; r++)
		d->state[r] = (r % 3 == 0) ? 0.0f : fabsf(tu_randf(&seed));
	d->state_m = (embstore_matrix){.data = d->state, .rows = c->rows, .row_stride = 4, .dim = 1,
	                               .dtype = EMBSTORE_F32};
	d->ids = malloc((c->n + 1) * sizeof(int64_t));
	for (size_t i = 0; i < c->n; i++)
		d->ids[i] = (int64_t)(tu_rand(&seed) % c->rows);
	d->grads = malloc((c->n * c->grad_stride + 1) * sizeof(float));
	for (size_t i = 0; i < c->n * c->grad_stride; i++)
		d->grads[i] = tu_randf(&seed);
}

static void data_copy(sparse_data *dst, const sparse_data *src)
{
	*dst = *src;
	dst->rows = malloc(src->bytes);
	memcpy(dst->rows, src->rows, src->bytes);
	dst->m.data = dst->rows;
	dst->state = malloc(src->c.rows * sizeof(float));
	memcpy(dst->state, src->state, src->c.rows * sizeof(float));
	dst->state_m.data = dst->state;
	dst->ids = NULL; /* shared with src */
	dst->grads = NULL;
}

static void data_free(sparse_data *d)
{
	free(d->rows);
	free(d->state);
	free(d->ids);
	free(d->grads);
}

static embstore_status step(sparse_data *d, const int64_t *ids, size_t n, const float *grads, int adagrad,
                            size_t *bad)
{
	const sparse_case *c = &d->c;
	if (adagrad)
		return embstore_rowwise_adagrad_update(&d->m, &d->state_m, ids, EMBSTORE_ID64, n, grads, c->grad_stride,
		                                       c->lr, c->eps, c->weight_decay, bad);
	return embstore_sgd_update(&d->m, ids, EMBSTORE_ID64, n, grads, c->grad_stride, c->lr, bad);
}

static void expect_same(const sparse_data *want, const sparse_data *got, const char *what)
{
	for (size_t i = 0; i < want->bytes; i++)
		if (want->rows[i] != got->rows[i])
			cr_assert_fail("%s: byte %zu of the table (row %zu) differs", what, i, i / want->m.row_stride);
	for (uint64_t r = 0; r < want->c.rows; r++)
		if (memcmp(&want->state[r], &got->state[r], 4) != 0)
			cr_assert_fail("%s: state of row %llu is %.9g, want %.9g", what, (unsigned long long)r,
			        (double)got->state[r], (double)want->state[r]);
}

static const sparse_case cases[] = {
	{EMBSTORE_F32, 7, 5, 40, 5, 0.1f, 1e-8f, 0.0f},   /* heavy duplicates */
	{EMBSTORE_F32, 50, 33, 200, 40, 0.3f, 0.01f, 0.05f},
	{EMBSTORE_F16, 20, 64, 300, 64, 0.5f, 1e-6f, 0.0f},
	{EMBSTORE_BF16, 300, 17, 500, 19, 0.05f, 1e-8f, 0.1f},
	{EMBSTORE_F32, 1, 130, 64, 131, 1.0f, 1e-8f, 0.0f}, /* one row, every id the same */
	{EMBSTORE_F32, 5000, 8, 3000, 8, 0.2f, 1e-8f, 0.0f}, /* mostly distinct ids, two radix passes */
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* ---- results ---- */

static void against_literal_formulas(int adagrad)
{
	for (size_t ci = 0; ci < N_CASES; ci++) {
		sparse_data got, want;
		data_new(&got, &cases[ci], 100 + ci);
		data_copy(&want, &got);
		size_t bad = 0;
		cr_assert_eq(step(&got, got.ids, got.c.n, got.grads, adagrad, &bad), EMBSTORE_OK, "case %zu", ci);
		reference_step(&want.c, &want.m, adagrad ? want.state : NULL, got.ids, got.grads);
		char what[64];
		snprintf(what, sizeof what, "%s case %zu", adagrad ? "adagrad" : "sgd", ci);
		expect_same(&want, &got, what);
		data_free(&got);
		data_free(&want);
	}
}

Test(optim, sgd_is_the_headers_formula)
{
	against_literal_formulas(0);
}

Test(optim, rowwise_adagrad_is_the_headers_formula)
{
	against_literal_formulas(1);
}

/* The gradients of each distinct id summed here and handed over once: the same bytes as with the duplicates. */
static void duplicates_equal_summed_distinct_ids(int adagrad)
{
	for (size_t ci = 0; ci < N_CASES; ci++) {
		sparse_data dup, once;
		data_new(&dup, &cases[ci], 200 + ci);
		data_copy(&once, &dup);
		size_t stride = dup.c.grad_stride, distinct = 0;
		int64_t *ids = malloc(dup.c.n * sizeof(int64_t));
		float *sums = malloc((dup.c.n * stride + 1) * sizeof(float));
		for (size_t i = 0; i < dup.c.n; i++) {
			if (!first_occurrence(dup.ids, i))
				continue;
			summed_grad(dup.ids, dup.c.n, dup.grads, stride, dup.c.dim, i, sums + distinct * stride);
			ids[distinct++] = dup.ids[i];
		}
		cr_assert_lt(distinct, dup.c.n, "case %zu has duplicates", ci);
		size_t bad = 0;
		cr_assert_eq(step(&dup, dup.ids, dup.c.n, dup.grads, adagrad, &bad), EMBSTORE_OK);
		cr_assert_eq(step(&once, ids, distinct, sums, adagrad, &bad), EMBSTORE_OK);
		char what[64];
		snprintf(what, sizeof what, "%s case %zu", adagrad ? "adagrad" : "sgd", ci);
		expect_same(&once, &dup, what);
		free(ids);
		free(sums);
		data_free(&dup);
		data_free(&once);
	}
}

Test(optim, sgd_duplicates_equal_one_step_per_distinct_id)
{
	duplicates_equal_summed_distinct_ids(0);
}

Test(optim, rowwise_adagrad_duplicates_equal_one_step_per_distinct_id)
{
	duplicates_equal_summed_distinct_ids(1);
}

/* The formulas in double, f32 tables: the library within f32 rounding of them. Also shows that a step moves
 * rows against the gradient, which a sign error in the references above would share with the library. */
Test(optim, close_to_double_math)
{
	sparse_case c = {EMBSTORE_F32, 30, 24, 200, 24, 0.1f, 1e-3f, 0.02f};
	for (int adagrad = 0; adagrad < 2; adagrad++) {
		sparse_data d;
		data_new(&d, &c, 7);
		double *w = malloc(d.bytes / 4 * sizeof(double)), *s = malloc(c.rows * sizeof(double));
		for (size_t i = 0; i < d.bytes / 4; i++)
			w[i] = ((float *)d.m.data)[i];
		for (uint64_t r = 0; r < c.rows; r++)
			s[r] = d.state[r];
		double g[24];
		for (size_t i = 0; i < c.n; i++) {
			if (!first_occurrence(d.ids, i))
				continue;
			size_t r = (size_t)d.ids[i];
			double *row = w + r * c.dim, sq = 0;
			for (uint32_t j = 0; j < c.dim; j++) {
				g[j] = 0;
				for (size_t k = i; k < c.n; k++)
					if (d.ids[k] == d.ids[i])
						g[j] += d.grads[k * c.grad_stride + j];
			}
			if (!adagrad) {
				for (uint32_t j = 0; j < c.dim; j++)
					row[j] -= c.lr * g[j];
				continue;
			}
			for (uint32_t j = 0; j < c.dim; j++) {
				g[j] += (double)c.weight_decay * row[j];
				sq += g[j] * g[j];
			}
			s[r] += sq / c.dim;
			for (uint32_t j = 0; j < c.dim; j++)
				row[j] -= c.lr * g[j] / (sqrt(s[r]) + c.eps);
		}
		size_t bad;
		cr_assert_eq(step(&d, d.ids, c.n, d.grads, adagrad, &bad), EMBSTORE_OK);
		for (size_t i = 0; i < d.bytes / 4; i++) {
			double got = ((float *)d.m.data)[i];
			cr_assert(fabs(got - w[i]) <= 1e-5 * (fabs(w[i]) + 1.0), "%s element %zu: %.9g, double gives %.9g",
			          adagrad ? "adagrad" : "sgd", i, got, w[i]);
		}
		for (uint64_t r = 0; adagrad && r < c.rows; r++)
			cr_assert(fabs(d.state[r] - s[r]) <= 1e-5 * s[r] + 1e-12, "state %llu: %.9g, double gives %.9g",
			          (unsigned long long)r, (double)d.state[r], s[r]);
		free(w);
		free(s);
		data_free(&d);
	}
}

/* A hand-checked step: ids {2, 0, 2}, dim 2. Row 2 gets (1, 2) + (3, -2) = (4, 0): SGD with lr 0.5 moves it by
 * (-2, 0); Adagrad's state gains (16 + 0) / 2 = 8 on top of 1, so m = 0.5 / (3 + 0) and the row moves by
 * (-2/3, 0). Row 0 gets (0.5, -0.5); its state 0 gains 0.25, m = 0.5 / 0.5 = 1. */
Test(optim, hand_checked_values)
{
	float rows[3][2] = {{1, 1}, {5, 5}, {10, 10}}, state[3] = {0, 0, 1};
	int32_t ids[3] = {2, 0, 2};
	float grads[3][2] = {{1, 2}, {0.5f, -0.5f}, {3, -2}};
	embstore_matrix m = {.data = rows, .rows = 3, .row_stride = 8, .dim = 2, .dtype = EMBSTORE_F32};
	embstore_matrix s = {.data = state, .rows = 3, .row_stride = 4, .dim = 1, .dtype = EMBSTORE_F32};
	size_t bad;
	cr_assert_eq(embstore_sgd_update(&m, ids, EMBSTORE_ID32, 3, &grads[0][0], 2, 0.5f, &bad), EMBSTORE_OK);
	cr_expect(rows[2][0] == 8 && rows[2][1] == 10 && rows[0][0] == 0.75f && rows[0][1] == 1.25f &&
	          rows[1][0] == 5, "sgd: %g %g / %g %g", rows[2][0], rows[2][1], rows[0][0], rows[0][1]);
	float before[3][2];
	memcpy(before, rows, sizeof rows);
	cr_assert_eq(embstore_rowwise_adagrad_update(&m, &s, ids, EMBSTORE_ID32, 3, &grads[0][0], 2, 0.5f, 0.0f, 0.0f,
	                                             &bad), EMBSTORE_OK);
	cr_expect(state[2] == 9 && state[0] == 0.25f && state[1] == 0, "state %g %g %g", state[0], state[1], state[2]);
	cr_expect(rows[2][0] == fmaf(-0.5f / 3.0f, 4.0f, before[2][0]) && rows[2][1] == before[2][1],
	          "adagrad row 2: %g %g", rows[2][0], rows[2][1]);
	cr_expect(rows[0][0] == before[0][0] - 0.5f && rows[0][1] == before[0][1] + 0.5f, "adagrad row 0: %g %g",
	          rows[0][0], rows[0][1]);
}

/* f16 and bf16 rows are stored rounded to nearest even: a step of exactly half an f16 ulp at 1.0 ties to even. */
Test(optim, narrow_rows_round_to_nearest_even)
{
	uint16_t h[2] = {embstore_f32_to_f16(1.0f), embstore_f32_to_f16(1.0f + 0x1p-10f)};
	embstore_matrix m = {.data = h, .rows = 2, .row_stride = 2, .dim = 1, .dtype = EMBSTORE_F16};
	int64_t ids[2] = {0, 1};
	float grads[2] = {-0x1p-11f, -0x1p-11f}; /* lr 1: + half an ulp */
	size_t bad;
	cr_assert_eq(embstore_sgd_update(&m, ids, EMBSTORE_ID64, 2, grads, 1, 1.0f, &bad), EMBSTORE_OK);
	cr_expect_eq(embstore_f16_to_f32(h[0]), 1.0f, "1 + half an ulp ties down to even 1");
	cr_expect_eq(embstore_f16_to_f32(h[1]), 1.0f + 0x1p-9f, "odd 1 + ulp ties up");
	uint16_t b = embstore_f32_to_bf16(1.0f);
	m = (embstore_matrix){.data = &b, .rows = 1, .row_stride = 2, .dim = 1, .dtype = EMBSTORE_BF16};
	float g = -0x1p-7f * 0.75f; /* three quarters of a bf16 ulp: up */
	cr_assert_eq(embstore_sgd_update(&m, ids, EMBSTORE_ID64, 1, &g, 1, 1.0f, &bad), EMBSTORE_OK);
	cr_expect_eq(embstore_bf16_to_f32(b), 1.0f + 0x1p-7f);
}

/* ---- errors: nothing written ---- */

static void expect_untouched(const sparse_data *d, const sparse_data *orig, const char *what)
{
	cr_expect(memcmp(d->rows, orig->rows, d->bytes) == 0, "%s: the table changed", what);
	cr_expect(memcmp(d->state, orig->state, d->c.rows * 4) == 0, "%s: the state changed", what);
}

Test(optim, bad_ids_write_nothing)
{
	sparse_case c = {EMBSTORE_F32, 40, 12, 300, 12, 0.1f, 1e-8f, 0.0f};
	static const int64_t bad_values[] = {-1, 40, 41, INT32_MIN, INT64_MIN, INT64_MAX, (int64_t)1 << 32};
	static const size_t positions[] = {0, 1, 150, 299};
	for (size_t v = 0; v < sizeof bad_values / sizeof bad_values[0]; v++) {
		for (size_t p = 0; p < 4; p++) {
			for (int adagrad = 0; adagrad < 2; adagrad++) {
				sparse_data d, orig;
				data_new(&d, &c, 3);
				data_copy(&orig, &d);
				d.ids[positions[p]] = bad_values[v];
				if (positions[p] + 7 < c.n)
					d.ids[positions[p] + 7] = -5; /* a later bad id: the first one is reported */
				size_t bad = 12345;
				cr_expect_eq(step(&d, d.ids, c.n, d.grads, adagrad, &bad), EMBSTORE_ID_OUT_OF_RANGE);
				cr_expect_eq(bad, positions[p], "bad id %lld at %zu reported at %zu", (long long)bad_values[v],
				             positions[p], bad);
				expect_untouched(&d, &orig, "bad id");
				data_free(&d);
				data_free(&orig);
			}
		}
	}
	/* 32-bit ids: a negative one. */
	int32_t ids32[3] = {0, -1, 2};
	sparse_data d, orig;
	data_new(&d, &c, 4);
	data_copy(&orig, &d);
	size_t bad = 0;
	cr_expect_eq(embstore_sgd_update(&d.m, ids32, EMBSTORE_ID32, 3, d.grads, 12, 0.1f, &bad),
	             EMBSTORE_ID_OUT_OF_RANGE);
	cr_expect_eq(bad, 1);
	cr_expect_eq(embstore_rowwise_adagrad_update(&d.m, &d.state_m, ids32, EMBSTORE_ID32, 3, d.grads, 12, 0.1f,
	                                             1e-8f, 0, NULL), EMBSTORE_ID_OUT_OF_RANGE);
	expect_untouched(&d, &orig, "32-bit bad id");
	data_free(&d);
	data_free(&orig);
}

Test(optim, refused_arguments_write_nothing)
{
	sparse_case c = {EMBSTORE_F32, 10, 4, 20, 4, 0.1f, 1e-8f, 0.0f};
	sparse_data d, orig;
	data_new(&d, &c, 5);
	data_copy(&orig, &d);
	size_t bad = 0;
	const embstore_id_type I64 = EMBSTORE_ID64;
#define SGD(m, ids, it, n, g, stride) embstore_sgd_update(m, ids, it, n, g, stride, 0.1f, &bad)
#define ADA(m, s, ids, n, g, stride) embstore_rowwise_adagrad_update(m, s, ids, I64, n, g, stride, 0.1f, 1e-8f, 0, &bad)
	/* read-only table or state */
	embstore_matrix ro = d.m, ro_state = d.state_m;
	ro.flags = ro_state.flags = EMBSTORE_MATRIX_READ_ONLY;
	cr_expect_eq(SGD(&ro, d.ids, I64, c.n, d.grads, 4), EMBSTORE_READ_ONLY);
	cr_expect_eq(ADA(&ro, &d.state_m, d.ids, c.n, d.grads, 4), EMBSTORE_READ_ONLY);
	cr_expect_eq(ADA(&d.m, &ro_state, d.ids, c.n, d.grads, 4), EMBSTORE_READ_ONLY);
	/* int8 table; state not f32 */
	unsigned char q[10 * 12] = {0};
	embstore_matrix int8 = {.data = q, .rows = 10, .row_stride = 12, .dim = 4, .dtype = EMBSTORE_INT8_ROWWISE};
	cr_expect_eq(SGD(&int8, d.ids, I64, c.n, d.grads, 4), EMBSTORE_BAD_DTYPE);
	cr_expect_eq(ADA(&int8, &d.state_m, d.ids, c.n, d.grads, 4), EMBSTORE_BAD_DTYPE);
	uint16_t half_state[10] = {0};
	embstore_matrix f16_state = {.data = half_state, .rows = 10, .row_stride = 2, .dim = 1, .dtype = EMBSTORE_F16};
	cr_expect_eq(ADA(&d.m, &f16_state, d.ids, c.n, d.grads, 4), EMBSTORE_BAD_DTYPE);
	/* state of the wrong shape */
	embstore_matrix short_state = d.state_m, wide_state = d.state_m;
	short_state.rows = 9;
	wide_state.dim = 2;
	wide_state.rows = 5;
	wide_state.row_stride = 8;
	cr_expect_eq(ADA(&d.m, &short_state, d.ids, c.n, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(ADA(&d.m, &wide_state, d.ids, c.n, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	wide_state.rows = 10;
	float wide_mem[20] = {0};
	wide_state.data = wide_mem;
	cr_expect_eq(ADA(&d.m, &wide_state, d.ids, c.n, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(ADA(&d.m, NULL, d.ids, c.n, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	/* gradient stride, NULLs, id type, bad matrix */
	cr_expect_eq(SGD(&d.m, d.ids, I64, c.n, d.grads, 3), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(ADA(&d.m, &d.state_m, d.ids, c.n, d.grads, 3), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(SGD(&d.m, NULL, I64, c.n, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(SGD(&d.m, d.ids, I64, c.n, NULL, 4), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(SGD(&d.m, d.ids, (embstore_id_type)2, c.n, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(SGD(NULL, d.ids, I64, c.n, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(SGD(&d.m, d.ids, I64, SIZE_MAX / 2, d.grads, 4), EMBSTORE_INVALID_ARGUMENT);
	embstore_matrix bad_dtype = d.m;
	bad_dtype.dtype = (embstore_dtype)9;
	cr_expect_eq(SGD(&bad_dtype, d.ids, I64, c.n, d.grads, 4), EMBSTORE_BAD_DTYPE);
	expect_untouched(&d, &orig, "refused");
	/* no ids: nothing to do, NULLs allowed */
	cr_expect_eq(SGD(&d.m, NULL, I64, 0, NULL, 4), EMBSTORE_OK);
	cr_expect_eq(ADA(&d.m, &d.state_m, NULL, 0, NULL, 4), EMBSTORE_OK);
	expect_untouched(&d, &orig, "no ids");
#undef SGD
#undef ADA
	data_free(&d);
	data_free(&orig);
}

/* ---- on a writable store ---- */

#define ROWS 300
#define DIM 8

/* Tables "frozen" (f16), "emb" (f32), "emb_state" (f32, ROWS x 1, zeros) and "narrow" (f32, ROWS x 2), 16 rows
 * per checksum chunk. */
static char *build_store(const char *name)
{
	char *path = tu_path(name);
	static float rows[ROWS * DIM];
	static const float zeros[ROWS * 2];
	uint64_t seed = 9;
	for (size_t i = 0; i < ROWS * DIM; i++)
		rows[i] = tu_randf(&seed);
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_chunk_bytes(w, 16 * DIM * 4), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "frozen", EMBSTORE_F16, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "emb", EMBSTORE_F32, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "emb_state", EMBSTORE_F32, ROWS, 1), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, zeros, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "narrow", EMBSTORE_F32, ROWS, 2), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, zeros, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	return path;
}

/* The rows and state the store forms hold after their steps equal the matrix calls' on copies, and sync makes
 * verify pass again: every chunk they wrote, in the table and in the state, was marked. */
Test(optim, store_forms_update_mark_and_sync)
{
	char *path = build_store("optim.emb");
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_OK);
	embstore_table emb, state, frozen;
	cr_assert_eq(embstore_table_find(s, "emb", &emb), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(s, "emb_state", &state), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(s, "frozen", &frozen), EMBSTORE_OK);
	static float copy[ROWS * DIM], copy_state[ROWS];
	static uint16_t copy_frozen[ROWS * DIM];
	memcpy(copy, emb.matrix.data, sizeof copy);
	memcpy(copy_state, state.matrix.data, sizeof copy_state);
	memcpy(copy_frozen, frozen.matrix.data, sizeof copy_frozen);
	embstore_matrix cm = emb.matrix, cs = state.matrix, cf = frozen.matrix;
	cm.data = copy;
	cs.data = copy_state;
	cf.data = copy_frozen;

	uint64_t seed = 21;
	int64_t ids[64];
	float grads[64 * DIM];
	size_t bad;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 64; i++)
			ids[i] = (int64_t)(tu_rand(&seed) % (round < 4 ? 40 : ROWS)); /* the first rounds: 3 chunks */
		for (int i = 0; i < 64 * DIM; i++)
			grads[i] = tu_randf(&seed);
		cr_assert_eq(embstore_table_rowwise_adagrad_update(s, emb.index, state.index, ids, EMBSTORE_ID64, 64,
		                                                   grads, DIM, 0.1f, 1e-8f, 0.01f, &bad), EMBSTORE_OK);
		cr_assert_eq(embstore_rowwise_adagrad_update(&cm, &cs, ids, EMBSTORE_ID64, 64, grads, DIM, 0.1f, 1e-8f,
		                                             0.01f, &bad), EMBSTORE_OK);
		cr_assert_eq(embstore_table_sgd_update(s, frozen.index, ids, EMBSTORE_ID64, 64, grads, DIM, 0.05f, &bad),
		             EMBSTORE_OK);
		cr_assert_eq(embstore_sgd_update(&cf, ids, EMBSTORE_ID64, 64, grads, DIM, 0.05f, &bad), EMBSTORE_OK);
	}
	cr_expect(memcmp(copy, emb.matrix.data, sizeof copy) == 0, "table rows");
	cr_expect(memcmp(copy_state, state.matrix.data, sizeof copy_state) == 0, "state rows");
	cr_expect(memcmp(copy_frozen, frozen.matrix.data, sizeof copy_frozen) == 0, "f16 rows");
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_DATA_CHECKSUM);
	cr_assert_eq(embstore_sync(s), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK);
	embstore_close(s);
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	embstore_close(s);
	free(path);
}

Test(optim, store_form_errors)
{
	char *path = build_store("optim_errors.emb");
	embstore *s;
	int64_t ids[2] = {1, ROWS};
	float g[2 * DIM] = {0};
	size_t bad = 0;
	cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK);
	cr_expect_eq(embstore_table_sgd_update(s, 1, ids, EMBSTORE_ID64, 1, g, DIM, 0.1f, &bad), EMBSTORE_READ_ONLY);
	cr_expect_eq(embstore_table_rowwise_adagrad_update(s, 1, 2, ids, EMBSTORE_ID64, 1, g, DIM, 0.1f, 1e-8f, 0, &bad),
	             EMBSTORE_READ_ONLY);
	embstore_close(s);

	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_OK);
#define ADA(t, st, n) embstore_table_rowwise_adagrad_update(s, t, st, ids, EMBSTORE_ID64, n, g, DIM, 0.1f, 1e-8f, 0, &bad)
	cr_expect_eq(embstore_table_sgd_update(NULL, 1, ids, EMBSTORE_ID64, 1, g, DIM, 0.1f, &bad),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_sgd_update(s, 4, ids, EMBSTORE_ID64, 1, g, DIM, 0.1f, &bad),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(ADA(4, 2, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(ADA(1, 4, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(ADA(2, 2, 1), EMBSTORE_INVALID_ARGUMENT); /* a table as its own state */
	cr_expect_eq(ADA(1, 0, 1), EMBSTORE_BAD_DTYPE);        /* f16 state */
	cr_expect_eq(ADA(1, 3, 1), EMBSTORE_INVALID_ARGUMENT); /* ROWS x 2 state */
	cr_expect_eq(ADA(1, 2, 2), EMBSTORE_ID_OUT_OF_RANGE);
	cr_expect_eq(bad, 1);
	cr_expect_eq(embstore_table_sgd_update(s, 1, ids, EMBSTORE_ID64, 2, g, DIM, 0.1f, &bad),
	             EMBSTORE_ID_OUT_OF_RANGE);
#undef ADA
	/* Nothing was written or marked: verify passes without a sync. */
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK);
	embstore_close(s);
	free(path);
}
