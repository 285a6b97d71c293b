/* test_kernel_api.c: the public kernel entry points (embstore_gather, _bag, _scatter_add, the _as forms with a
 * chosen output dtype, and their _mt variants):
 * every argument check, bad_index written only with ID_OUT_OF_RANGE, and the results of the active set equal to
 * the scalar reference (the suite runs once per kernel set). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_cases.h"

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

/* embstore_gather_as / _bag_as (mt 0) and their _mt forms (mt 1) into `out` of out_dtype. */
static embstore_status call_gather_as(const embstore_matrix *m, const void *ids, size_t n, embstore_dtype od,
                                      void *out, int mt)
{
	size_t bad = 777;
	embstore_status s = mt ? embstore_gather_as_mt(m, ids, EMBSTORE_ID32, n, od, out, &bad, 3)
	                       : embstore_gather_as(m, ids, EMBSTORE_ID32, n, od, out, &bad);
	cr_assert(s == EMBSTORE_ID_OUT_OF_RANGE || bad == 777, "bad_index written on status %d", (int)s);
	return s;
}

static embstore_status call_bag_as(const embstore_matrix *m, const void *ids, size_t n_ids, const int64_t *offsets,
                                   size_t n_bags, embstore_dtype od, void *out, int mt)
{
	size_t bad = 777;
	embstore_status s =
		mt ? embstore_gather_bag_as_mt(m, ids, EMBSTORE_ID32, n_ids, offsets, n_bags, NULL, EMBSTORE_BAG_SUM, od,
		                               out, &bad, 3)
		   : embstore_gather_bag_as(m, ids, EMBSTORE_ID32, n_ids, offsets, n_bags, NULL, EMBSTORE_BAG_SUM, od, out,
		                            &bad);
	cr_assert(s == EMBSTORE_ID_OUT_OF_RANGE || bad == 777, "bad_index written on status %d", (int)s);
	return s;
}

Test(api, output_dtype_checks)
{
	int32_t ids[2] = {0, 3}, bad_ids[3] = {1, 2, 4};
	int64_t off[3] = {0, 1, 2};
	uint16_t out[24]; /* room past the 2 rows of dim 3 a bad id leaves, f32 included */
	for (int mt = 0; mt < 2; mt++) {
		embstore_matrix m = api_table();
		static const int refused[] = {0, EMBSTORE_INT8_ROWWISE, 5, -1};
		for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
			embstore_dtype od = (embstore_dtype)refused[i];
			cr_assert_eq(call_gather_as(&m, ids, 2, od, out, mt), EMBSTORE_BAD_DTYPE, "out dtype %d", refused[i]);
			cr_assert_eq(call_bag_as(&m, ids, 2, off, 2, od, out, mt), EMBSTORE_BAD_DTYPE, "out dtype %d",
			             refused[i]);
		}
		for (int o = 0; o < 3; o++) {
			embstore_dtype od = o == 0 ? EMBSTORE_F32 : o == 1 ? EMBSTORE_F16 : EMBSTORE_BF16;
			cr_assert_eq(call_gather_as(&m, ids, 2, od, o ? out : NULL, mt),
			             o ? EMBSTORE_OK : EMBSTORE_INVALID_ARGUMENT);
			cr_assert_eq(call_gather_as(&m, NULL, 2, od, out, mt), EMBSTORE_INVALID_ARGUMENT);
			cr_assert_eq(call_gather_as(NULL, ids, 2, od, out, mt), EMBSTORE_INVALID_ARGUMENT);
			cr_assert_eq(call_gather_as(&m, NULL, 0, od, NULL, mt), EMBSTORE_OK);
			/* n x dim 16-bit codes fit in a size_t only up to SIZE_MAX / 2 / dim rows. */
			cr_assert_eq(call_gather_as(&m, ids, SIZE_MAX / 4, od, out, mt), EMBSTORE_INVALID_ARGUMENT);
			cr_assert_eq(call_bag_as(&m, ids, 2, off, 2, od, NULL, mt), EMBSTORE_INVALID_ARGUMENT);
			cr_assert_eq(call_bag_as(&m, ids, 2, NULL, 2, od, out, mt), EMBSTORE_INVALID_ARGUMENT);

			/* A bad id: its position, the rows before it written, nothing from it on. */
			memset(out, 0xa5, sizeof out);
			size_t bad = 0;
			cr_assert_eq(mt ? embstore_gather_as_mt(&m, bad_ids, EMBSTORE_ID32, 3, od, out, &bad, 2)
			                : embstore_gather_as(&m, bad_ids, EMBSTORE_ID32, 3, od, out, &bad),
			             EMBSTORE_ID_OUT_OF_RANGE);
			cr_assert_eq(bad, 2);
			size_t size = o ? 2 : 4, written = 2 * 3 * size;
			const unsigned char *bytes = (const unsigned char *)out;
			for (size_t i = written; i < sizeof out; i++)
				cr_assert_eq(bytes[i], 0xa5, "%s out: byte %zu written past row 2", o ? "16-bit" : "f32", i);
		}
	}
}

