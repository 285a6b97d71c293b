/* kernel_loops.h: the loops of the SIMD kernel sets (gather, bags, scatter-add, the optimizers' row updates),
 * written once over a few vector primitives. avx2.c, avx512.c and neon.c each define the primitives for their
 * instruction set, include this file once, and publish the static functions it defines (loops_gather,
 * loops_gather_rows, loops_gather_bag, loops_gather_narrow, loops_gather_bag_narrow, loops_scatter_add,
 * loops_add_rows, loops_sgd_row, loops_adagrad_row) in their kernel table. scalar.c does not include it: the reference the sets
 * are tested against shares nothing with them but kernels.h's helpers.
 *
 * The including file defines first, as macros:
 *   VL            floats per vector
 *   BAG_REGS      vector accumulators a bag keeps in registers: 8 or 16 (see the bags section)
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
 * and optionally (the gather of large outputs uses them when defined):
 *   void   v_stream(float *p, vfloat v)          a non-temporal store of VL floats at a VL * 4-byte aligned p
 *   void   v_stream_fence(void)                  orders the v_stream stores before any later store
 *   vhalf                                        (a type) VL f16 or bf16 codes; narrow_f16 / bf16 store one
 *   vhalf  half_f16(vfloat v), half_bf16(vfloat v)  as narrow_f16 / narrow_bf16, into a register
 *   void   v_stream_halves(p, vhalf lo, vhalf hi)  a non-temporal store of lo then hi at a VL * 4-byte aligned p
 *   vshift                                       (a type) what shifting lanes by c takes, 0 <= c < VL
 *   vshift v_shift(size_t c)
 *   vfloat v_funnel(vfloat lo, vfloat hi, vshift) lanes l < c of lo, then hi's lanes 0 .. VL - c - 1
 *   vfloat v_down(vfloat v, vshift)               v's lanes VL - c .. VL - 1 in lanes 0 .. c - 1, the rest unspecified
 *   vfloat v_mul(a, b), v_div(a, b)             a * b, a / b per lane
 *   vfloat v_add(a, b)                          a + b per lane (which NaN comes out where both are NaN is
 *                                               not pinned: compilers swap the operands of an add at will)
 *   vfloat v_fma(a, b, c)                       a * b + c rounded once
 *   vfloat v_max(a, b)                          a > b ? a : b per lane (x86 MAXPS; kernels.h)
 *   vfloat cvt_f32(p), cvt_f16(p), cvt_bf16(p)  VL elements at p as f32, converted as kernels.h says
 *   vfloat cvt_u8(p)                            VL bytes at p as the f32 values 0..255
 *   void   narrow_f16(unsigned char *p, vfloat v)   the VL values as f16 / bf16 codes at p, rounded to nearest
 *   void   narrow_bf16(unsigned char *p, vfloat v)  even exactly as element.h's es_f32_to_f16 / bf16
 * and, as macros, those of these the set has a masked load for (row_load_tail does without the others):
 *   vfloat cvt_f32_tail(p, m), cvt_f16_tail(p, m), cvt_bf16_tail(p, m), cvt_u8_tail(p, m)
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

#if !defined(VL) || !defined(BAG_REGS)
#error "define VL, BAG_REGS and the vector primitives before including kernel_loops.h"
#endif
#if BAG_REGS != 8 && BAG_REGS != 16
#error "BAG_REGS must be 8 or 16 (DOWN_FROM has a case for each count of vectors up to 16)"
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
	return (size_t)es_elem_bytes(dt);
}

ES_INLINE size_t row_bytes(embstore_dtype dt, uint32_t dim)
{
	return (size_t)es_row_bytes(dt, dim);
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
	return es_row(t, (int64_t)(t->rows - 1)) + row_bytes(t->dtype, t->dim);
}

/* The row at p of a table of `dim` elements per row. */
ES_INLINE src_row open_row_at(const unsigned char *p, uint32_t dim, embstore_dtype dt, const unsigned char *end)
{
	src_row s;
	s.p = p;
	s.table_end = end;
	if (dt == EMBSTORE_INT8_ROWWISE) {
		float scale, bias;
		es_int8_scale_bias(s.p, dim, &scale, &bias);
		s.scale = v_set1(scale);
		s.bias = v_set1(bias);
	} else {
		s.scale = s.bias = v_zero();
	}
	return s;
}

