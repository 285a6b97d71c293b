/* half.h: exact widening of f16 and bf16 to f32, inline: the writer and the scalar kernels call these once per
 * element, and an out-of-line call per element cost the scalar bf16 gather 7x (20 -> 3 Mrows/s). */
#ifndef EMBSTORE_HALF_H
#define EMBSTORE_HALF_H

#include <stdint.h>
#include <string.h>

static inline float es_bits_f32(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* A NaN comes out quiet with its payload kept, as F16C and NEON convert it, so every kernel set agrees. */
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

#endif
