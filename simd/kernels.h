/* kernels.h: the internal kernel table (one per instruction set), its lookup, and helpers the kernel files share.
 *
 * kernels.c and threads.c validate every argument of the public calls, then call one table's kernels. A kernel may
 * therefore assume:
 *  - the matrix is valid: data != NULL, rows >= 1, dim >= 1, a known dtype, row_stride >= embstore_row_bytes()
 *    and a multiple of the element size for f32/f16/bf16, rows * row_stride fits in a size_t;
 *  - id_type is EMBSTORE_ID32 or EMBSTORE_ID64; every pointer that is read is non-NULL; bad_index is non-NULL;
 *    the output (n x dim elements of its dtype) fits in a size_t; out_dtype (the _narrow entries) is F16 or BF16;
 *  - gather_bag: offsets[0..n_bags] is non-decreasing and every offset is a valid position in ids (offsets[0]
 *    need not be 0: the parallel variant hands a thread offsets + first_bag); mode is a known one;
 *  - scatter_add: the table is f32, not marked read-only, and row_lo <= row_hi <= rows;
 *  - add_rows, sgd_row, adagrad_row (called by optim.c once per unique id): the table is f32, f16 or bf16 and
 *    writable, id < rows, `state` points at the row's f32 state (4 bytes, any alignment), g at dim floats that
 *    overlap neither the table nor the state.
 * Table rows, ids and outputs need no alignment at all (embstore.h promises it for outputs); weights and grads that
 * of a float.
 * Every id is checked against rows as it is reached; the first bad one stops the kernel with
 * EMBSTORE_ID_OUT_OF_RANGE and its position (an index into ids) in *bad_index. Rows done before stay done.
 *
 * Numerics. Gather and scatter-add results of every kernel set are bitwise equal to scalar.c, and bags follow the
 * same operations in the same order (see below for NaNs), so that the header's tolerance holds with room to spare.
 * The _narrow entries compute the f32 result exactly so, then round it (a mean bag's after its division) as
 * es_f32_to_f16 / bf16 do, so their codes are bitwise scalar.c's too (bags: but for which NaN). The operations:
 *  - f16 -> f32 is exact; a signalling NaN comes out quiet (bit 22 set), payload kept, as F16C VCVTPH2PS and
 *    AArch64 FCVTL do (with FPCR.DN clear, the Linux default);
 *  - bf16 -> f32 is the 16 bits shifted left by 16, NaNs included, as integer SIMD does it;
 *  - int8 row-wise value = fmaf((float)q, scale, bias): fused, one rounding. Every SIMD set here has FMA (AVX2 is
 *    only used with FMA; NEON's vfmaq_f32 is fused), and an explicit fmaf cannot be split or fused differently by
 *    the compiler, unlike q * scale + bias under -ffp-contract;
 *  - scatter-add: t = fmaf(alpha, g, t), per element, ids in order;
 *  - sparse optimizers (optim.c sums the gradients of a duplicate id with add_rows: a + b per element, in
 *    position order): SGD w = fmaf(-lr, g, w); row-wise Adagrad with gd = g (weight_decay 0) or
 *    fmaf(weight_decay, w, g), the squares summed as fmaf(gd, gd, p[j % ES_SQ_LANES]) into ES_SQ_LANES partial
 *    sums from +0, folded by es_sum_lanes, then es_adagrad_multiplier's m and w = fmaf(-m, gd, w). w is read as
 *    f32 (f16 and bf16 widened exactly) and stored rounded to nearest even (element.h, es_f32_to_f16 / bf16).
 *    Bitwise equal wherever no NaN arises; a NaN stays a NaN, its payload unspecified.
 *  - bags: sum and mean start from +0 and add v (no weights) or fmaf(w, v, acc), in id order; mean then divides
 *    by (float)length. Max takes x = v (or w * v), acc = the first x, then acc = acc > x ? acc : x (the operand
 *    order of x86 MAXPS, which NEON reproduces with a compare and select). An empty bag is zeros. Bitwise equal
 *    wherever scalar.c's result is not a NaN; where it is, a NaN, its payload unspecified: which of two NaNs an
 *    add or fused multiply-add passes on depends on the operand order, and pinning it (inline asm) would stop
 *    the compiler from folding the row's load into the add.
 */
