/* safetensors_write.c: the header of a safetensors file for export, built and serialised by jansson. The data
 * follows it, written by the caller in the order the tensors were given. */
#include <jansson.h>
#include <stdlib.h>

#include "safetensors.h"

/* A JSON array of integers, each at most 2^63 - 1 (what a JSON reader of the format takes); NULL on overflow or
 * out of memory (*too_big says which). */
static json_t *int_array(const uint64_t *v, size_t n, bool *too_big)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		if (v[i] > INT64_MAX) {
			*too_big = true;
			json_decref(a);
			return NULL;
		}
		if (json_array_append_new(a, json_integer((json_int_t)v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Adds {"dtype", "shape", "data_offsets"} for `d`, whose data starts at *offset, and moves *offset past it. */
static embstore_status add_tensor(json_t *root, const es_st_desc *d, uint64_t *offset)
{
	char namebuf[ES_ST_NAME_TEXT];
	ES_CHECK(d->name && (d->shape || d->rank == 0), EMBSTORE_INVALID_ARGUMENT);
	const char *dtype = es_st_dtype_name(d->dtype);
	ES_CHECKF(dtype, EMBSTORE_BAD_DTYPE, "safetensors dtype code %d", (int)d->dtype);
	ES_CHECKF(es_utf8_valid((const uint8_t *)d->name, strlen(d->name)), EMBSTORE_BAD_STRING,
	          "tensor name '%s' is not valid UTF-8", es_st_name_text(d->name, namebuf));
	ES_CHECKF(strcmp(d->name, "__metadata__") != 0 && !json_object_get(root, d->name), EMBSTORE_DUPLICATE_NAME,
	          "tensor name '%s' is %s", es_st_name_text(d->name, namebuf),
	          json_object_get(root, d->name) ? "given twice" : "reserved for the metadata");
	uint64_t elems = 1, nbytes, range[2];
	bool zero = false, overflow = false;
	for (size_t i = 0; i < d->rank; i++) {
		zero = zero || d->shape[i] == 0;
		overflow = overflow || !es_mul_u64(elems, d->shape[i], &elems);
	}
	ES_CHECKF(zero || !overflow, EMBSTORE_LIMIT, "tensor '%s': its elements do not fit 64 bits",
	          es_st_name_text(d->name, namebuf));
	ES_CHECKF(es_st_nbytes(d->dtype, zero ? 0 : elems, &nbytes), EMBSTORE_LIMIT,
	          "tensor '%s': %llu elements of %s do not make a whole number of bytes below 2^64",
	          es_st_name_text(d->name, namebuf), (unsigned long long)elems, dtype);
	range[0] = *offset;
	ES_CHECKF(es_add_u64(*offset, nbytes, &range[1]) && range[1] <= INT64_MAX, EMBSTORE_LIMIT,
	          "tensor '%s' ends beyond 2^63 - 1 bytes of data", es_st_name_text(d->name, namebuf));
	bool too_big = false;
	json_t *shape = int_array(d->shape, d->rank, &too_big), *offsets = int_array(range, 2, &too_big);
	/* json_object_set_new takes its value even when it fails, so every value is handed over exactly once. */
	json_t *e = json_object();
	int bad = e == NULL;
	bad |= json_object_set_new(e, "dtype", json_string(dtype));
	bad |= json_object_set_new(e, "shape", shape);
	bad |= json_object_set_new(e, "data_offsets", offsets);
	if (bad) {
		json_decref(e);
		ES_CHECKF(!too_big, EMBSTORE_LIMIT, "tensor '%s': a dimension is beyond 2^63 - 1",
		          es_st_name_text(d->name, namebuf));
		return EMBSTORE_NO_MEMORY;
	}
	ES_CHECK(json_object_set_new(root, d->name, e) == 0, EMBSTORE_NO_MEMORY);
	*offset = range[1];
	return EMBSTORE_OK;
}

static embstore_status add_metadata(json_t *root, const es_meta *meta, size_t count)
{
	char namebuf[ES_ST_NAME_TEXT];
	if (count == 0)
		return EMBSTORE_OK;
	json_t *obj = json_object();
	ES_CHECK(obj && json_object_set_new(root, "__metadata__", obj) == 0, EMBSTORE_NO_MEMORY);
	for (size_t i = 0; i < count; i++) {
		const char *k = meta[i].key, *v = meta[i].value;
		ES_CHECK(k && v, EMBSTORE_INVALID_ARGUMENT);
		ES_CHECKF(es_utf8_valid((const uint8_t *)k, strlen(k)) && es_utf8_valid((const uint8_t *)v, strlen(v)),
		          EMBSTORE_BAD_STRING, "metadata '%s': key or value is not valid UTF-8", es_st_name_text(k, namebuf));
		ES_CHECKF(!json_object_get(obj, k), EMBSTORE_DUPLICATE_NAME, "metadata key '%s' is given twice",
		          es_st_name_text(k, namebuf));
		ES_CHECK(json_object_set_new(obj, k, json_string(v)) == 0, EMBSTORE_NO_MEMORY);
	}
	return EMBSTORE_OK;
}

/* Length, JSON, and spaces up to a multiple of 8. */
static embstore_status frame(const char *json, uint8_t **out, size_t *out_len)
{
	size_t len = strlen(json), n = len + (8 - len % 8) % 8;
	ES_CHECKF(n <= ES_ST_MAX_HEADER, EMBSTORE_LIMIT, "safetensors header of %zu bytes is over the cap of %u", n,
	          ES_ST_MAX_HEADER);
	uint8_t *b = malloc(8 + n);
	ES_CHECK(b, EMBSTORE_NO_MEMORY);
	es_put64(b, n);
	memcpy(b + 8, json, len);
	memset(b + 8 + len, ' ', n - len);
	*out = b;
	*out_len = 8 + n;
	return EMBSTORE_OK;
}

embstore_status es_st_write_header(const es_st_desc *tensors, size_t count, const es_meta *meta, size_t meta_count,
                                   uint8_t **out, size_t *out_len, uint64_t *data_size)
{
	es_detail_clear();
	ES_CHECK((tensors || count == 0) && (meta || meta_count == 0) && out && out_len && data_size,
	         EMBSTORE_INVALID_ARGUMENT);
	json_t *root = json_object();
	ES_CHECK(root, EMBSTORE_NO_MEMORY);
	uint64_t offset = 0;
	embstore_status st = add_metadata(root, meta, meta_count);
	for (size_t i = 0; i < count && st == EMBSTORE_OK; i++)
		st = add_tensor(root, &tensors[i], &offset);
	char *json = NULL;
	if (st == EMBSTORE_OK) {
		/* Sorted keys: the same tensors and metadata always give the same bytes. */
		json = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
		st = json ? frame(json, out, out_len) : EMBSTORE_NO_MEMORY;
	}
	free(json);
	json_decref(root);
	if (st == EMBSTORE_OK)
		*data_size = offset;
	return st;
}
