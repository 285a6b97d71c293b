/* kernel_cases.c: see kernel_cases.h. */
#include "kernel_cases.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ---- checks ---- */

unsigned long kc_passed;

int kc_check_at(const char *file, int line, int ok, const char *fmt, ...)
{
	if (ok) {
		kc_passed++;
		return 1;
	}
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	kc_failed(file, line, msg);
	return 0;
}

/* ---- random numbers and memory ---- */

/* One deterministic stream per process. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	return rng_next(&rng);
}

/* Uniform in [0, n), n >= 1. */
static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* Uniform in [-1, 1). */
static float unit(void)
{
	return rng_unit(&rng);
}

void *kc_alloc(size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);
	if (!p)
		abort();
	return p;
}

/* ---- buffers with canaries ---- */

#define SENTINEL 0x7fa5a5a5u /* a signalling NaN no kernel produces */
#define TABLE_CANARY 0xa5

/* n output floats at p, KC_GUARD sentinels on each side. */
typedef struct outbuf {
	float *base;
	float *p;
	size_t n;
	size_t total;
} outbuf;

/* shift 1 makes p only 4-byte aligned relative to a 64-byte aligned base. */
static outbuf out_new(size_t n, unsigned shift)
{
	outbuf o;
	o.total = n + 2 * KC_GUARD + shift;
	o.base = aligned_alloc(64, ((o.total * 4 + 63) / 64) * 64);
	if (!o.base)
		abort();
	for (size_t i = 0; i < o.total; i++) {
		uint32_t s = SENTINEL;
		memcpy(&o.base[i], &s, 4);
	}
	o.p = o.base + KC_GUARD + shift;
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
static int out_check_guards(const outbuf *o, const char *ctx)
{
	for (const float *f = o->base; f < o->p; f++)
		if (!is_sentinel(f))
			return KC_CHECK(0, "%s: write before the output (%td floats before)", ctx, o->p - f);
	for (const float *f = o->p + o->n; f < o->base + o->total; f++)
		if (!is_sentinel(f))
			return KC_CHECK(0, "%s: write after the output (%td floats after)", ctx, f - (o->p + o->n));
	return KC_CHECK(1, "guards");
}

static void out_free(outbuf *o)
{
	free(o->base);
	o->base = o->p = NULL;
}

/* n f16 or bf16 output codes at p (any byte address: shift 1 puts p at an odd one), KC_GUARD bytes of OUT16_CANARY
 * on each side, and the same bytes in the output itself until something writes it. */
#define OUT16_CANARY 0xa5
typedef struct out16 {
	unsigned char *base;
	unsigned char *p;
	size_t n;
	size_t total;
} out16;

static out16 out16_new(size_t n, unsigned shift)
{
	out16 o;
	o.total = n * 2 + 2 * KC_GUARD + shift;
	o.base = kc_alloc(o.total);
	memset(o.base, OUT16_CANARY, o.total);
	o.p = o.base + KC_GUARD + shift;
	o.n = n;
	return o;
}

static int out16_check_guards(const out16 *o, const char *ctx)
{
	for (const unsigned char *b = o->base; b < o->p; b++)
		if (*b != OUT16_CANARY)
			return KC_CHECK(0, "%s: write before the 16-bit output (%td bytes before)", ctx, o->p - b);
	for (const unsigned char *b = o->p + o->n * 2; b < o->base + o->total; b++)
		if (*b != OUT16_CANARY)
			return KC_CHECK(0, "%s: write after the 16-bit output (%td bytes after)", ctx, b - (o->p + o->n * 2));
	return KC_CHECK(1, "guards");
}

static void out16_free(out16 *o)
{
	free(o->base);
	o->base = o->p = NULL;
}

static uint16_t code_at(const unsigned char *p, size_t i)
{
	uint16_t h;
	memcpy(&h, p + i * 2, 2);
	return h;
}

static int code_is_nan(embstore_dtype d, uint16_t h)
{
	return d == EMBSTORE_F16 ? (h & 0x7fff) > 0x7c00 : (h & 0x7fff) > 0x7f80;
}

/* The codes k wrote against scalar's: bitwise, or (nan_any, for bags) a NaN wherever scalar's is one. */
static int expect_codes(embstore_dtype d, const unsigned char *want, const unsigned char *got, size_t n, int nan_any,
                        const char *ctx)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t a = code_at(want, i), b = code_at(got, i);
		if (nan_any && code_is_nan(d, a) ? !code_is_nan(d, b) : a != b)
			return KC_CHECK(0, "%s: code %zu is %04x, scalar gives %04x", ctx, i, b, a);
	}
	return KC_CHECK(1, "codes");
}

/* The reference's codes are its f32 results rounded by the library's own conversion. */
static int expect_rounded(embstore_dtype d, const float *f32, const unsigned char *codes, size_t n, const char *ctx)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t want = d == EMBSTORE_F16 ? embstore_f32_to_f16(f32[i]) : embstore_f32_to_bf16(f32[i]);
		if (code_at(codes, i) != want)
			return KC_CHECK(0, "%s: code %zu is %04x, %a rounds to %04x", ctx, i, code_at(codes, i),
			                (double)f32[i], want);
	}
	return KC_CHECK(1, "rounded");
}

static const embstore_dtype narrow_outs[2] = {EMBSTORE_F16, EMBSTORE_BF16};

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

void kc_table_new(kc_table *t, embstore_dtype dt, uint64_t rows, uint32_t dim, size_t pad, int raw)
{
	size_t row_bytes = (size_t)embstore_row_bytes(dt, dim);
	if (row_bytes == 0)
		abort();
	size_t stride = row_bytes + pad * (size_t)es_elem_bytes(dt);
	t->bytes = (size_t)rows * stride;
	t->mem = kc_alloc(t->bytes + KC_GUARD);
	for (size_t i = 0; i < t->bytes; i++)
		t->mem[i] = (unsigned char)rnd();
	memset(t->mem + t->bytes, TABLE_CANARY, KC_GUARD);
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

static int table_check_guard(const kc_table *t, const char *ctx)
{
	for (size_t i = 0; i < KC_GUARD; i++)
		if (t->mem[t->bytes + i] != TABLE_CANARY)
			return KC_CHECK(0, "%s: write after the table", ctx);
	return KC_CHECK(1, "table guard");
}

void kc_table_free(kc_table *t)
{
	free(t->mem);
	t->mem = NULL;
}

static void ids_put(void *ids, int wide, size_t i, int64_t v)
{
	if (wide)
		((int64_t *)ids)[i] = v;
	else
		((int32_t *)ids)[i] = (int32_t)v;
}

void *kc_ids_new(size_t n, uint64_t rows, int wide)
{
	void *ids = kc_alloc(n * (wide ? 8 : 4));
	for (size_t i = 0; i < n; i++)
		ids_put(ids, wide, i, (int64_t)below(rows));
	return ids;
}

static embstore_id_type id_type_of(int wide)
{
	return wide ? EMBSTORE_ID64 : EMBSTORE_ID32;
}

int kc_expect_bitwise(const float *want, const float *got, size_t n, const char *ctx)
{
	if (n == 0 || memcmp(want, got, n * 4) == 0)
		return KC_CHECK(1, "bitwise");
	for (size_t i = 0; i < n; i++) {
		uint32_t a, b;
		memcpy(&a, &want[i], 4);
		memcpy(&b, &got[i], 4);
		if (a != b)
			return KC_CHECK(0, "%s: element %zu is %08x (%g), scalar gives %08x (%g)", ctx, i, b, (double)got[i],
			                a, (double)want[i]);
	}
	return 0;
}

int kc_expect_bitwise_or_nan(const float *want, const float *got, size_t n, const char *ctx)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t a, b;
		memcpy(&a, &want[i], 4);
		memcpy(&b, &got[i], 4);
		if (isnan(want[i]) ? !isnan(got[i]) : a != b)
			return KC_CHECK(0, "%s: element %zu is %08x (%g), scalar gives %08x (%g)", ctx, i, b, (double)got[i],
			                a, (double)want[i]);
	}
	return KC_CHECK(1, "bitwise or NaN");
}

/* 1e-5 relative, plus a little absolute room for sums that cancel. */
int kc_expect_close(const float *want, const float *got, size_t n, const char *ctx)
{
	for (size_t i = 0; i < n; i++) {
		double a = want[i], b = got[i];
		if (isnan(a) && isnan(b))
			continue;
		if (!(fabs(a - b) <= 1e-5 * fmax(fabs(a), fabs(b)) + 1e-6))
			return KC_CHECK(0, "%s: element %zu is %.9g, scalar gives %.9g", ctx, i, b, a);
	}
	return KC_CHECK(1, "close");
}

#define N_DTYPES 4
static const embstore_dtype dtypes[N_DTYPES] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE};

