/* dtype.c: the closed list of element types and their row sizes. */
#include <string.h>

#include "element.h"
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
	return es_row_bytes(dtype, dim);
}
