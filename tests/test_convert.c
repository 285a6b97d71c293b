/* test_convert.c: f16 / bf16 rounding and int8 quantisation against hand-computed cases. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

Test(convert, f16_hand_computed)
{
	struct {
		float in;
		uint16_t out;
	} cases[] = {
		{1.0f, 0x3C00},
		{-2.0f, 0xC000},
		{0.1f, 0x2E66},
		{65504.0f, 0x7BFF},
		{65519.0f, 0x7BFF},                    /* below the halfway point to 2^16 */
		{65520.0f, 0x7C00},                    /* halfway: ties to even, which is infinity */
		{1.0f + 0x1p-11f, 0x3C00},             /* tie between 0x3C00 and 0x3C01: even */
		{1.0f + 3 * 0x1p-11f, 0x3C02},         /* tie between 0x3C01 and 0x3C02: even */
		{1.0f + 0x1p-11f + 0x1p-20f, 0x3C01},  /* just above the tie */
		{0x1p-14f, 0x0400},                    /* smallest normal */
		{0x1p-24f, 0x0001},                    /* smallest subnormal */
		{0x1p-25f, 0x0000},                    /* tie between 0 and 2^-24: even (zero) */
		{0x1.8p-25f, 0x0001},
		{3 * 0x1p-25f, 0x0002},                /* tie between 1 and 2 subnormal steps: even */
		{0x1p-14f - 0x1p-25f, 0x0400},         /* tie rounds up into the smallest normal */
		{0x1p-26f, 0x0000},
		{-0.0f, 0x8000},
		{INFINITY, 0x7C00},
		{-INFINITY, 0xFC00},
		{1e10f, 0x7C00},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_expect_eq(embstore_f32_to_f16(cases[i].in), cases[i].out, "case %zu (%a): got %#x want %#x", i,
		             (double)cases[i].in, embstore_f32_to_f16(cases[i].in), cases[i].out);
	uint16_t nan = embstore_f32_to_f16(NAN);
	cr_expect((nan & 0x7C00) == 0x7C00 && (nan & 0x3FF) != 0, "NaN stays NaN: %#x", nan);
	uint16_t snan = embstore_f32_to_f16(from_bits(0x7F800001)); /* payload only in low bits */
	cr_expect((snan & 0x7C00) == 0x7C00 && (snan & 0x3FF) != 0, "NaN stays NaN: %#x", snan);
}

Test(convert, f16_widening_is_exact_for_all_values)
{
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = embstore_f16_to_f32((uint16_t)h);
		if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) {
			cr_assert(isnan(f));
			continue;
		}
		/* every finite or infinite f16 converts to f32 and back unchanged */
		cr_assert_eq(embstore_f32_to_f16(f), h, "h=%#x f=%a", h, (double)f);
	}
	cr_expect_eq(embstore_f16_to_f32(0x0001), 0x1p-24f);
	cr_expect_eq(embstore_f16_to_f32(0x7BFF), 65504.0f);
	cr_expect_eq(embstore_f16_to_f32(0x3555), 0.333251953125f);
	cr_expect_eq(bits(embstore_f16_to_f32(0x8000)), 0x80000000u);
	cr_expect_eq(bits(embstore_f16_to_f32(0x7C01)), 0x7FC02000u); /* signalling NaN comes out quiet */
	cr_expect_eq(bits(embstore_f16_to_f32(0xFE00)), 0xFFC00000u);
}

