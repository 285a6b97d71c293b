/* element.h: what an element and a row of each dtype are - sizes, the rules a matrix's geometry obeys, the int8
 * row-wise scale and bias, exact f16 / bf16 widening and their rounding narrowing. The one definition of each,
 * for the kernels (simd/) and for the format, writer and verifier (src/), which include it from here: simd/ is
 * the lower layer and never includes src/. Everything is inline: the scalar kernels and the writer call these once per element. */
#ifndef EMBSTORE_SIMD_ELEMENT_H
#define EMBSTORE_SIMD_ELEMENT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "embstore.h"

/* Bytes of one element as stored (int8 row-wise: the quantised byte); 0 for an unknown dtype. */
static inline uint64_t es_elem_bytes(embstore_dtype dtype)
{
	switch (dtype) {
	case EMBSTORE_F32:
		return 4;
	case EMBSTORE_F16:
	case EMBSTORE_BF16:
		return 2;
	case EMBSTORE_INT8_ROWWISE:
		return 1;
	}
	return 0;
}

/* Bytes of one packed row of `dim` elements: dim elements, and for int8 row-wise the f32 scale and bias after
 * them. 0 for an unknown dtype or when the size does not fit 64 bits. */
static inline uint64_t es_row_bytes(embstore_dtype dtype, uint64_t dim)
{
	uint64_t elem = es_elem_bytes(dtype), bytes;
	if (elem == 0 || __builtin_mul_overflow(dim, elem, &bytes))
		return 0;
	if (dtype == EMBSTORE_INT8_ROWWISE && __builtin_add_overflow(bytes, 8, &bytes))
		return 0;
	return bytes;
}

/* A row stride fits a dtype and dim when it holds a packed row and keeps every row's elements aligned as row
 * 0's are (a multiple of the element size). */
static inline bool es_stride_fits(embstore_dtype dtype, uint64_t dim, uint64_t row_stride)
{
	uint64_t row = es_row_bytes(dtype, dim);
	return row != 0 && row_stride >= row && row_stride % es_elem_bytes(dtype) == 0;
}

/* An int8 row-wise row's scale and bias, stored unaligned after its dim bytes. */
static inline void es_int8_scale_bias(const unsigned char *row, uint32_t dim, float *scale, float *bias)
{
	memcpy(scale, row + dim, 4);
	memcpy(bias, row + (size_t)dim + 4, 4);
}

/* Scale and bias must be finite for the row's values to be. */
static inline bool es_int8_row_finite(const unsigned char *row, uint32_t dim)
{
	float scale, bias;
	es_int8_scale_bias(row, dim, &scale, &bias);
	return isfinite(scale) && isfinite(bias);
}

static inline float es_bits_f32(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* Exact. A NaN comes out quiet with its payload kept, as F16C and NEON convert it, so every kernel set agrees. */
static inline float es_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
	if (e == 0) {
		float v = (float)m * 0x1p-24f; /* zero or subnormal, exact: m < 2^10 */
		uint32_t u;
		memcpy(&u, &v, sizeof u);
		return es_bits_f32(u | sign);
	}
	if (e == 31)
		return es_bits_f32(sign | 0x7F800000 | (m << 13) | (m ? 0x400000u : 0));
	return es_bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

static inline float es_bf16_to_f32(uint16_t h)
{
	return es_bits_f32((uint32_t)h << 16);
}

static inline uint32_t es_f32_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

/* f32 -> f16 and bf16, to nearest, ties to even, as F16C, AArch64 FCVTN and the optimizer kernels' integer bf16
 * rounding do: overflow gives infinity, results below f16's normal range its subnormals, a NaN a quiet NaN with
 * the top payload bits kept. */
static inline uint16_t es_f32_to_f16(float x)
{
	uint32_t u = es_f32_bits(x);
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

static inline uint16_t es_f32_to_bf16(float x)
{
	uint32_t u = es_f32_bits(x);
	if ((u & 0x7FFFFFFF) > 0x7F800000)
		return (uint16_t)((u >> 16) | 0x40); /* truncating could turn a NaN into infinity: force quiet */
	u += 0x7FFF + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

#endif /* EMBSTORE_SIMD_ELEMENT_H */
