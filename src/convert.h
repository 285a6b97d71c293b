/* convert.h: one row from the dtype it comes in to the dtype of the table it goes to (convert.c). */
#ifndef EMBSTORE_CONVERT_H
#define EMBSTORE_CONVERT_H

#include "util.h"

/* Source element types: the embstore dtypes, plus f64, which a .npy file may hold and only the importers pass. */
#define ES_SRC_F64 ((embstore_dtype)64)

/* Bytes of one source row of `dim` elements; 0 for an unknown source type. */
uint64_t es_src_row_bytes(embstore_dtype src, uint32_t dim);

/* Converts one row of `dim` elements at `src` (type `src_type`) into a packed row of `dst_type` at `dst`, through
 * `tmp` (dim floats): f64 -> f32 and f32 -> f16 / bf16 round to nearest even, f16 / bf16 widen exactly, f32 ->
 * int8 quantises the row; an int8 source must go to int8 and is copied. A finite value that the narrower type
 * cannot hold is RANGE, or with `saturate` the largest finite value of its sign. On RANGE or NON_FINITE, *col is
 * the first offending column (int8: the column with NaN or infinity, or dim for a bad scale or bias).
 * Errors: RANGE, NON_FINITE, BAD_DTYPE (int8 from a float source's other direction). */
embstore_status es_convert_row(const uint8_t *src, embstore_dtype src_type, uint8_t *dst, embstore_dtype dst_type,
                               uint32_t dim, bool saturate, float *tmp, uint32_t *col);

#endif
