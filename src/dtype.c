/* dtype.c: the closed list of element types and their row sizes. */
#include <string.h>

#include "util.h"

static const char *const dtype_names[] = {NULL, "f32", "f16", "bf16", "int8"};

const char *embstore_dtype_name(embstore_dtype dtype)
{
	if (dtype < EMBSTORE_F32 || dtype > EMBSTORE_INT8_ROWWISE)
		return NULL;
	return dtype_names[dtype];
}

embstore_status embstore_dtype_parse(const char *name, embstore_dtype *out)
{
	ES_CHECK(name && out, EMBSTORE_INVALID_ARGUMENT);
	for (int d = EMBSTORE_F32; d <= EMBSTORE_INT8_ROWWISE; d++) {
		if (strcmp(name, dtype_names[d]) == 0) {
			*out = (embstore_dtype)d;
			return EMBSTORE_OK;
		}
	}
	return EMBSTORE_INVALID_ARGUMENT;
}

uint64_t embstore_row_bytes(embstore_dtype dtype, uint64_t dim)
{
	uint64_t r;
	switch (dtype) {
	case EMBSTORE_F32:
		return es_mul_u64(dim, 4, &r) ? r : 0;
	case EMBSTORE_F16:
	case EMBSTORE_BF16:
		return es_mul_u64(dim, 2, &r) ? r : 0;
	case EMBSTORE_INT8_ROWWISE:
		return es_add_u64(dim, 8, &r) ? r : 0;
	}
	return 0;
}
