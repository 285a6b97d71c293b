/* kernel_loops.h: the loops of the SIMD kernel sets (gather, bags, scatter-add), written once over a few vector
 * primitives. avx2.c, avx512.c and neon.c each define the primitives for their instruction set, include this
 * file once, and publish the static functions it defines (loops_gather, loops_gather_bag, loops_scatter_add) in
 * their kernel table. scalar.c does not include it: the reference the sets are tested against shares nothing
 * with them but kernels.h's helpers.
 *
 * The including file defines first, as macros:
 *   VL            floats per vector
 *   BAG_REGS      vector accumulators a bag keeps in registers: 8 or 16 (see the bags section)
 *   MASKED_LOADS  1 when every element size loads under a vtail without touching the bytes of the lanes left
 *                 out (AVX-512), 0 otherwise (see row_load_tail)
 * the types
 *   vfloat        a vector of VL floats
 *   vtail         what selects the first r lanes, 0 < r <= VL: a mask, or r itself
 * and these, as ES_INLINE functions or macros (p: unaligned; `const unsigned char *` for table bytes):
 *   vtail  v_tail(size_t r)                     the first r lanes, 0 < r <= VL
 *   vfloat v_zero(void), v_set1(float x)
 *   vfloat v_load(const float *p)               VL floats
 *   void   v_store(float *p, vfloat v)
 *   vfloat v_load_tail(const float *p, vtail m) the selected floats, zero elsewhere; reads no other float
 *   void   v_store_tail(float *p, vfloat v, vtail m)   writes no other float
 *   vfloat v_add(a, b), v_mul(a, b), v_div(a, b)     a + b, a * b, a / b, per lane, this operand order
 *   vfloat v_fma(a, b, c)                       a * b + c rounded once
 *   vfloat v_max(a, b)                          a > b ? a : b per lane (x86 MAXPS; kernels.h)
 *   vfloat cvt_f32(p), cvt_f16(p), cvt_bf16(p)  VL elements at p as f32, converted as kernels.h says
 *   vfloat cvt_u8(p)                            VL bytes at p as the f32 values 0..255
 *   with MASKED_LOADS, cvt_f32_tail(p, m), cvt_f16_tail(p, m), cvt_bf16_tail(p, m), cvt_u8_tail(p, m):
 *                                               the selected elements, reading no other element's bytes
 * kernels.h's numerics (bitwise scalar.c) then hold, provided the file is built with -ffp-contract=off so the
 * compiler fuses nothing on its own. */
#ifndef EMBSTORE_SIMD_KERNEL_LOOPS_H
#define EMBSTORE_SIMD_KERNEL_LOOPS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#if !defined(VL) || !defined(BAG_REGS) || !defined(MASKED_LOADS)
#error "define VL, BAG_REGS, MASKED_LOADS and the vector primitives before including kernel_loops.h"
#endif
#if BAG_REGS != 8 && BAG_REGS != 16
#error "BAG_REGS must be 8 or 16 (bag_impl has a case for each count of vectors up to it)"
#endif

/* Loops over a constant number of vectors (at most BAG_REGS) are unrolled whole, so that an array of vectors
 * indexed by the loop counter becomes that many registers. */
#if defined(__GNUC__)
#define LOOPS_UNROLL _Pragma("GCC unroll 16")
#else
#define LOOPS_UNROLL
#endif

/* ---- reading table rows ---- */

ES_INLINE size_t elem_bytes(embstore_dtype dt)
{
	return dt == EMBSTORE_F32 ? 4 : dt == EMBSTORE_INT8_ROWWISE ? 1 : 2;
}

/* One table row being read: its bytes, the int8 scale and bias broadcast, and the end of the table's last row
 * (row_load_tail must not read past it). */
typedef struct src_row {
	const unsigned char *p;
	vfloat scale, bias;
	const unsigned char *table_end;
} src_row;

ES_INLINE const unsigned char *table_end(const embstore_matrix *t)
{
	return es_row(t, (int64_t)(t->rows - 1)) + es_row_bytes(t->dtype, t->dim);
}

ES_INLINE src_row open_row(const embstore_matrix *t, int64_t id, embstore_dtype dt, const unsigned char *end)
{
	src_row s;
	s.p = es_row(t, id);
	s.table_end = end;
	if (dt == EMBSTORE_INT8_ROWWISE) {
		float scale, bias;
		es_int8_scale_bias(s.p, t->dim, &scale, &bias);
		s.scale = v_set1(scale);
		s.bias = v_set1(bias);
	} else {
		s.scale = s.bias = v_zero();
	}
	return s;
}

