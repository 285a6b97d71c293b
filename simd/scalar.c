/* scalar.c: the portable reference kernels, always built. Every other kernel set is tested against these, so
 * they stay plain loops; the numerics they define are listed in kernels.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* Value j of an f32 array at dst, which need not be aligned (outputs need none, embstore.h). */
static void put_f32(void *dst, uint32_t j, float v)
{
	memcpy((unsigned char *)dst + (size_t)j * 4, &v, 4);
}

/* Elements [j0, j0 + count) of a row as f32, into dst. f16 and bf16 widen with the library's exact conversions
 * (element.h), which quiet a signalling NaN and keep its payload as F16C and NEON do. */
static void convert(const unsigned char *row, embstore_dtype dtype, uint32_t dim, uint32_t j0, uint32_t count,
                    void *dst)
{
	uint16_t h;
	switch (dtype) {
	case EMBSTORE_F32:
		memcpy(dst, row + (size_t)j0 * 4, (size_t)count * 4);
		break;
	case EMBSTORE_F16:
		for (uint32_t j = 0; j < count; j++) {
			memcpy(&h, row + ((size_t)j0 + j) * 2, 2);
			put_f32(dst, j, es_f16_to_f32(h));
		}
		break;
	case EMBSTORE_BF16:
		for (uint32_t j = 0; j < count; j++) {
			memcpy(&h, row + ((size_t)j0 + j) * 2, 2);
			put_f32(dst, j, es_bf16_to_f32(h));
		}
		break;
	case EMBSTORE_INT8_ROWWISE:
	default: {
		float scale, bias;
		es_int8_scale_bias(row, dim, &scale, &bias);
		for (uint32_t j = 0; j < count; j++)
			put_f32(dst, j, fmaf((float)row[j0 + j], scale, bias));
		break;
	}
	}
}

/* The reference never streams: how the output is written changes no value. */
static embstore_status scalar_gather(const embstore_matrix *t, const void *ids, embstore_id_type id_type, size_t n,
                                     float *out, int stream, size_t *bad_index)
{
	(void)stream;
	int wide = id_type == EMBSTORE_ID64;
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!es_checked_id(t, ids, wide, i, &id, bad_index))
			return EMBSTORE_ID_OUT_OF_RANGE;
		convert(es_row(t, id), t->dtype, t->dim, 0, t->dim, out + i * t->dim);
	}
	return EMBSTORE_OK;
}

static embstore_status scalar_gather_rows(const unsigned char *const *rows, size_t n, embstore_dtype dtype,
                                          uint32_t dim, float *out, int stream)
{
	(void)stream;
	for (size_t i = 0; i < n; i++)
		convert(rows[i], dtype, dim, 0, dim, out + i * dim);
	return EMBSTORE_OK;
}

/* Narrow outputs and bags go CHUNK elements of a row at a time. */
#define CHUNK 64u

/* The f32 values v[0 .. count) as element j0 on of an output of out_dtype (unaligned): copied as they are for
 * f32, otherwise rounded to nearest even by element.h's conversions. */
static void put_out(void *out, embstore_dtype out_dtype, size_t j0, const float *v, uint32_t count)
{
	if (out_dtype == EMBSTORE_F32) {
		memcpy((unsigned char *)out + j0 * 4, v, (size_t)count * 4);
		return;
	}
	for (uint32_t j = 0; j < count; j++) {
		uint16_t h = out_dtype == EMBSTORE_F16 ? es_f32_to_f16(v[j]) : es_f32_to_bf16(v[j]);
		memcpy((unsigned char *)out + (j0 + j) * 2, &h, 2);
	}
}

static embstore_status scalar_gather_narrow(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                            size_t n, embstore_dtype out_dtype, void *out, int stream,
                                            size_t *bad_index)
{
	(void)stream;
	int wide = id_type == EMBSTORE_ID64;
	uint32_t dim = t->dim;
	float v[CHUNK];
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!es_checked_id(t, ids, wide, i, &id, bad_index))
			return EMBSTORE_ID_OUT_OF_RANGE;
		for (uint32_t j0 = 0; j0 < dim; j0 += CHUNK) {
			uint32_t count = dim - j0 < CHUNK ? dim - j0 : CHUNK;
			convert(es_row(t, id), t->dtype, dim, j0, count, v);
			put_out(out, out_dtype, i * dim + j0, v, count);
		}
	}
	return EMBSTORE_OK;
}