#ifndef EMBSTORE_SIMD_KERNELS_H
#define EMBSTORE_SIMD_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "element.h"
#include "embstore.h"

/* Table data is little-endian (docs/FORMAT.md) and the kernels read it in place. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "embstore kernels read little-endian table data in place; big-endian hosts are not supported"
#endif

/* stream: the whole call's output is large (es_output_streams), so the kernel writes it with non-temporal stores
 * where it has them and the output's alignment allows; a part of a parallel call is told what the call is. */
typedef embstore_status (*embstore_gather_fn)(const embstore_matrix *table, const void *ids,
                                              embstore_id_type id_type, size_t n, float *out, int stream,
                                              size_t *bad_index);
/* The gather of rows already found and checked by the caller, one address each, which may lie in different tables
 * of the same dtype and dim (the shards of a set): rows[i] is row i's first byte, and at least row_bytes(dtype,
 * dim) bytes are readable there. Writes out[i * dim ...] as gather does; OK, or UNSUPPORTED_ISA from the refusing
 * table. */
typedef embstore_status (*embstore_gather_rows_fn)(const unsigned char *const *rows, size_t n, embstore_dtype dtype,
                                                   uint32_t dim, float *out, int stream);
/* Bag b (b < n_bags) covers ids[offsets[b] .. offsets[b + 1]) and writes out[b * dim ...]. */
typedef embstore_status (*embstore_gather_bag_fn)(const embstore_matrix *table, const void *ids,
                                                  embstore_id_type id_type, const int64_t *offsets, size_t n_bags,
                                                  const float *weights, embstore_bag_mode mode, float *out,
                                                  size_t *bad_index);
/* The same with the output rounded to out_dtype, EMBSTORE_F16 or EMBSTORE_BF16 (2 bytes per element, any
 * alignment), as es_f32_to_f16 / bf16 round the f32 result: separate entries, so that the f32 loops stay as they
 * are. */
typedef embstore_status (*embstore_gather_narrow_fn)(const embstore_matrix *table, const void *ids,
                                                     embstore_id_type id_type, size_t n, embstore_dtype out_dtype,
                                                     void *out, int stream, size_t *bad_index);
typedef embstore_status (*embstore_gather_bag_narrow_fn)(const embstore_matrix *table, const void *ids,
                                                         embstore_id_type id_type, const int64_t *offsets,
                                                         size_t n_bags, const float *weights,
                                                         embstore_bag_mode mode, embstore_dtype out_dtype,
                                                         void *out, size_t *bad_index);
/* Checks every id against the whole table but updates only rows in [row_lo, row_hi): the parallel variant gives
 * each thread its own range of rows, so that each row still sees its updates in id order. */
typedef embstore_status (*embstore_scatter_add_fn)(const embstore_matrix *table, const void *ids,
                                                   embstore_id_type id_type, size_t n, const float *grads,
                                                   float alpha, uint64_t row_lo, uint64_t row_hi,
                                                   size_t *bad_index);

/* dst = a + b per element (dst may be a). */
typedef void (*embstore_add_rows_fn)(float *dst, const float *a, const float *b, size_t dim);
/* Row `id` of the table, one step with the summed gradient g (numerics above). */
typedef void (*embstore_sgd_row_fn)(const embstore_matrix *table, uint64_t id, const float *g, float lr);
typedef void (*embstore_adagrad_row_fn)(const embstore_matrix *table, uint64_t id, unsigned char *state,
                                        const float *g, float lr, float eps, float weight_decay);