/* Elements j .. j+VL-1 of the row as f32. */
ES_INLINE vfloat row_load(const src_row *s, embstore_dtype dt, size_t j)
{
	switch (dt) {
	case EMBSTORE_F32:
		return cvt_f32(s->p + j * 4);
	case EMBSTORE_F16:
		return cvt_f16(s->p + j * 2);
	case EMBSTORE_BF16:
		return cvt_bf16(s->p + j * 2);
	case EMBSTORE_INT8_ROWWISE:
	default:
		return v_fma(cvt_u8(s->p + j), s->scale, s->bias);
	}
}

#if !MASKED_LOADS
/* int8 tails read VL bytes from j < dim, which stay inside the row because its 8 bytes of scale and bias follow. */
_Static_assert(VL <= 8, "an int8 tail read of VL bytes must stay within a row's scale and bias");
#endif

/* Elements j .. j+r-1 (0 < r <= VL) of the row as f32 in the lanes m selects; the other lanes are unspecified
 * (callers store only the selected ones). Never reads outside the table. With masked loads the bytes of the
 * other lanes are not even touched. Without them, int8 reads VL bytes (see above), and the other types read a
 * whole vector when it ends inside the table (the bytes past this row are ignored) and otherwise copy the last
 * row's tail. */
ES_INLINE vfloat row_load_tail(const src_row *s, embstore_dtype dt, size_t j, size_t r, vtail m)
{
#if MASKED_LOADS
	(void)r;
	switch (dt) {
	case EMBSTORE_F32:
		return cvt_f32_tail(s->p + j * 4, m);
	case EMBSTORE_F16:
		return cvt_f16_tail(s->p + j * 2, m);
	case EMBSTORE_BF16:
		return cvt_bf16_tail(s->p + j * 2, m);
	case EMBSTORE_INT8_ROWWISE:
	default:
		return v_fma(cvt_u8_tail(s->p + j, m), s->scale, s->bias);
	}
#else
	(void)m;
	size_t size = elem_bytes(dt);
	if (dt == EMBSTORE_INT8_ROWWISE || (size_t)(s->table_end - (s->p + j * size)) >= VL * size)
		return row_load(s, dt, j);
	unsigned char tmp[VL * 4] = {0};
	memcpy(tmp, s->p + j * size, r * size);
	src_row copy = *s;
	copy.p = tmp;
	return row_load(&copy, dt, 0);
#endif
}

/* How much of a row to prefetch (kernels.h, ES_PREFETCH_BYTES). */
ES_INLINE size_t prefetch_bytes(embstore_dtype dt, uint32_t dim)
{
	size_t bytes = es_row_bytes(dt, dim);
	return bytes < ES_PREFETCH_BYTES ? bytes : ES_PREFETCH_BYTES;
}

/* ---- gather ---- */

ES_INLINE void gather_row(float *o, const src_row *s, embstore_dtype dt, size_t dim)
{
	size_t j = 0;
	for (; j + 2 * VL <= dim; j += 2 * VL) {
		vfloat a = row_load(s, dt, j), b = row_load(s, dt, j + VL);
		v_store(o + j, a);
		v_store(o + j + VL, b);
	}
	if (j + VL <= dim) {
		v_store(o + j, row_load(s, dt, j));
		j += VL;
	}
	if (j < dim) {
		vtail m = v_tail(dim - j);
		v_store_tail(o + j, row_load_tail(s, dt, j, dim - j, m), m);
	}
}

ES_INLINE embstore_status gather_impl(const embstore_matrix *t, const void *ids, size_t n, float *out,
                                      size_t *bad_index, embstore_dtype dt, int wide)
{
	size_t dim = t->dim, pf = prefetch_bytes(dt, t->dim);
	const unsigned char *end = table_end(t);
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!es_checked_id(t, ids, wide, i, &id, bad_index))
			return EMBSTORE_ID_OUT_OF_RANGE;
		es_prefetch_row(t, ids, wide, i, n, pf);
		src_row s = open_row(t, id, dt, end);
		gather_row(out + i * dim, &s, dt, dim);
	}
	return EMBSTORE_OK;
}

static embstore_status loops_gather(const embstore_matrix *t, const void *ids, embstore_id_type id_type, size_t n,
                                    float *out, size_t *bad_index)
{
#define GATHER(dt, wide) gather_impl(t, ids, n, out, bad_index, dt, wide)
	ES_SPECIALIZE(t->dtype, id_type, GATHER);
#undef GATHER
}

