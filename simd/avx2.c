/* avx2.c: AVX2 + FMA + F16C kernels, 8 floats per vector. Built with -mavx2 -mfma -mf16c; dispatch.c calls them
 * only after cpu.c saw AVX2, FMA, F16C and OS-enabled YMM state. The loops are kernel_loops.h's; this file
 * supplies its vector primitives. Numerics as in kernels.h (bitwise scalar.c). */
#include <immintrin.h>
#include <stdint.h>

#include "kernels.h"

#define VL 8
/* 8 of the 16 YMM registers accumulate a bag (64 floats a walk), leaving the others for the row being loaded,
 * the weight, the int8 scale and bias and the tail mask; 16 would spill. */
#define BAG_REGS 8

typedef __m256 vfloat;
typedef __m256i vtail;

/* _mm256_loadu_si256(lane_mask + 8 - r) enables the first r lanes (0 <= r <= 8). */
static const int32_t lane_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

ES_INLINE vtail v_tail(size_t r)
{
	return _mm256_loadu_si256((const __m256i *)(const void *)(lane_mask + VL - r));
}

#define v_zero() _mm256_setzero_ps()
#define v_set1(x) _mm256_set1_ps(x)
#define v_load(p) _mm256_loadu_ps(p)
#define v_store(p, v) _mm256_storeu_ps(p, v)
#define v_load_tail(p, m) _mm256_maskload_ps(p, m)
#define v_store_tail(p, v, m) _mm256_maskstore_ps(p, m, v)
#define v_stream(p, v) _mm256_stream_ps(p, v)
#define v_stream_fence() _mm_sfence()

typedef struct vshift {
	__m256i rot; /* lane l reads lane (l - c) mod 8 */
	__m256 low;  /* lanes l < c */
} vshift;

ES_INLINE vshift v_shift(size_t c)
{
	__m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), cc = _mm256_set1_epi32((int)c);
	vshift sh = {_mm256_sub_epi32(iota, cc), _mm256_castsi256_ps(_mm256_cmpgt_epi32(cc, iota))};
	return sh;
}
#define v_funnel(lo, hi, sh) _mm256_blendv_ps(_mm256_permutevar8x32_ps(hi, (sh).rot), lo, (sh).low)
#define v_down(v, sh) _mm256_permutevar8x32_ps(v, (sh).rot)
#define v_add(a, b) _mm256_add_ps(a, b)
#define v_mul(a, b) _mm256_mul_ps(a, b)
#define v_div(a, b) _mm256_div_ps(a, b)
#define v_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define v_max(a, b) _mm256_max_ps(a, b)


#define cvt_f32(p) _mm256_loadu_ps((const float *)(const void *)(p))
/* AVX2 masks only 32- and 64-bit elements; 16-bit and byte tails go kernel_loops.h's way. (That way, a whole
 * vector read, made f32 bags 18-26% faster at dims 5, 20 and 100 but f32 gathers 8-20% slower than VMASKMOVPS.) */
#define cvt_f32_tail(p, m) _mm256_maskload_ps((const float *)(const void *)(p), m)
#define cvt_f16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define cvt_u8(p) _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))

/* bf16's 16 bits moved to the top of each 32-bit lane. */
ES_INLINE vfloat cvt_bf16(const unsigned char *p)
{
	__m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* To nearest even: F16C's immediate rounding mode 0, whatever MXCSR says. */
typedef __m128i vhalf; /* VL f16 or bf16 codes */

ES_INLINE vhalf half_f16(vfloat v)
{
	return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

/* bf16 as element.h rounds it, in integers: add 0x7fff plus the kept part's lowest bit, keep the top 16 bits; a
 * NaN keeps its top bits with the quiet bit set instead (the add could carry it into infinity). */
ES_INLINE vhalf half_bf16(vfloat v)
{
	__m256i u = _mm256_castps_si256(v);
	__m256i top = _mm256_srli_epi32(u, 16);
	__m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(top, _mm256_set1_epi32(1)));
	__m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
	__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
	                                 _mm256_set1_epi32(0x7f800000));
	__m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
	__m256i h = _mm256_blendv_epi8(rounded, quiet, nan);
	return _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

ES_INLINE void narrow_f16(unsigned char *p, vfloat v)
{
	_mm_storeu_si128((__m128i *)(void *)p, half_f16(v));
}

ES_INLINE void narrow_bf16(unsigned char *p, vfloat v)
{
	_mm_storeu_si128((__m128i *)(void *)p, half_bf16(v));
}

#define v_stream_halves(p, lo, hi) _mm256_stream_si256((__m256i *)(void *)(p), _mm256_set_m128i(hi, lo))

#include "kernel_loops.h"

const embstore_kernel_table embstore_kernels_avx2 = {
	EMBSTORE_ISA_AVX2,
	loops_gather,
	loops_gather_rows,
	loops_gather_bag,
	loops_gather_narrow,
	loops_gather_bag_narrow,
	loops_scatter_add,
	loops_add_rows,
	loops_sgd_row,
	loops_adagrad_row,
};