static embstore_status bags(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                            const int64_t *offsets, size_t n_bags, const float *weights, embstore_bag_mode mode,
                            embstore_dtype out_dtype, void *out, size_t *bad_index)
{
	int wide = id_type == EMBSTORE_ID64;
	uint32_t dim = t->dim;
	float v[CHUNK], acc[CHUNK];
	for (size_t b = 0; b < n_bags; b++) {
		size_t lo = (size_t)offsets[b], hi = (size_t)offsets[b + 1];
		/* A chunk of the bag's output at a time, reduced in acc and then copied or rounded out bytewise (outputs
		 * need no alignment); each element still folds the bag's rows in id order. */
		for (uint32_t j0 = 0; j0 < dim; j0 += CHUNK) {
			uint32_t count = dim - j0 < CHUNK ? dim - j0 : CHUNK;
			for (uint32_t j = 0; j < count; j++)
				acc[j] = 0.0f;
			for (size_t k = lo; k < hi; k++) {
				int64_t id;
				if (!es_checked_id(t, ids, wide, k, &id, bad_index))
					return EMBSTORE_ID_OUT_OF_RANGE;
				convert(es_row(t, id), t->dtype, dim, j0, count, v);
				for (uint32_t j = 0; j < count; j++) {
					if (mode == EMBSTORE_BAG_MAX) {
						float x = weights ? weights[k] * v[j] : v[j];
						acc[j] = (k != lo && acc[j] > x) ? acc[j] : x;
					} else {
						acc[j] = weights ? fmaf(weights[k], v[j], acc[j]) : v[j] + acc[j];
					}
				}
			}
			if (mode == EMBSTORE_BAG_MEAN && hi > lo) {
				float len = (float)(hi - lo);
				for (uint32_t j = 0; j < count; j++)
					acc[j] = acc[j] / len;
			}
			put_out(out, out_dtype, (size_t)b * dim + j0, acc, count);
		}
	}
	return EMBSTORE_OK;
}

static embstore_status scalar_gather_bag(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                         const int64_t *offsets, size_t n_bags, const float *weights,
                                         embstore_bag_mode mode, float *out, size_t *bad_index)
{
	return bags(t, ids, id_type, offsets, n_bags, weights, mode, EMBSTORE_F32, out, bad_index);
}

static embstore_status scalar_gather_bag_narrow(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                                const int64_t *offsets, size_t n_bags, const float *weights,
                                                embstore_bag_mode mode, embstore_dtype out_dtype, void *out,
                                                size_t *bad_index)
{
	return bags(t, ids, id_type, offsets, n_bags, weights, mode, out_dtype, out, bad_index);
}

static embstore_status scalar_scatter_add(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                          size_t n, const float *grads, float alpha, uint64_t row_lo,
                                          uint64_t row_hi, size_t *bad_index)
{
	int wide = id_type == EMBSTORE_ID64;
	uint32_t dim = t->dim;
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!es_checked_id(t, ids, wide, i, &id, bad_index))
			return EMBSTORE_ID_OUT_OF_RANGE;
		if ((uint64_t)id < row_lo || (uint64_t)id >= row_hi)
			continue;
		unsigned char *row = (unsigned char *)t->data + (size_t)id * (size_t)t->row_stride;
		const float *g = grads + i * dim;
		for (uint32_t j = 0; j < dim; j++) {
			float v;
			memcpy(&v, row + (size_t)j * 4, 4);
			v = fmaf(alpha, g[j], v);
			memcpy(row + (size_t)j * 4, &v, 4);
		}
	}
	return EMBSTORE_OK;
}

/* ---- sparse optimizers, one unique id at a time (optim.c) ---- */

static void scalar_add_rows(float *dst, const float *a, const float *b, size_t dim)
{
	for (size_t j = 0; j < dim; j++)
		dst[j] = a[j] + b[j];
}

static unsigned char *row_of(const embstore_matrix *t, uint64_t id)
{
	return (unsigned char *)t->data + (size_t)id * (size_t)t->row_stride;
}

static void scalar_sgd_row(const embstore_matrix *t, uint64_t id, const float *g, float lr)
{
	unsigned char *row = row_of(t, id);
	for (size_t j = 0; j < t->dim; j++)
		es_elem_put(row, t->dtype, j, fmaf(-lr, g[j], es_elem_get(row, t->dtype, j)));
}

/* The gradient with L2 weight decay folded in, as both passes of the row see it. */
static float decayed(float g, float w, float weight_decay)
{
	return weight_decay == 0.0f ? g : fmaf(weight_decay, w, g);
}

static void scalar_adagrad_row(const embstore_matrix *t, uint64_t id, unsigned char *state, const float *g,
                               float lr, float eps, float weight_decay)
{
	unsigned char *row = row_of(t, id);
	float part[ES_SQ_LANES] = {0};
	for (size_t j = 0; j < t->dim; j++) {
		float gd = decayed(g[j], es_elem_get(row, t->dtype, j), weight_decay);
		part[j % ES_SQ_LANES] = fmaf(gd, gd, part[j % ES_SQ_LANES]);
	}
	float m = es_adagrad_multiplier(state, es_sum_lanes(part), t->dim, lr, eps);
	for (size_t j = 0; j < t->dim; j++) {
		float w = es_elem_get(row, t->dtype, j);
		es_elem_put(row, t->dtype, j, fmaf(-m, decayed(g[j], w, weight_decay), w));
	}
}

const embstore_kernel_table embstore_kernels_scalar = {
	EMBSTORE_ISA_SCALAR,
	scalar_gather,
	scalar_gather_rows,
	scalar_gather_bag,
	scalar_gather_narrow,
	scalar_gather_bag_narrow,
	scalar_scatter_add,
	scalar_add_rows,
	scalar_sgd_row,
	scalar_adagrad_row,
};
