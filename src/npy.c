/* npy.c: the .npy header parser (numpy's NEP 1 format). The header is a Python dict literal; this accepts the
 * subset numpy writes ({'descr': ..., 'fortran_order': ..., 'shape': (...), }) and nothing looser, since every
 * byte comes from an untrusted file. */
#include "format.h"

#define NPY_MAX_HEADER (1u << 20)

typedef struct cursor {
	const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool take(cursor *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool take_word(cursor *c, const char *w)
{
	size_t n = strlen(w);
	skip_ws(c);
	if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
		c->p += n;
		return true;
	}
	return false;
}

/* A quoted string without escapes (numpy never writes any in these fields). */
static bool take_string(cursor *c, const char **s, size_t *len)
{
	skip_ws(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return false;
	char q = *c->p++;
	const char *start = c->p;
	while (c->p < c->end && *c->p != q) {
		if (*c->p == '\\')
			return false;
		c->p++;
	}
	if (c->p >= c->end)
		return false;
	*s = start;
	*len = (size_t)(c->p - start);
	c->p++;
	return true;
}

static bool take_uint(cursor *c, uint64_t *v)
{
	skip_ws(c);
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return false;
	uint64_t x = 0;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		if (!es_mul_u64(x, 10, &x) || !es_add_u64(x, (uint64_t)(*c->p - '0'), &x))
			return false;
		c->p++;
	}
	*v = x;
	return true;
}

/* (a, b) or (a, b,) : exactly two dimensions. */
static bool take_shape(cursor *c, uint64_t *rows, uint64_t *cols)
{
	if (!take(c, '(') || !take_uint(c, rows) || !take(c, ',') || !take_uint(c, cols))
		return false;
	(void)take(c, ',');
	return take(c, ')');
}

static bool str_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

embstore_status embstore_npy_parse(const void *buf, size_t len, embstore_npy_info *out)
{
	ES_CHECK(buf && out, EMBSTORE_INVALID_ARGUMENT);
	const uint8_t *b = buf;
	ES_CHECK(len >= 10 && memcmp(b, "\x93NUMPY", 6) == 0, EMBSTORE_BAD_INPUT);
	uint8_t major = b[6];
	uint64_t hlen, start;
	if (major == 1) {
		hlen = es_le16(b + 8);
		start = 10;
	} else if (major == 2 || major == 3) {
		ES_CHECK(len >= 12, EMBSTORE_BAD_INPUT);
		hlen = es_le32(b + 8);
		start = 12;
	} else {
		return EMBSTORE_BAD_INPUT;
	}
	ES_CHECK(hlen <= NPY_MAX_HEADER, EMBSTORE_LIMIT);
	ES_CHECK(start + hlen <= len, EMBSTORE_BAD_INPUT);

	cursor c = {(const char *)b + start, (const char *)b + start + hlen};
	bool have_descr = false, have_order = false, have_shape = false;
	embstore_dtype dtype = EMBSTORE_F32;
	uint64_t rows = 0, cols = 0;
	ES_CHECK(take(&c, '{'), EMBSTORE_BAD_INPUT);
	while (!take(&c, '}')) {
		const char *key, *val;
		size_t klen, vlen;
		ES_CHECK(take_string(&c, &key, &klen) && take(&c, ':'), EMBSTORE_BAD_INPUT);
		if (str_is(key, klen, "descr") && !have_descr) {
			ES_CHECK(take_string(&c, &val, &vlen), EMBSTORE_BAD_INPUT);
			if (str_is(val, vlen, "<f4"))
				dtype = EMBSTORE_F32;
			else if (str_is(val, vlen, "<f2"))
				dtype = EMBSTORE_F16;
			else
				return EMBSTORE_BAD_INPUT;
			have_descr = true;
		} else if (str_is(key, klen, "fortran_order") && !have_order) {
			/* Fortran order would need a transpose; refuse rather than return columns as rows. */
			ES_CHECK(take_word(&c, "False"), EMBSTORE_BAD_INPUT);
			have_order = true;
		} else if (str_is(key, klen, "shape") && !have_shape) {
			ES_CHECK(take_shape(&c, &rows, &cols), EMBSTORE_BAD_INPUT);
			have_shape = true;
		} else {
			return EMBSTORE_BAD_INPUT;
		}
		if (!take(&c, ',')) {
			ES_CHECK(take(&c, '}'), EMBSTORE_BAD_INPUT);
			break;
		}
	}
	ES_CHECK(have_descr && have_order && have_shape, EMBSTORE_BAD_INPUT);
	skip_ws(&c);
	ES_CHECK(c.p == c.end, EMBSTORE_BAD_INPUT);
	ES_CHECK(rows >= 1 && cols >= 1, EMBSTORE_BAD_INPUT);
	ES_CHECK(rows <= ES_MAX_ROWS && cols <= ES_MAX_DIM, EMBSTORE_LIMIT);
	out->dtype = dtype;
	out->rows = rows;
	out->cols = cols;
	out->data_offset = start + hlen;
	return EMBSTORE_OK;
}
