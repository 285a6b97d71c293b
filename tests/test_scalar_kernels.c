/* test_scalar_kernels.c: the scalar reference kernels (simd/scalar.c), which every other set is held to, against
 * hand-computed results, the library's own conversions and quantiser, and out-of-range ids. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "kernel_cases.h"

static const embstore_kernel_table *const scalar = &embstore_kernels_scalar;

Test(scalar, gather_known_values)
{
	uint16_t h[6] = {0x3c00, 0xc000, 0x0001, 0x7c00, 0x7c01, 0x3555};
	float want[6] = {1.0f, -2.0f, 0x1p-24f, INFINITY, NAN, 0x1.554p-2f};
	float out[6];
	size_t bad;
	embstore_matrix m = {.data = h, .rows = 1, .row_stride = 12, .dim = 6, .dtype = EMBSTORE_F16};
	int32_t id = 0;
	cr_assert_eq(scalar->gather(&m, &id, EMBSTORE_ID32, 1, out, 0, &bad), EMBSTORE_OK);
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
	cr_assert_eq(scalar->gather(&m, &id, EMBSTORE_ID32, 1, out, 0, &bad), EMBSTORE_OK);
	cr_assert(out[0] == -1.0f && out[1] == 63.0f && out[2] == 126.5f, "int8: %g %g %g", (double)out[0],
	          (double)out[1], (double)out[2]);
}

Test(scalar, bag_known_values)
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

Test(scalar, scatter_add_known_values)
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

Test(scalar, conversions_match_convert_c)
{
	kc_conversions(scalar);
}

Test(scalar, int8_rows_from_quantizer)
{
	kc_int8_from_quantizer(scalar);
}

Test(scalar, out_of_range_ids)
{
	kc_out_of_range(scalar);
}
