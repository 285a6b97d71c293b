/* npy.c: the .npy header parser (numpy's NEP 1 format). The header is a Python dict literal; this accepts the
 * subset numpy writes ({'descr': ..., 'fortran_order': ..., 'shape': (...), }) and nothing looser, since every
 * byte comes from an untrusted file. */
#include <stdio.h>

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

#define NPY_MAX_DIMS 32

/* A shape tuple: (), (a,), (a, b) or (a, b,), ... up to NPY_MAX_DIMS dimensions; *ndim says how many. */
static bool take_shape(cursor *c, uint64_t *dims, unsigned *ndim)
{
	*ndim = 0;
	if (!take(c, '('))
		return false;
	if (take(c, ')'))
		return true;
	for (;;) {
		if (*ndim == NPY_MAX_DIMS || !take_uint(c, &dims[*ndim]))
			return false;
		(*ndim)++;
		bool comma = take(c, ',');
		if (take(c, ')'))
			return *ndim > 1 || comma; /* (5) is an int in parentheses, not a tuple */
		if (!comma)
			return false;
	}
}

/* "(2, 3, 4)" for a message. */
static void shape_text(char *buf, size_t cap, const uint64_t *dims, unsigned ndim)
{
	size_t n = (size_t)snprintf(buf, cap, "(");
	for (unsigned i = 0; i < ndim && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

static bool str_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* descr '<f2', '<f4' or '<f8': the item size; 0 for anything else. */
static uint32_t float_descr(const char *v, size_t len)
{
	if (len != 3 || v[0] != '<' || v[1] != 'f')
		return 0;
	return v[2] == '2' ? 2 : v[2] == '4' ? 4 : v[2] == '8' ? 8 : 0;
}

static embstore_status bad_descr(const char *v, size_t len)
{
	int n = (int)(len > 40 ? 40 : len);
	if (len == 3 && v[0] == '>' && v[1] == 'f')
		es_detail(".npy dtype '%.*s' is big-endian; save it as '<%c%c' (array.astype('<%c%c'))", n, v, v[1], v[2],
		          v[1], v[2]);
	else
		es_detail(".npy dtype '%.*s' is not '<f2', '<f4' or '<f8' (f16, f32, f64)", n, v);
	return EMBSTORE_BAD_INPUT;
}

embstore_status embstore_npy_parse(const void *buf, size_t len, embstore_npy_info *out)
{
	es_detail_clear();
	ES_CHECK(buf && out, EMBSTORE_INVALID_ARGUMENT);
	const uint8_t *b = buf;
	ES_CHECKF(len >= 10 && memcmp(b, "\x93NUMPY", 6) == 0, EMBSTORE_BAD_INPUT,
	          "not a .npy file (it does not start with \\x93NUMPY and a version)");
	uint8_t major = b[6];
	uint64_t hlen, start;
	if (major == 1) {
		hlen = es_le16(b + 8);
		start = 10;
	} else if (major == 2 || major == 3) {
		ES_CHECKF(len >= 12, EMBSTORE_BAD_INPUT, ".npy file ends inside its preamble");
		hlen = es_le32(b + 8);
		start = 12;
	} else {
		ES_CHECKF(false, EMBSTORE_BAD_INPUT, ".npy format version %u.%u (known: 1.0, 2.0, 3.0)", major, b[7]);
	}
	ES_CHECKF(hlen <= NPY_MAX_HEADER, EMBSTORE_LIMIT, ".npy header of %llu bytes is over the cap of %u",
	          (unsigned long long)hlen, NPY_MAX_HEADER);
	ES_CHECKF(start + hlen <= len, EMBSTORE_BAD_INPUT, ".npy header of %llu bytes is longer than the input (%zu)",
	          (unsigned long long)hlen, len - (size_t)start);

	cursor c = {(const char *)b + start, (const char *)b + start + hlen};
	const char *const head = c.p;
	bool have_descr = false, have_order = false, have_shape = false;
	uint32_t item = 0;
	uint64_t dims[NPY_MAX_DIMS];
	unsigned ndim = 0;
#define SYNTAX(cond) ES_CHECKF(cond, EMBSTORE_BAD_INPUT, ".npy header is malformed at byte %td", c.p - head)
	SYNTAX(take(&c, '{'));
	while (!take(&c, '}')) {
		const char *key, *val;
		size_t klen, vlen;
		SYNTAX(take_string(&c, &key, &klen) && take(&c, ':'));
		if (str_is(key, klen, "descr") && !have_descr) {
			SYNTAX(take_string(&c, &val, &vlen));
			if ((item = float_descr(val, vlen)) == 0)
				return bad_descr(val, vlen);
			have_descr = true;
		} else if (str_is(key, klen, "fortran_order") && !have_order) {
			/* Fortran order would need a transpose; refuse rather than return columns as rows. */
			ES_CHECKF(!take_word(&c, "True"), EMBSTORE_BAD_INPUT,
			          ".npy fortran_order True (column-major); save numpy.ascontiguousarray(array)");
			SYNTAX(take_word(&c, "False"));
			have_order = true;
		} else if (str_is(key, klen, "shape") && !have_shape) {
			SYNTAX(take_shape(&c, dims, &ndim));
			have_shape = true;
		} else {
			ES_CHECKF(false, EMBSTORE_BAD_INPUT, ".npy header key '%.*s' is unknown or repeated",
			          (int)(klen > 40 ? 40 : klen), key);
		}
		if (!take(&c, ',')) {
			SYNTAX(take(&c, '}'));
			break;
		}
	}
	ES_CHECKF(have_descr && have_order && have_shape, EMBSTORE_BAD_INPUT, ".npy header lacks '%s'",
	          !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
	skip_ws(&c);
	SYNTAX(c.p == c.end);
#undef SYNTAX
	if (ndim != 2) {
		char text[64 + 24 * 4];
		shape_text(text, sizeof text, dims, ndim < 4 ? ndim : 4);
		es_detail(".npy array is %u-D, shape %s%s; a table needs 2-D (rows, dim)", ndim, text, ndim > 4 ? "..." : "");
		return EMBSTORE_BAD_INPUT;
	}
	ES_CHECKF(dims[0] >= 1, EMBSTORE_BAD_INPUT, ".npy array has 0 rows");
	ES_CHECKF(dims[1] >= 1, EMBSTORE_BAD_INPUT, ".npy array has 0 columns");
	ES_CHECKF(dims[0] <= ES_MAX_ROWS && dims[1] <= ES_MAX_DIM, EMBSTORE_LIMIT,
	          ".npy shape (%llu, %llu) is over the caps (%llu rows, %u columns)", (unsigned long long)dims[0],
	          (unsigned long long)dims[1], (unsigned long long)ES_MAX_ROWS, ES_MAX_DIM);
	out->dtype = item == 2 ? EMBSTORE_F16 : EMBSTORE_F32;
	out->item_size = item;
	out->rows = dims[0];
	out->cols = dims[1];
	out->data_offset = start + hlen;
	return EMBSTORE_OK;
}
