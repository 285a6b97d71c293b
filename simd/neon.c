/* neon.c: AArch64 Advanced SIMD kernels, 4 floats per vector. NEON is baseline on AArch64, so no flags; the file
 * is kept apart from scalar.c so that both can be tested against each other. Numerics as in kernels.h (bitwise
 * scalar.c; FCVTL quiets signalling f16 NaNs like scalar.c, vfmaq_f32 is fused like fmaf). */
#include <arm_neon.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#define W 4

/* One source row being read, with the int8 scale and bias broadcast. */
typedef struct src_row {
	const unsigned char *p;
	float32x4_t scale, bias;
} src_row;

ES_INLINE src_row open_row(const embstore_matrix *t, int64_t id, embstore_dtype dt)
{
	src_row s;
	s.p = es_row(t, id);
	if (dt == EMBSTORE_INT8_ROWWISE) {
		float scale, bias;
		es_int8_scale_bias(s.p, t->dim, &scale, &bias);
		s.scale = vdupq_n_f32(scale);
		s.bias = vdupq_n_f32(bias);
	} else {
		s.scale = s.bias = vdupq_n_f32(0.0f);
	}
	return s;
}

/* Four elements at p as f32. */
ES_INLINE float32x4_t convert4(const unsigned char *p, embstore_dtype dt, const src_row *s)
{
	switch (dt) {
	case EMBSTORE_F32:
		return vld1q_f32((const float *)(const void *)p);
	case EMBSTORE_F16:
		return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)p)));
	case EMBSTORE_BF16:
		return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)(const void *)p), 16));
	case EMBSTORE_INT8_ROWWISE:
	default: {
		uint32_t bytes;
		memcpy(&bytes, p, 4);
		uint16x8_t q16 = vmovl_u8(vcreate_u8(bytes));
		float32x4_t q = vcvtq_f32_u32(vmovl_u16(vget_low_u16(q16)));
		return vfmaq_f32(s->bias, q, s->scale);
	}
	}
}

ES_INLINE size_t elem_bytes(embstore_dtype dt)
{
	return dt == EMBSTORE_F32 ? 4 : dt == EMBSTORE_INT8_ROWWISE ? 1 : 2;
}

/* Elements j .. j+3 as f32. */
ES_INLINE float32x4_t load_full(const src_row *s, embstore_dtype dt, size_t j)
{
	return convert4(s->p + j * elem_bytes(dt), dt, s);
}

/* Elements j .. j+r-1 (0 < r < 4) as f32, through a copy so that nothing past the row is read. (int8 needs no
 * copy: its scale and bias follow the q bytes, so 4 bytes from j < dim stay in the row.) */
ES_INLINE float32x4_t load_part(const src_row *s, embstore_dtype dt, size_t j, size_t r)
{
	if (dt == EMBSTORE_INT8_ROWWISE)
		return load_full(s, dt, j);
	unsigned char tmp[16] = {0};
	memcpy(tmp, s->p + j * elem_bytes(dt), r * elem_bytes(dt));
	return convert4(tmp, dt, s);
}

ES_INLINE void store_part(float *o, float32x4_t v, size_t r)
{
	float tmp[W];
	vst1q_f32(tmp, v);
	memcpy(o, tmp, r * 4);
}

ES_INLINE float32x4_t load_out_part(const float *o, size_t r)
{
	float tmp[W] = {0};
	memcpy(tmp, o, r * 4);
	return vld1q_f32(tmp);
}

/* ---- gather ---- */

ES_INLINE void gather_row(float *o, const src_row *s, embstore_dtype dt, size_t dim)
{
	size_t j = 0;
	for (; j + 2 * W <= dim; j += 2 * W) {
		float32x4_t a = load_full(s, dt, j), b = load_full(s, dt, j + W);
		vst1q_f32(o + j, a);
		vst1q_f32(o + j + W, b);
	}
	if (j + W <= dim) {
		vst1q_f32(o + j, load_full(s, dt, j));
		j += W;
	}
	if (j < dim)
		store_part(o + j, load_part(s, dt, j, dim - j), dim - j);
}

ES_INLINE embstore_status gather_impl(const embstore_matrix *t, const void *ids, size_t n, float *out,
                                      size_t *bad_index, embstore_dtype dt, int wide)
{
	size_t dim = t->dim;
	size_t pf = es_row_bytes(dt, t->dim);
	if (pf > ES_PREFETCH_BYTES)
		pf = ES_PREFETCH_BYTES;
	for (size_t i = 0; i < n; i++) {
		int64_t id = es_id_at(ids, wide, i);
		if ((uint64_t)id >= t->rows) {
			*bad_index = i;
			return EMBSTORE_ID_OUT_OF_RANGE;
		}
		es_prefetch_row(t, ids, wide, i, n, pf);
		src_row s = open_row(t, id, dt);
		gather_row(out + i * dim, &s, dt, dim);
	}
	return EMBSTORE_OK;
}

static embstore_status neon_gather(const embstore_matrix *t, const void *ids, embstore_id_type id_type, size_t n,
                                   float *out, size_t *bad_index)
{
#define GATHER(dt, wide) gather_impl(t, ids, n, out, bad_index, dt, wide)
	ES_SPECIALIZE(t->dtype, id_type, GATHER);
#undef GATHER
}

/* ---- bags ---- */

/* Folds one row into the bag's accumulator (kernels.h). Max is acc > x ? acc : x, as x86 MAXPS does it: vmaxq_f32
 * would return NaN for any NaN operand and differ from scalar.c. */
