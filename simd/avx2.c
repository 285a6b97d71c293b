/* avx2.c: AVX2 + FMA + F16C kernels, 8 floats per vector. Built with -mavx2 -mfma -mf16c; dispatch.c calls them
 * only after cpu.c saw AVX2, FMA, F16C and OS-enabled YMM state. Numerics as in kernels.h (bitwise scalar.c). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#define W 8

/* _mm256_loadu_si256(lane_mask + 8 - r) enables the first r lanes (0 <= r <= 8). */
static const int32_t lane_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

ES_INLINE __m256i first_lanes(size_t r)
{
	return _mm256_loadu_si256((const __m256i *)(const void *)(lane_mask + W - r));
}

/* One source row being read: its bytes, the int8 scale and bias broadcast, and the end of the table's last row. */
typedef struct src_row {
	const unsigned char *p;
	__m256 scale, bias;
	const unsigned char *table_end;
} src_row;

ES_INLINE src_row open_row(const embstore_matrix *t, int64_t id, embstore_dtype dt, const unsigned char *table_end)
{
	src_row s;
	s.p = es_row(t, id);
	s.table_end = table_end;
	if (dt == EMBSTORE_INT8_ROWWISE) {
		float scale, bias;
		es_int8_scale_bias(s.p, t->dim, &scale, &bias);
		s.scale = _mm256_set1_ps(scale);
		s.bias = _mm256_set1_ps(bias);
	} else {
		s.scale = s.bias = _mm256_setzero_ps();
	}
	return s;
}

ES_INLINE __m256 widen16(__m128i h, embstore_dtype dt)
{
	if (dt == EMBSTORE_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

ES_INLINE __m256 dequant8(__m128i q, const src_row *s)
{
	return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q)), s->scale, s->bias);
}

/* Elements j .. j+7 as f32. */
ES_INLINE __m256 load_full(const src_row *s, embstore_dtype dt, size_t j)
{
	switch (dt) {
	case EMBSTORE_F32:
		return _mm256_loadu_ps((const float *)(const void *)(s->p + j * 4));
	case EMBSTORE_F16:
	case EMBSTORE_BF16:
		return widen16(_mm_loadu_si128((const __m128i *)(const void *)(s->p + j * 2)), dt);
	case EMBSTORE_INT8_ROWWISE:
	default:
		return dequant8(_mm_loadl_epi64((const __m128i *)(const void *)(s->p + j)), s);
	}
}

/* Elements j .. j+r-1 (0 < r < 8) as f32; the other lanes are unspecified (f32: zero). Never reads outside the
 * table: f32 uses a masked load; int8 reads 8 bytes from j < dim, which stay inside the row since its scale and
 * bias follow; 16-bit types read a whole vector when that stays inside the table (the bytes past this row are
 * ignored) and copy the last row's tail otherwise. */
ES_INLINE __m256 load_part(const src_row *s, embstore_dtype dt, size_t j, size_t r, __m256i mask)
{
	switch (dt) {
	case EMBSTORE_F32:
		return _mm256_maskload_ps((const float *)(const void *)(s->p + j * 4), mask);
	case EMBSTORE_F16:
	case EMBSTORE_BF16: {
		const unsigned char *p = s->p + j * 2;
		if ((size_t)(s->table_end - p) >= 16)
			return widen16(_mm_loadu_si128((const __m128i *)(const void *)p), dt);
		uint16_t tmp[W] = {0};
		memcpy(tmp, p, r * 2);
		return widen16(_mm_loadu_si128((const __m128i *)(const void *)tmp), dt);
	}
	case EMBSTORE_INT8_ROWWISE:
	default:
		(void)r;
		return load_full(s, dt, j);
	}
}

ES_INLINE const unsigned char *table_end(const embstore_matrix *t)
{
	return es_row(t, (int64_t)(t->rows - 1)) + es_row_bytes(t->dtype, t->dim);
}

/* ---- gather ---- */

ES_INLINE void gather_row(float *o, const src_row *s, embstore_dtype dt, size_t dim)
{
	size_t j = 0;
	for (; j + 2 * W <= dim; j += 2 * W) {
		__m256 a = load_full(s, dt, j), b = load_full(s, dt, j + W);
		_mm256_storeu_ps(o + j, a);
		_mm256_storeu_ps(o + j + W, b);
	}
	if (j + W <= dim) {
		_mm256_storeu_ps(o + j, load_full(s, dt, j));
		j += W;
	}
	if (j < dim) {
		__m256i m = first_lanes(dim - j);
		_mm256_maskstore_ps(o + j, m, load_part(s, dt, j, dim - j, m));
	}
}

ES_INLINE embstore_status gather_impl(const embstore_matrix *t, const void *ids, size_t n, float *out,
                                      size_t *bad_index, embstore_dtype dt, int wide)
{
	size_t dim = t->dim;
	size_t pf = es_row_bytes(dt, t->dim);
	const unsigned char *end = table_end(t);
	if (pf > ES_PREFETCH_BYTES)
		pf = ES_PREFETCH_BYTES;
	for (size_t i = 0; i < n; i++) {
		int64_t id = es_id_at(ids, wide, i);
		if ((uint64_t)id >= t->rows) {
			*bad_index = i;
			return EMBSTORE_ID_OUT_OF_RANGE;
		}
		es_prefetch_row(t, ids, wide, i, n, pf);
		src_row s = open_row(t, id, dt, end);
		gather_row(out + i * dim, &s, dt, dim);
	}
	return EMBSTORE_OK;
}

