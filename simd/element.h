/* element.h: what an element and a row of each dtype are - sizes, the rules a matrix's geometry obeys, the int8
 * row-wise scale and bias, exact f16 / bf16 widening. The one definition of each, for the kernels (simd/) and for
 * the format, writer and verifier (src/), which include it from here: simd/ is the lower layer and never
 * includes src/. Everything is inline: the scalar kernels and the writer call these once per element. */
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

#endif /* EMBSTORE_SIMD_ELEMENT_H */
