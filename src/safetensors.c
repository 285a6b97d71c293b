/* safetensors.c: the dtypes of the safetensors format and the header parser. The JSON is parsed by jansson; what
 * it holds is untrusted, so every field is checked here the way the store's own sections are (format.c): types,
 * sizes without overflow, offsets in bounds, and the tensors tiling the data area with no overlap and no hole. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "convert.h"
#include "safetensors.h"

static const struct {
	const char *name;
	unsigned bits;
	embstore_dtype source;
} dtypes[ES_ST_DTYPE_COUNT] = {
	[ES_ST_BOOL] = {"BOOL", 8, 0},
	[ES_ST_U8] = {"U8", 8, 0},
	[ES_ST_I8] = {"I8", 8, 0},
	[ES_ST_F8_E5M2] = {"F8_E5M2", 8, 0},
	[ES_ST_F8_E4M3] = {"F8_E4M3", 8, 0},
	[ES_ST_F8_E8M0] = {"F8_E8M0", 8, 0},
	[ES_ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, 0},
	[ES_ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, 0},
	[ES_ST_I16] = {"I16", 16, 0},
	[ES_ST_U16] = {"U16", 16, 0},
	[ES_ST_F16] = {"F16", 16, EMBSTORE_F16},
	[ES_ST_BF16] = {"BF16", 16, EMBSTORE_BF16},
	[ES_ST_I32] = {"I32", 32, 0},
	[ES_ST_U32] = {"U32", 32, 0},
	[ES_ST_F32] = {"F32", 32, EMBSTORE_F32},
	[ES_ST_I64] = {"I64", 64, 0},
	[ES_ST_U64] = {"U64", 64, 0},
	[ES_ST_F64] = {"F64", 64, ES_SRC_F64},
	[ES_ST_C64] = {"C64", 64, 0},
	[ES_ST_F4] = {"F4", 4, 0},
	[ES_ST_F6_E2M3] = {"F6_E2M3", 6, 0},
	[ES_ST_F6_E3M2] = {"F6_E3M2", 6, 0},
};

static bool known(es_st_dtype d)
{
	return (unsigned)d < ES_ST_DTYPE_COUNT;
}

const char *es_st_dtype_name(es_st_dtype dtype)
{
	return known(dtype) ? dtypes[dtype].name : NULL;
}

bool es_st_dtype_parse(const char *name, es_st_dtype *out)
{
	for (unsigned i = 0; i < ES_ST_DTYPE_COUNT; i++) {
		if (strcmp(name, dtypes[i].name) == 0) {
			*out = (es_st_dtype)i;
			return true;
		}
	}
	return false;
}

unsigned es_st_dtype_bits(es_st_dtype dtype)
{
	return known(dtype) ? dtypes[dtype].bits : 0;
}

embstore_dtype es_st_dtype_source(es_st_dtype dtype)
{
	return known(dtype) ? dtypes[dtype].source : 0;
}

bool es_st_dtype_of_table(embstore_dtype dtype, es_st_dtype *out)
{
	switch (dtype) {
	case EMBSTORE_F32:
		*out = ES_ST_F32;
		return true;
	case EMBSTORE_F16:
		*out = ES_ST_F16;
		return true;
	case EMBSTORE_BF16:
		*out = ES_ST_BF16;
		return true;
	default:
		return false;
	}
}

bool es_st_nbytes(es_st_dtype dtype, uint64_t elems, uint64_t *out)
{
	uint64_t bits;
	if (!known(dtype) || !es_mul_u64(elems, dtypes[dtype].bits, &bits) || bits % 8 != 0)
		return false;
	*out = bits / 8;
	return true;
}

const char *es_st_name_text(const char *name, char buf[ES_ST_NAME_TEXT])
{
	size_t n = strlen(name), cut = n;
	if (n > 60) {
		cut = 60;
		while (cut > 0 && ((uint8_t)name[cut] & 0xC0) == 0x80) /* not inside a UTF-8 sequence */
			cut--;
	}
	for (size_t i = 0; i < cut; i++)
		buf[i] = (uint8_t)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	strcpy(buf + cut, cut < n ? "..." : "");
	return buf;
}

