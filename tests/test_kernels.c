/* test_kernels.c: every kernel set this CPU runs against the scalar reference (bitwise for gather and scatter-add,
 * within the header's tolerance for bags), out-of-range ids with canaries, the public entry points' argument
 * checks, the parallel variants against one thread, kernel-set selection, and a small SGD run. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "embstore.h"
#include "kernels.h"
#include "rng.h"

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	return rng_next(&rng);
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* Uniform in [-1, 1). */
static float unit(void)
{
	return rng_unit(&rng);
}

/* ---- buffers with canaries ---- */

#define GUARD 16 /* canary floats on each side of an output; canary bytes after a table */
#define SENTINEL 0x7fa5a5a5u /* a signalling NaN no kernel produces */
#define TABLE_CANARY 0xa5

typedef struct outbuf {
	float *base;
	float *p; /* GUARD (+ shift) floats into base */
	size_t n;
	size_t total;
} outbuf;

/* n floats; shift 1 makes p only 4-byte aligned relative to a 64-byte aligned base. */
static outbuf out_new(size_t n, unsigned shift)
{
	outbuf o;
	o.total = n + 2 * GUARD + shift;
	o.base = aligned_alloc(64, ((o.total * 4 + 63) / 64) * 64);
	cr_assert(o.base != NULL);
	for (size_t i = 0; i < o.total; i++) {
		uint32_t s = SENTINEL;
		memcpy(&o.base[i], &s, 4);
	}
	o.p = o.base + GUARD + shift;
	o.n = n;
	return o;
}

static int is_sentinel(const float *f)
{
	uint32_t u;
	memcpy(&u, f, 4);
	return u == SENTINEL;
}

/* Nothing written before p or after p + n. */
static void out_check_guards(const outbuf *o, const char *ctx)
{
	for (float *f = o->base; f < o->p; f++)
		if (!is_sentinel(f))
			cr_assert_fail("%s: write before the output (%td floats before)", ctx, o->p - f);
	for (float *f = o->p + o->n; f < o->base + o->total; f++)
		if (!is_sentinel(f))
			cr_assert_fail("%s: write after the output (%td floats after)", ctx, f - (o->p + o->n));
}

static void out_free(outbuf *o)
{
	free(o->base);
	o->base = o->p = NULL;
}

typedef struct tab {
	embstore_matrix m;
	unsigned char *mem;
	size_t bytes; /* rows * row_stride; GUARD canary bytes follow */
} tab;

static size_t elem_size(embstore_dtype dt)
{
	return dt == EMBSTORE_F32 ? 4 : dt == EMBSTORE_INT8_ROWWISE ? 1 : 2;
}

/* Value generators. raw: any bit pattern (NaN, Inf, subnormals); otherwise finite, |v| < 4, subnormals included. */
static uint32_t gen_f32(int raw)
{
	if (raw)
		return (uint32_t)rnd();
	return (uint32_t)(below(2) << 31 | below(129) << 23 | (rnd() & 0x7fffff));
}

static uint16_t gen_16(embstore_dtype dt, int raw)
{
	if (raw)
		return (uint16_t)rnd();
	if (dt == EMBSTORE_F16)
		return (uint16_t)(below(2) << 15 | below(17) << 10 | (rnd() & 0x3ff));
	return (uint16_t)(below(2) << 15 | below(129) << 7 | (rnd() & 0x7f));
}

/* A table of rows x dim with `pad` extra elements per row (random bytes), GUARD canary bytes after it. */
static void tab_new(tab *t, embstore_dtype dt, uint64_t rows, uint32_t dim, size_t pad, int raw)
{
	size_t row_bytes = (size_t)embstore_row_bytes(dt, dim);
	cr_assert(row_bytes > 0);
	size_t stride = row_bytes + pad * elem_size(dt);
	t->bytes = (size_t)rows * stride;
	t->mem = malloc(t->bytes + GUARD);
	cr_assert(t->mem != NULL);
	for (size_t i = 0; i < t->bytes; i++)
		t->mem[i] = (unsigned char)rnd();
	memset(t->mem + t->bytes, TABLE_CANARY, GUARD);
	for (uint64_t r = 0; r < rows; r++) {
		unsigned char *row = t->mem + r * stride;
		for (uint32_t j = 0; j < dim; j++) {
			if (dt == EMBSTORE_F32) {
				uint32_t u = gen_f32(raw);
				memcpy(row + 4 * (size_t)j, &u, 4);
			} else if (dt != EMBSTORE_INT8_ROWWISE) {
				uint16_t h = gen_16(dt, raw);
				memcpy(row + 2 * (size_t)j, &h, 2);
			}
		}
		if (dt == EMBSTORE_INT8_ROWWISE) {
			float scale = unit() * 0.05f, bias = unit() * 3.0f;
			memcpy(row + dim, &scale, 4);
			memcpy(row + dim + 4, &bias, 4);
		}
	}
	t->m = (embstore_matrix){.data = t->mem, .rows = rows, .row_stride = stride, .dim = dim, .dtype = dt};
}

static void tab_check_guard(const tab *t, const char *ctx)
{
	for (size_t i = 0; i < GUARD; i++)
		if (t->mem[t->bytes + i] != TABLE_CANARY)
			cr_assert_fail("%s: write after the table", ctx);
}

static void tab_free(tab *t)
{
	free(t->mem);
	t->mem = NULL;
}

/* n ids in [0, rows), as ID32 (wide 0) or ID64. */
static void *ids_new(size_t n, uint64_t rows, int wide)
{
	void *ids = malloc((n ? n : 1) * (wide ? 8 : 4));
	cr_assert(ids != NULL);
	for (size_t i = 0; i < n; i++) {
		int64_t id = (int64_t)below(rows);
		if (wide)
			((int64_t *)ids)[i] = id;
		else
			((int32_t *)ids)[i] = (int32_t)id;
	}
	return ids;
}

static void ids_put(void *ids, int wide, size_t i, int64_t v)
{
	if (wide)
		((int64_t *)ids)[i] = v;
	else
		((int32_t *)ids)[i] = (int32_t)v;
}

static embstore_id_type id_type_of(int wide)
{
	return wide ? EMBSTORE_ID64 : EMBSTORE_ID32;
}

/* Fails with the first differing float. */
static void expect_bitwise(const float *want, const float *got, size_t n, const char *ctx)
{
	if (n == 0 || memcmp(want, got, n * 4) == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t a, b;
		memcpy(&a, &want[i], 4);
		memcpy(&b, &got[i], 4);
		if (a != b)
			cr_assert_fail("%s: element %zu is %08x (%g), scalar gives %08x (%g)", ctx, i, b, (double)got[i], a,
			               (double)want[i]);
	}
}

/* The header's bag tolerance: 1e-5 relative, plus a little absolute room for sums that cancel. */
static void expect_close(const float *want, const float *got, size_t n, const char *ctx)
{
	for (size_t i = 0; i < n; i++) {
		double a = want[i], b = got[i];
		if (isnan(a) && isnan(b))
			continue;
		if (!(fabs(a - b) <= 1e-5 * fmax(fabs(a), fabs(b)) + 1e-6))
			cr_assert_fail("%s: element %zu is %.9g, scalar gives %.9g", ctx, i, b, a);
	}
}

static const embstore_dtype dtypes[] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

/* Every dim from 1 to 80 covers every remainder of 8- and 16-lane vectors and of their 2x unrolled loops; the
 * larger ones add long rows and the largest tested dim. */
static const uint32_t big_dims[] = {95, 127, 128, 129, 255, 256, 257, 511, 1000, 1024, 1031};
#define N_BIG (sizeof big_dims / sizeof big_dims[0])
#define N_DIMS (80 + N_BIG)

static uint32_t dim_at(size_t i)
{
	return i < 80 ? (uint32_t)i + 1 : big_dims[i - 80];
}

