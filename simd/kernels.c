/* kernels.c: the public gather / bag / scatter-add calls: every argument checked, then the active kernel set on
 * the calling thread (threads.c splits the _mt variants over POSIX threads with the same checks). */
#include <stddef.h>
#include <stdint.h>

#include "element.h"
#include "kernels.h"

/* ---- argument checks ---- */

embstore_status es_check_matrix(const embstore_matrix *m)
{
	if (!m || !m->data || m->rows == 0 || m->dim == 0)
		return EMBSTORE_INVALID_ARGUMENT;
	if (es_elem_bytes(m->dtype) == 0)
		return EMBSTORE_BAD_DTYPE;
	if (!es_stride_fits(m->dtype, m->dim, m->row_stride))
		return EMBSTORE_INVALID_ARGUMENT;
	/* Kernels address row r as data + r * row_stride in size_t: the whole table must fit. */
	if (m->row_stride > SIZE_MAX || m->rows > SIZE_MAX / m->row_stride)
		return EMBSTORE_INVALID_ARGUMENT;
	return EMBSTORE_OK;
}

static int id_type_ok(embstore_id_type id_type)
{
	return id_type == EMBSTORE_ID32 || id_type == EMBSTORE_ID64;
}

/* An array of n rows of dim elements of `size` bytes must be addressable. */
static int rows_fit(size_t n, uint32_t dim, size_t size)
{
	return n <= SIZE_MAX / size / dim;
}

/* Gathers and bags write f32, f16 or bf16. */
static int out_dtype_ok(embstore_dtype d)
{
	return d == EMBSTORE_F32 || d == EMBSTORE_F16 || d == EMBSTORE_BF16;
}

embstore_status es_check_gather(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                    size_t n, embstore_dtype out_dtype, const void *out)
{
	embstore_status s = es_check_matrix(table);
	if (s != EMBSTORE_OK)
		return s;
	if (!out_dtype_ok(out_dtype))
		return EMBSTORE_BAD_DTYPE;
	if (!id_type_ok(id_type) || (n > 0 && (!ids || !out)) ||
	    !rows_fit(n, table->dim, (size_t)es_elem_bytes(out_dtype)))
		return EMBSTORE_INVALID_ARGUMENT;
	return EMBSTORE_OK;
}

embstore_status es_check_bag(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                 size_t n_ids, const int64_t *offsets, size_t n_bags, embstore_bag_mode mode,
                                 embstore_dtype out_dtype, const void *out)
{
	embstore_status s = es_check_matrix(table);
	if (s != EMBSTORE_OK)
		return s;
	if (!out_dtype_ok(out_dtype))
		return EMBSTORE_BAD_DTYPE;
	if (!id_type_ok(id_type) || !offsets || (n_ids > 0 && !ids) || (n_bags > 0 && !out) ||
	    !rows_fit(n_bags, table->dim, (size_t)es_elem_bytes(out_dtype)) || (uint64_t)n_ids > INT64_MAX)
		return EMBSTORE_INVALID_ARGUMENT;
	if (mode != EMBSTORE_BAG_SUM && mode != EMBSTORE_BAG_MEAN && mode != EMBSTORE_BAG_MAX)
		return EMBSTORE_INVALID_ARGUMENT;
	/* CSR: starts at 0, never decreases, ends at n_ids; so every offset is a position in ids. */
	if (offsets[0] != 0 || offsets[n_bags] != (int64_t)n_ids)
		return EMBSTORE_INVALID_ARGUMENT;
	for (size_t b = 0; b < n_bags; b++)
		if (offsets[b + 1] < offsets[b])
			return EMBSTORE_INVALID_ARGUMENT;
	return EMBSTORE_OK;
}

embstore_status es_check_scatter(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                     size_t n, const float *grads)
{
	embstore_status s = es_check_matrix(table);
	if (s != EMBSTORE_OK)
		return s;
	if (table->flags & EMBSTORE_MATRIX_READ_ONLY)
		return EMBSTORE_READ_ONLY;
	if (table->dtype != EMBSTORE_F32)
		return EMBSTORE_BAD_DTYPE;
	if (!id_type_ok(id_type) || (n > 0 && (!ids || !grads)) || !rows_fit(n, table->dim, sizeof(float)))
		return EMBSTORE_INVALID_ARGUMENT;
	return EMBSTORE_OK;
}

embstore_status es_kernel_status(embstore_status s, size_t bad, size_t *bad_index)
{
	if (s == EMBSTORE_ID_OUT_OF_RANGE && bad_index)
		*bad_index = bad;
	return s;
}

/* ---- single thread ---- */

embstore_status embstore_gather_as(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                   size_t n, embstore_dtype out_dtype, void *out, size_t *bad_index)
{
	embstore_status s = es_check_gather(table, ids, id_type, n, out_dtype, out);
	if (s != EMBSTORE_OK)
		return s;
	size_t bad = 0;
	s = es_gather_to(embstore_kernels_active(), table, ids, id_type, n, out_dtype, out,
	                 es_output_streams(n, table->dim, out_dtype), &bad);
	return es_kernel_status(s, bad, bad_index);
}

embstore_status embstore_gather(const embstore_matrix *table, const void *ids, embstore_id_type id_type, size_t n,
                                float *out, size_t *bad_index)
{
	return embstore_gather_as(table, ids, id_type, n, EMBSTORE_F32, out, bad_index);
}

embstore_status embstore_gather_bag_as(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                       size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                       embstore_bag_mode mode, embstore_dtype out_dtype, void *out,
                                       size_t *bad_index)
{
	embstore_status s = es_check_bag(table, ids, id_type, n_ids, offsets, n_bags, mode, out_dtype, out);
	if (s != EMBSTORE_OK)
		return s;
	size_t bad = 0;
	s = es_bag_to(embstore_kernels_active(), table, ids, id_type, offsets, n_bags, weights, mode, out_dtype, out,
	              &bad);
	return es_kernel_status(s, bad, bad_index);
}

embstore_status embstore_gather_bag(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                    size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                    embstore_bag_mode mode, float *out, size_t *bad_index)
{
	return embstore_gather_bag_as(table, ids, id_type, n_ids, offsets, n_bags, weights, mode, EMBSTORE_F32, out,
	                              bad_index);
}

embstore_status embstore_scatter_add(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                     size_t n, const float *grads, float alpha, size_t *bad_index)
{
	embstore_status s = es_check_scatter(table, ids, id_type, n, grads);
	if (s != EMBSTORE_OK)
		return s;
	size_t bad = 0;
	s = embstore_kernels_active()->scatter_add(table, ids, id_type, n, grads, alpha, 0, table->rows, &bad);
	return es_kernel_status(s, bad, bad_index);
}