/* Every dim from 1 to 80 covers every remainder of 8- and 16-lane vectors and of their 2x unrolled loops; the
 * larger ones add long rows, the dims above 80 that bags have loops of their own for (kernel_loops.h, BAG_DIMS)
 * with one either side, and the largest tested dim. */
static const uint32_t big_dims[] = {95,  96,  97,  127, 128, 129, 191, 192, 193, 255, 256, 257, 299, 300, 301,
                                    383, 384, 385, 511, 512, 513, 767, 768, 769, 1000, 1023, 1024, 1031};
#define N_BIG (sizeof big_dims / sizeof big_dims[0])
#define N_DIMS (80 + N_BIG)

static uint32_t dim_at(size_t i)
{
	return i < 80 ? (uint32_t)i + 1 : big_dims[i - 80];
}

static const embstore_kernel_table *const scalar = &embstore_kernels_scalar;

/* ---- gather ---- */

/* The gather of gather_case (below) with f16 or bf16 output, whose f32 results (scalar's) were f32. */
static void gather_narrow_case(const embstore_kernel_table *k, const embstore_matrix *m, const void *ids, int wide,
                               size_t n, embstore_dtype od, const float *f32, unsigned shift, int stream,
                               const char *ctx0)
{
	char ctx[240];
	snprintf(ctx, sizeof ctx, "%s, %s out", ctx0, embstore_dtype_name(od));
	size_t count = n * m->dim, bad;
	out16 want = out16_new(count, 0), got = out16_new(count, shift);
	KC_CHECK(scalar->gather_narrow(m, ids, id_type_of(wide), n, od, want.p, 0, &bad) == EMBSTORE_OK, "%s: scalar",
	         ctx);
	expect_rounded(od, f32, want.p, count, ctx);
	KC_CHECK(k->gather_narrow(m, ids, id_type_of(wide), n, od, got.p, stream, &bad) == EMBSTORE_OK, "%s", ctx);
	expect_codes(od, want.p, got.p, count, 0, ctx);
	out16_check_guards(&got, ctx);
	out16_free(&want);
	out16_free(&got);
}

/* stream: as the public call passes it for outputs of ES_STREAM_BYTES and more (the kernel writes the same values
 * either way, with non-temporal stores where the set has them). */
static void gather_case(const embstore_kernel_table *k, embstore_dtype dt, uint32_t dim, uint64_t rows, size_t pad,
                        size_t n, int wide, unsigned shift, int raw, int stream)
{
	char ctx[200];
	snprintf(ctx, sizeof ctx, "gather %s %s dim %u rows %llu pad %zu n %zu id%d shift %u raw %d stream %d",
	         embstore_isa_name(k->isa), embstore_dtype_name(dt), dim, (unsigned long long)rows, pad, n,
	         wide ? 64 : 32, shift, raw, stream);
	kc_table t;
	kc_table_new(&t, dt, rows, dim, pad, raw);
	void *ids = kc_ids_new(n, rows, wide);
	outbuf want = out_new(n * dim, 0), got = out_new(n * dim, shift);
	size_t bad = 12345;
	KC_CHECK(scalar->gather(&t.m, ids, id_type_of(wide), n, want.p, 0, &bad) == EMBSTORE_OK, "%s: scalar", ctx);
	KC_CHECK(k->gather(&t.m, ids, id_type_of(wide), n, got.p, stream, &bad) == EMBSTORE_OK, "%s", ctx);
	kc_expect_bitwise(want.p, got.p, n * dim, ctx);
	out_check_guards(&got, ctx);
	for (int o = 0; o < 2; o++)
		gather_narrow_case(k, &t.m, ids, wide, n, narrow_outs[o], want.p, shift, stream, ctx);
	table_check_guard(&t, ctx);
	out_free(&want);
	out_free(&got);
	free(ids);
	kc_table_free(&t);
}

void kc_gather_all_shapes(const embstore_kernel_table *k)
{
	for (size_t d = 0; d < N_DIMS; d++) {
		uint32_t dim = dim_at(d);
		for (size_t ti = 0; ti < N_DTYPES; ti++) {
			for (int wide = 0; wide < 2; wide++) {
				uint64_t rows = 1 + below(dim > 200 ? 20 : 100);
				size_t n = below(dim > 200 ? 12 : 40);
				gather_case(k, dtypes[ti], dim, rows, below(3) ? 0 : below(9), n, wide,
				            (unsigned)below(2), (int)below(2), (int)below(2));
			}
		}
	}
	/* Long batches: many duplicates, prefetching far ahead, the one-row table. */
	for (size_t ti = 0; ti < N_DTYPES; ti++) {
		gather_case(k, dtypes[ti], 5, 1000, 1, 100000, 1, 1, 1, 0);
		gather_case(k, dtypes[ti], 64, 300, 0, 20000, 0, 0, 0, 0);
		gather_case(k, dtypes[ti], 19, 1, 0, 500, 0, 1, 1, 0);
	}
	gather_case(k, EMBSTORE_F32, 1, 7, 0, 0, 1, 0, 0, 0); /* no ids */
	gather_case(k, EMBSTORE_F32, 1, 7, 0, 0, 1, 0, 0, 1);
}

/* gather_rows: rows of three tables of one dtype and dim (as a set's shards hold them), addressed one by one and
 * often the last row of a table (whose tail ends it), against scalar's gather from each table: bitwise, streamed
 * and not, at output offsets of 0 and 1 float. */
static void gather_rows_case(const embstore_kernel_table *k, embstore_dtype dt, uint32_t dim, size_t n,
                             unsigned shift, int stream)
{
	char ctx[160];
	snprintf(ctx, sizeof ctx, "gather_rows %s %s dim %u n %zu shift %u stream %d", embstore_isa_name(k->isa),
	         embstore_dtype_name(dt), dim, n, shift, stream);
	kc_table t[3];
	for (int p = 0; p < 3; p++)
		kc_table_new(&t[p], dt, 1 + below(50), dim, below(2) ? 0 : below(9), (int)below(2));
	const unsigned char **rows = kc_alloc((n + 1) * sizeof *rows);
	outbuf want = out_new(n * dim, 0), got = out_new(n * dim, shift);
	size_t bad;
	for (size_t i = 0; i < n; i++) {
		const embstore_matrix *m = &t[below(3)].m;
		int64_t id = below(4) ? (int64_t)below(m->rows) : (int64_t)m->rows - 1;
		rows[i] = (const unsigned char *)m->data + (size_t)id * m->row_stride;
		KC_CHECK(scalar->gather(m, &id, EMBSTORE_ID64, 1, want.p + i * dim, 0, &bad) == EMBSTORE_OK, "%s: scalar",
		         ctx);
	}
	outbuf ref = out_new(n * dim, 0); /* scalar's gather_rows, in a buffer of its own */
	KC_CHECK(scalar->gather_rows(rows, n, dt, dim, ref.p, 0) == EMBSTORE_OK, "%s: scalar gather_rows", ctx);
	kc_expect_bitwise(want.p, ref.p, n * dim, ctx);
	out_free(&ref);
	KC_CHECK(k->gather_rows(rows, n, dt, dim, got.p, stream) == EMBSTORE_OK, "%s", ctx);
	kc_expect_bitwise(want.p, got.p, n * dim, ctx);
	out_check_guards(&got, ctx);
	for (int p = 0; p < 3; p++) {
		table_check_guard(&t[p], ctx);
		kc_table_free(&t[p]);
	}
	free(rows);
	out_free(&want);
	out_free(&got);
}

void kc_gather_rows(const embstore_kernel_table *k)
{
	for (size_t d = 0; d < N_DIMS; d++)
		for (size_t ti = 0; ti < N_DTYPES; ti++)
			gather_rows_case(k, dtypes[ti], dim_at(d), below(40), (unsigned)below(2), (int)below(2));
	for (size_t ti = 0; ti < N_DTYPES; ti++) /* long: prefetching far ahead; streamed, with the shift */
		gather_rows_case(k, dtypes[ti], 100, 20000, 1, 1);
}

/* Gathers told to stream (as the public calls do for outputs of ES_STREAM_BYTES and more) take non-temporal
 * stores, shifted onto vector boundaries when rows do not start on one: every dtype, dims that leave every
 * remainder against 8 and 16 lanes, outputs at each float offset from a 64-byte line, a few rows and many; then a
 * bad id in the middle of such a gather, whose rows before it must be written and the rest untouched. One case
 * is as large as the public calls stream. */
#define STREAM_FLOATS ((size_t)1 << 16)

