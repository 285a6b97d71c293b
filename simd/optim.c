/* optim.c: the sparse optimizer steps (SGD, row-wise Adagrad): every argument and every id checked before
 * anything is written, the gradients of duplicate ids summed in position order, then one row kernel call per
 * unique id on the given kernel set. The duplicates are found by sorting (id, position) keys, as FBGEMM's
 * backward pass sorts its indices before it updates each row once; the sort is shared C code, so every set
 * sees the same unique ids with the same sums.
 *
 * Row-wise Adagrad follows the rowwise_adagrad optimizer of FBGEMM's fbgemm_gpu training kernels (its CPU weight
 * update, read for the formula only): the row's state grows by the mean of the squared gradient, eps is added
 * after the square root (lr / (sqrt(state) + eps)), and weight decay in its L2 mode adds weight_decay * w to the
 * gradient both in the squares and in the update. FBGEMM writes that update as (1 - m * weight_decay) * w - m * g;
 * here it is the one fused w - m * (g + weight_decay * w), equal but for rounding. FBGEMM sums the squares in one
 * running sum; here 16 partial sums (kernels.h) let every SIMD set keep them in registers and agree bitwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* Bits needed to write every value below `count` (0 for count <= 1). */
static unsigned bits_below(uint64_t count)
{
	unsigned b = 0;
	while (b < 64 && count > ((uint64_t)1 << b))
		b++;
	return b;
}

static embstore_status check_step(const es_sparse_step *st)
{
	const embstore_matrix *t = st->table;
	embstore_status s = es_check_matrix(t);
	if (s != EMBSTORE_OK)
		return s;
	if (t->flags & EMBSTORE_MATRIX_READ_ONLY)
		return EMBSTORE_READ_ONLY;
	if (t->dtype != EMBSTORE_F32 && t->dtype != EMBSTORE_F16 && t->dtype != EMBSTORE_BF16)
		return EMBSTORE_BAD_DTYPE;
	if ((st->id_type != EMBSTORE_ID32 && st->id_type != EMBSTORE_ID64) || st->grad_stride < t->dim)
		return EMBSTORE_INVALID_ARGUMENT;
	/* The last gradient row must be addressable. */
	if (st->n > 0 && (!st->ids || !st->grads || st->n - 1 > (SIZE_MAX / 4 - t->dim) / st->grad_stride))
		return EMBSTORE_INVALID_ARGUMENT;
	if (st->state) {
		const embstore_matrix *m = st->state;
		if ((s = es_check_matrix(m)) != EMBSTORE_OK)
			return s;
		if (m->flags & EMBSTORE_MATRIX_READ_ONLY)
			return EMBSTORE_READ_ONLY;
		if (m->dtype != EMBSTORE_F32)
			return EMBSTORE_BAD_DTYPE;
		if (m->rows != t->rows || m->dim != 1)
			return EMBSTORE_INVALID_ARGUMENT;
	}
	return EMBSTORE_OK;
}

/* Sorts keys[0..n) by their bits [shift, shift + bits): least significant byte first, each pass stable, so keys
 * equal there keep their order. tmp has room for n keys; returns whichever of keys and tmp holds the result.
 * Linear in n, where a comparison sort of a 100k-id batch cost milliseconds. */
static uint64_t *radix_sort(uint64_t *keys, uint64_t *tmp, size_t n, unsigned shift, unsigned bits)
{
	enum { RADIX = 256 };
	unsigned passes = (bits + 7) / 8;
	size_t count[8][RADIX];
	memset(count, 0, sizeof count);
	for (size_t i = 0; i < n; i++)
		for (unsigned p = 0; p < passes; p++)
			count[p][(keys[i] >> (shift + 8 * p)) & (RADIX - 1)]++;
	for (unsigned p = 0; p < passes; p++) {
		unsigned sh = shift + 8 * p;
		if (count[p][(keys[0] >> sh) & (RADIX - 1)] == n)
			continue; /* one digit value throughout: the pass would change nothing */
		size_t at = 0;
		for (unsigned d = 0; d < RADIX; d++) {
			size_t c = count[p][d];
			count[p][d] = at;
			at += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[p][(keys[i] >> sh) & (RADIX - 1)]++] = keys[i];
		uint64_t *swap = keys;
		keys = tmp;
		tmp = swap;
	}
	return keys;
}

/* Rows a few unique ids ahead are asked for early, as in gather (kernels.h): sorted ids leave the hardware
 * prefetchers little to follow when they are sparse, and the gradient rows come in any order. */