/* Codes past the end of a narrow output stay as they were: 7 rows of dim 5 (35 codes, no whole vector of any
 * set), then 2 rows of dim 37, into a buffer one code longer than the output. */
Test(api, narrow_output_writes_nothing_past_its_end)
{
	static const uint32_t dims[2] = {5, 37};
	for (int d = 0; d < 2; d++) {
		kc_table t;
		kc_table_new(&t, EMBSTORE_BF16, 9, dims[d], 0, 0);
		size_t n = d ? 2 : 7, count = n * dims[d];
		void *ids = kc_ids_new(n, 9, 0);
		int64_t offsets[2] = {0, (int64_t)n};
		uint16_t *out = kc_alloc((count + 1) * 2);
		for (int op = 0; op < 2; op++) {
			for (int o = 0; o < 2; o++) {
				embstore_dtype od = o ? EMBSTORE_BF16 : EMBSTORE_F16;
				size_t codes = op ? dims[d] : count, bad;
				for (size_t i = 0; i <= count; i++)
					out[i] = 0x7d05;
				cr_assert_eq(op ? embstore_gather_bag_as(&t.m, ids, EMBSTORE_ID32, n, offsets, 1, NULL,
				                                         EMBSTORE_BAG_MEAN, od, out, &bad)
				                : embstore_gather_as(&t.m, ids, EMBSTORE_ID32, n, od, out, &bad),
				             EMBSTORE_OK);
				cr_assert_neq(out[codes - 1], 0x7d05, "the last code was not written");
				for (size_t i = codes; i <= count; i++)
					cr_assert_eq(out[i], 0x7d05, "op %d, %s out: code %zu past the end written", op,
					             embstore_dtype_name(od), i);
			}
		}
		free(out);
		free(ids);
		kc_table_free(&t);
	}
}

/* The public calls give the reference's results, whichever set is active (the suite runs once per set). */
Test(api, public_calls_match_scalar)
{
	const embstore_kernel_table *scalar = &embstore_kernels_scalar;
	kc_table t;
	kc_table_new(&t, EMBSTORE_F32, 50, 21, 1, 0);
	size_t n = 300;
	void *ids = kc_ids_new(n, 50, 1);
	float *want = kc_alloc(n * 21 * 4), *got = kc_alloc(n * 21 * 4);
	size_t bad;
	cr_assert_eq(scalar->gather(&t.m, ids, EMBSTORE_ID64, n, want, 0, &bad), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&t.m, ids, EMBSTORE_ID64, n, got, &bad), EMBSTORE_OK);
	kc_expect_bitwise(want, got, n * 21, "embstore_gather");
	int64_t offsets[4] = {0, 100, 100, 300};
	cr_assert_eq(scalar->gather_bag(&t.m, ids, EMBSTORE_ID64, offsets, 3, NULL, EMBSTORE_BAG_MEAN, want, &bad),
	             EMBSTORE_OK);
	cr_assert_eq(embstore_gather_bag(&t.m, ids, EMBSTORE_ID64, 300, offsets, 3, NULL, EMBSTORE_BAG_MEAN, got, &bad),
	             EMBSTORE_OK);
	kc_expect_close(want, got, 3 * 21, "embstore_gather_bag");
	/* f16 output: the f32 results rounded, bit for bit. */
	uint16_t *codes = kc_alloc(n * 21 * 2);
	cr_assert_eq(scalar->gather(&t.m, ids, EMBSTORE_ID64, n, want, 0, &bad), EMBSTORE_OK);
	cr_assert_eq(embstore_gather_as(&t.m, ids, EMBSTORE_ID64, n, EMBSTORE_F16, codes, &bad), EMBSTORE_OK);
	for (size_t i = 0; i < n * 21; i++)
		cr_assert_eq(codes[i], embstore_f32_to_f16(want[i]), "code %zu", i);
	free(codes);
	free(want);
	free(got);
	free(ids);
	kc_table_free(&t);
}