void kc_gather_streamed(const embstore_kernel_table *k)
{
	static const uint32_t dims[] = {1, 3, 8, 16, 17, 100, 128, 300};
	for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
		for (size_t ti = 0; ti < N_DTYPES; ti++) {
			size_t n = below(2) ? 1 + below(5) : STREAM_FLOATS / dims[d] + below(50);
			gather_case(k, dtypes[ti], dims[d], 1 + below(5000), below(2) ? 0 : 8, n, (int)below(2),
			            (unsigned)below(16), 0, 1);
		}
	for (unsigned shift = 0; shift < 16; shift++)
		gather_case(k, EMBSTORE_F32, 17, 3000, 0, STREAM_FLOATS / 17 + 1, 1, shift, 0, 1);
	gather_case(k, EMBSTORE_F32, 100, 5000, 0, (ES_STREAM_BYTES / 4) / 100 + 3, 1, 3, 0, 1);

	for (unsigned rep = 0; rep < 4; rep++) {
		uint32_t dim = rep < 2 ? 128 : 300;
		unsigned shift = rep % 2 ? 5 : 0;
		size_t n = STREAM_FLOATS / dim + 10, badpos = n / 2 + below(n / 2);
		char ctx[160];
		snprintf(ctx, sizeof ctx, "streamed gather %s dim %u shift %u, bad id at %zu of %zu",
		         embstore_isa_name(k->isa), dim, shift, badpos, n);
		kc_table t;
		kc_table_new(&t, EMBSTORE_F32, 1000, dim, 0, 0);
		int64_t *ids = kc_ids_new(n, 1000, 1);
		ids[badpos] = rep % 2 ? -1 : 1000;
		outbuf want = out_new(n * dim, 0), got = out_new(n * dim, shift);
		size_t bad = 0;
		KC_CHECK(scalar->gather(&t.m, ids, EMBSTORE_ID64, badpos, want.p, 0, NULL) == EMBSTORE_OK, "%s: scalar",
		         ctx);
		KC_CHECK(k->gather(&t.m, ids, EMBSTORE_ID64, n, got.p, 1, &bad) == EMBSTORE_ID_OUT_OF_RANGE && bad == badpos,
		         "%s: status or position %zu", ctx, bad);
		kc_expect_bitwise(want.p, got.p, badpos * dim, ctx);
		size_t i = badpos * dim;
		while (i < n * dim && is_sentinel(got.p + i))
			i++;
		KC_CHECK(i == n * dim, "%s: float %zu (row %zu) written after the bad id", ctx, i, i / dim);
		out_check_guards(&got, ctx);
		out_free(&want);
		out_free(&got);
		free(ids);
		kc_table_free(&t);
	}
}

/* Gathers with f16 / bf16 output told to stream, which they do when every output row starts on a vector:
 * outputs on a 64-byte boundary (streaming) and 2 bytes past one (ordinary stores), with a bad id in some. The
 * output sits between 64 canary bytes on each side. */
void kc_gather_narrow_streamed(const embstore_kernel_table *k)
{
	static const uint32_t dims[] = {32, 64, 96, 128, 40};
	for (size_t c = 0; c < 2 * sizeof dims / sizeof dims[0]; c++) {
		uint32_t dim = dims[c / 2];
		embstore_dtype dt = dtypes[below(N_DTYPES)], od = narrow_outs[c % 2];
		size_t off = below(3) ? 0 : 2, n = 2 * STREAM_FLOATS / dim + below(40), count = n * dim;
		size_t badpos = below(2) ? n : n / 2 + below(n / 2);
		char ctx[200];
		snprintf(ctx, sizeof ctx, "streamed gather %s %s -> %s dim %u n %zu offset %zu bad at %zu",
		         embstore_isa_name(k->isa), embstore_dtype_name(dt), embstore_dtype_name(od), dim, n, off, badpos);
		kc_table t;
		kc_table_new(&t, dt, 2000, dim, 0, 0);
		int64_t *ids = kc_ids_new(n, 2000, 1);
		if (badpos < n)
			ids[badpos] = 2000;
		unsigned char *want = kc_alloc(count * 2);
		size_t total = (count * 2 + 192 + 63) / 64 * 64; /* aligned_alloc takes whole multiples of 64 */
		unsigned char *buf = aligned_alloc(64, total);
		if (!buf)
			abort();
		memset(buf, OUT16_CANARY, total);
		unsigned char *got = buf + 64 + off;
		size_t bad = 0;
		KC_CHECK(scalar->gather_narrow(&t.m, ids, EMBSTORE_ID64, badpos, od, want, 0, NULL) == EMBSTORE_OK,
		         "%s: scalar", ctx);
		embstore_status st = k->gather_narrow(&t.m, ids, EMBSTORE_ID64, n, od, got, 1, &bad);
		KC_CHECK(badpos == n ? st == EMBSTORE_OK : st == EMBSTORE_ID_OUT_OF_RANGE && bad == badpos,
		         "%s: status %d position %zu", ctx, (int)st, bad);
		expect_codes(od, want, got, badpos * dim, 0, ctx);
		size_t i = 0;
		while (i < 64 + off && buf[i] == OUT16_CANARY)
			i++;
		KC_CHECK(i == 64 + off, "%s: write before the output", ctx);
		for (i = 64 + off + badpos * dim * 2; i < total && buf[i] == OUT16_CANARY; i++)
			;
		KC_CHECK(i == total, "%s: byte %zu written after the last good row", ctx, i - 64 - off);
		free(buf);
		free(want);
		free(ids);
		kc_table_free(&t);
	}
}

void kc_conversions(const embstore_kernel_table *k)
{
	uint16_t *codes = kc_alloc(65536 * 2);
	float *out = kc_alloc(65536 * 4);
	int32_t *ids = kc_alloc(65536 * 4);
	for (uint32_t i = 0; i < 65536; i++) {
		codes[i] = (uint16_t)i;
		ids[i] = (int32_t)i;
	}
	for (int bf = 0; bf < 2; bf++) {
		const char *name = bf ? "bf16" : "f16";
		embstore_matrix m = {.data = codes, .rows = 65536, .row_stride = 2, .dim = 1,
		                     .dtype = bf ? EMBSTORE_BF16 : EMBSTORE_F16};
		size_t bad;
		if (!KC_CHECK(k->gather(&m, ids, EMBSTORE_ID32, 65536, out, 0, &bad) == EMBSTORE_OK, "%s %s gather",
		              embstore_isa_name(k->isa), name))
			continue;
		uint32_t i = 0;
		float want = 0;
		for (; i < 65536; i++) {
			want = bf ? embstore_bf16_to_f32((uint16_t)i) : embstore_f16_to_f32((uint16_t)i);
			if (isnan(want) ? !isnan(out[i]) : memcmp(&want, &out[i], 4) != 0)
				break;
		}
		if (i < 65536)
			KC_CHECK(0, "%s %s %04x: %a, convert.c gives %a", embstore_isa_name(k->isa), name, i, (double)out[i],
			         (double)want);
		else
			KC_CHECK(1, "conversions");
	}
	free(ids);
	free(codes);
	free(out);
}

void kc_int8_from_quantizer(const embstore_kernel_table *k)
{
	enum { ROWS = 40, DIM = 37 };
	size_t stride = DIM + 8;
	unsigned char *mem = kc_alloc(ROWS * stride);
	float src[ROWS][DIM];
	for (int r = 0; r < ROWS; r++) {
		for (int j = 0; j < DIM; j++)
			src[r][j] = r == 3 ? 1.5f : unit() * 10.0f; /* row 3 constant: scale 0 */
		KC_CHECK(embstore_quantize_row_int8(src[r], DIM, mem + (size_t)r * stride) == EMBSTORE_OK, "quantise %d", r);
	}
	embstore_matrix m = {.data = mem, .rows = ROWS, .row_stride = stride, .dim = DIM,
	                     .dtype = EMBSTORE_INT8_ROWWISE};
	int64_t ids[ROWS];
	for (int r = 0; r < ROWS; r++)
		ids[r] = r;
	float want[ROWS * DIM], got[ROWS * DIM];
	size_t bad;
	const char *name = embstore_isa_name(k->isa);
	KC_CHECK(k->gather(&m, ids, EMBSTORE_ID64, ROWS, got, 0, &bad) == EMBSTORE_OK, "%s int8 gather", name);
	int i = 0;
	while (i < ROWS * DIM && fabsf(got[i] - src[i / DIM][i % DIM]) <= 10.0f / 255 + 1e-4f)
		i++;
	if (i < ROWS * DIM)
		KC_CHECK(0, "%s int8 row %d col %d: %g from %g", name, i / DIM, i % DIM, (double)got[i],
		         (double)src[i / DIM][i % DIM]);
	else
		KC_CHECK(1, "int8 near its source");
	if (k != scalar) {
		KC_CHECK(scalar->gather(&m, ids, EMBSTORE_ID64, ROWS, want, 0, &bad) == EMBSTORE_OK, "scalar int8 gather");
		kc_expect_bitwise(want, got, ROWS * DIM, name);
	}
	free(mem);
}

