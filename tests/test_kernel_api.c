/* test_kernel_api.c: the public kernel entry points (embstore_gather, _bag, _scatter_add and their _mt variants):
 * every argument check, bad_index written only with ID_OUT_OF_RANGE, and the results of the active set equal to
 * the scalar reference (the suite runs once per kernel set). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

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
	cr_assert_eq(scalar->gather(&t.m, ids, EMBSTORE_ID64, n, want, &bad), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&t.m, ids, EMBSTORE_ID64, n, got, &bad), EMBSTORE_OK);
	kc_expect_bitwise(want, got, n * 21, "embstore_gather");
	int64_t offsets[4] = {0, 100, 100, 300};
	cr_assert_eq(scalar->gather_bag(&t.m, ids, EMBSTORE_ID64, offsets, 3, NULL, EMBSTORE_BAG_MEAN, want, &bad),
	             EMBSTORE_OK);
	cr_assert_eq(embstore_gather_bag(&t.m, ids, EMBSTORE_ID64, 300, offsets, 3, NULL, EMBSTORE_BAG_MEAN, got, &bad),
	             EMBSTORE_OK);
	kc_expect_close(want, got, 3 * 21, "embstore_gather_bag");
	free(want);
	free(got);
	free(ids);
	kc_table_free(&t);
}