ES_INLINE src_row open_row(const embstore_matrix *t, int64_t id, embstore_dtype dt, const unsigned char *end)
{
	return open_row_at(es_row(t, id), t->dim, dt, end);
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

#ifndef cvt_u8_tail
/* Without a masked byte load, an int8 tail reads VL bytes from j < dim; they stay inside the row because its 8 bytes
 * of scale and bias follow. */
_Static_assert(VL <= 8, "an int8 tail read of VL bytes must stay within a row's scale and bias");
#endif

/* `bytes` bytes of f32, f16 or bf16 elements at p as f32, through a zeroed copy. Only the tail of the table's last
 * row needs it, so it stays out of line, away from the many unrolled loops that might call it; and it takes the
 * row's address by value, so that those loops need not keep their src_row in memory for it. */
#if defined(__GNUC__)
__attribute__((noinline, cold, unused))
#endif
static vfloat row_load_copy(const unsigned char *p, size_t bytes, embstore_dtype dt)
{
	unsigned char tmp[VL * 4] = {0};
	memcpy(tmp, p, bytes);
	src_row copy = {.p = tmp, .scale = v_zero(), .bias = v_zero(), .table_end = tmp + sizeof tmp};
	return row_load(&copy, dt, 0);
}

/* Elements j .. j+r-1 (0 < r < VL) of the row without a masked load: int8 reads VL bytes (see above); the other
 * types read a whole vector when it ends inside the table (the bytes past this row are ignored), otherwise copy
 * the last row's tail. */
ES_INLINE vfloat row_load_unmasked(const src_row *s, embstore_dtype dt, size_t j, size_t r)
{
	size_t size = elem_bytes(dt);
	if (dt == EMBSTORE_INT8_ROWWISE || (size_t)(s->table_end - (s->p + j * size)) >= VL * size)
		return row_load(s, dt, j);
	return row_load_copy(s->p + j * size, r * size, dt);
}

/* Elements j .. j+r-1 (0 < r < VL) of the row as f32 in the lanes m selects; the other lanes are unspecified
 * (callers store only the selected ones). Never reads outside the table: with the set's masked load where it has
 * one for the element size (it does not touch the bytes of the other lanes), otherwise as above. */
ES_INLINE vfloat row_load_tail(const src_row *s, embstore_dtype dt, size_t j, size_t r, vtail m)
{
	(void)m;
	switch (dt) {
#ifdef cvt_f32_tail
	case EMBSTORE_F32:
		return cvt_f32_tail(s->p + j * 4, m);
#endif
#ifdef cvt_f16_tail
	case EMBSTORE_F16:
		return cvt_f16_tail(s->p + j * 2, m);
#endif
#ifdef cvt_bf16_tail
	case EMBSTORE_BF16:
		return cvt_bf16_tail(s->p + j * 2, m);
#endif
#ifdef cvt_u8_tail
	case EMBSTORE_INT8_ROWWISE:
		return v_fma(cvt_u8_tail(s->p + j, m), s->scale, s->bias);
#endif
	default:
		return row_load_unmasked(s, dt, j, r);
	}
}

/* Tables of at most this many bytes stay in L2 (or close), where prefetching rows only takes load slots:
 * gathers and bags over them do not prefetch (docs/BENCHMARKS.md: in-cache f32 gather 44 -> 67 Mrows/s). */
#define QUIET_TABLE_BYTES ((size_t)1 << 20)

/* How much of a row to prefetch (kernels.h, ES_PREFETCH_BYTES): nothing for a table that stays in cache. */
ES_INLINE size_t prefetch_bytes(const embstore_matrix *t, embstore_dtype dt)
{
	size_t bytes = row_bytes(dt, t->dim);
	if ((size_t)t->rows * (size_t)t->row_stride <= QUIET_TABLE_BYTES)
		return 0;
	return bytes < ES_PREFETCH_BYTES ? bytes : ES_PREFETCH_BYTES;
}

/* ---- writing rows: an optimizer's table row, a narrow output row ---- */

/* Elements j .. j+VL-1 of a row of dtype dt set to v, rounded to nearest even for f16 and bf16. */
ES_INLINE void row_store(unsigned char *p, embstore_dtype dt, size_t j, vfloat v)
{
	switch (dt) {
	case EMBSTORE_F32:
		v_store((float *)(void *)(p + j * 4), v);
		break;
	case EMBSTORE_F16:
		narrow_f16(p + j * 2, v);
		break;
	default:
		narrow_bf16(p + j * 2, v);
		break;
	}
}

/* Elements j .. j+r-1 (0 < r < VL, lanes m) only. */
ES_INLINE void row_store_tail(unsigned char *p, embstore_dtype dt, size_t j, vfloat v, size_t r, vtail m)
{
	if (dt == EMBSTORE_F32) {
		v_store_tail((float *)(void *)(p + j * 4), v, m);
		return;
	}
	unsigned char tmp[VL * 2];
	if (dt == EMBSTORE_F16)
		narrow_f16(tmp, v);
	else
		narrow_bf16(tmp, v);
	memcpy(p + j * 2, tmp, r * 2);
}

/* ---- gather ----
 *
 * A row is copied two vectors at a time, one row per iteration. With the table in L2, f32 gather is bound by the
 * line traffic between L1 and L2 (the row in; the output row read for ownership, then written back), which the
 * scalar set's memcpy meets nearly as well. Alternatives that lost are in docs/BENCHMARKS.md (kernel design
 * measurements).
 *
 * An output too large to be read back from the caches (ES_STREAM_BYTES) is written with non-temporal stores
 * where the set has them (v_stream): each output line then goes to memory once, instead of being read for
 * ownership first and written back later, which moves a third of the bytes of a gather from DRAM. Whether the
 * output is that large is the public call's to say (`stream`): a part of a parallel gather is smaller than the
 * output it helps write. */

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

#ifdef v_stream
/* The output is written as one stream of aligned vectors, whatever its address and dim: each row's vectors are
 * shifted in registers (v_funnel, v_down) onto the output's vector boundaries, the part of a vector that does not
 * fill it carried into the next. The vectors at the two ends may share a line with bytes that are not the
 * caller's output, so they are written with ordinary stores, through memcpy. */
typedef struct out_stream {
	float *at;   /* the vector-aligned address the carried lanes go to */
	vfloat carry;
	size_t c;    /* lanes of carry that hold output, [0, c) */
	size_t head; /* lanes [0, head) of the first vector are before the output; 0 once it is written */
} out_stream;

ES_INLINE out_stream stream_open(float *out)
{
	out_stream w;
	w.head = (size_t)((uintptr_t)out % (VL * 4)) / 4;
	w.at = out - w.head;
	w.carry = v_zero();
	w.c = w.head;
	return w;
}

/* Writes lanes [from, to) of v at w->at with ordinary stores. */
ES_INLINE void stream_part(const out_stream *w, vfloat v, size_t from, size_t to)
{
	_Alignas(64) float lanes[VL];
	v_store(lanes, v);
	memcpy(w->at + from, lanes + from, (to - from) * 4);
}

/* Appends lanes [0, r) of v (0 < r <= VL) to the output; sh is v_shift(w->c). */
ES_INLINE void stream_push(out_stream *w, vfloat v, size_t r, vshift sh)
{
	vfloat x = v_funnel(w->carry, v, sh);
	if (w->c + r < VL) {
		w->carry = x;
		w->c += r;
		return;
	}
	if (w->head) {
		stream_part(w, x, w->head, VL);
		w->head = 0;
	} else {
		v_stream(w->at, x);
	}
	w->at += VL;
	w->carry = v_down(v, sh);
	w->c = w->c + r - VL;
}

/* Writes what is carried and fences the non-temporal stores, so that whoever reads the output next (this thread
 * or another it hands the output to) sees them as ordinary stores. */
ES_INLINE void stream_close(out_stream *w)
{
	if (w->c > w->head)
		stream_part(w, w->carry, w->head, w->c);
	v_stream_fence();
}

ES_INLINE void stream_row(out_stream *w, const src_row *s, embstore_dtype dt, size_t dim)
{
	vshift sh = v_shift(w->c); /* constant over the row's whole vectors: each moves the output by VL */
	size_t j = 0;
	for (; j + VL <= dim; j += VL)
		stream_push(w, row_load(s, dt, j), VL, sh);
	if (j < dim)
		stream_push(w, row_load_tail(s, dt, j, dim - j, v_tail(dim - j)), dim - j, sh);
}

/* Row i of a streamed gather: straight to the output when every row starts on a vector, else through w. */
ES_INLINE void stream_next(out_stream *w, int aligned, float *row_out, const src_row *s, embstore_dtype dt,
                           size_t dim)
{
	if (aligned)
		for (size_t j = 0; j < dim; j += VL)
			v_stream(row_out + j, row_load(s, dt, j));
	else
		stream_row(w, s, dt, dim);
}

ES_INLINE embstore_status gather_streamed(const embstore_matrix *t, const void *ids, size_t n, float *out,
                                          size_t *bad_index, embstore_dtype dt, int wide)
{
	size_t dim = t->dim, pf = prefetch_bytes(t, dt);
	const unsigned char *end = table_end(t);
	out_stream w = stream_open(out);
	int aligned = w.head == 0 && dim % VL == 0; /* every row starts on a vector: nothing to shift */
	embstore_status st = EMBSTORE_OK;
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!es_checked_id(t, ids, wide, i, &id, bad_index)) {
			st = EMBSTORE_ID_OUT_OF_RANGE;
			break;
		}
		es_prefetch_row(t, ids, wide, i, n, pf);
		src_row s = open_row(t, id, dt, end);
		stream_next(&w, aligned, out + i * dim, &s, dt, dim);
	}
	stream_close(&w);
	return st;
}
#endif

