/* test_init.c: embstore_writer_init_table draws what it says (checked against an independent computation with
 * libm and against the distributions' moments), the same bytes whatever the table's size, and the bytes that
 * every other machine draws (init_golden.h, also checked under qemu on aarch64). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "init.h"
#include "init_golden.h"
#include "testutil.h"

/* Builds one table and returns its rows as f32 (malloc'd), widened by a gather. */
static float *build_rows(const char *file, embstore_dtype dtype, uint64_t rows, uint32_t dim, embstore_init init)
{
	char *path = tu_path(file);
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_init_table(w, "t", dtype, rows, dim, &init), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	embstore *s;
	cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK);
	cr_assert_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK);
	embstore_table t;
	cr_assert_eq(embstore_table_at(s, 0, &t), EMBSTORE_OK);
	cr_assert_eq(t.matrix.rows, rows);
	cr_assert_eq(t.matrix.dim, dim);
	float *out = malloc(rows * dim * sizeof *out);
	int64_t *ids = malloc(rows * sizeof *ids);
	for (uint64_t i = 0; i < rows; i++)
		ids[i] = (int64_t)i;
	cr_assert_eq(embstore_gather(&t.matrix, ids, EMBSTORE_ID64, rows, out, NULL), EMBSTORE_OK);
	free(ids);
	embstore_close(s);
	free(path);
	return out;
}

Test(init, log_matches_libm)
{
	uint64_t state = 7;
	double worst = 0;
	for (int i = 0; i < 200000; i++) {
		/* Spread over every binade the polar method can produce, down to 2^-104. */
		double x = ldexp(1.0 + (double)(tu_rand(&state) >> 11) * 0x1p-53, -(int)(tu_rand(&state) % 105));
		double want = log(x), got = es_init_log(x);
		double err = fabs(got - want) / fmax(fabs(want), 1e-300);
		if (err > worst)
			worst = err;
	}
	cr_expect_lt(worst, 8e-16, "worst relative error %g", worst);
	cr_expect_eq(es_init_log(1.0), 0.0);
	cr_expect_lt(fabs(es_init_log(0.5) + 0.69314718055994530942), 1e-16);
}

/* The same draw, written again from the definitions with libm's log. */
static uint64_t ref_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void ref_normal_row(uint64_t seed, uint64_t r, float *row, uint32_t dim, double std)
{
	uint64_t st = ref_mix(ref_mix(seed) ^ r);
	for (uint32_t j = 0; j < dim; j += 2) {
		double a, b, s;
		do {
			a = (double)(ref_mix(st += 0x9e3779b97f4a7c15u) >> 11) / 4503599627370496.0 - 1.0;
			b = (double)(ref_mix(st += 0x9e3779b97f4a7c15u) >> 11) / 4503599627370496.0 - 1.0;
			s = a * a + b * b;
		} while (s >= 1.0 || s == 0.0);
		double f = sqrt(-2.0 * log(s) / s);
		row[j] = (float)(std * (a * f));
		if (j + 1 < dim)
			row[j + 1] = (float)(std * (b * f));
	}
}

Test(init, normal_is_the_polar_method)
{
	enum { R = 40, D = 37 };
	float *got = build_rows("n.emb", EMBSTORE_F32, R, D, (embstore_init){EMBSTORE_INIT_NORMAL, 0.5, 12345});
	float want[D];
	for (uint64_t r = 0; r < R; r++) {
		ref_normal_row(12345, r, want, D, 0.5);
		for (uint32_t j = 0; j < D; j++) {
			float g = got[r * D + j];
			/* libm's log may differ in the last bit of a double: allow one f32 ulp. */
			cr_assert_leq(fabsf(g - want[j]), fabsf(nextafterf(want[j], INFINITY) - want[j]), "row %lu col %u: %a vs %a",
			              (unsigned long)r, j, (double)g, (double)want[j]);
		}
	}
	free(got);
}

Test(init, uniform_bits)
{
	enum { R = 30, D = 9 };
	float *got = build_rows("u.emb", EMBSTORE_F32, R, D, (embstore_init){EMBSTORE_INIT_UNIFORM, 0.25, 99});
	for (uint64_t r = 0; r < R; r++) {
		uint64_t st = ref_mix(ref_mix(99) ^ r);
		for (uint32_t j = 0; j < D; j++) {
			double u = (double)(ref_mix(st += 0x9e3779b97f4a7c15u) >> 40) / 16777216.0;
			cr_assert_eq(got[r * D + j], (float)(0.25 * (2 * u - 1)));
		}
	}
	free(got);
}

static void moments(const float *v, size_t n, double *mean, double *sd)
{
	double s = 0, q = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	*mean = s / (double)n;
	for (size_t i = 0; i < n; i++)
		q += (v[i] - *mean) * (v[i] - *mean);
	*sd = sqrt(q / (double)(n - 1));
}