/* The set for `isa`, or NULL (logged) when this build or CPU lacks it. */
static const embstore_kernel_table *kernels_or_skip(embstore_isa isa)
{
	const embstore_kernel_table *k = embstore_kernels_for(isa);
	if (!k)
		cr_log_info("skipping %s: not built or not supported by this CPU", embstore_isa_name(isa));
	return k;
}

static const embstore_kernel_table *const scalar = &embstore_kernels_scalar;

/* ---- gather ---- */

static void gather_case(const embstore_kernel_table *k, embstore_dtype dt, uint32_t dim, uint64_t rows, size_t pad,
                        size_t n, int wide, unsigned shift, int raw)
{
	char ctx[200];
	snprintf(ctx, sizeof ctx, "gather %s %s dim %u rows %llu pad %zu n %zu id%d shift %u raw %d",
	         embstore_isa_name(k->isa), embstore_dtype_name(dt), dim, (unsigned long long)rows, pad, n,
	         wide ? 64 : 32, shift, raw);
	tab t;
	tab_new(&t, dt, rows, dim, pad, raw);
	void *ids = ids_new(n, rows, wide);
	outbuf want = out_new(n * dim, 0), got = out_new(n * dim, shift);
	size_t bad = 12345;
	cr_assert_eq(scalar->gather(&t.m, ids, id_type_of(wide), n, want.p, &bad), EMBSTORE_OK, "%s", ctx);
	cr_assert_eq(k->gather(&t.m, ids, id_type_of(wide), n, got.p, &bad), EMBSTORE_OK, "%s", ctx);
	expect_bitwise(want.p, got.p, n * dim, ctx);
	out_check_guards(&got, ctx);
	tab_check_guard(&t, ctx);
	out_free(&want);
	out_free(&got);
	free(ids);
	tab_free(&t);
}

static void gather_all_shapes(embstore_isa isa)
{
	const embstore_kernel_table *k = kernels_or_skip(isa);
	if (!k)
		return;
	for (size_t d = 0; d < N_DIMS; d++) {
		uint32_t dim = dim_at(d);
		for (size_t ti = 0; ti < N_DTYPES; ti++) {
			for (int wide = 0; wide < 2; wide++) {
				uint64_t rows = 1 + below(dim > 200 ? 20 : 100);
				size_t n = below(dim > 200 ? 12 : 40);
				gather_case(k, dtypes[ti], dim, rows, below(3) ? 0 : below(9), n, wide, (unsigned)below(2),
				            (int)below(2));
			}
		}
	}
	/* Long batches: many duplicates, prefetching far ahead, the one-row table. */
	for (size_t ti = 0; ti < N_DTYPES; ti++) {
		gather_case(k, dtypes[ti], 5, 1000, 1, 100000, 1, 1, 1);
		gather_case(k, dtypes[ti], 64, 300, 0, 20000, 0, 0, 0);
		gather_case(k, dtypes[ti], 19, 1, 0, 500, 0, 1, 1);
	}
	gather_case(k, EMBSTORE_F32, 1, 7, 0, 0, 1, 0, 0); /* no ids */
}

Test(gather, avx2_matches_scalar)
{
	gather_all_shapes(EMBSTORE_ISA_AVX2);
}

Test(gather, avx512_matches_scalar)
{
	gather_all_shapes(EMBSTORE_ISA_AVX512);
}

Test(gather, neon_matches_scalar)
{
	gather_all_shapes(EMBSTORE_ISA_NEON);
}

Test(gather, scalar_values)
{
	/* The reference itself, on values whose f32 form is known. */
	uint16_t h[6] = {0x3c00, 0xc000, 0x0001, 0x7c00, 0x7c01, 0x3555};
	float want[6] = {1.0f, -2.0f, 0x1p-24f, INFINITY, NAN, 0x1.554p-2f};
	float out[6];
	size_t bad;
	embstore_matrix m = {.data = h, .rows = 1, .row_stride = 12, .dim = 6, .dtype = EMBSTORE_F16};
	int32_t id = 0;
	cr_assert_eq(scalar->gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_OK);
	for (int i = 0; i < 6; i++)
		cr_assert(i == 4 ? isnan(out[i]) : out[i] == want[i], "f16 element %d: %g", i, (double)out[i]);
	uint32_t nan_bits;
	memcpy(&nan_bits, &out[4], 4);
	cr_assert_eq(nan_bits, 0x7fc02000u, "a signalling f16 NaN is quieted, payload kept: %08x", nan_bits);

	unsigned char q[3 + 8] = {0, 128, 255};
	float scale = 0.5f, bias = -1.0f;
	memcpy(q + 3, &scale, 4);
	memcpy(q + 7, &bias, 4);
	m = (embstore_matrix){.data = q, .rows = 1, .row_stride = 11, .dim = 3, .dtype = EMBSTORE_INT8_ROWWISE};
	cr_assert_eq(scalar->gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_OK);
	cr_assert(out[0] == -1.0f && out[1] == 63.0f && out[2] == 126.5f);
}

/* Every f16 and bf16 code through every kernel set agrees with the library's own conversions (NaN: both NaN). */
Test(gather, conversions_match_convert_c)
{
	uint16_t *codes = malloc(65536 * 2);
	float *out = malloc(65536 * 4);
	cr_assert(codes && out);
	for (uint32_t i = 0; i < 65536; i++)
		codes[i] = (uint16_t)i;
	for (unsigned isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		const embstore_kernel_table *k = kernels_or_skip((embstore_isa)isa);
		if (!k)
			continue;
		for (int bf = 0; bf < 2; bf++) {
			embstore_matrix m = {.data = codes, .rows = 65536, .row_stride = 2, .dim = 1,
			                     .dtype = bf ? EMBSTORE_BF16 : EMBSTORE_F16};
			int32_t *ids = malloc(65536 * 4);
			cr_assert(ids);
			for (int32_t i = 0; i < 65536; i++)
				ids[i] = i;
			size_t bad;
			cr_assert_eq(k->gather(&m, ids, EMBSTORE_ID32, 65536, out, &bad), EMBSTORE_OK);
			for (uint32_t i = 0; i < 65536; i++) {
				float want = bf ? embstore_bf16_to_f32((uint16_t)i) : embstore_f16_to_f32((uint16_t)i);
				if (isnan(want)) {
					cr_assert(isnan(out[i]), "%s %s %04x", embstore_isa_name(k->isa), bf ? "bf16" : "f16", i);
				} else {
					cr_assert(memcmp(&want, &out[i], 4) == 0, "%s %s %04x: %a vs %a", embstore_isa_name(k->isa),
					          bf ? "bf16" : "f16", i, (double)out[i], (double)want);
				}
			}
			free(ids);
		}
	}
	free(codes);
	free(out);
}

/* Rows quantised by the library's own quantiser gather to the same bits on every set, near the source values. */
Test(gather, int8_rows_from_quantizer)
{
	enum { ROWS = 40, DIM = 37 };
	size_t stride = DIM + 8;
	unsigned char *mem = malloc(ROWS * stride);
	float src[ROWS][DIM];
	cr_assert(mem);
	for (int r = 0; r < ROWS; r++) {
		for (int j = 0; j < DIM; j++)
			src[r][j] = r == 3 ? 1.5f : unit() * 10.0f; /* row 3 constant: scale 0 */
		cr_assert_eq(embstore_quantize_row_int8(src[r], DIM, mem + r * stride), EMBSTORE_OK);
	}
	embstore_matrix m = {.data = mem, .rows = ROWS, .row_stride = stride, .dim = DIM,
	                     .dtype = EMBSTORE_INT8_ROWWISE};
	int64_t ids[ROWS];
	for (int r = 0; r < ROWS; r++)
		ids[r] = r;
	float want[ROWS * DIM], got[ROWS * DIM];
	size_t bad;
	cr_assert_eq(scalar->gather(&m, ids, EMBSTORE_ID64, ROWS, want, &bad), EMBSTORE_OK);
	for (int r = 0; r < ROWS; r++)
		for (int j = 0; j < DIM; j++)
			cr_assert(fabsf(want[r * DIM + j] - src[r][j]) <= 10.0f / 255 + 1e-4f, "row %d col %d", r, j);
	for (unsigned isa = 1; isa < EMBSTORE_ISA_COUNT; isa++) {
		const embstore_kernel_table *k = kernels_or_skip((embstore_isa)isa);
		if (!k)
			continue;
		cr_assert_eq(k->gather(&m, ids, EMBSTORE_ID64, ROWS, got, &bad), EMBSTORE_OK);
		expect_bitwise(want, got, ROWS * DIM, embstore_isa_name(k->isa));
	}
	free(mem);
}