ES_INLINE float32x4_t fold(float32x4_t acc, float32x4_t x, embstore_bag_mode mode, int weighted, float32x4_t w,
                           int first)
{
	if (mode == EMBSTORE_BAG_MAX) {
		if (weighted)
			x = vmulq_f32(w, x);
		return first ? x : vbslq_f32(vcgtq_f32(acc, x), acc, x);
	}
	return weighted ? vfmaq_f32(acc, w, x) : vaddq_f32(acc, x);
}

ES_INLINE void bag_row(float *o, const src_row *s, embstore_dtype dt, size_t dim, embstore_bag_mode mode,
                       int weighted, float32x4_t w, int first)
{
	size_t j = 0;
	for (; j + W <= dim; j += W)
		vst1q_f32(o + j, fold(vld1q_f32(o + j), load_full(s, dt, j), mode, weighted, w, first));
	if (j < dim) {
		size_t r = dim - j;
		store_part(o + j, fold(load_out_part(o + j, r), load_part(s, dt, j, r), mode, weighted, w, first), r);
	}
}

ES_INLINE embstore_status bag_impl(const embstore_matrix *t, const void *ids, const int64_t *offsets,
                                   size_t n_bags, const float *weights, embstore_bag_mode mode, float *out,
                                   size_t *bad_index, embstore_dtype dt, int wide)
{
	size_t dim = t->dim;
	size_t pf = es_row_bytes(dt, t->dim);
	size_t n_end = n_bags ? (size_t)offsets[n_bags] : 0;
	if (pf > ES_PREFETCH_BYTES)
		pf = ES_PREFETCH_BYTES;
	for (size_t b = 0; b < n_bags; b++) {
		size_t lo = (size_t)offsets[b], hi = (size_t)offsets[b + 1];
		float *o = out + b * dim;
		if (mode != EMBSTORE_BAG_MAX || lo == hi)
			memset(o, 0, dim * sizeof(float));
		for (size_t k = lo; k < hi; k++) {
			int64_t id = es_id_at(ids, wide, k);
			if ((uint64_t)id >= t->rows) {
				*bad_index = k;
				return EMBSTORE_ID_OUT_OF_RANGE;
			}
			es_prefetch_row(t, ids, wide, k, n_end, pf);
			src_row s = open_row(t, id, dt);
			float32x4_t w = vdupq_n_f32(weights ? weights[k] : 1.0f);
			bag_row(o, &s, dt, dim, mode, weights != NULL, w, k == lo);
		}
		if (mode == EMBSTORE_BAG_MEAN && hi > lo) {
			float32x4_t d = vdupq_n_f32((float)(hi - lo));
			size_t j = 0;
			for (; j + W <= dim; j += W)
				vst1q_f32(o + j, vdivq_f32(vld1q_f32(o + j), d));
			if (j < dim)
				store_part(o + j, vdivq_f32(load_out_part(o + j, dim - j), d), dim - j);
		}
	}
	return EMBSTORE_OK;
}

static embstore_status neon_gather_bag(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                       const int64_t *offsets, size_t n_bags, const float *weights,
                                       embstore_bag_mode mode, float *out, size_t *bad_index)
{
#define BAG(dt, wide) bag_impl(t, ids, offsets, n_bags, weights, mode, out, bad_index, dt, wide)
	ES_SPECIALIZE(t->dtype, id_type, BAG);
#undef BAG
}

/* ---- scatter-add ---- */

ES_INLINE embstore_status scatter_impl(const embstore_matrix *t, const void *ids, size_t n, const float *grads,
                                       float alpha, uint64_t row_lo, uint64_t row_hi, size_t *bad_index, int wide)
{
	size_t dim = t->dim;
	float32x4_t a = vdupq_n_f32(alpha);
	for (size_t i = 0; i < n; i++) {
		int64_t id = es_id_at(ids, wide, i);
		if ((uint64_t)id >= t->rows) {
			*bad_index = i;
			return EMBSTORE_ID_OUT_OF_RANGE;
		}
		if ((uint64_t)id < row_lo || (uint64_t)id >= row_hi)
			continue;
		float *r = (float *)(void *)((unsigned char *)t->data + (size_t)id * (size_t)t->row_stride);
		const float *g = grads + i * dim;
		size_t j = 0;
		for (; j + 2 * W <= dim; j += 2 * W) {
			float32x4_t r0 = vfmaq_f32(vld1q_f32(r + j), a, vld1q_f32(g + j));
			float32x4_t r1 = vfmaq_f32(vld1q_f32(r + j + W), a, vld1q_f32(g + j + W));
			vst1q_f32(r + j, r0);
			vst1q_f32(r + j + W, r1);
		}
		if (j + W <= dim) {
			vst1q_f32(r + j, vfmaq_f32(vld1q_f32(r + j), a, vld1q_f32(g + j)));
			j += W;
		}
		for (; j < dim; j++) /* at most 3: fmaf is one FMADD here, the same operation */
			r[j] = fmaf(alpha, g[j], r[j]);
	}
	return EMBSTORE_OK;
}

static embstore_status neon_scatter_add(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                        size_t n, const float *grads, float alpha, uint64_t row_lo,
                                        uint64_t row_hi, size_t *bad_index)
{
	if (id_type == EMBSTORE_ID64)
		return scatter_impl(t, ids, n, grads, alpha, row_lo, row_hi, bad_index, 1);
	return scatter_impl(t, ids, n, grads, alpha, row_lo, row_hi, bad_index, 0);
}

const embstore_kernel_table embstore_kernels_neon = {
	EMBSTORE_ISA_NEON,
	neon_gather,
	neon_gather_bag,
	neon_scatter_add,
};