Test(init, distributions)
{
	enum { R = 4000, D = 250 }; /* a million values: the sample moments are within 0.3% of the true ones */
	double mean, sd;
	float *n = build_rows("dn.emb", EMBSTORE_F32, R, D, (embstore_init){EMBSTORE_INIT_NORMAL, 2.0, 1});
	moments(n, (size_t)R * D, &mean, &sd);
	cr_expect_lt(fabs(mean), 0.006, "normal mean %g", mean);
	cr_expect_lt(fabs(sd - 2.0), 0.006, "normal sd %g", sd);
	size_t within = 0;
	for (size_t i = 0; i < (size_t)R * D; i++)
		within += fabsf(n[i]) < 2.0f;
	cr_expect_lt(fabs((double)within / (R * D) - 0.682689), 0.002, "within one sd: %zu", within);
	free(n);

	float *u = build_rows("du.emb", EMBSTORE_F32, R, D, (embstore_init){EMBSTORE_INIT_UNIFORM, 0.05, 1});
	moments(u, (size_t)R * D, &mean, &sd);
	float lo = u[0], hi = u[0];
	for (size_t i = 0; i < (size_t)R * D; i++) {
		lo = fminf(lo, u[i]);
		hi = fmaxf(hi, u[i]);
	}
	cr_expect(lo >= -0.05f && hi < 0.05f && lo < -0.0499f && hi > 0.0499f, "range [%g, %g]", lo, hi);
	cr_expect_lt(fabs(mean), 0.0002, "uniform mean %g", mean);
	cr_expect_lt(fabs(sd - 0.05 / sqrt(3.0)), 0.0001, "uniform sd %g", sd);
	free(u);
}

Test(init, rows_do_not_depend_on_table_size)
{
	embstore_init init = {EMBSTORE_INIT_NORMAL, 1.0, 2024};
	/* 5000 rows of 300 f32 take more than one of the writer's batches; 3 rows take one. */
	float *big = build_rows("big.emb", EMBSTORE_F32, 5000, 300, init);
	float *small = build_rows("small.emb", EMBSTORE_F32, 3, 300, init);
	cr_assert_eq(memcmp(big, small, 3 * 300 * sizeof(float)), 0);
	init.seed = 2025;
	float *other = build_rows("other.emb", EMBSTORE_F32, 3, 300, init);
	size_t same = 0;
	for (size_t i = 0; i < 900; i++)
		same += other[i] == small[i];
	cr_expect_lt(same, 5, "%zu of 900 values alike across seeds", same);
	free(big);
	free(small);
	free(other);
}

Test(init, zeros_in_every_dtype)
{
	static const embstore_dtype dtypes[] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE};
	for (size_t d = 0; d < 4; d++) {
		float *z = build_rows("z.emb", dtypes[d], 17, 5, (embstore_init){EMBSTORE_INIT_ZEROS, 0, 0});
		for (size_t i = 0; i < 17 * 5; i++)
			cr_assert_eq(z[i], 0.0f, "dtype %d value %zu", (int)dtypes[d], i);
		free(z);
	}
}

Test(init, reduced_precision_rounds_the_f32_draw)
{
	embstore_init init = {EMBSTORE_INIT_NORMAL, 1.0, 5};
	float *f = build_rows("f.emb", EMBSTORE_F32, 20, 8, init);
	float *h = build_rows("h.emb", EMBSTORE_F16, 20, 8, init);
	for (size_t i = 0; i < 160; i++)
		cr_assert_leq(fabsf(h[i] - f[i]), fabsf(f[i]) * 0x1p-11f + 0x1p-25f, "value %zu: %g vs %g", i, h[i], f[i]);
	free(f);
	free(h);
}

/* The bytes every machine must produce (the aarch64 check compares the same constants). */
Test(init, golden_bytes)
{
	for (size_t g = 0; g < sizeof init_golden / sizeof init_golden[0]; g++) {
		const struct init_golden_case *c = &init_golden[g];
		float *v = build_rows("g.emb", EMBSTORE_F32, c->rows, c->dim, (embstore_init){c->kind, c->scale, c->seed});
		uint64_t h = XXH3_64bits(v, c->rows * c->dim * sizeof(float));
		cr_expect_eq(h, c->xxh3, "case %zu: XXH3 %016llx, expected %016llx", g, (unsigned long long)h,
		             (unsigned long long)c->xxh3);
		free(v);
	}
}

Test(init, refusals_change_nothing)
{
	char *path = tu_path("bad.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	embstore_init bad[] = {
		{EMBSTORE_INIT_NORMAL, -1.0, 0},
		{EMBSTORE_INIT_NORMAL, NAN, 0},
		{EMBSTORE_INIT_UNIFORM, INFINITY, 0},
		{EMBSTORE_INIT_UNIFORM, 1e31, 0},
		{(embstore_init_kind)7, 1.0, 0},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_expect_eq(embstore_writer_init_table(w, "t", EMBSTORE_F32, 2, 2, &bad[i]), EMBSTORE_INVALID_ARGUMENT,
		             "case %zu", i);
		cr_expect_neq(embstore_error_detail()[0], '\0', "case %zu has no detail", i);
	}
	embstore_init ok = {EMBSTORE_INIT_ZEROS, 0, 0};
	cr_expect_eq(embstore_writer_init_table(w, "t", EMBSTORE_F32, 0, 2, &ok), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_init_table(w, "t", EMBSTORE_F32, 2, 0, &ok), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_init_table(w, "t", EMBSTORE_F32, 2, 2, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_writer_init_table(w, "t", EMBSTORE_F32, 2, 2, &ok), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	free(path);
}
