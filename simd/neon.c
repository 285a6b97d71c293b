/* neon.c: AArch64 Advanced SIMD kernels, 4 floats per vector. NEON is baseline on AArch64, so no flags; the file
 * is kept apart from scalar.c so that both can be tested against each other. The loops are kernel_loops.h's;
 * this file supplies its vector primitives. Numerics as in kernels.h (bitwise scalar.c; FCVTL quiets signalling
 * f16 NaNs like scalar.c, vfmaq_f32 is fused like fmaf). */
#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#define VL 4
/* 16 accumulators of the 32 V registers (64 floats), leaving the rest for the row being loaded, weight, int8
 * scale and bias. Not measured: chosen by register count (qemu says nothing about speed). */
#define BAG_REGS 16

typedef float32x4_t vfloat;
typedef size_t vtail; /* no lane masks: v_load_tail and v_store_tail copy the r floats */

#define v_tail(r) (r)
#define v_zero() vdupq_n_f32(0.0f)
#define v_set1(x) vdupq_n_f32(x)
#define v_load(p) vld1q_f32(p)
#define v_store(p, v) vst1q_f32(p, v)
#define v_add(a, b) vaddq_f32(a, b)
#define v_mul(a, b) vmulq_f32(a, b)
#define v_div(a, b) vdivq_f32(a, b)
#define v_fma(a, b, c) vfmaq_f32(c, a, b)


/* a > b ? a : b, as x86 MAXPS: vmaxq_f32 would return NaN for any NaN operand and differ from scalar.c. */
ES_INLINE vfloat v_max(vfloat a, vfloat b)
{
	return vbslq_f32(vcgtq_f32(a, b), a, b);
}

ES_INLINE vfloat v_load_tail(const float *p, vtail r)
{
	float tmp[VL] = {0};
	memcpy(tmp, p, r * 4);
	return vld1q_f32(tmp);
}

ES_INLINE void v_store_tail(float *p, vfloat v, vtail r)
{
	float tmp[VL];
	vst1q_f32(tmp, v);
	memcpy(p, tmp, r * 4);
}

#define cvt_f32(p) vld1q_f32((const float *)(const void *)(p))
#define cvt_f16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)(p))))
#define cvt_bf16(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)(const void *)(p)), 16))

ES_INLINE vfloat cvt_u8(const unsigned char *p)
{
	uint32_t bytes;
	memcpy(&bytes, p, 4);
	uint16x8_t q16 = vmovl_u8(vcreate_u8(bytes));
	return vcvtq_f32_u32(vmovl_u16(vget_low_u16(q16)));
}

/* FCVTN rounds as FPCR says: to nearest even, the Linux default. The empty asm hides where v came from: GCC,
 * which assumes no signalling NaNs, would otherwise fold an f16 row widened by FCVTL and narrowed here into a
 * copy of its codes, and a signalling NaN would come out signalling instead of quiet as scalar.c makes it. */
ES_INLINE void narrow_f16(unsigned char *p, vfloat v)
{
	__asm__("" : "+w"(v));
	vst1_u16((uint16_t *)(void *)p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
}

/* bf16 as element.h rounds it, in integers: add 0x7fff plus the kept part's lowest bit, keep the top 16 bits; a
 * NaN keeps its top bits with the quiet bit set instead (the add could carry it into infinity). */
ES_INLINE void narrow_bf16(unsigned char *p, vfloat v)
{
	uint32x4_t u = vreinterpretq_u32_f32(v);
	uint32x4_t top = vshrq_n_u32(u, 16);
	uint32x4_t bias = vaddq_u32(vdupq_n_u32(0x7fff), vandq_u32(top, vdupq_n_u32(1)));
	uint32x4_t rounded = vshrq_n_u32(vaddq_u32(u, bias), 16);
	uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
	uint32x4_t h = vbslq_u32(nan, vorrq_u32(top, vdupq_n_u32(0x40)), rounded);
	vst1_u16((uint16_t *)(void *)p, vmovn_u32(h));
}

#include "kernel_loops.h"

const embstore_kernel_table embstore_kernels_neon = {
	EMBSTORE_ISA_NEON,
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