static void prefetch_key(const es_sparse_step *st, uint64_t key, unsigned pos_bits, uint64_t pos_mask)
{
#if defined(__GNUC__)
	const embstore_matrix *t = st->table;
	const char *row = (const char *)t->data + (size_t)(key >> pos_bits) * (size_t)t->row_stride;
	const char *g = (const char *)(st->grads + (size_t)(key & pos_mask) * st->grad_stride);
	__builtin_prefetch(row, 1, 3);
	__builtin_prefetch(g, 0, 3);
	if (st->state)
		__builtin_prefetch((const char *)st->state->data + (size_t)(key >> pos_bits) * st->state->row_stride, 1, 3);
#else
	(void)st, (void)key, (void)pos_bits, (void)pos_mask;
#endif
}

#define PREFETCH_AHEAD 4

/* Each unique id of the sorted keys: its gradients summed into sum (when it has more than one), then its row
 * updated. */
static void update_rows(const embstore_kernel_table *k, const es_sparse_step *st, const uint64_t *keys,
                        unsigned pos_bits, float *sum)
{
	const embstore_matrix *t = st->table;
	uint64_t pos_mask = pos_bits ? UINT64_MAX >> (64 - pos_bits) : 0;
	size_t n = st->n, dim = t->dim;
#define GRAD(i) (st->grads + (size_t)(keys[i] & pos_mask) * st->grad_stride)
	for (size_t i = 0; i < n;) {
		uint64_t id = keys[i] >> pos_bits;
		size_t end = i + 1;
		while (end < n && keys[end] >> pos_bits == id)
			end++;
		if (end + PREFETCH_AHEAD < n)
			prefetch_key(st, keys[end + PREFETCH_AHEAD], pos_bits, pos_mask);
		const float *g = GRAD(i);
		if (end - i > 1) {
			k->add_rows(sum, g, GRAD(i + 1), dim);
			for (size_t r = i + 2; r < end; r++)
				k->add_rows(sum, sum, GRAD(r), dim);
			g = sum;
		}
		if (st->state) {
			unsigned char *state = (unsigned char *)st->state->data + (size_t)id * (size_t)st->state->row_stride;
			k->adagrad_row(t, id, state, g, st->lr, st->eps, st->weight_decay);
		} else {
			k->sgd_row(t, id, g, st->lr);
		}
		i = end;
	}
#undef GRAD
}

embstore_status es_sparse_update(const embstore_kernel_table *k, const es_sparse_step *st, size_t *bad_index)
{
	embstore_status s = check_step(st);
	if (s != EMBSTORE_OK)
		return s;
	if (k->isa == EMBSTORE_ISA_COUNT)
		return EMBSTORE_UNSUPPORTED_ISA;
	int wide = st->id_type == EMBSTORE_ID64;
	for (size_t i = 0; i < st->n; i++) {
		if ((uint64_t)es_id_at(st->ids, wide, i) >= st->table->rows) {
			if (bad_index)
				*bad_index = i;
			return EMBSTORE_ID_OUT_OF_RANGE;
		}
	}
	if (st->n == 0)
		return EMBSTORE_OK;
	/* A key is id << pos_bits | position: sorting by id keeps each id's positions in order. */
	unsigned pos_bits = bits_below(st->n), id_bits = bits_below(st->table->rows);
	if (pos_bits + id_bits > 64 || st->n > SIZE_MAX / 16 - st->table->dim)
		return EMBSTORE_LIMIT;
	uint64_t *keys = malloc(st->n * 16 + (size_t)st->table->dim * 4);
	if (!keys)
		return EMBSTORE_NO_MEMORY;
	for (size_t i = 0; i < st->n; i++)
		keys[i] = (uint64_t)es_id_at(st->ids, wide, i) << pos_bits | i;
	uint64_t *tmp = keys + st->n;
	float *sum = (float *)(void *)(tmp + st->n);
	update_rows(k, st, radix_sort(keys, tmp, st->n, pos_bits, id_bits), pos_bits, sum);
	free(keys);
	return EMBSTORE_OK;
}

embstore_status embstore_sgd_update(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                    size_t n, const float *grads, size_t grad_stride, float lr, size_t *bad_index)
{
	es_sparse_step st = {.table = table, .ids = ids, .id_type = id_type, .n = n, .grads = grads,
	                     .grad_stride = grad_stride, .lr = lr};
	return es_sparse_update(embstore_kernels_active(), &st, bad_index);
}

embstore_status embstore_rowwise_adagrad_update(const embstore_matrix *table, const embstore_matrix *state,
                                                const void *ids, embstore_id_type id_type, size_t n,
                                                const float *grads, size_t grad_stride, float lr, float eps,
                                                float weight_decay, size_t *bad_index)
{
	if (!state)
		return EMBSTORE_INVALID_ARGUMENT;
	es_sparse_step st = {.table = table, .state = state, .ids = ids, .id_type = id_type, .n = n, .grads = grads,
	                     .grad_stride = grad_stride, .lr = lr, .eps = eps, .weight_decay = weight_decay};
	return es_sparse_update(embstore_kernels_active(), &st, bad_index);
}
