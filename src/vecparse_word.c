/* vecparse_word.c: words of word-vector files as keys: UTF-8 checks, the repair that Python's
 * bytes.decode(errors="replace") makes (so a repaired file gives gensim's keys), and quoting for messages. */
#include <stdio.h>
#include <stdlib.h>

#include "vecparse_impl.h"

/* Length of the well-formed UTF-8 sequence at s (n >= 1 bytes), or 0 when there is none; then *sub is the length
 * of the maximal subpart to replace (Unicode 15, 3.9 "U+FFFD substitution of maximal subparts", Python's rule):
 * the lead byte and the continuation bytes that could still have made a valid sequence. Zero is refused as a
 * one-byte subpart, since keys never hold it. */
static size_t sequence(const uint8_t *s, size_t n, size_t *sub)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;
	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlongs */
		hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
	} else {
		*sub = 1;
		return 0;
	}
	size_t k = 1;
	while (k < need && k < n && s[k] >= lo && s[k] <= hi) {
		lo = 0x80, hi = 0xBF;
		k++;
	}
	if (k == need)
		return need;
	*sub = k;
	return 0;
}

size_t es_utf8_first_invalid(const uint8_t *s, size_t n)
{
	size_t i = 0, sub;
	while (i < n) {
		size_t k = sequence(s + i, n - i, &sub);
		if (k == 0)
			return i;
		i += k;
	}
	return n;
}

size_t es_utf8_replace(const uint8_t *s, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0, sub;
	while (i < n) {
		size_t k = sequence(s + i, n - i, &sub);
		if (k) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += sub;
		}
	}
	return o;
}

static embstore_status reserve(es_vword *w, size_t n)
{
	if (n <= w->cap)
		return EMBSTORE_OK;
	size_t cap = w->cap ? w->cap : 64;
	while (cap < n)
		cap *= 2;
	uint8_t *b = realloc(w->buf, cap);
	ES_CHECK(b, EMBSTORE_NO_MEMORY);
	w->buf = b;
	w->cap = cap;
	return EMBSTORE_OK;
}

embstore_status es_vword_set(es_vword *w, const uint8_t *word, size_t len, bool replace, bool copy,
                             es_vwhere where)
{
	ES_CHECKF(len > 0, EMBSTORE_BAD_INPUT, "%s %llu: empty word", where.unit, (unsigned long long)where.at);
	size_t bad = es_utf8_first_invalid(word, len);
	if (bad < len) {
		char q[ES_QUOTE_SIZE];
		ES_CHECKF(replace, EMBSTORE_BAD_INPUT, "%s %llu: the word \"%s\" is not valid UTF-8 (its byte %zu, 0x%02x)",
		          where.unit, (unsigned long long)where.at, es_vquote(word, len, q), bad + 1, word[bad]);
		ES_TRY(reserve(w, 3 * len));
		w->len = es_utf8_replace(word, len, w->buf);
		w->key = w->buf;
		return EMBSTORE_OK;
	}
	w->len = len;
	if (!copy) {
		w->key = word;
		return EMBSTORE_OK;
	}
	ES_TRY(reserve(w, len));
	memcpy(w->buf, word, len);
	w->key = w->buf;
	return EMBSTORE_OK;
}

void es_vword_free(es_vword *w)
{
	free(w->buf);
	*w = (es_vword){0};
}

const char *es_vquote(const uint8_t *s, size_t n, char *out)
{
	enum { SHOWN = 40 };
	size_t i = 0, o = 0, sub;
	while (i < n && i < SHOWN) {
		size_t k = sequence(s + i, n - i, &sub);
		if (k > 1) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else if (k == 1 && s[i] >= 0x20 && s[i] != 0x7F && s[i] != '"' && s[i] != '\\') {
			out[o++] = (char)s[i++];
		} else {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", s[i++]);
		}
	}
	if (i < n)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = 0;
	return out;
}