ES_INLINE embstore_status gather_impl(const embstore_matrix *t, const void *ids, size_t n, float *out, int stream,
                                      size_t *bad_index, embstore_dtype dt, int wide)
{
#ifdef v_stream
	if (stream && (uintptr_t)out % 4 == 0) /* misaligned floats are allowed, if unwise: ordinary stores */
		return gather_streamed(t, ids, n, out, bad_index, dt, wide);
#else
	(void)stream;
#endif
	size_t dim = t->dim, pf = prefetch_bytes(t, dt);
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
                                    float *out, int stream, size_t *bad_index)
{
#define GATHER(dt, wide) gather_impl(t, ids, n, out, stream, bad_index, dt, wide)
	ES_SPECIALIZE(t->dtype, id_type, GATHER);
#undef GATHER
}

/* ---- gather from row addresses (the shards of a set) ----
 *
 * The loop above over rows the caller found: prefetched by address ES_PREFETCH_AHEAD rows ahead, streamed when
 * the call's output is large. Each row is its own table as far as a tail read goes (open_row_at's end), so a set
 * without a masked load copies a row's last partial vector rather than read past the row. */

ES_INLINE void prefetch_at(const unsigned char *const *rows, size_t i, size_t n, size_t bytes)
{
#if defined(__GNUC__)
	if (i + ES_PREFETCH_AHEAD < n) {
		const char *p = (const char *)rows[i + ES_PREFETCH_AHEAD];
		for (size_t b = 0; b < bytes; b += 64)
			__builtin_prefetch(p + b, 0, 3);
		__builtin_prefetch(p + bytes - 1, 0, 3);
	}
#else
	(void)rows, (void)i, (void)n, (void)bytes;
#endif
}

ES_INLINE void gather_rows_impl(const unsigned char *const *rows, size_t n, size_t dim, float *out, int stream,
                                embstore_dtype dt)
{
	size_t bytes = row_bytes(dt, (uint32_t)dim), pf = bytes < ES_PREFETCH_BYTES ? bytes : ES_PREFETCH_BYTES;
#ifdef v_stream
	if (stream && (uintptr_t)out % 4 == 0) {
		out_stream w = stream_open(out);
		int aligned = w.head == 0 && dim % VL == 0;
		for (size_t i = 0; i < n; i++) {
			prefetch_at(rows, i, n, pf);
			src_row s = open_row_at(rows[i], (uint32_t)dim, dt, rows[i] + bytes);
			stream_next(&w, aligned, out + i * dim, &s, dt, dim);
		}
		stream_close(&w);
		return;
	}
#else
	(void)stream;
#endif
	for (size_t i = 0; i < n; i++) {
		prefetch_at(rows, i, n, pf);
		src_row s = open_row_at(rows[i], (uint32_t)dim, dt, rows[i] + bytes);
		gather_row(out + i * dim, &s, dt, dim);
	}
}