/* ---- bags ---- */

static void bag_case(const embstore_kernel_table *k, embstore_dtype dt, uint32_t dim, uint64_t rows, size_t pad,
                     size_t n_bags, size_t max_len, int wide, int weighted, embstore_bag_mode mode, unsigned shift)
{
	int64_t *offsets = kc_alloc((n_bags + 1) * 8);
	offsets[0] = 0;
	for (size_t b = 0; b < n_bags; b++)
		offsets[b + 1] = offsets[b] + (below(5) == 0 ? 0 : (int64_t)below(max_len + 1));
	size_t n_ids = (size_t)offsets[n_bags];
	char ctx[220];
	snprintf(ctx, sizeof ctx, "bag %s %s dim %u rows %llu pad %zu bags %zu ids %zu id%d weighted %d mode %d",
	         embstore_isa_name(k->isa), embstore_dtype_name(dt), dim, (unsigned long long)rows, pad, n_bags, n_ids,
	         wide ? 64 : 32, weighted, (int)mode);
	kc_table t;
	kc_table_new(&t, dt, rows, dim, pad, 0);
	void *ids = kc_ids_new(n_ids, rows, wide);
	float *weights = NULL;
	if (weighted) {
		weights = kc_alloc(n_ids * 4);
		for (size_t i = 0; i < n_ids; i++)
			weights[i] = unit() * 2.0f;
	}
	outbuf want = out_new(n_bags * dim, 0), got = out_new(n_bags * dim, shift);
	size_t bad;
	KC_CHECK(scalar->gather_bag(&t.m, ids, id_type_of(wide), offsets, n_bags, weights, mode, want.p, &bad) ==
	             EMBSTORE_OK,
	         "%s: scalar", ctx);
	KC_CHECK(k->gather_bag(&t.m, ids, id_type_of(wide), offsets, n_bags, weights, mode, got.p, &bad) ==
	             EMBSTORE_OK,
	         "%s", ctx);
	kc_expect_bitwise_or_nan(want.p, got.p, n_bags * dim, ctx);
	for (size_t b = 0; b < n_bags; b++) {
		if (offsets[b] != offsets[b + 1])
			continue;
		uint32_t j = 0;
		while (j < dim && got.p[b * dim + j] == 0.0f)
			j++;
		if (!KC_CHECK(j == dim, "%s: empty bag %zu is not zeros", ctx, b))
			break;
	}
	out_check_guards(&got, ctx);
	for (int o = 0; o < 2; o++) {
		embstore_dtype od = narrow_outs[o];
		char octx[260];
		snprintf(octx, sizeof octx, "%s, %s out", ctx, embstore_dtype_name(od));
		out16 want16 = out16_new(n_bags * dim, 0), got16 = out16_new(n_bags * dim, shift);
		KC_CHECK(scalar->gather_bag_narrow(&t.m, ids, id_type_of(wide), offsets, n_bags, weights, mode, od,
		                                   want16.p, &bad) == EMBSTORE_OK,
		         "%s: scalar", octx);
		expect_rounded(od, want.p, want16.p, n_bags * dim, octx);
		KC_CHECK(k->gather_bag_narrow(&t.m, ids, id_type_of(wide), offsets, n_bags, weights, mode, od, got16.p,
		                              &bad) == EMBSTORE_OK,
		         "%s", octx);
		expect_codes(od, want16.p, got16.p, n_bags * dim, 1, octx);
		out16_check_guards(&got16, octx);
		out16_free(&want16);
		out16_free(&got16);
	}
	table_check_guard(&t, ctx);
	out_free(&want);
	out_free(&got);
	free(weights);
	free(ids);
	free(offsets);
	kc_table_free(&t);
}

