/* vecparse_detect.c: which word-vector format an input is in, from its first bytes. */
#include <stdlib.h>

#include "format.h"
#include "vecparse_impl.h"

/* Longer number fields than this are not what these files hold. */
#define NUMBER_MAX 64

static bool number(const uint8_t *p, size_t n, locale_t loc)
{
	char tmp[NUMBER_MAX + 1];
	if (n == 0 || n > NUMBER_MAX)
		return false;
	memcpy(tmp, p, n);
	tmp[n] = 0;
	char *e;
	(void)strtof_l(tmp, &e, loc);
	return e == tmp + n;
}

/* Does p[0..n) start with a text row "word v1 v2 ..." of dim values (of at least one when dim is 0)? When the
 * bytes end inside the line (and are not the whole input), the values seen must fit. */
static bool text_row(const uint8_t *p, size_t n, bool whole, uint64_t dim, locale_t loc)
{
	size_t i = 0;
	while (i < n && !es_vblank(p[i]) && p[i] != '\n') {
		if (p[i] < 0x20)
			return false;
		i++;
	}
	if (i == 0 || i == n)
		return false;
	uint64_t values = 0;
	for (;;) {
		while (i < n && es_vblank(p[i]))
			i++;
		if (i == n && !whole)
			return values > 0 && (dim == 0 || values <= dim);
		if (i == n || p[i] == '\n')
			return dim ? values == dim : values > 0;
		size_t start = i;
		while (i < n && !es_vblank(p[i]) && p[i] != '\n')
			i++;
		if (i == n && !whole)
			return values > 0 && (dim == 0 || values <= dim);
		if (!number(p + start, i - start, loc))
			return false;
		values++;
	}
}

/* Does the row after the header have a binary vector: a word, a space, then bytes that are not all text? Floats
 * in text range in every byte are rare enough to take such a file for text with a wrong row. */
static bool binary_row(const uint8_t *p, size_t n, uint64_t dim)
{
	size_t i = 0;
	while (i < n && p[i] == '\n')
		i++;
	const uint8_t *sp = memchr(p + i, ' ', n - i);
	if (!sp || sp == p + i || memchr(p + i, '\n', (size_t)(sp - (p + i))))
		return false;
	size_t at = (size_t)(sp - p) + 1, vec = n - at < dim * 4 ? n - at : (size_t)dim * 4;
	for (size_t k = at; k < at + vec; k++) {
		if ((p[k] < 0x20 && !es_vblank(p[k]) && p[k] != '\n') || p[k] >= 0x7F)
			return true;
	}
	return false;
}

es_vec_format es_detect_vector_format(const uint8_t *head, size_t len, bool whole)
{
	locale_t loc;
	if (!head || es_c_locale(&loc) != EMBSTORE_OK)
		return ES_VEC_UNKNOWN;
	if (len >= ES_UTF8_BOM_LEN && memcmp(head, ES_UTF8_BOM, ES_UTF8_BOM_LEN) == 0) {
		head += ES_UTF8_BOM_LEN;
		len -= ES_UTF8_BOM_LEN;
	}
	es_vec_format f = ES_VEC_UNKNOWN;
	const uint8_t *nl = memchr(head, '\n', len);
	uint64_t count, dim;
	if (nl && es_vec_header_fields(head, (size_t)(nl - head), &count, &dim) && dim >= 1 && dim <= ES_MAX_DIM) {
		const uint8_t *rest = nl + 1;
		size_t n = len - (size_t)(rest - head);
		if (binary_row(rest, n, dim) && !text_row(rest, n, whole, dim, loc))
			f = ES_VEC_WORD2VEC;
		else if (n > 0)
			f = ES_VEC_TEXT_HEADER;
	} else if (text_row(head, len, whole, 0, loc)) {
		f = ES_VEC_GLOVE;
	}
	freelocale(loc);
	return f;
}