static embstore_status avx2_gather(const embstore_matrix *t, const void *ids, embstore_id_type id_type, size_t n,
                                   float *out, size_t *bad_index)
{
#define GATHER(dt, wide) gather_impl(t, ids, n, out, bad_index, dt, wide)
	ES_SPECIALIZE(t->dtype, id_type, GATHER);
#undef GATHER
}

/* ---- bags ---- */

/* Folds one row into the bag's accumulator o (kernels.h: sum/mean add or fused-multiply-add; max keeps the
 * larger, MAXPS operand order; `first` starts max from the row itself). */
ES_INLINE __m256 fold(__m256 acc, __m256 x, embstore_bag_mode mode, int weighted, __m256 w, int first)
{
	if (mode == EMBSTORE_BAG_MAX) {
		if (weighted)
			x = _mm256_mul_ps(w, x);
		return first ? x : _mm256_max_ps(acc, x);
	}
	return weighted ? _mm256_fmadd_ps(w, x, acc) : _mm256_add_ps(acc, x);
}

ES_INLINE void bag_row(float *o, const src_row *s, embstore_dtype dt, size_t dim, embstore_bag_mode mode,
                       int weighted, __m256 w, int first)
{
	size_t j = 0;
	for (; j + W <= dim; j += W) {
		__m256 x = load_full(s, dt, j);
		_mm256_storeu_ps(o + j, fold(_mm256_loadu_ps(o + j), x, mode, weighted, w, first));
	}
	if (j < dim) {
		__m256i m = first_lanes(dim - j);
		__m256 x = load_part(s, dt, j, dim - j, m);
		_mm256_maskstore_ps(o + j, m, fold(_mm256_maskload_ps(o + j, m), x, mode, weighted, w, first));
	}
}

ES_INLINE void fill_zero(float *o, size_t dim)
{
	size_t j = 0;
	for (; j + W <= dim; j += W)
		_mm256_storeu_ps(o + j, _mm256_setzero_ps());
	if (j < dim)
		_mm256_maskstore_ps(o + j, first_lanes(dim - j), _mm256_setzero_ps());
}

ES_INLINE void divide(float *o, size_t dim, float len)
{
	__m256 d = _mm256_set1_ps(len);
	size_t j = 0;
	for (; j + W <= dim; j += W)
		_mm256_storeu_ps(o + j, _mm256_div_ps(_mm256_loadu_ps(o + j), d));
	if (j < dim) {
		__m256i m = first_lanes(dim - j);
		_mm256_maskstore_ps(o + j, m, _mm256_div_ps(_mm256_maskload_ps(o + j, m), d));
	}
}

ES_INLINE embstore_status bag_impl(const embstore_matrix *t, const void *ids, const int64_t *offsets,
                                   size_t n_bags, const float *weights, embstore_bag_mode mode, float *out,
                                   size_t *bad_index, embstore_dtype dt, int wide)
{
	size_t dim = t->dim;
	size_t pf = es_row_bytes(dt, t->dim);
	const unsigned char *end = table_end(t);
	size_t n_end = n_bags ? (size_t)offsets[n_bags] : 0;
	if (pf > ES_PREFETCH_BYTES)
		pf = ES_PREFETCH_BYTES;
	for (size_t b = 0; b < n_bags; b++) {
		size_t lo = (size_t)offsets[b], hi = (size_t)offsets[b + 1];
		float *o = out + b * dim;
		if (mode != EMBSTORE_BAG_MAX || lo == hi)
			fill_zero(o, dim);
		for (size_t k = lo; k < hi; k++) {
			int64_t id = es_id_at(ids, wide, k);
			if ((uint64_t)id >= t->rows) {
				*bad_index = k;
				return EMBSTORE_ID_OUT_OF_RANGE;
			}
			es_prefetch_row(t, ids, wide, k, n_end, pf);
			src_row s = open_row(t, id, dt, end);
			__m256 w = _mm256_set1_ps(weights ? weights[k] : 1.0f);
			bag_row(o, &s, dt, dim, mode, weights != NULL, w, k == lo);
		}
		if (mode == EMBSTORE_BAG_MEAN && hi > lo)
			divide(o, dim, (float)(hi - lo));
	}
	return EMBSTORE_OK;
}

static embstore_status avx2_gather_bag(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
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
	__m256 a = _mm256_set1_ps(alpha);
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
			__m256 r0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(g + j), _mm256_loadu_ps(r + j));
			__m256 r1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(g + j + W), _mm256_loadu_ps(r + j + W));
			_mm256_storeu_ps(r + j, r0);
			_mm256_storeu_ps(r + j + W, r1);
		}
		if (j + W <= dim) {
			_mm256_storeu_ps(r + j, _mm256_fmadd_ps(a, _mm256_loadu_ps(g + j), _mm256_loadu_ps(r + j)));
			j += W;
		}
		if (j < dim) {
			__m256i m = first_lanes(dim - j);
			__m256 v = _mm256_fmadd_ps(a, _mm256_maskload_ps(g + j, m), _mm256_maskload_ps(r + j, m));
			_mm256_maskstore_ps(r + j, m, v);
		}
	}
	return EMBSTORE_OK;
}

static embstore_status avx2_scatter_add(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                        size_t n, const float *grads, float alpha, uint64_t row_lo,
                                        uint64_t row_hi, size_t *bad_index)
{
	if (id_type == EMBSTORE_ID64)
		return scatter_impl(t, ids, n, grads, alpha, row_lo, row_hi, bad_index, 1);
	return scatter_impl(t, ids, n, grads, alpha, row_lo, row_hi, bad_index, 0);
}

const embstore_kernel_table embstore_kernels_avx2 = {
	EMBSTORE_ISA_AVX2,
	avx2_gather,
	avx2_gather_bag,
	avx2_scatter_add,
};
