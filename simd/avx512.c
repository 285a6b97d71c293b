/* avx512.c: AVX-512 F/BW/VL kernels, 16 floats per vector, masked loads and stores for every remainder. Built
 * with -mavx512f -mavx512bw -mavx512vl -mavx2 -mfma -mf16c; dispatch.c calls them only after cpu.c saw those
 * features and OS-enabled opmask and ZMM state. The loops are kernel_loops.h's; this file supplies its vector
 * primitives. Numerics as in kernels.h (bitwise scalar.c). */
#include <immintrin.h>
#include <stdint.h>

#include "kernels.h"

#define VL 16
/* 16 of the 32 ZMM registers accumulate a bag: a row of up to 256 floats in one walk over the bag's ids, which
 * beat 8 on wide rows (docs/BENCHMARKS.md, kernel design measurements). */
#define BAG_REGS 16

typedef __m512 vfloat;
typedef __mmask16 vtail;

ES_INLINE vtail v_tail(size_t r)
{
	return (__mmask16)((1u << r) - 1);
}

#define v_zero() _mm512_setzero_ps()
#define v_set1(x) _mm512_set1_ps(x)
#define v_load(p) _mm512_loadu_ps(p)
#define v_store(p, v) _mm512_storeu_ps(p, v)
#define v_load_tail(p, m) _mm512_maskz_loadu_ps(m, p)
#define v_store_tail(p, v, m) _mm512_mask_storeu_ps(p, m, v)
#define v_stream(p, v) _mm512_stream_ps(p, v)
#define v_stream_fence() _mm_sfence()

typedef struct vshift {
	__m512i funnel, down;
} vshift;

ES_INLINE vshift v_shift(size_t c)
{
	__m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	__m512i down = _mm512_sub_epi32(iota, _mm512_set1_epi32((int)c)); /* permutes read the low 4 bits */
	__mmask16 low = _mm512_cmplt_epi32_mask(iota, _mm512_set1_epi32((int)c));
	vshift sh = {_mm512_mask_blend_epi32(low, _mm512_or_si512(down, _mm512_set1_epi32(16)), iota), down};
	return sh;
}
#define v_funnel(lo, hi, sh) _mm512_permutex2var_ps(lo, (sh).funnel, hi)
#define v_down(v, sh) _mm512_permutexvar_ps((sh).down, v)
#define v_add(a, b) _mm512_add_ps(a, b)
#define v_mul(a, b) _mm512_mul_ps(a, b)
#define v_div(a, b) _mm512_div_ps(a, b)
#define v_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define v_max(a, b) _mm512_max_ps(a, b)


/* 16 f16 or bf16 codes as f32: F16C, or bf16's 16 bits moved to the top of each lane. */
ES_INLINE vfloat widen_f16(__m256i h)
{
	return _mm512_cvtph_ps(h);
}

ES_INLINE vfloat widen_bf16(__m256i h)
{
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

ES_INLINE vfloat widen_u8(__m128i q)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q));
}

#define cvt_f32(p) _mm512_loadu_ps(p)
#define cvt_f16(p) widen_f16(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define cvt_bf16(p) widen_bf16(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define cvt_u8(p) widen_u8(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define cvt_f32_tail(p, m) _mm512_maskz_loadu_ps(m, p)
#define cvt_f16_tail(p, m) widen_f16(_mm256_maskz_loadu_epi16(m, p))
#define cvt_bf16_tail(p, m) widen_bf16(_mm256_maskz_loadu_epi16(m, p))
#define cvt_u8_tail(p, m) widen_u8(_mm_maskz_loadu_epi8(m, p))

/* To nearest even: the immediate rounding mode 0, whatever MXCSR says. */
typedef __m256i vhalf; /* VL f16 or bf16 codes */

ES_INLINE vhalf half_f16(vfloat v)
{
	return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

/* bf16 as element.h rounds it, in integers: add 0x7fff plus the kept part's lowest bit, keep the top 16 bits; a
 * NaN keeps its top bits with the quiet bit set instead (the add could carry it into infinity). */
ES_INLINE vhalf half_bf16(vfloat v)
{
	__m512i u = _mm512_castps_si512(v);
	__m512i top = _mm512_srli_epi32(u, 16);
	__m512i bias = _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(top, _mm512_set1_epi32(1)));
	__m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, bias), 16);
	__mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
	                                        _mm512_set1_epi32(0x7f800000));
	__m512i h = _mm512_mask_or_epi32(rounded, nan, top, _mm512_set1_epi32(0x40));
	return _mm512_cvtepi32_epi16(h);
}

ES_INLINE void narrow_f16(unsigned char *p, vfloat v)
{
	_mm256_storeu_si256((__m256i *)(void *)p, half_f16(v));
}

ES_INLINE void narrow_bf16(unsigned char *p, vfloat v)
{
	_mm256_storeu_si256((__m256i *)(void *)p, half_bf16(v));
}

#define v_stream_halves(p, lo, hi)                                                                             \
	_mm512_stream_si512((void *)(p), _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1))

#include "kernel_loops.h"

const embstore_kernel_table embstore_kernels_avx512 = {
	EMBSTORE_ISA_AVX512,
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