static embstore_status loops_gather_rows(const unsigned char *const *rows, size_t n, embstore_dtype dtype,
                                         uint32_t dim, float *out, int stream)
{
	switch (dtype) {
	case EMBSTORE_F32:
		gather_rows_impl(rows, n, dim, out, stream, EMBSTORE_F32);
		break;
	case EMBSTORE_F16:
		gather_rows_impl(rows, n, dim, out, stream, EMBSTORE_F16);
		break;
	case EMBSTORE_BF16:
		gather_rows_impl(rows, n, dim, out, stream, EMBSTORE_BF16);
		break;
	default:
		gather_rows_impl(rows, n, dim, out, stream, EMBSTORE_INT8_ROWWISE);
		break;
	}
	return EMBSTORE_OK;
}

/* ---- gather with f16 or bf16 output ----
 *
 * The f32 gather's loop, each vector rounded as it is stored (row_store). Functions of their own, so that the f32
 * loop above keeps its stores to itself. */

ES_INLINE void gather_row_narrow(unsigned char *o, const src_row *s, embstore_dtype dt, size_t dim,
                                 embstore_dtype out)
{
	size_t j = 0;
	for (; j + 2 * VL <= dim; j += 2 * VL) {
		vfloat a = row_load(s, dt, j), b = row_load(s, dt, j + VL);
		row_store(o, out, j, a);
		row_store(o, out, j + VL, b);
	}
	if (j + VL <= dim) {
		row_store(o, out, j, row_load(s, dt, j));
		j += VL;
	}
	if (j < dim) {
		size_t r = dim - j;
		vtail m = v_tail(r);
		row_store_tail(o, out, j, row_load_tail(s, dt, j, r, m), r, m);
	}
}

ES_INLINE embstore_status gather_narrow_impl(const embstore_matrix *t, const void *ids, size_t n,
                                             unsigned char *out, int stream, size_t *bad_index, embstore_dtype dt,
                                             int wide, embstore_dtype out_dt)
{
	(void)stream; /* sets without v_stream */
	size_t dim = t->dim, pf = prefetch_bytes(t, dt);
	const unsigned char *end = table_end(t);
#ifdef v_stream
	/* Large outputs stream as the f32 gather's do, two vectors of codes per store, when every row starts on a
	 * vector (no shifting here: callers that care align their output, as the Python package does). */
	if (stream && dim % (2 * VL) == 0 && (uintptr_t)out % (VL * 4) == 0) {
		embstore_status st = EMBSTORE_OK;
		for (size_t i = 0; i < n; i++) {
			int64_t id;
			if (!es_checked_id(t, ids, wide, i, &id, bad_index)) {
				st = EMBSTORE_ID_OUT_OF_RANGE;
				break;
			}
			es_prefetch_row(t, ids, wide, i, n, pf);
			src_row s = open_row(t, id, dt, end);
			unsigned char *o = out + i * dim * 2;
			for (size_t j = 0; j < dim; j += 2 * VL) {
				vfloat a = row_load(&s, dt, j), b = row_load(&s, dt, j + VL);
				if (out_dt == EMBSTORE_F16)
					v_stream_halves(o + j * 2, half_f16(a), half_f16(b));
				else
					v_stream_halves(o + j * 2, half_bf16(a), half_bf16(b));
			}
		}
		v_stream_fence();
		return st;
	}
#endif
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!es_checked_id(t, ids, wide, i, &id, bad_index))
			return EMBSTORE_ID_OUT_OF_RANGE;
		es_prefetch_row(t, ids, wide, i, n, pf);
		src_row s = open_row(t, id, dt, end);
		gather_row_narrow(out + i * dim * 2, &s, dt, dim, out_dt);
	}
	return EMBSTORE_OK;
}

static embstore_status loops_gather_narrow(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                           size_t n, embstore_dtype out_dtype, void *out, int stream,
                                           size_t *bad_index)
{
#define GATHER_F16(dt, wide) gather_narrow_impl(t, ids, n, out, stream, bad_index, dt, wide, EMBSTORE_F16)
#define GATHER_BF16(dt, wide) gather_narrow_impl(t, ids, n, out, stream, bad_index, dt, wide, EMBSTORE_BF16)
	if (out_dtype == EMBSTORE_F16)
		ES_SPECIALIZE(t->dtype, id_type, GATHER_F16);
	ES_SPECIALIZE(t->dtype, id_type, GATHER_BF16);
#undef GATHER_F16
#undef GATHER_BF16
}

/* ---- bags ----
 *
 * Every (element type, id width, fold) has a loop of its own (bag_fns), and within it every dim of BAG_DIMS an
 * instance with the dim a constant, so that what a bag pays per id is: read and check the id, prefetch a row
 * BAG_AHEAD ids ahead, one prefetch per cache line, and one folding instruction per vector of the row, the load
 * folded into it, into accumulators that stay in registers. Nothing fixed per call is tested per id. Other dims
 * run the same code with the dim a run-time value.
 *
 * The output row is cut into walks of at most BAG_REGS vectors; a walk goes over the bag's ids once, folding its
 * part of each row into one accumulator per vector, and stores them once, at the end. Every element still folds
 * the bag's rows in id order (kernels.h). Max starts from -inf: -inf > x is false for every x, NaN included, so
 * the first fold yields the first row's value itself, exactly as kernels.h's "acc = the first x".
 * (Measurements: docs/BENCHMARKS.md, "Embedding bags against FBGEMM".) */

/* The dims with an instance of their own: those models use. Not in unoptimised builds, where nothing folds the
 * constants: the copies would only take minutes to compile; nor in instrumented ones (EMBSTORE_GENERIC_BAGS, set by
 * the build for sanitizers and fuzzers), which take ten. */
#if defined(__OPTIMIZE__) && !defined(EMBSTORE_GENERIC_BAGS)
#define BAG_DIMS(X) X(16) X(32) X(64) X(96) X(128) X(192) X(256) X(300) X(384) X(512) X(768) X(1024)
#else
#define BAG_DIMS(X)
#endif