/* ---- bags ---- */

static void bag_case(const embstore_kernel_table *k, embstore_dtype dt, uint32_t dim, uint64_t rows, size_t pad,
                     size_t n_bags, size_t max_len, int wide, int weighted, embstore_bag_mode mode, unsigned shift)
{
	int64_t *offsets = malloc((n_bags + 1) * 8);
	cr_assert(offsets);
	offsets[0] = 0;
	for (size_t b = 0; b < n_bags; b++)
		offsets[b + 1] = offsets[b] + (below(5) == 0 ? 0 : (int64_t)below(max_len + 1));
	size_t n_ids = (size_t)offsets[n_bags];
	char ctx[220];
	snprintf(ctx, sizeof ctx, "bag %s %s dim %u rows %llu pad %zu bags %zu ids %zu id%d weighted %d mode %d",
	         embstore_isa_name(k->isa), embstore_dtype_name(dt), dim, (unsigned long long)rows, pad, n_bags, n_ids,
	         wide ? 64 : 32, weighted, (int)mode);
	tab t;
	tab_new(&t, dt, rows, dim, pad, 0);
	void *ids = ids_new(n_ids, rows, wide);
	float *weights = NULL;
	if (weighted) {
		weights = malloc((n_ids + 1) * 4);
		cr_assert(weights);
		for (size_t i = 0; i < n_ids; i++)
			weights[i] = unit() * 2.0f;
	}
	outbuf want = out_new(n_bags * dim, 0), got = out_new(n_bags * dim, shift);
	size_t bad;
	cr_assert_eq(scalar->gather_bag(&t.m, ids, id_type_of(wide), offsets, n_bags, weights, mode, want.p, &bad),
	             EMBSTORE_OK, "%s", ctx);
	cr_assert_eq(k->gather_bag(&t.m, ids, id_type_of(wide), offsets, n_bags, weights, mode, got.p, &bad),
	             EMBSTORE_OK, "%s", ctx);
	expect_close(want.p, got.p, n_bags * dim, ctx);
	/* Empty bags are exact zeros. */
	for (size_t b = 0; b < n_bags; b++)
		if (offsets[b] == offsets[b + 1])
			for (uint32_t j = 0; j < dim; j++)
				cr_assert(got.p[b * dim + j] == 0.0f, "%s: empty bag %zu", ctx, b);
	out_check_guards(&got, ctx);
	tab_check_guard(&t, ctx);
	out_free(&want);
	out_free(&got);
	free(weights);
	free(ids);
	free(offsets);
	tab_free(&t);
}

static void bag_all_shapes(embstore_isa isa)
{
	const embstore_kernel_table *k = kernels_or_skip(isa);
	if (!k)
		return;
	for (size_t d = 0; d < N_DIMS; d++) {
		uint32_t dim = dim_at(d);
		for (size_t ti = 0; ti < N_DTYPES; ti++) {
			for (int mode = 0; mode < 3; mode++) {
				int wide = (int)below(2), weighted = (int)below(2);
				bag_case(k, dtypes[ti], dim, 1 + below(60), below(2) ? 0 : below(5), below(dim > 200 ? 4 : 9),
				         dim > 200 ? 4 : 9, wide, weighted, (embstore_bag_mode)mode, (unsigned)below(2));
			}
		}
	}
	/* Every mode with and without weights, both id widths; then one large batch per mode. */
	for (int mode = 0; mode < 3; mode++) {
		for (int w = 0; w < 4; w++)
			bag_case(k, EMBSTORE_F32, 23, 50, 0, 30, 7, w & 1, w >> 1, (embstore_bag_mode)mode, 1);
		bag_case(k, dtypes[mode + 1], 16, 5000, 0, 4000, 50, 1, mode != 1, (embstore_bag_mode)mode, 0);
	}
	bag_case(k, EMBSTORE_F16, 9, 3, 0, 0, 0, 0, 0, EMBSTORE_BAG_SUM, 0); /* no bags */
}

Test(bag, avx2_matches_scalar)
{
	bag_all_shapes(EMBSTORE_ISA_AVX2);
}

Test(bag, avx512_matches_scalar)
{
	bag_all_shapes(EMBSTORE_ISA_AVX512);
}

Test(bag, neon_matches_scalar)
{
	bag_all_shapes(EMBSTORE_ISA_NEON);
}

Test(bag, scalar_semantics)
{
	/* Two rows; bags {0, 1}, {}, {1}, weights 2 and -1 / 3. */
	float rows[2][3] = {{1.0f, -2.0f, 3.0f}, {4.0f, 5.0f, -6.0f}};
	embstore_matrix m = {.data = rows, .rows = 2, .row_stride = 12, .dim = 3, .dtype = EMBSTORE_F32};
	int32_t ids[3] = {0, 1, 1};
	int64_t offsets[4] = {0, 2, 2, 3};
	float w[3] = {2.0f, -1.0f, 3.0f};
	float out[9];
	size_t bad;
	cr_assert_eq(scalar->gather_bag(&m, ids, EMBSTORE_ID32, offsets, 3, w, EMBSTORE_BAG_SUM, out, &bad),
	             EMBSTORE_OK);
	float sum[9] = {-2, -9, 12, 0, 0, 0, 12, 15, -18};
	cr_assert(memcmp(out, sum, sizeof sum) == 0);
	cr_assert_eq(scalar->gather_bag(&m, ids, EMBSTORE_ID32, offsets, 3, w, EMBSTORE_BAG_MEAN, out, &bad),
	             EMBSTORE_OK);
	float mean[9] = {-1, -4.5f, 6, 0, 0, 0, 12, 15, -18};
	cr_assert(memcmp(out, mean, sizeof mean) == 0);
	cr_assert_eq(scalar->gather_bag(&m, ids, EMBSTORE_ID32, offsets, 3, w, EMBSTORE_BAG_MAX, out, &bad),
	             EMBSTORE_OK);
	float max[9] = {2, -4, 6, 0, 0, 0, 12, 15, -18};
	cr_assert(memcmp(out, max, sizeof max) == 0);
}

/* Every SIMD set against scalar.c, bit for bit, on 4 bags over an f32 table of dim <= 64, in every mode, with and
 * without the weights. */
static void bags_bitwise(const embstore_matrix *m, const int32_t *ids, const int64_t *offsets, const float *weights)
{
	enum { MAX_DIM = 64 };
	float want[4 * MAX_DIM], got[4 * MAX_DIM];
	size_t bad, n = 4 * (size_t)m->dim;
	cr_assert(m->dim <= MAX_DIM);
	for (unsigned isa = 1; isa < EMBSTORE_ISA_COUNT; isa++) {
		const embstore_kernel_table *k = kernels_or_skip((embstore_isa)isa);
		if (!k)
			continue;
		for (int mode = 0; mode < 3; mode++) {
			for (int w = 0; w < 2; w++) {
				const float *wp = w ? weights : NULL;
				cr_assert_eq(scalar->gather_bag(m, ids, EMBSTORE_ID32, offsets, 4, wp, (embstore_bag_mode)mode,
				                                want, &bad),
				             EMBSTORE_OK);
				cr_assert_eq(k->gather_bag(m, ids, EMBSTORE_ID32, offsets, 4, wp, (embstore_bag_mode)mode, got,
				                           &bad),
				             EMBSTORE_OK);
				char ctx[64];
				snprintf(ctx, sizeof ctx, "%s mode %d weights %d", embstore_isa_name(k->isa), mode, w);
				expect_bitwise(want, got, n, ctx);
			}
		}
	}
}