/* ---- bags ----
 *
 * A bag's sums stay in registers: the output row is cut into blocks of at most BAG_REGS vectors, and for each
 * block the bag's ids are walked once, folding that part of each row into one accumulator per vector; the block
 * is stored once, at the end. (Folding into the output row in memory instead costs a load and a store per
 * vector and id, and makes each id's add wait for the previous id's store.) Rows wider than one block take one
 * walk per block. Every element still folds the bag's rows in id order, so the results are those of scalar.c.
 * Max starts from -inf: -inf > x is false for every x, NaN included, so the first fold yields the first row's
 * value itself, exactly as kernels.h's "acc = the first x". */

/* One row folded into its accumulator (kernels.h): add, fused multiply-add with the weight, or max after
 * multiplying by the weight. */
enum { FOLD_ADD, FOLD_FMA, FOLD_MAX, FOLD_WMAX };

ES_INLINE vfloat fold(vfloat acc, vfloat x, int kind, vfloat w)
{
	switch (kind) {
	case FOLD_ADD:
		return v_add(acc, x);
	case FOLD_FMA:
		return v_fma(w, x, acc);
	case FOLD_MAX:
		return v_max(acc, x);
	default:
		return v_max(acc, v_mul(w, x));
	}
}

/* One block's vectors j0, j0 + VL, ... of the row folded into acc[0 .. nv); the last vector has r lanes, m. */
ES_INLINE void fold_block(vfloat *acc, const src_row *s, embstore_dtype dt, size_t j0, size_t nv, size_t r,
                          vtail m, int kind, vfloat w)
{
	LOOPS_UNROLL
	for (size_t v = 0; v + 1 < nv; v++)
		acc[v] = fold(acc[v], row_load(s, dt, j0 + v * VL), kind, w);
	size_t j = j0 + (nv - 1) * VL;
	vfloat x = r == VL ? row_load(s, dt, j) : row_load_tail(s, dt, j, r, m);
	acc[nv - 1] = fold(acc[nv - 1], x, kind, w);
}

/* Everything one walk over a bag needs besides the block. */
typedef struct bag_walk {
	const embstore_matrix *t;
	const void *ids;
	const float *weights;
	const unsigned char *end;
	size_t n_end; /* the end of ids, for prefetching across bags */
	size_t pf;    /* bytes of each row to prefetch ahead */
	int kind, mean;
} bag_walk;

/* Bag [lo, hi) into o[j0 ..): nv vectors (a constant after inlining, 1 .. BAG_REGS), the last with r lanes.
 * Returns 0 at a bad id, with *bad_index set. */
ES_INLINE int bag_block(const bag_walk *bw, size_t lo, size_t hi, float *o, size_t j0, size_t nv, size_t r,
                        size_t *bad_index, embstore_dtype dt, int wide)
{
	vtail m = v_tail(r);
	vfloat acc[BAG_REGS];
	vfloat init = bw->kind >= FOLD_MAX && hi > lo ? v_set1(-INFINITY) : v_zero();
	LOOPS_UNROLL
	for (size_t v = 0; v < nv; v++)
		acc[v] = init;
	for (size_t k = lo; k < hi; k++) {
		int64_t id;
		if (!es_checked_id(bw->t, bw->ids, wide, k, &id, bad_index))
			return 0;
		if (j0 == 0)
			es_prefetch_row(bw->t, bw->ids, wide, k, bw->n_end, bw->pf);
		src_row s = open_row(bw->t, id, dt, bw->end);
		vfloat w = v_set1(bw->weights ? bw->weights[k] : 1.0f);
		/* One unrolled body per kind: the test is the same for every id, so it predicts perfectly. */
		switch (bw->kind) {
		case FOLD_ADD:
			fold_block(acc, &s, dt, j0, nv, r, m, FOLD_ADD, w);
			break;
		case FOLD_FMA:
			fold_block(acc, &s, dt, j0, nv, r, m, FOLD_FMA, w);
			break;
		case FOLD_MAX:
			fold_block(acc, &s, dt, j0, nv, r, m, FOLD_MAX, w);
			break;
		default:
			fold_block(acc, &s, dt, j0, nv, r, m, FOLD_WMAX, w);
			break;
		}
	}
	if (bw->mean && hi > lo) {
		vfloat d = v_set1((float)(hi - lo));
		LOOPS_UNROLL
		for (size_t v = 0; v < nv; v++)
			acc[v] = v_div(acc[v], d);
	}
	LOOPS_UNROLL
	for (size_t v = 0; v + 1 < nv; v++)
		v_store(o + j0 + v * VL, acc[v]);
	if (r == VL)
		v_store(o + j0 + (nv - 1) * VL, acc[nv - 1]);
	else
		v_store_tail(o + j0 + (nv - 1) * VL, acc[nv - 1], m);
	return 1;
}