Test(convert, bf16_hand_computed)
{
	struct {
		uint32_t in;
		uint16_t out;
	} cases[] = {
		{0x3F800000, 0x3F80}, /* 1.0 */
		{0x3F808000, 0x3F80}, /* tie: even */
		{0x3F818000, 0x3F82}, /* tie: even */
		{0x3F808001, 0x3F81}, /* above the tie */
		{0x3F807FFF, 0x3F80}, /* below the tie */
		{0x7F7FFFFF, 0x7F80}, /* FLT_MAX rounds to infinity */
		{0x80000000, 0x8000}, /* -0 */
		{0x7F800000, 0x7F80}, /* inf */
		{0x00000001, 0x0000}, /* smallest subnormal rounds to zero */
		{0x00008000, 0x0000}, /* tie: even (zero) */
		{0x00018000, 0x0002},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_expect_eq(embstore_f32_to_bf16(from_bits(cases[i].in)), cases[i].out, "case %zu: got %#x want %#x", i,
		             embstore_f32_to_bf16(from_bits(cases[i].in)), cases[i].out);
	/* A NaN whose payload lies only in the low 16 bits must not become infinity. */
	uint16_t n = embstore_f32_to_bf16(from_bits(0x7F800001));
	cr_expect((n & 0x7F80) == 0x7F80 && (n & 0x7F) != 0, "NaN stays NaN: %#x", n);
	cr_expect_eq(bits(embstore_bf16_to_f32(0x3F82)), 0x3F820000u);
}

static void dequant(const uint8_t *row, uint32_t dim, float *out)
{
	float scale, bias;
	memcpy(&scale, row + dim, 4);
	memcpy(&bias, row + dim + 4, 4);
	for (uint32_t i = 0; i < dim; i++)
		out[i] = (float)row[i] * scale + bias;
}

Test(convert, int8_exact_grid)
{
	float src[256], back[256];
	uint8_t row[256 + 8];
	for (int i = 0; i < 256; i++)
		src[i] = (float)i * 0.5f - 10.0f; /* range 127.5: scale 0.5, bias -10 */
	cr_assert_eq(embstore_quantize_row_int8(src, 256, row), EMBSTORE_OK);
	for (int i = 0; i < 256; i++)
		cr_assert_eq(row[i], i);
	dequant(row, 256, back);
	for (int i = 0; i < 256; i++)
		cr_assert_eq(back[i], src[i]);
}

Test(convert, int8_constant_row_and_error_bound)
{
	float c[3] = {3.25f, 3.25f, 3.25f}, back[64];
	uint8_t row[64 + 8];
	cr_assert_eq(embstore_quantize_row_int8(c, 3, row), EMBSTORE_OK);
	dequant(row, 3, back);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(back[i], 3.25f);

	uint64_t s = 42;
	float src[64];
	for (int i = 0; i < 64; i++)
		src[i] = tu_randf(&s) * 7.0f;
	cr_assert_eq(embstore_quantize_row_int8(src, 64, row), EMBSTORE_OK);
	float scale;
	memcpy(&scale, row + 64, 4);
	dequant(row, 64, back);
	for (int i = 0; i < 64; i++)
		cr_expect(fabsf(back[i] - src[i]) <= scale * 0.5f + 1e-6f, "%d: %g vs %g", i, back[i], src[i]);
}

Test(convert, int8_refuses_non_finite_and_survives_huge_range)
{
	uint8_t row[2 + 8];
	float bad[2] = {1.0f, NAN}, inf[2] = {INFINITY, 0}, huge[2] = {-3e38f, 3e38f};
	cr_expect_eq(embstore_quantize_row_int8(bad, 2, row), EMBSTORE_NON_FINITE);
	cr_expect_eq(embstore_quantize_row_int8(inf, 2, row), EMBSTORE_NON_FINITE);
	cr_assert_eq(embstore_quantize_row_int8(huge, 2, row), EMBSTORE_OK);
	float scale;
	memcpy(&scale, row + 2, 4);
	cr_expect(isfinite(scale) && row[0] == 0 && row[1] == 255);
}

Test(convert, dtype_names)
{
	embstore_dtype d;
	cr_expect_eq(embstore_dtype_parse("bf16", &d), EMBSTORE_OK);
	cr_expect_eq(d, EMBSTORE_BF16);
	cr_expect_eq(embstore_dtype_parse("f64", &d), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_null(embstore_dtype_name((embstore_dtype)9));
	cr_expect_eq(embstore_row_bytes(EMBSTORE_INT8_ROWWISE, 4), 12);
	cr_expect_eq(embstore_row_bytes(EMBSTORE_F32, UINT64_MAX), 0);
	cr_expect_str_eq(embstore_strerror(EMBSTORE_HEADER_CHECKSUM), "header checksum mismatch");
	cr_expect_str_eq(embstore_status_name(EMBSTORE_ID_OUT_OF_RANGE), "ID_OUT_OF_RANGE");
	cr_expect_str_eq(embstore_status_name((embstore_status)999), "UNKNOWN");
}