/* Where max and sum are sensitive to operand order (NaN, +0 against -0) every set still follows scalar.c bit for
 * bit (kernels.h: acc > x ? acc : x). */
Test(bag, special_values_match_scalar_bitwise)
{
	enum { DIM = 21, ROWS = 6 };
	static const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7fc00000u, 0xffc00001u, 0x7f800000u,
	                                    0xff800000u, 0x3f800000u, 0xbf800000u, 0x00000001u};
	float table[ROWS][DIM];
	for (int r = 0; r < ROWS; r++)
		for (int j = 0; j < DIM; j++)
			memcpy(&table[r][j], &specials[(size_t)(r * 7 + j * 3) % 9], 4);
	embstore_matrix m = {.data = table, .rows = ROWS, .row_stride = DIM * 4, .dim = DIM, .dtype = EMBSTORE_F32};
	int32_t ids[12] = {0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0};
	int64_t offsets[5] = {0, 2, 6, 9, 12};
	float weights[12] = {1, -1, 0, 2, -0.0f, 1, 1, -1, 0, 2, -0.0f, 1};
	bags_bitwise(&m, ids, offsets, weights);
}

/* Two different NaNs meeting in one sum: scalar.c's add returns the row's NaN, not the running sum's (kernels.h).
 * Compilers treat vector adds as commutative, so a kernel that keeps the sum in a register can silently swap
 * them. */
Test(bag, nan_meeting_nan_matches_scalar_bitwise)
{
	enum { DIM = 37 }; /* whole vectors and a tail for every set */
	static const uint32_t fill[3] = {0xffc00001u, 0x7fc00000u, 0x3f800000u};
	float table[3][DIM];
	for (int r = 0; r < 3; r++)
		for (int j = 0; j < DIM; j++)
			memcpy(&table[r][j], &fill[r], 4);
	embstore_matrix m = {.data = table, .rows = 3, .row_stride = DIM * 4, .dim = DIM, .dtype = EMBSTORE_F32};
	int32_t ids[9] = {0, 1, 1, 0, 0, 2, 1, 2, 0};
	int64_t offsets[5] = {0, 2, 4, 7, 9};
	float weights[9] = {1, 2, -1, 0.5f, 1, 3, 1, 1, -2};
	bags_bitwise(&m, ids, offsets, weights);
}

/* ---- scatter-add ---- */

static void scatter_case(const embstore_kernel_table *k, uint32_t dim, uint64_t rows, size_t pad, size_t n,
                         int wide, float alpha, uint64_t lo, uint64_t hi, unsigned shift)
{
	char ctx[200];
	snprintf(ctx, sizeof ctx, "scatter %s dim %u rows %llu pad %zu n %zu id%d alpha %g rows [%llu, %llu)",
	         embstore_isa_name(k->isa), dim, (unsigned long long)rows, pad, n, wide ? 64 : 32, (double)alpha,
	         (unsigned long long)lo, (unsigned long long)hi);
	tab want, got;
	tab_new(&want, EMBSTORE_F32, rows, dim, pad, 0);
	got = want;
	got.mem = malloc(want.bytes + GUARD);
	cr_assert(got.mem);
	memcpy(got.mem, want.mem, want.bytes + GUARD);
	got.m.data = got.mem;
	void *ids = ids_new(n, rows, wide);
	float *gbuf = malloc((n * dim + 1) * 4);
	cr_assert(gbuf);
	float *grads = gbuf + shift;
	for (size_t i = 0; i < n * dim; i++)
		grads[i] = unit();
	size_t bad;
	cr_assert_eq(scalar->scatter_add(&want.m, ids, id_type_of(wide), n, grads, alpha, lo, hi, &bad), EMBSTORE_OK,
	             "%s", ctx);
	cr_assert_eq(k->scatter_add(&got.m, ids, id_type_of(wide), n, grads, alpha, lo, hi, &bad), EMBSTORE_OK, "%s",
	             ctx);
	/* The whole block: rows, padding between rows, canary after. */
	if (memcmp(want.mem, got.mem, want.bytes + GUARD) != 0) {
		for (size_t i = 0; i < want.bytes + GUARD; i++)
			if (want.mem[i] != got.mem[i])
				cr_assert_fail("%s: byte %zu of the table (row %zu) differs", ctx, i, i / want.m.row_stride);
	}
	tab_check_guard(&got, ctx);
	free(gbuf);
	free(ids);
	tab_free(&want);
	tab_free(&got);
}

static void scatter_all_shapes(embstore_isa isa)
{
	const embstore_kernel_table *k = kernels_or_skip(isa);
	if (!k)
		return;
	static const float alphas[] = {1.0f, -0.01f, -0.37f, 3.0f};
	for (size_t d = 0; d < N_DIMS; d++) {
		uint32_t dim = dim_at(d);
		for (int wide = 0; wide < 2; wide++) {
			uint64_t rows = 1 + below(30); /* few rows: many duplicate ids */
			scatter_case(k, dim, rows, below(2) ? 0 : below(4), below(dim > 200 ? 30 : 100), wide,
			             alphas[below(4)], 0, rows, (unsigned)below(2));
		}
		/* A row range as one thread of the parallel variant has it. */
		uint64_t rows = 2 + below(30), lo = below(rows), hi = lo + below(rows - lo + 1);
		scatter_case(k, dim, rows, 0, 60, (int)below(2), -0.5f, lo, hi, 0);
	}
	scatter_case(k, 16, 3, 0, 100000, 1, -0.001f, 0, 3, 1);
	scatter_case(k, 8, 1000, 2, 0, 0, 1.0f, 0, 1000, 0); /* no ids */
}

Test(scatter_add, avx2_matches_scalar)
{
	scatter_all_shapes(EMBSTORE_ISA_AVX2);
}

Test(scatter_add, avx512_matches_scalar)
{
	scatter_all_shapes(EMBSTORE_ISA_AVX512);
}

Test(scatter_add, neon_matches_scalar)
{
	scatter_all_shapes(EMBSTORE_ISA_NEON);
}

Test(scatter_add, scalar_semantics)
{
	float t[2][2] = {{1, 2}, {3, 4}};
	embstore_matrix m = {.data = t, .rows = 2, .row_stride = 8, .dim = 2, .dtype = EMBSTORE_F32};
	int64_t ids[3] = {1, 0, 1};
	float g[6] = {1, 1, 10, 20, 100, 200};
	size_t bad;
	cr_assert_eq(scalar->scatter_add(&m, ids, EMBSTORE_ID64, 3, g, 0.5f, 0, 2, &bad), EMBSTORE_OK);
	cr_assert(t[0][0] == 6 && t[0][1] == 12 && t[1][0] == 53.5f && t[1][1] == 104.5f);
	/* Fused: 1 + 2^-24 * (1 + 2^-23) rounds once to 1 + 2^-23 (unfused it would round to 1 twice over). */
	float one = 1.0f, eps = 0x1p-24f, gr = 1.0f + 0x1p-23f;
	m = (embstore_matrix){.data = &one, .rows = 1, .row_stride = 4, .dim = 1, .dtype = EMBSTORE_F32};
	int32_t id0 = 0;
	cr_assert_eq(scalar->scatter_add(&m, &id0, EMBSTORE_ID32, 1, &gr, eps, 0, 1, &bad), EMBSTORE_OK);
	cr_assert(one == 1.0f + 0x1p-23f, "%a", (double)one);
}