/* How many ids ahead the first walk prefetches rows: 8 to 32 measured the same within noise; 16 is FBGEMM's. A
 * -D on the compiler's command line overrides it, and BAG_PF_F32 below, for such measurements. */
#ifndef BAG_AHEAD
#define BAG_AHEAD 16
#endif

#if defined(__GNUC__) && __GNUC__ >= 7
#define FALLTHROUGH __attribute__((fallthrough))
#else
#define FALLTHROUGH ((void)0)
#endif

/* STEP(i) for i = n-1 down to 0 (0 <= n <= BAG_REGS) as straight-line code: a switch that enters a run of
 * BAG_REGS steps n steps before its end. Each step names its accumulator with a constant index, so the compiler
 * keeps all of them in registers; with n a constant the switch folds away. */
#if BAG_REGS > 8
#define STEPS_16_TO_9(STEP)                                                                                    \
	case 16: STEP(15); FALLTHROUGH;                                                                            \
	case 15: STEP(14); FALLTHROUGH;                                                                            \
	case 14: STEP(13); FALLTHROUGH;                                                                            \
	case 13: STEP(12); FALLTHROUGH;                                                                            \
	case 12: STEP(11); FALLTHROUGH;                                                                            \
	case 11: STEP(10); FALLTHROUGH;                                                                            \
	case 10: STEP(9); FALLTHROUGH;                                                                             \
	case 9: STEP(8); FALLTHROUGH;
#else
#define STEPS_16_TO_9(STEP)
#endif
#define DOWN_FROM(n, STEP)                                                                                     \
	switch (n) {                                                                                               \
		STEPS_16_TO_9(STEP)                                                                                    \
	case 8: STEP(7); FALLTHROUGH;                                                                              \
	case 7: STEP(6); FALLTHROUGH;                                                                              \
	case 6: STEP(5); FALLTHROUGH;                                                                              \
	case 5: STEP(4); FALLTHROUGH;                                                                              \
	case 4: STEP(3); FALLTHROUGH;                                                                              \
	case 3: STEP(2); FALLTHROUGH;                                                                              \
	case 2: STEP(1); FALLTHROUGH;                                                                              \
	case 1: STEP(0); FALLTHROUGH;                                                                              \
	default: break;                                                                                            \
	}

/* One row folded into its accumulator (kernels.h): add, fused multiply-add with the weight, or max after
 * multiplying by the weight. The add takes the sum first so that the row's load can be its memory operand. */
enum { FOLD_ADD, FOLD_FMA, FOLD_MAX, FOLD_WMAX, FOLD_KINDS };

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

/* What every walk of one call reads. */
typedef struct bag_call {
	const unsigned char *data;
	size_t stride;
	uint64_t rows;
	const void *ids;
	size_t n_ids; /* the end of ids: rows are prefetched across bags up to it */
	const float *weights;
	const unsigned char *end;
	uint32_t dim;
	int mean;
	int prefetch; /* the table is larger than QUIET_TABLE_BYTES (bag_dims) */
	embstore_dtype out; /* F32, or F16 / BF16: bag_narrow rounds each walk's sums */
} bag_call;

/* Bytes of each row the first walk prefetches. An f32 row has one vector per cache line, so a prefetch per line
 * costs as many load slots as the row itself: there the first two lines, and the L2 streamer fetches the rest
 * (f32 bags take 8-14% less time, also in cache); rows of 16-bit or 8-bit elements are prefetched whole, which
 * won for them (docs/BENCHMARKS.md, "Embedding bags against FBGEMM"). */
#ifndef BAG_PF_F32
#define BAG_PF_F32 128u
#endif

ES_INLINE size_t bag_prefetch_bytes(embstore_dtype dt, uint32_t dim)
{
	size_t row = row_bytes(dt, dim);
	return dt == EMBSTORE_F32 && row > BAG_PF_F32 ? BAG_PF_F32 : row;
}

/* Prefetches `bytes` of the row BAG_AHEAD ids after k, one prefetch per 64 bytes, and one for the last byte when
 * the row can end in a line of its own: rows whose size is a multiple of 64 bytes (int8: plus its 8 bytes of scale
 * and bias) start on a line, or 8 bytes past one, in a store. Near the end of the ids, or when that id is bad (a
 * bad id must not even form a pointer), it takes row `cur` instead. */
ES_INLINE void bag_prefetch(const bag_call *c, size_t k, uint64_t cur, size_t bytes, int wide)
{
#if defined(__GNUC__)
	size_t ahead = k + BAG_AHEAD < c->n_ids ? k + BAG_AHEAD : k;
	uint64_t id = (uint64_t)es_id_at(c->ids, wide, ahead);
	id = id < c->rows ? id : cur;
	const char *p = (const char *)c->data + (size_t)id * c->stride;
	if (__builtin_constant_p(bytes)) {
		_Pragma("GCC unroll 64") for (size_t b = 0; b < bytes; b += 64)
			__builtin_prefetch(p + b, 0, 3);
	} else { /* the dims without a loop of their own: not unrolled */
		for (size_t b = 0; b < bytes; b += 64)
			__builtin_prefetch(p + b, 0, 3);
	}
	if (bytes % 64 > 8)
		__builtin_prefetch(p + bytes - 1, 0, 3);
#else
	(void)c, (void)k, (void)cur, (void)bytes, (void)wide;
#endif
}

