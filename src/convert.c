/* convert.c: f32 <-> f16 / bf16 conversion and int8 row-wise quantisation, bit-exact and portable.
 * The writer uses these; SIMD kernels widen f16 / bf16 the same way (exact), so results agree everywhere. */
#include <math.h>

#include "half.h"
#include "util.h"

static uint32_t f32_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

uint16_t embstore_f32_to_f16(float x)
{
	uint32_t u = f32_bits(x);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t a = u & 0x7FFFFFFF;

	if (a > 0x7F800000) /* NaN: keep it a NaN (quiet) with the top payload bits */
		return (uint16_t)(sign | 0x7E00 | ((a >> 13) & 0x3FF));
	/* 65520 is halfway between 65504 (largest f16) and 2^16; ties go to the even neighbour, infinity. */
	if (a >= 0x477FF000)
		return (uint16_t)(sign | 0x7C00);
	if (a < 0x38800000) { /* below 2^-14: an f16 subnormal or zero */
		uint32_t e = a >> 23;
		if (e < 102) /* below 2^-25 (and 2^-25 itself ties to even zero below) */
			return sign;
		uint32_t m = (a & 0x7FFFFF) | 0x800000;
		uint32_t shift = 126 - e; /* x / 2^-24 = m * 2^(e - 126) */
		uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++; /* may carry into the smallest normal, which is the right encoding */
		return (uint16_t)(sign | q);
	}
	uint32_t h = (a >> 13) - ((127u - 15u) << 10);
	uint32_t rem = a & 0x1FFF;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++; /* a carry out of the mantissa bumps the exponent, up to infinity: correct */
	return (uint16_t)(sign | h);
}

float embstore_f16_to_f32(uint16_t h)
{
	return es_f16_to_f32(h);
}

uint16_t embstore_f32_to_bf16(float x)
{
	uint32_t u = f32_bits(x);
	if ((u & 0x7FFFFFFF) > 0x7F800000)
		return (uint16_t)((u >> 16) | 0x40); /* truncating could turn a NaN into infinity: force quiet */
	u += 0x7FFF + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

float embstore_bf16_to_f32(uint16_t h)
{
	return es_bf16_to_f32(h);
}

embstore_status embstore_quantize_row_int8(const float *src, uint32_t dim, uint8_t *dst)
{
	ES_CHECK(src && dst && dim > 0, EMBSTORE_INVALID_ARGUMENT);
	float lo = src[0], hi = src[0];
	for (uint32_t i = 0; i < dim; i++) {
		ES_CHECK(isfinite(src[i]), EMBSTORE_NON_FINITE);
		lo = src[i] < lo ? src[i] : lo;
		hi = src[i] > hi ? src[i] : hi;
	}
	/* In double: hi - lo can exceed FLT_MAX even when both are finite. */
	float scale = (float)(((double)hi - (double)lo) / 255.0);
	for (uint32_t i = 0; i < dim; i++) {
		double q = scale > 0 ? nearbyint(((double)src[i] - lo) / scale) : 0.0;
		dst[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
	}
	memcpy(dst + dim, &scale, 4);
	memcpy(dst + dim + 4, &lo, 4);
	return EMBSTORE_OK;
}