/* ---- out-of-range ids ---- */

/* Bad values an id array can hold: negative, == rows, just above, huge, and 2^32 (which a kernel that truncated
 * ids to 32 bits would take for row 0). */
static int64_t bad_value(int wide, uint64_t rows, unsigned which)
{
	static const int64_t fixed[] = {-1, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, (int64_t)1 << 32,
	                                (int64_t)1 << 40};
	if (which == 0)
		return (int64_t)rows;
	if (which == 1)
		return (int64_t)rows + 1;
	int64_t v = fixed[(which - 2) % (wide ? 7 : 3)];
	return v;
}
#define N_BAD 9

static void oor_case(const embstore_kernel_table *k, embstore_dtype dt, uint32_t dim, int wide, unsigned which)
{
	uint64_t rows = 1 + below(20);
	size_t n = 1 + below(40), pos = below(n);
	int64_t badv = bad_value(wide, rows, which);
	char ctx[200];
	snprintf(ctx, sizeof ctx, "out of range %s %s dim %u id%d rows %llu bad id %lld at %zu of %zu",
	         embstore_isa_name(k->isa), embstore_dtype_name(dt), dim, wide ? 64 : 32, (unsigned long long)rows,
	         (long long)badv, pos, n);
	tab t;
	tab_new(&t, dt, rows, dim, below(2), 0);
	unsigned char *orig = malloc(t.bytes + GUARD);
	cr_assert(orig);
	memcpy(orig, t.mem, t.bytes + GUARD);
	void *ids = ids_new(n, rows, wide);
	ids_put(ids, wide, pos, badv);
	if (pos + 1 < n && below(2))
		ids_put(ids, wide, pos + 1 + below(n - pos - 1), -1); /* a second bad id after it */
	size_t bad = SIZE_MAX;

	/* gather: rows before pos written as scalar writes them, nothing from pos on. */
	outbuf want = out_new(n * dim, 0), got = out_new(n * dim, 1);
	if (pos > 0)
		cr_assert_eq(scalar->gather(&t.m, ids, id_type_of(wide), pos, want.p, &bad), EMBSTORE_OK);
	cr_assert_eq(k->gather(&t.m, ids, id_type_of(wide), n, got.p, &bad), EMBSTORE_ID_OUT_OF_RANGE, "%s", ctx);
	cr_assert_eq(bad, pos, "%s: gather says %zu", ctx, bad);
	expect_bitwise(want.p, got.p, pos * dim, ctx);
	for (size_t i = pos * dim; i < n * dim; i++)
		cr_assert(is_sentinel(&got.p[i]), "%s: gather wrote output row %zu", ctx, i / dim);
	out_check_guards(&got, ctx);

	/* bags: one bag per id pair; bad_index is the position in ids. */
	size_t n_bags = (n + 1) / 2;
	int64_t *offsets = malloc((n_bags + 1) * 8);
	cr_assert(offsets);
	for (size_t b = 0; b <= n_bags; b++)
		offsets[b] = (int64_t)(2 * b < n ? 2 * b : n);
	for (int mode = 0; mode < 3; mode++) {
		outbuf bo = out_new(n_bags * dim, 1);
		bad = SIZE_MAX;
		cr_assert_eq(k->gather_bag(&t.m, ids, id_type_of(wide), offsets, n_bags, NULL, (embstore_bag_mode)mode,
		                           bo.p, &bad),
		             EMBSTORE_ID_OUT_OF_RANGE, "%s bag mode %d", ctx, mode);
		cr_assert_eq(bad, pos, "%s: bag mode %d says %zu", ctx, mode, bad);
		out_check_guards(&bo, ctx);
		out_free(&bo);
	}
	cr_assert(memcmp(orig, t.mem, t.bytes + GUARD) == 0, "%s: gather or bag wrote to the table", ctx);

	/* scatter-add: rows updated by the ids before pos exactly as scalar does, nothing else. */
	if (dt == EMBSTORE_F32) {
		float *grads = malloc(n * dim * 4);
		cr_assert(grads);
		for (size_t i = 0; i < n * dim; i++)
			grads[i] = unit();
		unsigned char *mem2 = malloc(t.bytes + GUARD);
		cr_assert(mem2);
		memcpy(mem2, orig, t.bytes + GUARD);
		embstore_matrix m2 = t.m;
		m2.data = mem2;
		if (pos > 0)
			cr_assert_eq(scalar->scatter_add(&m2, ids, id_type_of(wide), pos, grads, -0.25f, 0, rows, &bad),
			             EMBSTORE_OK);
		bad = SIZE_MAX;
		cr_assert_eq(k->scatter_add(&t.m, ids, id_type_of(wide), n, grads, -0.25f, 0, rows, &bad),
		             EMBSTORE_ID_OUT_OF_RANGE, "%s", ctx);
		cr_assert_eq(bad, pos, "%s: scatter-add says %zu", ctx, bad);
		cr_assert(memcmp(mem2, t.mem, t.bytes + GUARD) == 0, "%s: scatter-add table differs", ctx);
		free(mem2);
		free(grads);
	}
	free(offsets);
	out_free(&want);
	out_free(&got);
	free(orig);
	free(ids);
	tab_free(&t);
}

Test(out_of_range, every_set_and_kernel)
{
	for (unsigned isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		const embstore_kernel_table *k = kernels_or_skip((embstore_isa)isa);
		if (!k)
			continue;
		for (size_t ti = 0; ti < N_DTYPES; ti++)
			for (int wide = 0; wide < 2; wide++)
				for (unsigned which = 0; which < N_BAD; which++)
					oor_case(k, dtypes[ti], (uint32_t)(1 + below(40)), wide, which);
	}
}

/* ---- public entry points ---- */

/* A valid f32 table for the checks below. */
static float api_rows[4][3];
static embstore_matrix api_table(void)
{
	return (embstore_matrix){.data = api_rows, .rows = 4, .row_stride = 12, .dim = 3, .dtype = EMBSTORE_F32};
}

static embstore_status call_gather(const embstore_matrix *m, const void *ids, embstore_id_type it, size_t n,
                                   float *out, int mt)
{
	size_t bad = 777;
	embstore_status s = mt ? embstore_gather_mt(m, ids, it, n, out, &bad, 3)
	                       : embstore_gather(m, ids, it, n, out, &bad);
	cr_assert(s == EMBSTORE_ID_OUT_OF_RANGE || bad == 777, "bad_index written on status %d", (int)s);
	return s;
}

static embstore_status call_bag(const embstore_matrix *m, const void *ids, embstore_id_type it, size_t n_ids,
                                const int64_t *offsets, size_t n_bags, embstore_bag_mode mode, float *out, int mt)
{
	size_t bad = 777;
	embstore_status s = mt ? embstore_gather_bag_mt(m, ids, it, n_ids, offsets, n_bags, NULL, mode, out, &bad, 3)
	                       : embstore_gather_bag(m, ids, it, n_ids, offsets, n_bags, NULL, mode, out, &bad);
	cr_assert(s == EMBSTORE_ID_OUT_OF_RANGE || bad == 777, "bad_index written on status %d", (int)s);
	return s;
}

static embstore_status call_scatter(const embstore_matrix *m, const void *ids, embstore_id_type it, size_t n,
                                    const float *grads, int mt)
{
	size_t bad = 777;
	embstore_status s = mt ? embstore_scatter_add_mt(m, ids, it, n, grads, 1.0f, &bad, 3)
	                       : embstore_scatter_add(m, ids, it, n, grads, 1.0f, &bad);
	cr_assert(s == EMBSTORE_ID_OUT_OF_RANGE || bad == 777, "bad_index written on status %d", (int)s);
	return s;
}