/* count f32 sums at blk into elements 0 .. count of a narrow output row at o, first divided by len when it is not
 * 0 (a mean bag: the division bag_divide does in place on an f32 output). Once per walk and the same for every
 * dim and fold, so one copy of it serves all the bag loops. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void bag_narrow(unsigned char *o, embstore_dtype out, const float *blk, size_t count, float len)
{
	vfloat d = v_set1(len);
	size_t j = 0;
	for (; j + VL <= count; j += VL) {
		vfloat v = v_load(blk + j);
		row_store(o, out, j, len != 0.0f ? v_div(v, d) : v);
	}
	if (j < count) {
		size_t r = count - j;
		vtail m = v_tail(r);
		vfloat v = v_load_tail(blk + j, m);
		row_store_tail(o, out, j, len != 0.0f ? v_div(v, d) : v, r, m);
	}
}

/* One walk: bag [lo, hi) (not empty), elements j0 .. j0 + full * VL + r of each row into o + j0 (r < VL lanes, m,
 * in a partial vector after the whole ones), prefetching pf bytes of rows ahead. The whole vectors go to
 * acc[0 .. full), the partial one to acc[BAG_REGS - 1]: a walk has a partial vector only at the row's end, and
 * then fewer than BAG_REGS whole ones. Returns 0 at a bad id, with *bad_index set. */
ES_INLINE int bag_walk(const bag_call *c, size_t lo, size_t hi, unsigned char *o, size_t j0, size_t full, size_t r,
                       vtail m, size_t pf, uint32_t dim, size_t *bad_index, embstore_dtype dt, int wide, int kind)
{
	vfloat acc[BAG_REGS];
	vfloat init = kind == FOLD_MAX || kind == FOLD_WMAX ? v_set1(-INFINITY) : v_zero();
	LOOPS_UNROLL
	for (size_t v = 0; v < BAG_REGS; v++)
		acc[v] = init;
	size_t k = lo;
	do {
		uint64_t id = (uint64_t)es_id_at(c->ids, wide, k);
		if (id >= c->rows) {
			*bad_index = k;
			return 0;
		}
		if (pf)
			bag_prefetch(c, k, id, pf, wide);
		src_row s = open_row_at(c->data + (size_t)id * c->stride, dim, dt, c->end);
		vfloat w = kind == FOLD_FMA || kind == FOLD_WMAX ? v_set1(c->weights[k]) : v_zero();
#define FOLD_STEP(i) acc[i] = fold(acc[i], row_load(&s, dt, j0 + (i) * VL), kind, w)
		DOWN_FROM(full, FOLD_STEP)
#undef FOLD_STEP
		if (r)
			acc[BAG_REGS - 1] = fold(acc[BAG_REGS - 1], row_load_tail(&s, dt, j0 + full * VL, r, m), kind, w);
	} while (++k < hi);
	/* The sums go to an f32 output itself, or to blk for bag_narrow: the same stores to another address, so the
	 * output type costs the specialised loops no code of their own. */
	float blk[BAG_REGS * VL];
	float *dst = c->out == EMBSTORE_F32 ? (float *)(void *)o + j0 : blk;
#define STORE_STEP(i) v_store(dst + (i) * VL, acc[i])
	DOWN_FROM(full, STORE_STEP)
#undef STORE_STEP
	if (r)
		v_store_tail(dst + full * VL, acc[BAG_REGS - 1], m);
	if (c->out != EMBSTORE_F32)
		bag_narrow(o + j0 * 2, c->out, blk, full * VL + r, c->mean ? (float)(hi - lo) : 0.0f);
	return 1;
}

/* A mean bag's sums divided by its length, in place: once per bag, so one loop serves every dim. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void bag_divide(float *o, size_t dim, float len)
{
	vfloat d = v_set1(len);
	size_t j = 0;
	for (; j + VL <= dim; j += VL)
		v_store(o + j, v_div(v_load(o + j), d));
	if (j < dim) {
		vtail m = v_tail(dim - j);
		v_store_tail(o + j, v_div(v_load_tail(o + j, m), d), m);
	}
}

/* All bags of a call at one dim: walks of BAG_REGS vectors, then one of the rest. Only the first walk prefetches
 * (pf bytes of each row, or none): the later ones find the bag's rows in cache. Returns 0 at a bad id. */
ES_INLINE int bag_rows(const bag_call *c, const int64_t *offsets, size_t n_bags, unsigned char *out,
                       size_t *bad_index, uint32_t dim, size_t pf, embstore_dtype dt, int wide, int kind)
{
	const size_t width = BAG_REGS * VL, walks = dim / width, rest = dim % width;
	const vtail m = v_tail(rest % VL ? rest % VL : VL);
	const size_t out_row = dim * elem_bytes(c->out);
	for (size_t b = 0; b < n_bags; b++) {
		size_t lo = (size_t)offsets[b], hi = (size_t)offsets[b + 1];
		unsigned char *o = out + b * out_row;
		if (hi == lo) {
			memset(o, 0, out_row); /* +0 in every output type */
			continue;
		}
		if (walks) {
			if (!bag_walk(c, lo, hi, o, 0, BAG_REGS, 0, m, pf, dim, bad_index, dt, wide, kind))
				return 0;
			for (size_t i = 1; i < walks; i++)
				if (!bag_walk(c, lo, hi, o, i * width, BAG_REGS, 0, m, 0, dim, bad_index, dt, wide, kind))
					return 0;
		}
		if (rest && !bag_walk(c, lo, hi, o, walks * width, rest / VL, rest % VL, m, walks ? 0 : pf, dim,
		                      bad_index, dt, wide, kind))
			return 0;
		if (c->mean && c->out == EMBSTORE_F32)
			bag_divide((float *)(void *)o, dim, (float)(hi - lo));
	}
	return 1;
}

/* One loop per dim of BAG_DIMS, the dim a constant; the other dims share one. Rows of at most BAG_QUIET_ROW bytes
 * have a second loop that does not prefetch, for tables of at most QUIET_TABLE_BYTES: those stay in L2, and there a
 * prefetch only takes load slots, most of all on short rows (f32 dim 64 bags 14% faster; rows of 512 bytes and
 * more gained nothing). Weighted max, which PyTorch's bags do not offer, has the shared loop only. */
