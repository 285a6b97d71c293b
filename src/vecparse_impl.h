/* vecparse_impl.h: what the word-vector parsers share: the input stream over one fixed buffer, word checks and
 * the quoting of input bytes in messages. */
#ifndef EMBSTORE_VECPARSE_IMPL_H
#define EMBSTORE_VECPARSE_IMPL_H

#include <locale.h>

#include "vecparse.h"

/* The input through a buffer of `cap` bytes: data in buf[pos, end), and buf[end] is always 0, so that strtof
 * stops at the end of the data. `base` is the input offset of buf[0]. */
typedef struct es_vstream {
	es_vec_input in;
	size_t head_pos;
	uint8_t *buf;
	size_t cap, pos, end;
	uint64_t base;
	bool eof; /* nothing more to read beyond buf[end] */
} es_vstream;

embstore_status es_vs_open(es_vstream *s, const es_vec_input *in, size_t cap);
void es_vs_close(es_vstream *s);
/* Moves the unread data to the front and reads until the buffer is full or the input ends. */
embstore_status es_vs_fill(es_vstream *s);

/* At least n bytes after pos unless the input ends first (n <= cap). */
static inline embstore_status es_vs_need(es_vstream *s, size_t n)
{
	if (s->end - s->pos >= n || s->eof)
		return EMBSTORE_OK;
	return es_vs_fill(s);
}

static inline uint64_t es_vs_offset(const es_vstream *s)
{
	return s->base + s->pos;
}

/* Where in the input a message is about: "line 7" or "byte offset 1234". */
typedef struct es_vwhere {
	const char *unit;
	uint64_t at;
} es_vwhere;

/* Finds the first byte after pos that `stop` accepts, reading on as needed; *at is its index in buf, or end
 * when the input ends first. Fails with LIMIT ("<where>: <what> is longer than N bytes") when the buffer fills
 * without one. */
embstore_status es_vs_find(es_vstream *s, bool (*stop)(uint8_t), size_t *at, es_vwhere where, const char *what);

/* Copies n bytes to dst, the buffered ones first, then straight from the input; *got < n only at its end. */
embstore_status es_vs_take(es_vstream *s, void *dst, size_t n, size_t *got);

/* A word as a key: checked (non-empty, valid UTF-8 without zero bytes) or, with `replace`, repaired into the
 * word buffer. */
typedef struct es_vword {
	uint8_t *buf; /* owned; grows to 3 x the longest word seen when repairing, or to hold a copy */
	size_t cap;
	const uint8_t *key;
	size_t len;
} es_vword;

/* Sets w->key to the word, in w->buf when `copy` (the caller's bytes may move before the key is used) or when
 * repaired. */
embstore_status es_vword_set(es_vword *w, const uint8_t *word, size_t len, bool replace, bool copy,
                             es_vwhere where);
void es_vword_free(es_vword *w);

/* Offset of the first byte of s[0..n) that does not start a valid UTF-8 sequence (zero bytes included); n when
 * there is none. */
size_t es_utf8_first_invalid(const uint8_t *s, size_t n);
/* Writes s with each maximal ill-formed subsequence and each zero byte replaced by U+FFFD (EF BF BD) to out,
 * which has room for 3 x n bytes; returns the length written. */
size_t es_utf8_replace(const uint8_t *s, size_t n, uint8_t *out);

/* Up to about 40 bytes of s for a message, cut at a character, control and non-UTF-8 bytes as \xNN, "..." when
 * cut; out has ES_QUOTE_SIZE bytes. */
#define ES_QUOTE_SIZE 200
const char *es_vquote(const uint8_t *s, size_t n, char *out);

/* What separates fields in the text formats. */
static inline bool es_vblank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The UTF-8 byte order mark that may start a text file: skipped by the text parsers and by detection. */
#define ES_UTF8_BOM "\xEF\xBB\xBF"
#define ES_UTF8_BOM_LEN 3u

/* The "C" locale for strtof_l, so a program's LC_NUMERIC never changes what a file means. */
embstore_status es_c_locale(locale_t *loc);

/* The header line "count dim" without its newline: two decimal numbers between blanks. */
bool es_vec_header_fields(const uint8_t *s, size_t n, uint64_t *count, uint64_t *dim);

/* Reads line 1, the header of word2vec and its text format, and checks it: dim 1 to ES_MAX_DIM, count at most
 * ES_MAX_ROWS. Leaves the stream after its newline. */
embstore_status es_vec_read_header(es_vstream *s, uint64_t *count, uint32_t *dim);

#endif