typedef struct embstore_kernel_table {
	embstore_isa isa; /* EMBSTORE_ISA_COUNT only for dispatch.c's table that refuses every call */
	embstore_gather_fn gather;
	embstore_gather_rows_fn gather_rows;
	embstore_gather_bag_fn gather_bag;
	embstore_gather_narrow_fn gather_narrow;
	embstore_gather_bag_narrow_fn gather_bag_narrow;
	embstore_scatter_add_fn scatter_add;
	embstore_add_rows_fn add_rows;       /* these three: NULL in the refusing table, which optim.c turns away */
	embstore_sgd_row_fn sgd_row;
	embstore_adagrad_row_fn adagrad_row;
} embstore_kernel_table;

/* Defined only when built: scalar always, avx2 / avx512 on x86-64, neon on AArch64 (EMBSTORE_HAVE_*). */
extern const embstore_kernel_table embstore_kernels_scalar;
extern const embstore_kernel_table embstore_kernels_avx2;
extern const embstore_kernel_table embstore_kernels_avx512;
extern const embstore_kernel_table embstore_kernels_neon;

/* The table for `isa` when this build has it and this CPU and OS can run it; NULL otherwise (also for an unknown
 * value). Tests use it to call every set directly. */
const embstore_kernel_table *embstore_kernels_for(embstore_isa isa);
/* The active table, resolved on first use (dispatch.c). Never NULL: when EMBSTORE_ISA named an unusable set it
 * is a table whose kernels all return EMBSTORE_UNSUPPORTED_ISA. */
const embstore_kernel_table *embstore_kernels_active(void);

/* The argument checks of the public calls (kernels.c), shared by their parallel variants (threads.c): OK when
 * the kernels may be called as described above. */
embstore_status es_check_gather(const embstore_matrix *table, const void *ids, embstore_id_type id_type, size_t n,
                                embstore_dtype out_dtype, const void *out);
embstore_status es_check_bag(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                             size_t n_ids, const int64_t *offsets, size_t n_bags, embstore_bag_mode mode,
                             embstore_dtype out_dtype, const void *out);
embstore_status es_check_scatter(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                 size_t n, const float *grads);
/* A public call's result: `bad` goes to *bad_index (when not NULL) only with ID_OUT_OF_RANGE. */
embstore_status es_kernel_status(embstore_status status, size_t bad, size_t *bad_index);
/* OK when m is a matrix the kernels may read (see above); INVALID_ARGUMENT or BAD_DTYPE otherwise. */
embstore_status es_check_matrix(const embstore_matrix *m);

/* One sparse optimizer step (optim.c): what embstore_sgd_update and embstore_rowwise_adagrad_update take, with
 * the kernel set to run it on, so that tests hold every set against scalar through the same code. */
typedef struct es_sparse_step {
	const embstore_matrix *table;
	const embstore_matrix *state; /* NULL: SGD; otherwise row-wise Adagrad */
	const void *ids;
	embstore_id_type id_type;
	size_t n;
	const float *grads;
	size_t grad_stride; /* floats */
	float lr, eps, weight_decay;
} es_sparse_step;

embstore_status es_sparse_update(const embstore_kernel_table *k, const es_sparse_step *step, size_t *bad_index);

/* ---- helpers for the kernel files ---- */

#if defined(__GNUC__)
#define ES_INLINE static inline __attribute__((always_inline))
#else
#define ES_INLINE static inline
#endif

/* Gather and bag into an output of any dtype the checks accept: f32 through the f32 entries. */
ES_INLINE embstore_status es_gather_to(const embstore_kernel_table *k, const embstore_matrix *table, const void *ids,
                                       embstore_id_type id_type, size_t n, embstore_dtype out_dtype, void *out,
                                       int stream, size_t *bad_index)
{
	if (out_dtype == EMBSTORE_F32)
		return k->gather(table, ids, id_type, n, out, stream, bad_index);
	return k->gather_narrow(table, ids, id_type, n, out_dtype, out, stream, bad_index);
}

