/* convert.c: f32 <-> f16 / bf16 conversion, int8 row-wise quantisation, and whole rows from an input's type to a
 * table's, bit-exact and portable. The writer uses these; SIMD kernels widen f16 / bf16 the same way (exact), so
 * results agree everywhere. */
#include <float.h>
#include <math.h>

#include "convert.h"
#include "element.h"

uint16_t embstore_f32_to_f16(float x)
{
	return es_f32_to_f16(x);
}

float embstore_f16_to_f32(uint16_t h)
{
	return es_f16_to_f32(h);
}

uint16_t embstore_f32_to_bf16(float x)
{
	return es_f32_to_bf16(x);
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

uint64_t es_src_row_bytes(embstore_dtype src, uint32_t dim)
{
	return src == ES_SRC_F64 ? (uint64_t)dim * 8 : es_row_bytes(src, dim);
}

/* Widens a float row to f32. Only f64 can fail: a finite value beyond FLT_MAX. */
static embstore_status widen_row(const uint8_t *src, embstore_dtype type, uint32_t dim, bool saturate, float *dst,
                                 uint32_t *col)
{
	uint16_t h;
	for (uint32_t j = 0; j < dim; j++) {
		switch (type) {
		case EMBSTORE_F32:
			memcpy(&dst[j], src + 4 * (size_t)j, 4);
			break;
		case EMBSTORE_F16:
		case EMBSTORE_BF16:
			memcpy(&h, src + 2 * (size_t)j, 2);
			dst[j] = type == EMBSTORE_F16 ? es_f16_to_f32(h) : es_bf16_to_f32(h);
			break;
		default: { /* ES_SRC_F64 */
			double d;
			memcpy(&d, src + 8 * (size_t)j, 8);
			dst[j] = (float)d; /* the current rounding mode: to nearest, ties to even */
			if (isfinite(d) && isinf(dst[j])) {
				if (!saturate) {
					*col = j;
					return EMBSTORE_RANGE;
				}
				dst[j] = d > 0 ? FLT_MAX : -FLT_MAX;
			}
			break;
		}
		}
	}
	return EMBSTORE_OK;
}

/* f32 -> f16 / bf16, refusing (or clamping) a finite value that rounds to infinity. */
static embstore_status narrow_row(const float *src, embstore_dtype type, uint32_t dim, bool saturate, uint8_t *dst,
                                  uint32_t *col)
{
	uint16_t inf = type == EMBSTORE_F16 ? 0x7C00 : 0x7F80, max = type == EMBSTORE_F16 ? 0x7BFF : 0x7F7F;
	for (uint32_t j = 0; j < dim; j++) {
		uint16_t h = type == EMBSTORE_F16 ? embstore_f32_to_f16(src[j]) : embstore_f32_to_bf16(src[j]);
		if ((h & 0x7FFF) == inf && isfinite(src[j])) {
			if (!saturate) {
				*col = j;
				return EMBSTORE_RANGE;
			}
			h = (uint16_t)((h & 0x8000) | max);
		}
		memcpy(dst + 2 * (size_t)j, &h, 2);
	}
	return EMBSTORE_OK;
}

embstore_status es_convert_row(const uint8_t *src, embstore_dtype src_type, uint8_t *dst, embstore_dtype dst_type,
                               uint32_t dim, bool saturate, float *tmp, uint32_t *col)
{
	if (src_type == EMBSTORE_INT8_ROWWISE || dst_type == EMBSTORE_INT8_ROWWISE) {
		if (src_type == dst_type) {
			*col = dim;
			ES_CHECK(es_int8_row_finite(src, dim), EMBSTORE_NON_FINITE);
			memcpy(dst, src, (size_t)es_row_bytes(dst_type, dim));
			return EMBSTORE_OK;
		}
		ES_CHECK(dst_type == EMBSTORE_INT8_ROWWISE, EMBSTORE_BAD_DTYPE);
	}
	if (src_type == dst_type) {
		memcpy(dst, src, (size_t)es_row_bytes(dst_type, dim));
		return EMBSTORE_OK;
	}
	ES_TRY(widen_row(src, src_type, dim, saturate, tmp, col));
	switch (dst_type) {
	case EMBSTORE_F32:
		memcpy(dst, tmp, (size_t)dim * 4);
		return EMBSTORE_OK;
	case EMBSTORE_F16:
	case EMBSTORE_BF16:
		return narrow_row(tmp, dst_type, dim, saturate, dst, col);
	default: /* EMBSTORE_INT8_ROWWISE */
		for (uint32_t j = 0; j < dim; j++) {
			if (!isfinite(tmp[j])) {
				*col = j;
				return EMBSTORE_NON_FINITE;
			}
		}
		return embstore_quantize_row_int8(tmp, dim, dst);
	}
}