#define BAG_QUIET_ROW 256u

ES_INLINE embstore_status bag_dims(const bag_call *call, const int64_t *offsets, size_t n_bags, unsigned char *out,
                                   size_t *bad_index, embstore_dtype dt, int wide, int kind)
{
	const bag_call c = *call; /* a copy of its own, which the compiler keeps in registers */
	int ok;
	switch (kind == FOLD_WMAX ? 0 : c.dim) {
#define BAG_DIM_CASE(d)                                                                                        \
	case d:                                                                                                    \
		ok = c.prefetch || row_bytes(dt, d) > BAG_QUIET_ROW                                                    \
		         ? bag_rows(&c, offsets, n_bags, out, bad_index, d, bag_prefetch_bytes(dt, d), dt, wide, kind)   \
		         : bag_rows(&c, offsets, n_bags, out, bad_index, d, 0, dt, wide, kind);                          \
		break;
		BAG_DIMS(BAG_DIM_CASE)
#undef BAG_DIM_CASE
	default:
		ok = bag_rows(&c, offsets, n_bags, out, bad_index, c.dim, c.prefetch ? bag_prefetch_bytes(dt, c.dim) : 0,
		              dt, wide, kind);
		break;
	}
	return ok ? EMBSTORE_OK : EMBSTORE_ID_OUT_OF_RANGE;
}

/* The loops, one function each: bag_<dtype>_<wide>_<fold>, and bag_fns to find them. */
typedef embstore_status (*bag_fn)(const bag_call *c, const int64_t *offsets, size_t n_bags, unsigned char *out,
                                  size_t *bad_index);

#define BAG_FOLDS(X, dt, wide) X(dt, wide, FOLD_ADD) X(dt, wide, FOLD_FMA) X(dt, wide, FOLD_MAX) X(dt, wide, FOLD_WMAX)
#define BAG_ALL(X)                                                                                             \
	BAG_FOLDS(X, EMBSTORE_F32, 0) BAG_FOLDS(X, EMBSTORE_F32, 1) BAG_FOLDS(X, EMBSTORE_F16, 0)                 \
	BAG_FOLDS(X, EMBSTORE_F16, 1) BAG_FOLDS(X, EMBSTORE_BF16, 0) BAG_FOLDS(X, EMBSTORE_BF16, 1)               \
	BAG_FOLDS(X, EMBSTORE_INT8_ROWWISE, 0) BAG_FOLDS(X, EMBSTORE_INT8_ROWWISE, 1)

#define BAG_FN(dt, wide, kind)                                                                                 \
	static embstore_status bag_##dt##_##wide##_##kind(const bag_call *c, const int64_t *offsets, size_t n_bags,  \
	                                                  unsigned char *out, size_t *bad_index)                   \
	{                                                                                                          \
		return bag_dims(c, offsets, n_bags, out, bad_index, dt, wide, kind);                                   \
	}
BAG_ALL(BAG_FN)
#undef BAG_FN

/* Indexed by dtype - 1 (the dtype codes are 1 to 4), wide, fold. */
#define BAG_ENTRY(dt, wide, kind) bag_##dt##_##wide##_##kind,
static const bag_fn bag_fns[4][2][FOLD_KINDS] = {
	{{BAG_FOLDS(BAG_ENTRY, EMBSTORE_F32, 0)}, {BAG_FOLDS(BAG_ENTRY, EMBSTORE_F32, 1)}},
	{{BAG_FOLDS(BAG_ENTRY, EMBSTORE_F16, 0)}, {BAG_FOLDS(BAG_ENTRY, EMBSTORE_F16, 1)}},
	{{BAG_FOLDS(BAG_ENTRY, EMBSTORE_BF16, 0)}, {BAG_FOLDS(BAG_ENTRY, EMBSTORE_BF16, 1)}},
	{{BAG_FOLDS(BAG_ENTRY, EMBSTORE_INT8_ROWWISE, 0)}, {BAG_FOLDS(BAG_ENTRY, EMBSTORE_INT8_ROWWISE, 1)}},
};
#undef BAG_ENTRY
_Static_assert(EMBSTORE_F32 == 1 && EMBSTORE_F16 == 2 && EMBSTORE_BF16 == 3 && EMBSTORE_INT8_ROWWISE == 4,
               "bag_fns is indexed by dtype - 1");

static embstore_status bag_run(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                               const int64_t *offsets, size_t n_bags, const float *weights, embstore_bag_mode mode,
                               embstore_dtype out_dtype, void *out, size_t *bad_index)
{
	bag_call c = {
		.data = t->data,
		.stride = (size_t)t->row_stride,
		.rows = t->rows,
		.ids = ids,
		.n_ids = n_bags ? (size_t)offsets[n_bags] : 0,
		.weights = weights,
		.end = table_end(t),
		.dim = t->dim,
		.mean = mode == EMBSTORE_BAG_MEAN,
		.prefetch = (size_t)t->rows * (size_t)t->row_stride > QUIET_TABLE_BYTES,
		.out = out_dtype,
	};
	int kind = mode == EMBSTORE_BAG_MAX ? (weights ? FOLD_WMAX : FOLD_MAX) : (weights ? FOLD_FMA : FOLD_ADD);
	return bag_fns[t->dtype - 1][id_type == EMBSTORE_ID64][kind](&c, offsets, n_bags, out, bad_index);
}

static embstore_status loops_gather_bag(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                        const int64_t *offsets, size_t n_bags, const float *weights,
                                        embstore_bag_mode mode, float *out, size_t *bad_index)
{
	return bag_run(t, ids, id_type, offsets, n_bags, weights, mode, EMBSTORE_F32, out, bad_index);
}