Test(api, argument_checks)
{
	int32_t ids[2] = {0, 3};
	float out[6], grads[6] = {0};
	int64_t off[3] = {0, 1, 2};
	for (int mt = 0; mt < 2; mt++) {
		embstore_matrix m = api_table();
		cr_assert_eq(call_gather(&m, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_OK);
		cr_assert_eq(call_gather(NULL, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_gather(&m, NULL, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_gather(&m, ids, EMBSTORE_ID32, 2, NULL, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_gather(&m, NULL, EMBSTORE_ID32, 0, NULL, mt), EMBSTORE_OK);
		cr_assert_eq(call_gather(&m, ids, (embstore_id_type)2, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_gather(&m, ids, (embstore_id_type)0, 0, out, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_gather(&m, ids, EMBSTORE_ID32, SIZE_MAX / 2, out, mt), EMBSTORE_INVALID_ARGUMENT);

		/* Bad matrices. */
		embstore_matrix b = m;
		b.data = NULL;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.rows = 0;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 0, out, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.dim = 0;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 0, out, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.dtype = (embstore_dtype)0;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_BAD_DTYPE);
		b = m, b.dtype = (embstore_dtype)5;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_BAD_DTYPE);
		b = m, b.row_stride = 8;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.row_stride = 14; /* not a multiple of 4 */
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.rows = UINT64_MAX / 8; /* rows * row_stride does not fit */
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.dtype = EMBSTORE_F16, b.row_stride = 7;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.dtype = EMBSTORE_INT8_ROWWISE, b.row_stride = 11; /* dim + 8 */
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_OK);
		b.row_stride = 10;
		cr_assert_eq(call_gather(&b, ids, EMBSTORE_ID32, 2, out, mt), EMBSTORE_INVALID_ARGUMENT);

		/* Bags. */
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, off, 2, EMBSTORE_BAG_SUM, out, mt), EMBSTORE_OK);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, NULL, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, NULL, EMBSTORE_ID32, 2, off, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, off, 2, EMBSTORE_BAG_SUM, NULL, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, off, 2, (embstore_bag_mode)3, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, off, 2, (embstore_bag_mode)-1, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, (embstore_id_type)3, 2, off, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		int64_t start1[3] = {1, 1, 2}, down[3] = {0, 2, 1}, short_end[3] = {0, 1, 1}, long_end[3] = {0, 1, 3};
		int64_t neg[3] = {0, -1, 2};
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, start1, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, down, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, short_end, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, long_end, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_bag(&m, ids, EMBSTORE_ID32, 2, neg, 2, EMBSTORE_BAG_SUM, out, mt),
		             EMBSTORE_INVALID_ARGUMENT);
		int64_t zero = 0;
		cr_assert_eq(call_bag(&m, NULL, EMBSTORE_ID32, 0, &zero, 0, EMBSTORE_BAG_MAX, NULL, mt), EMBSTORE_OK);
		b = m, b.dtype = (embstore_dtype)9;
		cr_assert_eq(call_bag(&b, ids, EMBSTORE_ID32, 2, off, 2, EMBSTORE_BAG_SUM, out, mt), EMBSTORE_BAD_DTYPE);

		/* Scatter-add. */
		cr_assert_eq(call_scatter(&m, ids, EMBSTORE_ID32, 2, grads, mt), EMBSTORE_OK);
		cr_assert_eq(call_scatter(&m, NULL, EMBSTORE_ID32, 2, grads, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_scatter(&m, ids, EMBSTORE_ID32, 2, NULL, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_scatter(&m, NULL, EMBSTORE_ID32, 0, NULL, mt), EMBSTORE_OK);
		cr_assert_eq(call_scatter(&m, ids, (embstore_id_type)16, 2, grads, mt), EMBSTORE_INVALID_ARGUMENT);
		cr_assert_eq(call_scatter(NULL, ids, EMBSTORE_ID32, 2, grads, mt), EMBSTORE_INVALID_ARGUMENT);
		b = m, b.dtype = EMBSTORE_F16, b.row_stride = 6;
		cr_assert_eq(call_scatter(&b, ids, EMBSTORE_ID32, 2, grads, mt), EMBSTORE_BAD_DTYPE);
		b = m, b.dtype = EMBSTORE_INT8_ROWWISE, b.row_stride = 11;
		cr_assert_eq(call_scatter(&b, ids, EMBSTORE_ID32, 2, grads, mt), EMBSTORE_BAD_DTYPE);
		b = m, b.dtype = (embstore_dtype)0;
		cr_assert_eq(call_scatter(&b, ids, EMBSTORE_ID32, 2, grads, mt), EMBSTORE_BAD_DTYPE);

		/* Out of range through the public calls. */
		int64_t bad_ids[3] = {1, 2, 4};
		size_t bad = 0;
		cr_assert_eq(mt ? embstore_gather_mt(&m, bad_ids, EMBSTORE_ID64, 3, out, &bad, 2)
		                : embstore_gather(&m, bad_ids, EMBSTORE_ID64, 3, out, &bad),
		             EMBSTORE_ID_OUT_OF_RANGE);
		cr_assert_eq(bad, 2);
		cr_assert_eq(mt ? embstore_gather_mt(&m, bad_ids, EMBSTORE_ID64, 3, out, NULL, 2)
		                : embstore_gather(&m, bad_ids, EMBSTORE_ID64, 3, out, NULL),
		             EMBSTORE_ID_OUT_OF_RANGE);
	}
}

/* The public calls give the reference's results, whichever set is active (the suite runs once per set). */
Test(api, public_calls_match_scalar)
{
	tab t;
	tab_new(&t, EMBSTORE_F32, 50, 21, 1, 0);
	size_t n = 300;
	void *ids = ids_new(n, 50, 1);
	float *want = malloc(n * 21 * 4), *got = malloc(n * 21 * 4);
	cr_assert(want && got);
	size_t bad;
	cr_assert_eq(scalar->gather(&t.m, ids, EMBSTORE_ID64, n, want, &bad), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&t.m, ids, EMBSTORE_ID64, n, got, &bad), EMBSTORE_OK);
	expect_bitwise(want, got, n * 21, "embstore_gather");
	int64_t offsets[4] = {0, 100, 100, 300};
	cr_assert_eq(scalar->gather_bag(&t.m, ids, EMBSTORE_ID64, offsets, 3, NULL, EMBSTORE_BAG_MEAN, want, &bad),
	             EMBSTORE_OK);
	cr_assert_eq(embstore_gather_bag(&t.m, ids, EMBSTORE_ID64, 300, offsets, 3, NULL, EMBSTORE_BAG_MEAN, got, &bad),
	             EMBSTORE_OK);
	expect_close(want, got, 3 * 21, "embstore_gather_bag");
	free(want);
	free(got);
	free(ids);
	tab_free(&t);
}

/* ---- parallel variants ---- */

static const unsigned thread_counts[] = {0, 1, 2, 3, 7};

Test(mt, gather_and_bag_equal_single_thread)
{
	enum { ROWS = 4000, DIM = 33 };
	for (size_t ti = 0; ti < N_DTYPES; ti++) {
		tab t;
		tab_new(&t, dtypes[ti], ROWS, DIM, 0, 0);
		size_t n = 30000; /* about a million floats out: enough for 7 threads */
		void *ids = ids_new(n, ROWS, (int)(ti & 1));
		embstore_id_type it = id_type_of((int)(ti & 1));
		outbuf want = out_new(n * DIM, 0);
		size_t bad;
		cr_assert_eq(embstore_gather(&t.m, ids, it, n, want.p, &bad), EMBSTORE_OK);
		size_t n_bags = 5000;
		int64_t *offsets = malloc((n_bags + 1) * 8);
		float *weights = malloc(n * 4);
		cr_assert(offsets && weights);
		for (size_t i = 0; i < n; i++)
			weights[i] = unit();
		offsets[0] = 0;
		for (size_t b = 0; b < n_bags; b++) /* uneven bags, some empty, all ids used */
			offsets[b + 1] = b + 1 == n_bags ? (int64_t)n : offsets[b] + (int64_t)below(11);
		cr_assert(offsets[n_bags - 1] <= (int64_t)n);
		embstore_bag_mode mode = (embstore_bag_mode)(ti % 3);
		outbuf bag_want = out_new(n_bags * DIM, 0);
		cr_assert_eq(embstore_gather_bag(&t.m, ids, it, n, offsets, n_bags, weights, mode, bag_want.p, &bad),
		             EMBSTORE_OK);
		for (size_t c = 0; c < sizeof thread_counts / sizeof thread_counts[0]; c++) {
			unsigned threads = thread_counts[c];
			outbuf got = out_new(n * DIM, 1);
			cr_assert_eq(embstore_gather_mt(&t.m, ids, it, n, got.p, &bad, threads), EMBSTORE_OK);
			expect_bitwise(want.p, got.p, n * DIM, "gather_mt");
			out_check_guards(&got, "gather_mt");
			out_free(&got);
			outbuf bag_got = out_new(n_bags * DIM, 1);
			cr_assert_eq(embstore_gather_bag_mt(&t.m, ids, it, n, offsets, n_bags, weights, mode, bag_got.p, &bad,
			                                    threads),
			             EMBSTORE_OK);
			expect_bitwise(bag_want.p, bag_got.p, n_bags * DIM, "gather_bag_mt");
			out_check_guards(&bag_got, "gather_bag_mt");
			out_free(&bag_got);
		}
		/* Several bad ids: the smallest position is reported. */
		ids_put(ids, (int)(ti & 1), 25000, -5);
		ids_put(ids, (int)(ti & 1), 20001, ROWS);
		ids_put(ids, (int)(ti & 1), 29999, ROWS + 1);
		for (size_t c = 0; c < sizeof thread_counts / sizeof thread_counts[0]; c++) {
			outbuf got = out_new(n * DIM, 0);
			bad = 0;
			cr_assert_eq(embstore_gather_mt(&t.m, ids, it, n, got.p, &bad, thread_counts[c]),
			             EMBSTORE_ID_OUT_OF_RANGE);
			cr_assert_eq(bad, 20001);
			out_check_guards(&got, "gather_mt bad id");
			out_free(&got);
			outbuf bag_got = out_new(n_bags * DIM, 0);
			bad = 0;
			cr_assert_eq(embstore_gather_bag_mt(&t.m, ids, it, n, offsets, n_bags, NULL, mode, bag_got.p, &bad,
			                                    thread_counts[c]),
			             EMBSTORE_ID_OUT_OF_RANGE);
			cr_assert_eq(bad, 20001);
			out_check_guards(&bag_got, "gather_bag_mt bad id");
			out_free(&bag_got);
		}
		out_free(&want);
		out_free(&bag_want);
		free(offsets);
		free(weights);
		free(ids);
		tab_free(&t);
	}
}

Test(mt, scatter_add_equals_sequential)
{
	static const uint64_t row_counts[] = {1, 3, 97, 5000};
	for (size_t rc = 0; rc < sizeof row_counts / sizeof row_counts[0]; rc++) {
		uint64_t rows = row_counts[rc];
		enum { DIM = 33 };
		size_t n = 40000; /* many duplicates: each row of 97 is hit ~400 times */
		int wide = (int)(rc & 1);
		tab base;
		tab_new(&base, EMBSTORE_F32, rows, DIM, rc == 2 ? 3 : 0, 0);
		void *ids = ids_new(n, rows, wide);
		if (rows == 5000) /* skewed, as real batches are: 80% of the updates go to 8 hot rows */
			for (size_t i = 0; i < n; i++)
				if (below(10) < 8)
					ids_put(ids, wide, i, 4000 + (int64_t)below(8));
		float *grads = malloc(n * DIM * 4);
		cr_assert(grads);
		for (size_t i = 0; i < n * DIM; i++)
			grads[i] = unit();
		unsigned char *want = malloc(base.bytes + GUARD), *got = malloc(base.bytes + GUARD);
		cr_assert(want && got);
		memcpy(want, base.mem, base.bytes + GUARD);
		embstore_matrix m = base.m;
		m.data = want;
		size_t bad;
		cr_assert_eq(embstore_scatter_add(&m, ids, id_type_of(wide), n, grads, -0.3f, &bad), EMBSTORE_OK);
		for (size_t c = 0; c < sizeof thread_counts / sizeof thread_counts[0]; c++) {
			memcpy(got, base.mem, base.bytes + GUARD);
			m.data = got;
			cr_assert_eq(embstore_scatter_add_mt(&m, ids, id_type_of(wide), n, grads, -0.3f, &bad, thread_counts[c]),
			             EMBSTORE_OK);
			cr_assert(memcmp(want, got, base.bytes + GUARD) == 0, "scatter_add_mt rows %llu threads %u",
			          (unsigned long long)rows, thread_counts[c]);
		}
		/* Bad ids: the smallest position, and (every thread stopping there) only the ids before it applied. */
		ids_put(ids, wide, 31000, (int64_t)rows);
		ids_put(ids, wide, 12345, -1);
		memcpy(want, base.mem, base.bytes + GUARD);
		m.data = want;
		cr_assert_eq(embstore_scatter_add(&m, ids, id_type_of(wide), 12345, grads, -0.3f, &bad), EMBSTORE_OK);
		for (size_t c = 0; c < sizeof thread_counts / sizeof thread_counts[0]; c++) {
			memcpy(got, base.mem, base.bytes + GUARD);
			m.data = got;
			bad = 0;
			cr_assert_eq(embstore_scatter_add_mt(&m, ids, id_type_of(wide), n, grads, -0.3f, &bad, thread_counts[c]),
			             EMBSTORE_ID_OUT_OF_RANGE);
			cr_assert_eq(bad, 12345);
			cr_assert(got[base.bytes] == TABLE_CANARY && got[base.bytes + GUARD - 1] == TABLE_CANARY);
			cr_assert(memcmp(want, got, base.bytes + GUARD) == 0);
		}
		free(want);
		free(got);
		free(grads);
		free(ids);
		tab_free(&base);
	}
}

/* ---- kernel sets and CPU features ---- */

Test(isa, names_and_parse)
{
	for (unsigned isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		embstore_isa back = EMBSTORE_ISA_COUNT;
		cr_assert_not_null(embstore_isa_name((embstore_isa)isa));
		cr_assert_eq(embstore_isa_parse(embstore_isa_name((embstore_isa)isa), &back), EMBSTORE_OK);
		cr_assert_eq(back, isa);
	}
	embstore_isa x;
	cr_assert_null(embstore_isa_name(EMBSTORE_ISA_COUNT));
	cr_assert_eq(embstore_isa_parse("sse9", &x), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_isa_parse("", &x), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_isa_parse(NULL, &x), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_isa_parse("scalar", NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_assert(embstore_isa_supported(EMBSTORE_ISA_SCALAR));
	cr_assert(!embstore_isa_supported(EMBSTORE_ISA_COUNT));
	cr_assert(!embstore_isa_supported((embstore_isa)-1));
}

Test(isa, active_follows_environment_and_set)
{
	embstore_isa active;
	const char *env = getenv("EMBSTORE_ISA");
	embstore_isa forced;
	if (env && *env && embstore_isa_parse(env, &forced) == EMBSTORE_OK && embstore_isa_supported(forced)) {
		cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
		cr_assert_eq(active, forced, "EMBSTORE_ISA=%s but %s is active", env, embstore_isa_name(active));
	} else if (!env || !*env) {
		/* The best set: nothing supported ranks above it (on x86, avx512 over avx2 over scalar). */
		cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
		for (unsigned isa = active + 1; isa < EMBSTORE_ISA_COUNT; isa++)
			cr_assert(!embstore_isa_supported((embstore_isa)isa), "%s active, %s supported",
			          embstore_isa_name(active), embstore_isa_name((embstore_isa)isa));
	}
	cr_assert_eq(embstore_isa_active(NULL), EMBSTORE_INVALID_ARGUMENT);
	for (unsigned isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		if (embstore_isa_supported((embstore_isa)isa)) {
			cr_assert_eq(embstore_isa_set((embstore_isa)isa), EMBSTORE_OK);
			cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
			cr_assert_eq(active, isa);
		} else {
			cr_assert_eq(embstore_isa_set((embstore_isa)isa), EMBSTORE_UNSUPPORTED_ISA);
			cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
			cr_assert_neq(active, isa);
		}
	}
	cr_assert_eq(embstore_isa_set(EMBSTORE_ISA_COUNT), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_isa_set((embstore_isa)-7), EMBSTORE_UNSUPPORTED_ISA);
	/* x86 builds never have neon, AArch64 builds never avx2: one of them is always refused. */
	cr_assert(!embstore_isa_supported(EMBSTORE_ISA_NEON) || !embstore_isa_supported(EMBSTORE_ISA_AVX2));
}

/* With EMBSTORE_ISA naming an unusable set, every kernel refuses until embstore_isa_set picks a usable one.
 * Criterion runs each test in a fresh process, so the kernel table is not resolved yet when these start. */
static void refuses_until_set(const char *name)
{
	setenv("EMBSTORE_ISA", name, 1);
	embstore_matrix m = api_table();
	int32_t id = 1;
	float out[3], g[3] = {0};
	int64_t off[2] = {0, 1};
	size_t bad;
	embstore_isa active = EMBSTORE_ISA_COUNT;
	cr_assert_eq(embstore_isa_active(&active), EMBSTORE_UNSUPPORTED_ISA, "EMBSTORE_ISA=%s", name);
	cr_assert_eq(active, EMBSTORE_ISA_COUNT);
	cr_assert_eq(embstore_gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather_mt(&m, &id, EMBSTORE_ID32, 1, out, &bad, 4), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather_bag(&m, &id, EMBSTORE_ID32, 1, off, 1, NULL, EMBSTORE_BAG_SUM, out, &bad),
	             EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather_bag_mt(&m, &id, EMBSTORE_ID32, 1, off, 1, NULL, EMBSTORE_BAG_SUM, out, &bad, 2),
	             EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_scatter_add(&m, &id, EMBSTORE_ID32, 1, g, 1.0f, &bad), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_scatter_add_mt(&m, &id, EMBSTORE_ID32, 1, g, 1.0f, &bad, 2), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_isa_set(EMBSTORE_ISA_COUNT), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_isa_set(EMBSTORE_ISA_SCALAR), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_OK);
	cr_assert(memcmp(out, api_rows[1], sizeof out) == 0);
	cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
	cr_assert_eq(active, EMBSTORE_ISA_SCALAR);
}

Test(isa, unknown_environment_refuses_until_set)
{
	refuses_until_set("sse9");
}

Test(isa, unsupported_environment_refuses_until_set)
{
	/* A real set name this build or CPU cannot run: neon on x86, avx2 elsewhere. */
	embstore_isa isa = embstore_isa_supported(EMBSTORE_ISA_NEON) ? EMBSTORE_ISA_AVX2 : EMBSTORE_ISA_NEON;
	cr_assert(!embstore_isa_supported(isa));
	refuses_until_set(embstore_isa_name(isa));
}

Test(isa, cpu_features)
{
	uint64_t f = embstore_cpu_features();
	cr_assert_eq(f, embstore_cpu_features(), "detection is stable");
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name = embstore_cpu_feature_name(bit);
		if (f & ((uint64_t)1 << bit))
			cr_assert_not_null(name, "feature bit %u has no name", bit);
		for (unsigned other = 0; name && other < bit; other++) {
			const char *o = embstore_cpu_feature_name(other);
			cr_assert(!o || strcmp(o, name) != 0, "bits %u and %u are both %s", other, bit, name);
		}
	}
	cr_assert_null(embstore_cpu_feature_name(64));
	cr_assert_null(embstore_cpu_feature_name(63));
	/* A usable vector set implies the features it was chosen for. */
	if (embstore_isa_supported(EMBSTORE_ISA_AVX2))
		cr_assert((f & ES_CPU_BIT(ES_CPU_AVX2)) && (f & ES_CPU_BIT(ES_CPU_FMA)) && (f & ES_CPU_BIT(ES_CPU_F16C)) &&
		          (f & ES_CPU_BIT(ES_CPU_OS_YMM)));
	if (embstore_isa_supported(EMBSTORE_ISA_AVX512))
		cr_assert((f & ES_CPU_BIT(ES_CPU_AVX512F)) && (f & ES_CPU_BIT(ES_CPU_AVX512BW)) &&
		          (f & ES_CPU_BIT(ES_CPU_AVX512VL)) && (f & ES_CPU_BIT(ES_CPU_OS_ZMM)));
	if (embstore_isa_supported(EMBSTORE_ISA_NEON))
		cr_assert(f & ES_CPU_BIT(ES_CPU_NEON));
	if (f & ES_CPU_BIT(ES_CPU_OS_ZMM))
		cr_assert(f & ES_CPU_BIT(ES_CPU_OS_YMM));
}

/* ---- training ---- */

/* Learn a table so that each row's dot product with a fixed vector v hits that row's target, by SGD through
 * gather and scatter-add: loss = mean over a batch of (row . v - y)^2, d loss / d row = 2 (row . v - y) v / B. */
Test(train, sgd_with_scatter_add)
{
	enum { ROWS = 64, DIM = 16, BATCH = 32, STEPS = 400 };
	static float table[ROWS][DIM];
	float v[DIM], y[ROWS];
	for (int j = 0; j < DIM; j++)
		v[j] = unit();
	for (int r = 0; r < ROWS; r++) {
		y[r] = unit() * 4.0f;
		for (int j = 0; j < DIM; j++)
			table[r][j] = unit() * 0.1f;
	}
	embstore_matrix m = {.data = table, .rows = ROWS, .row_stride = DIM * 4, .dim = DIM, .dtype = EMBSTORE_F32};
	double first = 0, last = 0;
	for (int step = 0; step <= STEPS; step++) {
		int64_t ids[BATCH];
		float rows[BATCH * DIM], grads[BATCH * DIM];
		size_t bad;
		for (int i = 0; i < BATCH; i++)
			ids[i] = (int64_t)below(ROWS);
		cr_assert_eq(embstore_gather(&m, ids, EMBSTORE_ID64, BATCH, rows, &bad), EMBSTORE_OK);
		double loss = 0;
		for (int i = 0; i < BATCH; i++) {
			float dot = 0;
			for (int j = 0; j < DIM; j++)
				dot += rows[i * DIM + j] * v[j];
			float err = dot - y[ids[i]];
			loss += (double)err * err / BATCH;
			for (int j = 0; j < DIM; j++)
				grads[i * DIM + j] = 2.0f * err * v[j] / BATCH;
		}
		if (step == 0)
			first = loss;
		last = loss;
		if (step < STEPS)
			cr_assert_eq(embstore_scatter_add_mt(&m, ids, EMBSTORE_ID64, BATCH, grads, -1.0f, &bad, 2), EMBSTORE_OK);
	}
	/* Full loss over every row at the end. */
	double full = 0;
	for (int r = 0; r < ROWS; r++) {
		float dot = 0;
		for (int j = 0; j < DIM; j++)
			dot += table[r][j] * v[j];
		full += (double)(dot - y[r]) * (dot - y[r]) / ROWS;
	}
	cr_log_info("SGD loss %g -> %g (batch), %g (all rows)", first, last, full);
	cr_assert(full < first / 1000, "loss fell from %g to only %g", first, full);
}