ES_INLINE embstore_status es_bag_to(const embstore_kernel_table *k, const embstore_matrix *table, const void *ids,
                                    embstore_id_type id_type, const int64_t *offsets, size_t n_bags,
                                    const float *weights, embstore_bag_mode mode, embstore_dtype out_dtype,
                                    void *out, size_t *bad_index)
{
	if (out_dtype == EMBSTORE_F32)
		return k->gather_bag(table, ids, id_type, offsets, n_bags, weights, mode, out, bad_index);
	return k->gather_bag_narrow(table, ids, id_type, offsets, n_bags, weights, mode, out_dtype, out, bad_index);
}

/* Id i of an ID32 (wide == 0) or ID64 (wide == 1) array. Kernels are written once with `wide` as a parameter
 * of an ES_INLINE body and instantiated with a constant 0 and 1, so the test costs nothing in the loops. */
ES_INLINE int64_t es_id_at(const void *ids, int wide, size_t i)
{
	if (wide) {
		int64_t v;
		memcpy(&v, (const char *)ids + i * 8, 8);
		return v;
	}
	int32_t v;
	memcpy(&v, (const char *)ids + i * 4, 4);
	return v;
}

/* Id i, checked as the contract above says: 1 with *id set when it names a row, otherwise 0 with *bad_index = i
 * (the caller then returns EMBSTORE_ID_OUT_OF_RANGE). */
ES_INLINE int es_checked_id(const embstore_matrix *t, const void *ids, int wide, size_t i, int64_t *id,
                            size_t *bad_index)
{
	*id = es_id_at(ids, wide, i);
	if ((uint64_t)*id < t->rows)
		return 1;
	*bad_index = i;
	return 0;
}

/* Start of row `id` (already checked against rows, so the product fits: rows * row_stride fits in a size_t). */
ES_INLINE const unsigned char *es_row(const embstore_matrix *t, int64_t id)
{
	return (const unsigned char *)t->data + (size_t)id * (size_t)t->row_stride;
}

/* Returns IMPL(dtype, wide) with dtype and wide as constants (wide: 1 for ID64 ids), so that each combination of
 * element type and id width gets a loop of its own with no per-element tests. Use in a function's body. */
#define ES_SPECIALIZE(dtype, id_type, IMPL)                                                                    \
	do {                                                                                                       \
		int wide_ = (id_type) == EMBSTORE_ID64;                                                                \
		switch (dtype) {                                                                                       \
		case EMBSTORE_F32:                                                                                     \
			return wide_ ? IMPL(EMBSTORE_F32, 1) : IMPL(EMBSTORE_F32, 0);                                      \
		case EMBSTORE_F16:                                                                                     \
			return wide_ ? IMPL(EMBSTORE_F16, 1) : IMPL(EMBSTORE_F16, 0);                                      \
		case EMBSTORE_BF16:                                                                                    \
			return wide_ ? IMPL(EMBSTORE_BF16, 1) : IMPL(EMBSTORE_BF16, 0);                                    \
		case EMBSTORE_INT8_ROWWISE:                                                                            \
		default:                                                                                               \
			return wide_ ? IMPL(EMBSTORE_INT8_ROWWISE, 1) : IMPL(EMBSTORE_INT8_ROWWISE, 0);                    \
		}                                                                                                      \
	} while (0)

/* ---- the optimizers' per-row scalars and elements, shared by every set ---- */

/* Partial sums of a row's squared gradients: element j goes to partial j % ES_SQ_LANES. 16 is one AVX-512
 * vector, two AVX2 and four NEON vectors, so every set keeps them in registers and folds them the same way. */
#define ES_SQ_LANES 16

/* The partial sums folded pairwise: p[k] + p[k + 8], then + 4, + 2, + 1 (p is overwritten). */
ES_INLINE float es_sum_lanes(float *p)
{
	for (unsigned w = ES_SQ_LANES / 2; w >= 1; w /= 2)
		for (unsigned k = 0; k < w; k++)
			p[k] = p[k] + p[k + w];
	return p[0];
}

/* state += sum_sq / dim; returns lr / (sqrtf(state) + eps), the step of the row per unit of gradient (FBGEMM's
 * rowwise_adagrad "multiplier"). True division and sqrtf: both correctly rounded on every set. */