static embstore_status loops_gather_bag_narrow(const embstore_matrix *t, const void *ids, embstore_id_type id_type,
                                               const int64_t *offsets, size_t n_bags, const float *weights,
                                               embstore_bag_mode mode, embstore_dtype out_dtype, void *out,
                                               size_t *bad_index)
{
	return bag_run(t, ids, id_type, offsets, n_bags, weights, mode, out_dtype, out, bad_index);
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

/* ---- sparse optimizers: one unique id's row (optim.c has summed its gradients; numerics in kernels.h) ---- */

static void loops_add_rows(float *dst, const float *a, const float *b, size_t dim)
{
	size_t j = 0;
	for (; j + VL <= dim; j += VL)
		v_store(dst + j, v_add(v_load(a + j), v_load(b + j)));
	if (j < dim) {
		vtail m = v_tail(dim - j);
		v_store_tail(dst + j, v_add(v_load_tail(a + j, m), v_load_tail(b + j, m)), m);
	}
}

/* w = fmaf(-m, gd, w) over the row, with gd = g, or fmaf(weight_decay, w, g) when `decay`. */
ES_INLINE void step_row(const embstore_matrix *t, uint64_t id, const float *g, float m, float weight_decay,
                        embstore_dtype dt, int decay)
{
	unsigned char *p = (unsigned char *)t->data + (size_t)id * (size_t)t->row_stride;
	src_row s = open_row(t, (int64_t)id, dt, table_end(t));
	vfloat neg_m = v_set1(-m), wd = v_set1(weight_decay);
	size_t dim = t->dim, j = 0;
	for (; j + VL <= dim; j += VL) {
		vfloat w = row_load(&s, dt, j), gd = v_load(g + j);
		if (decay)
			gd = v_fma(wd, w, gd);
		row_store(p, dt, j, v_fma(neg_m, gd, w));
	}
	if (j < dim) {
		size_t r = dim - j;
		vtail mask = v_tail(r);
		vfloat w = row_load_tail(&s, dt, j, r, mask), gd = v_load_tail(g + j, mask);
		if (decay)
			gd = v_fma(wd, w, gd);
		row_store_tail(p, dt, j, v_fma(neg_m, gd, w), r, mask);
	}
}

static void loops_sgd_row(const embstore_matrix *t, uint64_t id, const float *g, float lr)
{
	switch (t->dtype) {
	case EMBSTORE_F32:
		step_row(t, id, g, lr, 0.0f, EMBSTORE_F32, 0);
		break;
	case EMBSTORE_F16:
		step_row(t, id, g, lr, 0.0f, EMBSTORE_F16, 0);
		break;
	default:
		step_row(t, id, g, lr, 0.0f, EMBSTORE_BF16, 0);
		break;
	}
}

/* The sum of the row's squared (decayed) gradients, in kernels.h's ES_SQ_LANES partial sums: whole blocks of
 * ES_SQ_LANES elements in ES_SQ_LANES / VL vectors, the rest element by element into the same partials. */
ES_INLINE float sum_squares(const src_row *s, const float *g, size_t dim, float weight_decay, embstore_dtype dt,
                            int decay)
{
	enum { NV = ES_SQ_LANES / VL };
	_Static_assert(ES_SQ_LANES % VL == 0, "the partial sums must fill whole vectors");
	vfloat acc[NV], wd = v_set1(weight_decay);
	LOOPS_UNROLL
	for (size_t v = 0; v < NV; v++)
		acc[v] = v_zero();
	size_t j = 0;
	for (; j + ES_SQ_LANES <= dim; j += ES_SQ_LANES) {
		LOOPS_UNROLL
		for (size_t v = 0; v < NV; v++) {
			vfloat gd = v_load(g + j + v * VL);
			if (decay)
				gd = v_fma(wd, row_load(s, dt, j + v * VL), gd);
			acc[v] = v_fma(gd, gd, acc[v]);
		}
	}
	float part[ES_SQ_LANES];
	LOOPS_UNROLL
	for (size_t v = 0; v < NV; v++)
		v_store(part + v * VL, acc[v]);
	for (; j < dim; j++) {
		float gd = decay ? fmaf(weight_decay, es_elem_get(s->p, dt, j), g[j]) : g[j];
		part[j % ES_SQ_LANES] = fmaf(gd, gd, part[j % ES_SQ_LANES]);
	}
	return es_sum_lanes(part);
}

ES_INLINE void adagrad_row(const embstore_matrix *t, uint64_t id, unsigned char *state, const float *g, float lr,
                           float eps, float weight_decay, embstore_dtype dt, int decay)
{
	src_row s = open_row(t, (int64_t)id, dt, table_end(t));
	float m = es_adagrad_multiplier(state, sum_squares(&s, g, t->dim, weight_decay, dt, decay), t->dim, lr, eps);
	step_row(t, id, g, m, weight_decay, dt, decay);
}

static void loops_adagrad_row(const embstore_matrix *t, uint64_t id, unsigned char *state, const float *g,
                              float lr, float eps, float weight_decay)
{
	int decay = weight_decay != 0.0f;
#define ADAGRAD(dt) decay ? adagrad_row(t, id, state, g, lr, eps, weight_decay, dt, 1)                         \
	                  : adagrad_row(t, id, state, g, lr, eps, weight_decay, dt, 0)
	switch (t->dtype) {
	case EMBSTORE_F32:
		ADAGRAD(EMBSTORE_F32);
		break;
	case EMBSTORE_F16:
		ADAGRAD(EMBSTORE_F16);
		break;
	default:
		ADAGRAD(EMBSTORE_BF16);
		break;
	}
#undef ADAGRAD
}

#endif /* EMBSTORE_SIMD_KERNEL_LOOPS_H */