ES_INLINE embstore_status bag_impl(const embstore_matrix *t, const void *ids, const int64_t *offsets,
                                   size_t n_bags, const float *weights, embstore_bag_mode mode, float *out,
                                   size_t *bad_index, embstore_dtype dt, int wide)
{
	size_t dim = t->dim, block = BAG_REGS * VL;
	bag_walk bw = {
		.t = t,
		.ids = ids,
		.weights = weights,
		.end = table_end(t),
		.n_end = n_bags ? (size_t)offsets[n_bags] : 0,
		.pf = prefetch_bytes(dt, t->dim),
		.kind = mode == EMBSTORE_BAG_MAX ? (weights ? FOLD_WMAX : FOLD_MAX) : (weights ? FOLD_FMA : FOLD_ADD),
		.mean = mode == EMBSTORE_BAG_MEAN,
	};
	for (size_t b = 0; b < n_bags; b++) {
		size_t lo = (size_t)offsets[b], hi = (size_t)offsets[b + 1];
		float *o = out + b * dim;
		for (size_t j0 = 0; j0 < dim; j0 += block) {
			size_t left = dim - j0, nv = left >= block ? BAG_REGS : (left + VL - 1) / VL;
			size_t r = left >= block ? VL : left - (nv - 1) * VL;
			int ok = 0;
			/* A case per vector count, so that each bag_block has a constant count to unroll. */
			switch (nv) {
#define BAG_CASE(n)                                                                                            \
	case n:                                                                                                    \
		ok = bag_block(&bw, lo, hi, o, j0, n, r, bad_index, dt, wide);                                         \
		break;
				BAG_CASE(1) BAG_CASE(2) BAG_CASE(3) BAG_CASE(4) BAG_CASE(5) BAG_CASE(6) BAG_CASE(7) BAG_CASE(8)
#if BAG_REGS > 8
				BAG_CASE(9) BAG_CASE(10) BAG_CASE(11) BAG_CASE(12) BAG_CASE(13) BAG_CASE(14) BAG_CASE(15)
				BAG_CASE(16)
#endif
#undef BAG_CASE
			default:
				break;
			}
			if (!ok)
				return EMBSTORE_ID_OUT_OF_RANGE;
		}
	}
	return EMBSTORE_OK;
}

static embstore_status loops_gather_bag(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
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
	vfloat a = v_set1(alpha);
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!es_checked_id(t, ids, wide, i, &id, bad_index))
			return EMBSTORE_ID_OUT_OF_RANGE;
		if ((uint64_t)id < row_lo || (uint64_t)id >= row_hi)
			continue;
		float *r = (float *)(void *)((unsigned char *)t->data + (size_t)id * (size_t)t->row_stride);
		const float *g = grads + i * dim;
		size_t j = 0;
		for (; j + 2 * VL <= dim; j += 2 * VL) {
			vfloat r0 = v_fma(a, v_load(g + j), v_load(r + j));
			vfloat r1 = v_fma(a, v_load(g + j + VL), v_load(r + j + VL));
			v_store(r + j, r0);
			v_store(r + j + VL, r1);
		}
		if (j + VL <= dim) {
			v_store(r + j, v_fma(a, v_load(g + j), v_load(r + j)));
			j += VL;
		}
		if (j < dim) {
			vtail m = v_tail(dim - j);
			v_store_tail(r + j, v_fma(a, v_load_tail(g + j, m), v_load_tail(r + j, m)), m);
		}
	}
	return EMBSTORE_OK;
}

static embstore_status loops_scatter_add(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                         size_t n, const float *grads, float alpha, uint64_t row_lo,
                                         uint64_t row_hi, size_t *bad_index)
{
	if (id_type == EMBSTORE_ID64)
		return scatter_impl(t, ids, n, grads, alpha, row_lo, row_hi, bad_index, 1);
	return scatter_impl(t, ids, n, grads, alpha, row_lo, row_hi, bad_index, 0);
}

#endif /* EMBSTORE_SIMD_KERNEL_LOOPS_H */