/* "[3, 4]" for a message: the first four dimensions. */
static const char *shape_text(const uint64_t *dims, size_t rank, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "[");
	for (size_t i = 0; i < rank && i < 4 && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, rank > 4 ? ", ...]" : "]");
	return buf;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return json_integer_value(v) < 0 ? "a negative integer" : "an integer";
	case JSON_REAL:
		return "a number with a fraction or exponent";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* A JSON integer from 0 to 2^63 - 1 (jansson refuses larger ones as it parses). */
static bool take_u64(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

#define TNAME(t) es_st_name_text((t)->name, namebuf)

static embstore_status parse_metadata(const json_t *obj, es_st_file *f)
{
	char namebuf[ES_ST_NAME_TEXT];
	if (json_is_null(obj))
		return EMBSTORE_OK;
	ES_CHECKF(json_is_object(obj), EMBSTORE_BAD_INPUT, "safetensors __metadata__ is %s, not an object",
	          json_kind(obj));
	size_t n = json_object_size(obj);
	f->meta = calloc(n ? n : 1, sizeof *f->meta);
	ES_CHECK(f->meta, EMBSTORE_NO_MEMORY);
	const char *key;
	const json_t *v;
	json_object_foreach ((json_t *)obj, key, v) {
		ES_CHECKF(json_is_string(v), EMBSTORE_BAD_INPUT, "safetensors __metadata__ entry '%s' is %s, not a string",
		          es_st_name_text(key, namebuf), json_kind(v));
		f->meta[f->meta_count++] = (es_meta){key, json_string_value(v)};
	}
	return EMBSTORE_OK;
}

/* One tensor entry, in its header's terms; its place among the others is checked after. */
static embstore_status parse_tensor(const char *name, const json_t *e, uint64_t *dims, uint64_t data_size,
                                    es_st_tensor *t)
{
	char namebuf[ES_ST_NAME_TEXT], text[128];
	*t = (es_st_tensor){.name = name, .shape = dims};
	ES_CHECKF(json_is_object(e), EMBSTORE_BAD_INPUT, "safetensors tensor '%s' is %s, not an object", TNAME(t),
	          json_kind(e));
	const json_t *dtype = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape");
	const json_t *offsets = json_object_get(e, "data_offsets");
	const char *missing = !dtype ? "dtype" : !shape ? "shape" : !offsets ? "data_offsets" : NULL;
	ES_CHECKF(!missing, EMBSTORE_BAD_INPUT, "safetensors tensor '%s' has no '%s'", TNAME(t), missing);

	ES_CHECKF(json_is_string(dtype), EMBSTORE_BAD_INPUT, "safetensors tensor '%s': dtype is %s, not a string",
	          TNAME(t), json_kind(dtype));
	if (!es_st_dtype_parse(json_string_value(dtype), &t->dtype)) {
		es_detail("safetensors tensor '%s': dtype '%s' is not a safetensors dtype", TNAME(t),
		          es_st_name_text(json_string_value(dtype), text));
		return EMBSTORE_BAD_INPUT;
	}

	ES_CHECKF(json_is_array(shape), EMBSTORE_BAD_INPUT, "safetensors tensor '%s': shape is %s, not an array",
	          TNAME(t), json_kind(shape));
	t->rank = json_array_size(shape);
	uint64_t elems = 1, bits;
	bool zero = false, overflow = false;
	for (size_t i = 0; i < t->rank; i++) {
		const json_t *d = json_array_get(shape, i);
		ES_CHECKF(take_u64(d, &dims[i]), EMBSTORE_BAD_INPUT,
		          "safetensors tensor '%s': shape[%zu] is %s, not a non-negative integer", TNAME(t), i, json_kind(d));
		zero = zero || dims[i] == 0;
		overflow = overflow || !es_mul_u64(elems, dims[i], &elems);
	}
	if (zero) /* no elements, whatever the other dimensions */
		elems = 0;
	ES_CHECKF(zero || !overflow, EMBSTORE_LIMIT, "safetensors tensor '%s': shape %s has more elements than 64 bits "
	          "count", TNAME(t), shape_text(dims, t->rank, text, sizeof text));
	ES_CHECKF(es_mul_u64(elems, dtypes[t->dtype].bits, &bits), EMBSTORE_LIMIT,
	          "safetensors tensor '%s': %llu elements of %s take more bytes than 64 bits count", TNAME(t),
	          (unsigned long long)elems, dtypes[t->dtype].name);
	ES_CHECKF(bits % 8 == 0, EMBSTORE_BAD_INPUT,
	          "safetensors tensor '%s': %llu elements of %s (%u bits each) are not a whole number of bytes", TNAME(t),
	          (unsigned long long)elems, dtypes[t->dtype].name, dtypes[t->dtype].bits);
	uint64_t nbytes = bits / 8;

	ES_CHECKF(json_is_array(offsets) && json_array_size(offsets) == 2, EMBSTORE_BAD_INPUT,
	          "safetensors tensor '%s': data_offsets is %s, not an array of two integers", TNAME(t),
	          json_is_array(offsets) ? "an array of another length" : json_kind(offsets));
	for (size_t i = 0; i < 2; i++) {
		const json_t *o = json_array_get(offsets, i);
		ES_CHECKF(take_u64(o, i ? &t->end : &t->begin), EMBSTORE_BAD_INPUT,
		          "safetensors tensor '%s': data_offsets[%zu] is %s, not a non-negative integer", TNAME(t), i,
		          json_kind(o));
	}
	ES_CHECKF(t->begin <= t->end, EMBSTORE_BAD_LAYOUT, "safetensors tensor '%s': data_offsets [%llu, %llu] are "
	          "reversed", TNAME(t), (unsigned long long)t->begin, (unsigned long long)t->end);
	ES_CHECKF(t->end - t->begin == nbytes, EMBSTORE_BAD_LAYOUT,
	          "safetensors tensor '%s': data_offsets [%llu, %llu] hold %llu bytes; shape %s of %s needs %llu", TNAME(t),
	          (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)(t->end - t->begin),
	          shape_text(dims, t->rank, text, sizeof text), dtypes[t->dtype].name, (unsigned long long)nbytes);
	ES_CHECKF(data_size == ES_ST_SIZE_UNKNOWN || t->end <= data_size, EMBSTORE_BAD_LAYOUT,
	          "safetensors tensor '%s': data_offsets [%llu, %llu] run past the data area (%llu bytes)", TNAME(t),
	          (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)data_size);
	return EMBSTORE_OK;
}

static int by_offset(const void *a, const void *b)
{
	const es_st_tensor *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sorted by offset, each tensor must start where the one before ends, and the last end where the data does. */
static embstore_status check_tiling(es_st_file *f, uint64_t data_size)
{
	char namebuf[ES_ST_NAME_TEXT], other[ES_ST_NAME_TEXT];
	qsort(f->tensors, f->tensor_count, sizeof *f->tensors, by_offset);
	uint64_t at = 0;
	for (size_t i = 0; i < f->tensor_count; i++) {
		const es_st_tensor *t = &f->tensors[i];
		ES_CHECKF(t->begin <= at, EMBSTORE_BAD_LAYOUT,
		          "safetensors data bytes [%llu, %llu) belong to no tensor (a hole before tensor '%s')",
		          (unsigned long long)at, (unsigned long long)t->begin, TNAME(t));
		ES_CHECKF(t->begin == at, EMBSTORE_BAD_LAYOUT,
		          "safetensors tensors '%s' and '%s' overlap: '%s' begins at %llu, before the other ends at %llu",
		          es_st_name_text(f->tensors[i - 1].name, other), TNAME(t), TNAME(t), (unsigned long long)t->begin,
		          (unsigned long long)at);
		at = t->end;
	}
	if (data_size == ES_ST_SIZE_UNKNOWN)
		data_size = at;
	ES_CHECKF(at == data_size, EMBSTORE_BAD_LAYOUT,
	          "safetensors data bytes [%llu, %llu) at the end of the data area belong to no tensor",
	          (unsigned long long)at, (unsigned long long)data_size);
	f->data_size = data_size;
	return EMBSTORE_OK;
}

static embstore_status parse_root(json_t *root, uint64_t data_size, es_st_file *f)
{
	ES_CHECKF(json_is_object(root), EMBSTORE_BAD_INPUT, "safetensors header is %s, not a JSON object",
	          json_kind(root));
	const char *key;
	json_t *v;
	size_t entries = 0, total_rank = 0;
	json_object_foreach (root, key, v) {
		if (strcmp(key, "__metadata__") == 0)
			continue;
		const json_t *shape = json_object_get(v, "shape"); /* NULL for a non-object: checked in parse_tensor */
		total_rank += json_array_size(shape);
		entries++;
	}
	f->tensors = calloc(entries ? entries : 1, sizeof *f->tensors);
	f->dims = calloc(total_rank ? total_rank : 1, sizeof *f->dims);
	ES_CHECK(f->tensors && f->dims, EMBSTORE_NO_MEMORY);
	uint64_t *dims = f->dims;
	json_object_foreach (root, key, v) {
		if (strcmp(key, "__metadata__") == 0) {
			ES_TRY(parse_metadata(v, f));
			continue;
		}
		es_st_tensor *t = &f->tensors[f->tensor_count++];
		ES_TRY(parse_tensor(key, v, dims, data_size, t));
		dims += t->rank;
	}
	return check_tiling(f, data_size);
}

embstore_status es_st_parse(const uint8_t *header_json, size_t len, uint64_t data_size, es_st_file *out)
{
	es_detail_clear();
	ES_CHECK(out, EMBSTORE_INVALID_ARGUMENT);
	*out = (es_st_file){0};
	ES_CHECK(header_json || len == 0, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(len <= ES_ST_MAX_HEADER, EMBSTORE_LIMIT, "safetensors header of %zu bytes is over the cap of %u", len,
	          ES_ST_MAX_HEADER);
	json_error_t err;
	/* Duplicate keys refused: two tensors of one name would be read as whichever the parser kept. Any value
	 * accepted, so that what is not an object is named below. */
	json_t *root = json_loadb((const char *)header_json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!root) {
		es_detail("safetensors header is not valid JSON: %s at byte %d (line %d, column %d)", err.text,
		          err.position, err.line, err.column);
		return json_error_code(&err) == json_error_out_of_memory ? EMBSTORE_NO_MEMORY : EMBSTORE_BAD_INPUT;
	}
	out->json = root;
	embstore_status st = parse_root(root, data_size, out);
	if (st != EMBSTORE_OK)
		es_st_file_free(out);
	return st;
}

void es_st_file_free(es_st_file *file)
{
	if (!file)
		return;
	free(file->tensors);
	free(file->dims);
	free(file->meta);
	json_decref(file->json);
	*file = (es_st_file){0};
}

const es_st_tensor *es_st_find(const es_st_file *file, const char *name)
{
	for (size_t i = 0; i < file->tensor_count; i++)
		if (strcmp(file->tensors[i].name, name) == 0)
			return &file->tensors[i];
	return NULL;
}

embstore_status es_st_table_shape(const es_st_tensor *t, uint64_t *rows, uint64_t *cols, embstore_dtype *src)
{
	char namebuf[ES_ST_NAME_TEXT], text[128];
	if (t->rank != 2) {
		es_detail("safetensors tensor '%s' is %zu-D, shape %s; a table needs 2-D (rows, dim)", TNAME(t), t->rank,
		          shape_text(t->shape, t->rank, text, sizeof text));
		return EMBSTORE_BAD_INPUT;
	}
	*src = dtypes[t->dtype].source;
	ES_CHECKF(*src != 0, EMBSTORE_BAD_INPUT,
	          "safetensors tensor '%s' is %s; a table is read from F32, F16, BF16 or F64", TNAME(t),
	          dtypes[t->dtype].name);
	*rows = t->shape[0];
	*cols = t->shape[1];
	ES_CHECKF(*rows >= 1 && *cols >= 1, EMBSTORE_BAD_INPUT, "safetensors tensor '%s' has 0 %s", TNAME(t),
	          *rows ? "columns" : "rows");
	ES_CHECKF(*rows <= ES_MAX_ROWS && *cols <= ES_MAX_DIM, EMBSTORE_LIMIT,
	          "safetensors tensor '%s': shape [%llu, %llu] is over the caps (%llu rows, %u columns)", TNAME(t),
	          (unsigned long long)*rows, (unsigned long long)*cols, (unsigned long long)ES_MAX_ROWS, ES_MAX_DIM);
	return EMBSTORE_OK;
}