ES_INLINE float es_adagrad_multiplier(unsigned char *state, float sum_sq, uint32_t dim, float lr, float eps)
{
	float s;
	memcpy(&s, state, 4);
	s = s + sum_sq / (float)dim;
	memcpy(state, &s, 4);
	return lr / (sqrtf(s) + eps);
}

/* Element j of an f32, f16 or bf16 row as f32. */
ES_INLINE float es_elem_get(const unsigned char *row, embstore_dtype dt, size_t j)
{
	if (dt == EMBSTORE_F32) {
		float v;
		memcpy(&v, row + j * 4, 4);
		return v;
	}
	uint16_t h;
	memcpy(&h, row + j * 2, 2);
	return dt == EMBSTORE_F16 ? es_f16_to_f32(h) : es_bf16_to_f32(h);
}

/* Element j of an f32, f16 or bf16 row set to v, rounded to nearest even. */
ES_INLINE void es_elem_put(unsigned char *row, embstore_dtype dt, size_t j, float v)
{
	if (dt == EMBSTORE_F32) {
		memcpy(row + j * 4, &v, 4);
		return;
	}
	uint16_t h = dt == EMBSTORE_F16 ? es_f32_to_f16(v) : es_f32_to_bf16(v);
	memcpy(row + j * 2, &h, 2);
}

/* Gathers whose output is at least this large bypass the caches with non-temporal stores (kernel_loops.h):
 * the output is then larger than what a core can expect to read back from its share of the last-level cache.
 * Below it, the consumer of a gather (the next layer) finds its rows in cache, and streaming them to memory cost
 * 15-40% in the measurements (docs/BENCHMARKS.md, "Non-temporal stores in gather"). */
#define ES_STREAM_BYTES ((size_t)16 << 20)

/* Whether a gather call of n rows of dim elements of out_dtype writes enough to stream: decided by the public
 * call for its whole output, since each part of a parallel call is smaller than the output it helps write. */
ES_INLINE int es_output_streams(size_t n, size_t dim, embstore_dtype out_dtype)
{
	return n * dim * (size_t)es_elem_bytes(out_dtype) >= ES_STREAM_BYTES;
}

/* Software prefetch for the gather-like loops. Ids come in random order, so the hardware prefetchers cannot
 * guess the next row, and each row costs a full memory latency (about 80-100 ns) once the table is larger than
 * the caches. Converting one row of a typical dim (64-256) takes some 10-20 ns, so asking for the row
 * ES_PREFETCH_AHEAD ids ahead covers the latency with a few misses in flight (a core tracks 10-16 L1 misses, and
 * each prefetched row takes up to ES_PREFETCH_BYTES / 64 of them). Only the first ES_PREFETCH_BYTES of a row are
 * requested: on longer rows the L2 streamer follows the sequential reads within the row by itself. The id is
 * checked first: a bad id must not even form a pointer. `bytes` 0: no prefetch (a table that stays in cache).
 * (Measurements: docs/BENCHMARKS.md.) */
#define ES_PREFETCH_AHEAD 8
#define ES_PREFETCH_BYTES 256

ES_INLINE void es_prefetch_row(const embstore_matrix *t, const void *ids, int wide, size_t i, size_t n,
                               size_t bytes)
{
#if defined(__GNUC__)
	if (bytes != 0 && i + ES_PREFETCH_AHEAD < n) {
		int64_t id = es_id_at(ids, wide, i + ES_PREFETCH_AHEAD);
		if ((uint64_t)id < t->rows) {
			const char *p = (const char *)es_row(t, id);
			for (size_t b = 0; b < bytes; b += 64)
				__builtin_prefetch(p + b, 0, 3);
			__builtin_prefetch(p + bytes - 1, 0, 3);
		}
	}
#else
	(void)t, (void)ids, (void)wide, (void)i, (void)n, (void)bytes;
#endif
}

#endif /* EMBSTORE_SIMD_KERNELS_H */