void kc_bag_all_shapes(const embstore_kernel_table *k)
{
	for (size_t d = 0; d < N_DIMS; d++) {
		uint32_t dim = dim_at(d);
		for (size_t ti = 0; ti < N_DTYPES; ti++) {
			for (int mode = 0; mode < 3; mode++) {
				int wide = (int)below(2), weighted = (int)below(2);
				bag_case(k, dtypes[ti], dim, 1 + below(60), below(2) ? 0 : below(5),
				         below(dim > 200 ? 4 : 9), dim > 200 ? 4 : 9, wide, weighted, (embstore_bag_mode)mode,
				         (unsigned)below(2));
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

/* k against scalar.c, bit for bit (a NaN where scalar's is a NaN), on n_bags bags over an f32 table of dim <= 64,
 * in every mode, with and without the weights. */
static void bags_exact(const embstore_kernel_table *k, const embstore_matrix *m, const int32_t *ids,
                         const int64_t *offsets, size_t n_bags, const float *weights)
{
	enum { MAX_OUT = 4 * 64 };
	float want[MAX_OUT], got[MAX_OUT];
	size_t bad, n = n_bags * (size_t)m->dim;
	if (!KC_CHECK(n <= MAX_OUT, "bags_exact: %zu floats out", n))
		return;
	for (int mode = 0; mode < 3; mode++) {
		for (int w = 0; w < 2; w++) {
			const float *wp = w ? weights : NULL;
			char ctx[80];
			snprintf(ctx, sizeof ctx, "%s dim %u mode %d weights %d", embstore_isa_name(k->isa), m->dim, mode, w);
			KC_CHECK(scalar->gather_bag(m, ids, EMBSTORE_ID32, offsets, n_bags, wp, (embstore_bag_mode)mode, want,
			                            &bad) == EMBSTORE_OK,
			         "%s: scalar", ctx);
			KC_CHECK(k->gather_bag(m, ids, EMBSTORE_ID32, offsets, n_bags, wp, (embstore_bag_mode)mode, got, &bad) ==
			             EMBSTORE_OK,
			         "%s", ctx);
			kc_expect_bitwise_or_nan(want, got, n, ctx);
			for (int o = 0; o < 2; o++) {
				unsigned char want16[MAX_OUT * 2], got16[MAX_OUT * 2];
				embstore_dtype od = narrow_outs[o];
				KC_CHECK(scalar->gather_bag_narrow(m, ids, EMBSTORE_ID32, offsets, n_bags, wp,
				                                   (embstore_bag_mode)mode, od, want16, &bad) == EMBSTORE_OK,
				         "%s: scalar %s", ctx, embstore_dtype_name(od));
				expect_rounded(od, want, want16, n, ctx);
				KC_CHECK(k->gather_bag_narrow(m, ids, EMBSTORE_ID32, offsets, n_bags, wp, (embstore_bag_mode)mode, od,
				                              got16, &bad) == EMBSTORE_OK,
				         "%s %s", ctx, embstore_dtype_name(od));
				expect_codes(od, want16, got16, n, 1, ctx);
			}
		}
	}
}

void kc_bag_special_values(const embstore_kernel_table *k)
{
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
		bags_exact(k, &m, ids, offsets, 4, weights);
	}
	{
		/* A short row (a tail only, on every set) and bags of 3 and 5 ids. */
		enum { DIM = 7, ROWS = 5 };
		static const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7fc00000u, 0xffc00001u, 0x7f800000u,
		                                    0x3f800000u, 0xbf800000u};
		float table[ROWS][DIM];
		for (int r = 0; r < ROWS; r++)
			for (int j = 0; j < DIM; j++)
				memcpy(&table[r][j], &specials[(r * 3 + j) % 7], 4);
		embstore_matrix m = {.data = table, .rows = ROWS, .row_stride = DIM * 4, .dim = DIM, .dtype = EMBSTORE_F32};
		int32_t ids[8] = {0, 1, 2, 3, 4, 4, 2, 0};
		int64_t offsets[3] = {0, 3, 8};
		float weights[8] = {-1, 2, 0, -0.0f, 1, 0.5f, 1, -2};
		bags_exact(k, &m, ids, offsets, 2, weights);
	}
	{
		/* Sums and means about f16's largest value (65504; 65520 rounds to infinity), its smallest subnormal
		 * (2^-24; half of it rounds to zero) and bf16's halfway points. */
		enum { DIM = 19, ROWS = 4 };
		static const float values[] = {65504.0f, 16.0f, 0x1p-25f, 0x1.8p-24f, 1.00390625f, -3.0e38f, 0.5f};
		float table[ROWS][DIM];
		for (int r = 0; r < ROWS; r++)
			for (int j = 0; j < DIM; j++)
				table[r][j] = values[(r * 5 + j) % 7];
		embstore_matrix m = {.data = table, .rows = ROWS, .row_stride = DIM * 4, .dim = DIM, .dtype = EMBSTORE_F32};
		int32_t ids[9] = {0, 1, 2, 3, 3, 0, 1, 2, 1};
		int64_t offsets[4] = {0, 2, 5, 9};
		float weights[9] = {1, 1, 2, -1, 0.5f, 3, 1, -2, 1};
		bags_exact(k, &m, ids, offsets, 3, weights);
	}
}

/* Which NaN comes out where two meet in a sum is not pinned (kernels.h), but a NaN must. */
void kc_bag_nan_meets_nan(const embstore_kernel_table *k)
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
	bags_exact(k, &m, ids, offsets, 4, weights);
}

/* ---- scatter-add ---- */

static void scatter_case(const embstore_kernel_table *k, uint32_t dim, uint64_t rows, size_t pad, size_t n,
                         int wide, float alpha, uint64_t lo, uint64_t hi, unsigned shift)
{
	char ctx[200];
	snprintf(ctx, sizeof ctx, "scatter %s dim %u rows %llu pad %zu n %zu id%d alpha %g rows [%llu, %llu)",
	         embstore_isa_name(k->isa), dim, (unsigned long long)rows, pad, n, wide ? 64 : 32, (double)alpha,
	         (unsigned long long)lo, (unsigned long long)hi);
	kc_table want, got;
	kc_table_new(&want, EMBSTORE_F32, rows, dim, pad, 0);
	got = want;
	got.mem = kc_alloc(want.bytes + KC_GUARD);
	memcpy(got.mem, want.mem, want.bytes + KC_GUARD);
	got.m.data = got.mem;
	void *ids = kc_ids_new(n, rows, wide);
	float *gbuf = kc_alloc((n * dim + 1) * 4);
	float *grads = gbuf + shift;
	for (size_t i = 0; i < n * dim; i++)
		grads[i] = unit();
	size_t bad;
	KC_CHECK(scalar->scatter_add(&want.m, ids, id_type_of(wide), n, grads, alpha, lo, hi, &bad) == EMBSTORE_OK,
	         "%s: scalar", ctx);
	KC_CHECK(k->scatter_add(&got.m, ids, id_type_of(wide), n, grads, alpha, lo, hi, &bad) == EMBSTORE_OK, "%s",
	         ctx);
	/* The whole block: rows, padding between rows, canary after. */
	if (memcmp(want.mem, got.mem, want.bytes + KC_GUARD) == 0) {
		KC_CHECK(1, "scatter");
	} else {
		for (size_t i = 0; i < want.bytes + KC_GUARD; i++) {
			if (want.mem[i] != got.mem[i]) {
				KC_CHECK(0, "%s: byte %zu of the table (row %zu) differs", ctx, i, i / want.m.row_stride);
				break;
			}
		}
	}
	table_check_guard(&got, ctx);
	free(gbuf);
	free(ids);
	kc_table_free(&want);
	kc_table_free(&got);
}

void kc_scatter_add_all_shapes(const embstore_kernel_table *k)
{
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

/* ---- sparse optimizers ---- */

static void table_copy(kc_table *dst, const kc_table *src)
{
	*dst = *src;
	dst->mem = kc_alloc(src->bytes + KC_GUARD);
	memcpy(dst->mem, src->mem, src->bytes + KC_GUARD);
	dst->m.data = dst->mem;
}

static int same_bytes(const kc_table *want, const kc_table *got, const char *what, const char *ctx)
{
	for (size_t i = 0; i < want->bytes + KC_GUARD; i++)
		if (want->mem[i] != got->mem[i])
			return KC_CHECK(0, "%s: byte %zu of the %s (row %zu) differs from scalar's", ctx, i, what,
			                (size_t)(i / want->m.row_stride));
	return KC_CHECK(1, "%s", what);
}

/* A rows x 1 f32 state of accumulated mean squares: non-negative, as steps leave it. */
static void state_new(kc_table *st, uint64_t rows)
{
	kc_table_new(st, EMBSTORE_F32, rows, 1, below(2), 0);
	for (uint64_t r = 0; r < rows; r++) {
		float v = unit() * unit() * (below(4) ? 0.5f : 0.0f);
		memcpy(st->mem + r * st->m.row_stride, &v, 4);
	}
}

typedef struct optim_case {
	int adagrad;
	embstore_dtype dt;
	uint32_t dim;
	uint64_t rows;
	size_t pad;      /* elements after each table row */
	size_t n;
	int wide;
	size_t grad_pad; /* floats after each gradient row */
	float lr, eps, weight_decay;
} optim_case;

/* One step of set k and of scalar from the same table (and state), compared byte for byte with canaries. */
static void run_optim_case(const embstore_kernel_table *k, const optim_case *c)
{
	char ctx[240];
	snprintf(ctx, sizeof ctx, "%s %s %s dim %u rows %llu pad %zu n %zu id%d grad_stride %zu lr %g eps %g wd %g",
	         c->adagrad ? "adagrad" : "sgd", embstore_isa_name(k->isa), embstore_dtype_name(c->dt), c->dim,
	         (unsigned long long)c->rows, c->pad, c->n, c->wide ? 64 : 32, c->dim + c->grad_pad, (double)c->lr,
	         (double)c->eps, (double)c->weight_decay);
	kc_table want, got, want_state, got_state;
	kc_table_new(&want, c->dt, c->rows, c->dim, c->pad, 0);
	table_copy(&got, &want);
	state_new(&want_state, c->rows);
	table_copy(&got_state, &want_state);
	void *ids = kc_ids_new(c->n, c->rows, c->wide);
	size_t stride = c->dim + c->grad_pad;
	float *grads = kc_alloc((c->n * stride + 1) * 4);
	for (size_t i = 0; i < c->n * stride; i++)
		grads[i] = unit();
	es_sparse_step step = {.ids = ids, .id_type = id_type_of(c->wide), .n = c->n, .grads = grads,
	                       .grad_stride = stride, .lr = c->lr, .eps = c->eps, .weight_decay = c->weight_decay};
	size_t bad = 0;
	step.table = &want.m;
	step.state = c->adagrad ? &want_state.m : NULL;
	KC_CHECK(es_sparse_update(scalar, &step, &bad) == EMBSTORE_OK, "%s: scalar", ctx);
	step.table = &got.m;
	step.state = c->adagrad ? &got_state.m : NULL;
	KC_CHECK(es_sparse_update(k, &step, &bad) == EMBSTORE_OK, "%s", ctx);
	same_bytes(&want, &got, "table", ctx);
	same_bytes(&want_state, &got_state, "state", ctx);
	table_check_guard(&got, ctx);
	free(grads);
	free(ids);
	kc_table_free(&want);
	kc_table_free(&got);
	kc_table_free(&want_state);
	kc_table_free(&got_state);
}

static const embstore_dtype float_dtypes[] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16};

static void optim_all_shapes(const embstore_kernel_table *k, int adagrad)
{
	static const float lrs[] = {0.1f, 0.01f, 1.0f, 0.37f};
	static const float decays[] = {0.0f, 0.0f, 0.01f, -0.3f};
	for (size_t d = 0; d < N_DIMS; d++) {
		uint32_t dim = dim_at(d);
		for (size_t ti = 0; ti < 3; ti++) {
			for (int wide = 0; wide < 2; wide++) {
				optim_case c = {
					.adagrad = adagrad,
					.dt = float_dtypes[ti],
					.dim = dim,
					.rows = 1 + below(30), /* few rows: many duplicate ids */
					.pad = below(2) ? 0 : below(4),
					.n = below(dim > 200 ? 30 : 100),
					.wide = wide,
					.grad_pad = below(2) ? 0 : below(5),
					.lr = lrs[below(4)],
					.eps = below(2) ? 1e-8f : 0.1f,
					.weight_decay = decays[below(4)],
				};
				run_optim_case(k, &c);
			}
		}
	}
	for (size_t ti = 0; ti < 3; ti++) {
		/* Long batches: 100 ids per row, and a table whose ids need three radix passes. */
		run_optim_case(k, &(optim_case){adagrad, float_dtypes[ti], 16, 1000, 0, 100000, 1, 3, 0.05f, 1e-6f, 0.0f});
		run_optim_case(k, &(optim_case){adagrad, float_dtypes[ti], 20, 70000, 1, 100000, 0, 0, 0.3f, 1e-8f, 0.02f});
		/* Steps that overflow f16 (and grow bf16 values far), and a one-row table. */
		run_optim_case(k, &(optim_case){adagrad, float_dtypes[ti], 37, 5, 0, 50, 0, 0, 3e4f, 1e-8f, 0.0f});
		run_optim_case(k, &(optim_case){adagrad, float_dtypes[ti], 9, 1, 0, 300, 1, 0, 0.1f, 1e-8f, 0.5f});
	}
	run_optim_case(k, &(optim_case){adagrad, EMBSTORE_F32, 8, 10, 0, 0, 0, 0, 0.1f, 1e-8f, 0.0f}); /* no ids */
}

void kc_sgd_all_shapes(const embstore_kernel_table *k)
{
	optim_all_shapes(k, 0);
}

void kc_rowwise_adagrad_all_shapes(const embstore_kernel_table *k)
{
	optim_all_shapes(k, 1);
}

/* ---- out-of-range ids ---- */

/* Bad values an id array can hold: == rows, just above, negative, huge, and 2^32 (which a kernel that truncated
 * ids to 32 bits would take for row 0). */
static int64_t bad_value(int wide, uint64_t rows, unsigned which)
{
	static const int64_t fixed[] = {-1, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, (int64_t)1 << 32,
	                                (int64_t)1 << 40};
	if (which == 0)
		return (int64_t)rows;
	if (which == 1)
		return (int64_t)rows + 1;
	return fixed[(which - 2) % (wide ? 7 : 3)];
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
	kc_table t;
	kc_table_new(&t, dt, rows, dim, below(2), 0);
	unsigned char *orig = kc_alloc(t.bytes + KC_GUARD);
	memcpy(orig, t.mem, t.bytes + KC_GUARD);
	void *ids = kc_ids_new(n, rows, wide);
	ids_put(ids, wide, pos, badv);
	if (pos + 1 < n && below(2))
		ids_put(ids, wide, pos + 1 + below(n - pos - 1), -1); /* a second bad id after it */
	size_t bad = SIZE_MAX;

	/* gather: rows before pos written as scalar writes them, nothing from pos on. */
	outbuf want = out_new(n * dim, 0), got = out_new(n * dim, 1);
	if (pos > 0)
		KC_CHECK(scalar->gather(&t.m, ids, id_type_of(wide), pos, want.p, 0, &bad) == EMBSTORE_OK, "%s: scalar", ctx);
	bad = SIZE_MAX;
	KC_CHECK(k->gather(&t.m, ids, id_type_of(wide), n, got.p, 0, &bad) == EMBSTORE_ID_OUT_OF_RANGE, "%s: gather status",
	         ctx);
	KC_CHECK(bad == pos, "%s: gather says %zu", ctx, bad);
	kc_expect_bitwise(want.p, got.p, pos * dim, ctx);
	size_t untouched = pos * dim;
	while (untouched < n * dim && is_sentinel(&got.p[untouched]))
		untouched++;
	KC_CHECK(untouched == n * dim, "%s: gather wrote output row %zu", ctx, untouched / dim);
	out_check_guards(&got, ctx);
	for (int o = 0; o < 2; o++) {
		embstore_dtype od = narrow_outs[o];
		out16 want16 = out16_new(n * dim, 0), got16 = out16_new(n * dim, 1);
		if (pos > 0)
			KC_CHECK(scalar->gather_narrow(&t.m, ids, id_type_of(wide), pos, od, want16.p, 0, &bad) == EMBSTORE_OK,
			         "%s: scalar %s", ctx, embstore_dtype_name(od));
		bad = SIZE_MAX;
		KC_CHECK(k->gather_narrow(&t.m, ids, id_type_of(wide), n, od, got16.p, 0, &bad) == EMBSTORE_ID_OUT_OF_RANGE,
		         "%s: gather %s status", ctx, embstore_dtype_name(od));
		KC_CHECK(bad == pos, "%s: gather %s says %zu", ctx, embstore_dtype_name(od), bad);
		expect_codes(od, want16.p, got16.p, pos * dim, 0, ctx);
		size_t left = pos * dim;
		while (left < n * dim && code_at(got16.p, left) == (OUT16_CANARY << 8 | OUT16_CANARY))
			left++;
		KC_CHECK(left == n * dim, "%s: gather %s wrote output row %zu", ctx, embstore_dtype_name(od), left / dim);
		out16_check_guards(&got16, ctx);
		out16_free(&want16);
		out16_free(&got16);
	}

	/* bags: one bag per id pair; bad_index is the position in ids. */
	size_t n_bags = (n + 1) / 2;
	int64_t *offsets = kc_alloc((n_bags + 1) * 8);
	for (size_t b = 0; b <= n_bags; b++)
		offsets[b] = (int64_t)(2 * b < n ? 2 * b : n);
	for (int mode = 0; mode < 3; mode++) {
		outbuf bo = out_new(n_bags * dim, 1);
		bad = SIZE_MAX;
		KC_CHECK(k->gather_bag(&t.m, ids, id_type_of(wide), offsets, n_bags, NULL, (embstore_bag_mode)mode, bo.p,
		                       &bad) == EMBSTORE_ID_OUT_OF_RANGE,
		         "%s: bag mode %d status", ctx, mode);
		KC_CHECK(bad == pos, "%s: bag mode %d says %zu", ctx, mode, bad);
		out_check_guards(&bo, ctx);
		out_free(&bo);
		out16 bo16 = out16_new(n_bags * dim, 1);
		bad = SIZE_MAX;
		KC_CHECK(k->gather_bag_narrow(&t.m, ids, id_type_of(wide), offsets, n_bags, NULL, (embstore_bag_mode)mode,
		                              narrow_outs[mode % 2], bo16.p, &bad) == EMBSTORE_ID_OUT_OF_RANGE,
		         "%s: 16-bit bag mode %d status", ctx, mode);
		KC_CHECK(bad == pos, "%s: 16-bit bag mode %d says %zu", ctx, mode, bad);
		out16_check_guards(&bo16, ctx);
		out16_free(&bo16);
	}
	KC_CHECK(memcmp(orig, t.mem, t.bytes + KC_GUARD) == 0, "%s: gather or bag wrote to the table", ctx);

	/* scatter-add: rows updated by the ids before pos exactly as scalar does, nothing else. */
	if (dt == EMBSTORE_F32) {
		float *grads = kc_alloc(n * dim * 4);
		for (size_t i = 0; i < n * dim; i++)
			grads[i] = unit();
		unsigned char *mem2 = kc_alloc(t.bytes + KC_GUARD);
		memcpy(mem2, orig, t.bytes + KC_GUARD);
		embstore_matrix m2 = t.m;
		m2.data = mem2;
		if (pos > 0)
			KC_CHECK(scalar->scatter_add(&m2, ids, id_type_of(wide), pos, grads, -0.25f, 0, rows, &bad) ==
			             EMBSTORE_OK,
			         "%s: scalar scatter-add", ctx);
		bad = SIZE_MAX;
		KC_CHECK(k->scatter_add(&t.m, ids, id_type_of(wide), n, grads, -0.25f, 0, rows, &bad) ==
		             EMBSTORE_ID_OUT_OF_RANGE,
		         "%s: scatter-add status", ctx);
		KC_CHECK(bad == pos, "%s: scatter-add says %zu", ctx, bad);
		KC_CHECK(memcmp(mem2, t.mem, t.bytes + KC_GUARD) == 0, "%s: scatter-add table differs", ctx);
		free(mem2);
		free(grads);
	}
	free(offsets);
	out_free(&want);
	out_free(&got);
	free(orig);
	free(ids);
	kc_table_free(&t);
}

void kc_out_of_range(const embstore_kernel_table *k)
{
	for (size_t ti = 0; ti < N_DTYPES; ti++)
		for (int wide = 0; wide < 2; wide++)
			for (unsigned which = 0; which < N_BAD; which++)
				oor_case(k, dtypes[ti], (uint32_t)(1 + below(40)), wide, which);
}

/* ---- parallel variants ---- */

static const unsigned thread_counts[] = {0, 1, 2, 3, 7, 64};
#define N_THREAD_COUNTS (sizeof thread_counts / sizeof thread_counts[0])

/* Gather and bags of every mode through the public calls on rows x dim of dt, then three bad ids, of which the
 * one at n * 2 / 3 + 1 comes first. */
static void threads_gather_bag_case(embstore_dtype dt, uint64_t rows, uint32_t dim, size_t n, size_t n_bags,
                                    uint64_t max_len, int wide, int weighted)
{
	char ctx[160];
	snprintf(ctx, sizeof ctx, "%s rows %llu dim %u ids %zu bags %zu id%d weighted %d", embstore_dtype_name(dt),
	         (unsigned long long)rows, dim, n, n_bags, wide ? 64 : 32, weighted);
	kc_table t;
	kc_table_new(&t, dt, rows, dim, 0, 0);
	void *ids = kc_ids_new(n, rows, wide);
	embstore_id_type it = id_type_of(wide);
	outbuf want = out_new(n * dim, 0);
	size_t bad;
	KC_CHECK(embstore_gather(&t.m, ids, it, n, want.p, &bad) == EMBSTORE_OK, "%s: gather", ctx);
	int64_t *offsets = kc_alloc((n_bags + 1) * 8);
	float *weights = NULL;
	if (weighted) {
		weights = kc_alloc(n * 4);
		for (size_t i = 0; i < n; i++)
			weights[i] = unit();
	}
	offsets[0] = 0;
	for (size_t b = 0; b < n_bags; b++) /* uneven bags, some empty, all ids used */
		offsets[b + 1] = b + 1 == n_bags ? (int64_t)n : offsets[b] + (int64_t)below(max_len + 1);
	KC_CHECK(offsets[n_bags - 1] <= (int64_t)n, "%s: offsets past the ids", ctx);
	for (size_t c = 0; c < N_THREAD_COUNTS; c++) {
		outbuf got = out_new(n * dim, 1);
		KC_CHECK(embstore_gather_mt(&t.m, ids, it, n, got.p, &bad, thread_counts[c]) == EMBSTORE_OK,
		         "%s: gather_mt %u threads", ctx, thread_counts[c]);
		kc_expect_bitwise(want.p, got.p, n * dim, "gather_mt");
		out_check_guards(&got, "gather_mt");
		out_free(&got);
	}
	outbuf bag_want = out_new(n_bags * dim, 0);
	for (int mode = 0; mode < 3; mode++) {
		embstore_bag_mode bm = (embstore_bag_mode)mode;
		KC_CHECK(embstore_gather_bag(&t.m, ids, it, n, offsets, n_bags, weights, bm, bag_want.p, &bad) ==
		             EMBSTORE_OK,
		         "%s: bag mode %d", ctx, mode);
		for (size_t c = 0; c < N_THREAD_COUNTS; c++) {
			char what[220];
			snprintf(what, sizeof what, "%s: gather_bag_mt mode %d %u threads", ctx, mode, thread_counts[c]);
			outbuf bag_got = out_new(n_bags * dim, 1);
			KC_CHECK(embstore_gather_bag_mt(&t.m, ids, it, n, offsets, n_bags, weights, bm, bag_got.p, &bad,
			                                thread_counts[c]) == EMBSTORE_OK,
			         "%s", what);
			kc_expect_bitwise(bag_want.p, bag_got.p, n_bags * dim, what);
			out_check_guards(&bag_got, what);
			out_free(&bag_got);
		}
	}
	/* f16 and bf16 outputs: every thread count gives one thread's codes. */
	for (int o = 0; o < 2; o++) {
		embstore_dtype od = narrow_outs[o];
		out16 g1 = out16_new(n * dim, 0), b1 = out16_new(n_bags * dim, 0);
		embstore_bag_mode bm = (embstore_bag_mode)o;
		KC_CHECK(embstore_gather_as(&t.m, ids, it, n, od, g1.p, &bad) == EMBSTORE_OK, "%s: gather_as", ctx);
		KC_CHECK(embstore_gather_bag_as(&t.m, ids, it, n, offsets, n_bags, weights, bm, od, b1.p, &bad) ==
		             EMBSTORE_OK,
		         "%s: gather_bag_as", ctx);
		for (size_t c = 0; c < N_THREAD_COUNTS; c++) {
			char what[220];
			snprintf(what, sizeof what, "%s: %s out, %u threads", ctx, embstore_dtype_name(od), thread_counts[c]);
			out16 g = out16_new(n * dim, 1), b = out16_new(n_bags * dim, 1);
			KC_CHECK(embstore_gather_as_mt(&t.m, ids, it, n, od, g.p, &bad, thread_counts[c]) == EMBSTORE_OK,
			         "%s: gather_as_mt", what);
			KC_CHECK(memcmp(g1.p, g.p, n * dim * 2) == 0, "%s: gather_as_mt differs", what);
			out16_check_guards(&g, what);
			KC_CHECK(embstore_gather_bag_as_mt(&t.m, ids, it, n, offsets, n_bags, weights, bm, od, b.p, &bad,
			                                   thread_counts[c]) == EMBSTORE_OK,
			         "%s: gather_bag_as_mt", what);
			KC_CHECK(memcmp(b1.p, b.p, n_bags * dim * 2) == 0, "%s: gather_bag_as_mt differs", what);
			out16_check_guards(&b, what);
			out16_free(&g);
			out16_free(&b);
		}
		out16_free(&g1);
		out16_free(&b1);
	}
	/* Several bad ids: the smallest position is reported. */
	size_t first_bad = n * 2 / 3 + 1;
	ids_put(ids, wide, n * 5 / 6, -5);
	ids_put(ids, wide, first_bad, (int64_t)rows);
	ids_put(ids, wide, n - 1, (int64_t)rows + 1);
	for (size_t c = 0; c < N_THREAD_COUNTS; c++) {
		outbuf got = out_new(n * dim, 0);
		bad = 0;
		KC_CHECK(embstore_gather_mt(&t.m, ids, it, n, got.p, &bad, thread_counts[c]) == EMBSTORE_ID_OUT_OF_RANGE,
		         "%s: gather_mt bad id, %u threads", ctx, thread_counts[c]);
		KC_CHECK(bad == first_bad, "%s: gather_mt says %zu, %u threads", ctx, bad, thread_counts[c]);
		out_check_guards(&got, "gather_mt bad id");
		out_free(&got);
		for (int mode = 0; mode < 3; mode++) {
			outbuf bag_got = out_new(n_bags * dim, 0);
			bad = 0;
			KC_CHECK(embstore_gather_bag_mt(&t.m, ids, it, n, offsets, n_bags, NULL, (embstore_bag_mode)mode,
			                                bag_got.p, &bad, thread_counts[c]) == EMBSTORE_ID_OUT_OF_RANGE,
			         "%s: gather_bag_mt bad id, mode %d, %u threads", ctx, mode, thread_counts[c]);
			KC_CHECK(bad == first_bad, "%s: gather_bag_mt says %zu, mode %d, %u threads", ctx, bad, mode,
			         thread_counts[c]);
			out_check_guards(&bag_got, "gather_bag_mt bad id");
			out_free(&bag_got);
		}
		out16 g16 = out16_new(n * dim, 1);
		bad = 0;
		KC_CHECK(embstore_gather_as_mt(&t.m, ids, it, n, EMBSTORE_BF16, g16.p, &bad, thread_counts[c]) ==
		             EMBSTORE_ID_OUT_OF_RANGE,
		         "%s: gather_as_mt bad id, %u threads", ctx, thread_counts[c]);
		KC_CHECK(bad == first_bad, "%s: gather_as_mt says %zu, %u threads", ctx, bad, thread_counts[c]);
		out16_check_guards(&g16, "gather_as_mt bad id");
		out16_free(&g16);
	}
	out_free(&want);
	out_free(&bag_want);
	free(offsets);
	free(weights);
	free(ids);
	kc_table_free(&t);
}

void kc_threads_gather_and_bag(void)
{
	for (size_t ti = 0; ti < N_DTYPES; ti++) {
		int wide = (int)(ti & 1);
		/* Over a million floats out: 8 threads (pool.h), fewer than asked for at 64. */
		threads_gather_bag_case(dtypes[ti], 4000, 33, 32000, 5000, 10, wide, 1);
		threads_gather_bag_case(dtypes[ti], 500, 24, 12000, 1000, 19, wide, 0);
	}
}

typedef struct scatter_threads_case {
	uint64_t rows;
	uint32_t dim;
	size_t pad, n;
	int wide;
	int skewed; /* 80% of the updates go to 8 hot rows, as in real batches */
	float alpha;
	size_t first_bad, later_bad; /* positions of a negative id and of an id == rows */
	int64_t negative;
} scatter_threads_case;

static void threads_scatter_case(const scatter_threads_case *c)
{
	char ctx[160];
	snprintf(ctx, sizeof ctx, "scatter_add_mt rows %llu dim %u pad %zu ids %zu id%d skewed %d",
	         (unsigned long long)c->rows, c->dim, c->pad, c->n, c->wide ? 64 : 32, c->skewed);
	kc_table base;
	kc_table_new(&base, EMBSTORE_F32, c->rows, c->dim, c->pad, 0);
	void *ids = kc_ids_new(c->n, c->rows, c->wide);
	if (c->skewed)
		for (size_t i = 0; i < c->n; i++)
			if (below(10) < 8)
				ids_put(ids, c->wide, i, (int64_t)(c->rows * 4 / 5 + below(8)));
	float *grads = kc_alloc(c->n * c->dim * 4);
	for (size_t i = 0; i < c->n * c->dim; i++)
		grads[i] = unit();
	size_t bytes = base.bytes + KC_GUARD;
	unsigned char *want = kc_alloc(bytes), *got = kc_alloc(bytes);
	embstore_id_type it = id_type_of(c->wide);
	memcpy(want, base.mem, bytes);
	embstore_matrix m = base.m;
	m.data = want;
	size_t bad;
	KC_CHECK(embstore_scatter_add(&m, ids, it, c->n, grads, c->alpha, &bad) == EMBSTORE_OK, "%s: one thread", ctx);
	for (size_t t = 0; t < N_THREAD_COUNTS; t++) {
		memcpy(got, base.mem, bytes);
		m.data = got;
		KC_CHECK(embstore_scatter_add_mt(&m, ids, it, c->n, grads, c->alpha, &bad, thread_counts[t]) == EMBSTORE_OK,
		         "%s: %u threads", ctx, thread_counts[t]);
		KC_CHECK(memcmp(want, got, bytes) == 0, "%s: %u threads differ from one", ctx, thread_counts[t]);
	}
	/* Bad ids: the smallest position, and (every thread stopping there) only the ids before it applied. */
	ids_put(ids, c->wide, c->later_bad, (int64_t)c->rows);
	ids_put(ids, c->wide, c->first_bad, c->negative);
	memcpy(want, base.mem, bytes);
	m.data = want;
	KC_CHECK(embstore_scatter_add(&m, ids, it, c->first_bad, grads, c->alpha, &bad) == EMBSTORE_OK,
	         "%s: the ids before the bad one", ctx);
	for (size_t t = 0; t < N_THREAD_COUNTS; t++) {
		memcpy(got, base.mem, bytes);
		m.data = got;
		bad = 0;
		KC_CHECK(embstore_scatter_add_mt(&m, ids, it, c->n, grads, c->alpha, &bad, thread_counts[t]) ==
		             EMBSTORE_ID_OUT_OF_RANGE,
		         "%s: bad id, %u threads", ctx, thread_counts[t]);
		KC_CHECK(bad == c->first_bad, "%s: says %zu, %u threads", ctx, bad, thread_counts[t]);
		KC_CHECK(got[base.bytes] == TABLE_CANARY && got[bytes - 1] == TABLE_CANARY,
		         "%s: wrote after the table, %u threads", ctx, thread_counts[t]);
		KC_CHECK(memcmp(want, got, bytes) == 0, "%s: not just the ids before the bad one applied, %u threads", ctx,
		         thread_counts[t]);
	}
	free(want);
	free(got);
	free(grads);
	free(ids);
	kc_table_free(&base);
}

void kc_threads_scatter_add(void)
{
	/* Each row of 97 is hit ~400 times. */
	static const scatter_threads_case cases[] = {
		{1, 33, 0, 40000, 0, 0, -0.3f, 12345, 31000, -1},
		{3, 33, 0, 40000, 1, 0, -0.3f, 12345, 31000, -1},
		{97, 33, 3, 40000, 0, 0, -0.3f, 12345, 31000, -1},
		{5000, 33, 0, 40000, 1, 1, -0.3f, 12345, 31000, -1},
		{37, 24, 1, 20000, 1, 0, -0.5f, 7000, 15000, -3},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		threads_scatter_case(&cases[i]);
}

/* ---- several application threads in parallel calls at once ---- */

#define MC_CALLERS 8
#define MC_ROUNDS 6
#define MC_ROWS 3000
#define MC_DIM 40
#define MC_IDS 12000 /* 480,000 floats out: 3 threads (pool.h) */
#define MC_BAGS 700

typedef struct mc_shared {
	kc_table t;
	void *ids;
	int64_t offsets[MC_BAGS + 1];
	float *gather_want, *bag_want;
	unsigned char *scatter_base, *scatter_want; /* an f32 table before and after one thread's scatter-add */
	float *grads;
} mc_shared;

typedef struct mc_caller {
	const mc_shared *sh;
	unsigned threads;
	unsigned char *table; /* the caller's own copy for scatter-add */
	unsigned mismatches;
	embstore_status status;
} mc_caller;

static void *mc_caller_fn(void *arg)
{
	mc_caller *c = arg;
	const mc_shared *sh = c->sh;
	float *out = kc_alloc(MC_IDS * MC_DIM * 4), *bag = kc_alloc(MC_BAGS * MC_DIM * 4);
	size_t table_bytes = (size_t)MC_ROWS * MC_DIM * 4;
	embstore_matrix w = {c->table, MC_ROWS, MC_DIM * 4, MC_DIM, EMBSTORE_F32, 0};
	for (unsigned r = 0; r < MC_ROUNDS; r++) {
		unsigned threads = c->threads + r; /* a different split each round */
		embstore_status st[3];
		st[0] = embstore_gather_mt(&sh->t.m, sh->ids, EMBSTORE_ID32, MC_IDS, out, NULL, threads);
		st[1] = embstore_gather_bag_mt(&sh->t.m, sh->ids, EMBSTORE_ID32, MC_IDS, sh->offsets, MC_BAGS, NULL,
		                               EMBSTORE_BAG_SUM, bag, NULL, threads);
		memcpy(c->table, sh->scatter_base, table_bytes);
		st[2] = embstore_scatter_add_mt(&w, sh->ids, EMBSTORE_ID32, MC_IDS, sh->grads, -0.5f, NULL, threads);
		for (int i = 0; i < 3; i++)
			if (st[i] != EMBSTORE_OK)
				c->status = st[i];
		c->mismatches += memcmp(out, sh->gather_want, MC_IDS * MC_DIM * 4) != 0;
		c->mismatches += memcmp(bag, sh->bag_want, MC_BAGS * MC_DIM * 4) != 0;
		c->mismatches += memcmp(c->table, sh->scatter_want, table_bytes) != 0;
	}
	free(out);
	free(bag);
	return NULL;
}

void kc_threads_many_callers(void)
{
	mc_shared sh;
	kc_table_new(&sh.t, EMBSTORE_F16, MC_ROWS, MC_DIM, 0, 0);
	sh.ids = kc_ids_new(MC_IDS, MC_ROWS / 10, 0); /* duplicates for scatter-add */
	sh.offsets[0] = 0;
	for (size_t b = 1; b <= MC_BAGS; b++)
		sh.offsets[b] = b == MC_BAGS ? MC_IDS : sh.offsets[b - 1] + (int64_t)below(17);
	sh.gather_want = kc_alloc(MC_IDS * MC_DIM * 4);
	sh.bag_want = kc_alloc(MC_BAGS * MC_DIM * 4);
	KC_CHECK(embstore_gather(&sh.t.m, sh.ids, EMBSTORE_ID32, MC_IDS, sh.gather_want, NULL) == EMBSTORE_OK,
	         "many callers: gather");
	KC_CHECK(embstore_gather_bag(&sh.t.m, sh.ids, EMBSTORE_ID32, MC_IDS, sh.offsets, MC_BAGS, NULL,
	                             EMBSTORE_BAG_SUM, sh.bag_want, NULL) == EMBSTORE_OK,
	         "many callers: bag");
	size_t table_bytes = (size_t)MC_ROWS * MC_DIM * 4;
	sh.scatter_base = kc_alloc(table_bytes);
	sh.scatter_want = kc_alloc(table_bytes);
	sh.grads = kc_alloc(MC_IDS * MC_DIM * 4);
	for (size_t i = 0; i < (size_t)MC_ROWS * MC_DIM; i++) {
		float v = unit();
		memcpy(sh.scatter_base + i * 4, &v, 4);
	}
	for (size_t i = 0; i < (size_t)MC_IDS * MC_DIM; i++)
		sh.grads[i] = unit();
	memcpy(sh.scatter_want, sh.scatter_base, table_bytes);
	embstore_matrix w = {sh.scatter_want, MC_ROWS, MC_DIM * 4, MC_DIM, EMBSTORE_F32, 0};
	KC_CHECK(embstore_scatter_add(&w, sh.ids, EMBSTORE_ID32, MC_IDS, sh.grads, -0.5f, NULL) == EMBSTORE_OK,
	         "many callers: scatter-add");

	mc_caller callers[MC_CALLERS];
	pthread_t tid[MC_CALLERS];
	for (unsigned i = 0; i < MC_CALLERS; i++) {
		callers[i] = (mc_caller){.sh = &sh, .threads = i % 4, .table = kc_alloc(table_bytes)};
		if (pthread_create(&tid[i], NULL, mc_caller_fn, &callers[i]) != 0)
			abort();
	}
	for (unsigned i = 0; i < MC_CALLERS; i++)
		pthread_join(tid[i], NULL);
	for (unsigned i = 0; i < MC_CALLERS; i++) {
		KC_CHECK(callers[i].status == EMBSTORE_OK, "many callers: caller %u: status %d", i, callers[i].status);
		KC_CHECK(callers[i].mismatches == 0, "many callers: caller %u: %u results differ from one thread's", i,
		         callers[i].mismatches);
		free(callers[i].table);
	}
	free(sh.gather_want);
	free(sh.bag_want);
	free(sh.scatter_base);
	free(sh.scatter_want);
	free(sh.grads);
	free(sh.ids);
	kc_table_free(&sh.t);
}
