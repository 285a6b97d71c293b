/* vecparse_text.c: word2vec text, fastText .vec (a "count dim" header line, then "word v1 ... vd" per line) and
 * GloVe (the same lines without the header). Read token by token, so only a word has to fit the buffer, never a
 * whole line; values go through strtof_l in the "C" locale, which makes them what strtof gives, bit for bit. */
#include <math.h>
#include <stdlib.h>

#include "format.h"
#include "vecparse_impl.h"

typedef struct text_parse {
	es_vstream s;
	es_vec_options o;
	const es_vec_sink *sink;
	locale_t loc;
	es_vword word;
	float *row;
	size_t row_cap; /* floats */
	uint32_t dim;   /* 0 until the first line of a GloVe file is read */
	bool has_header;
	uint64_t line, rows, count;
	size_t token_max;
} text_parse;

static es_vwhere at_line(const text_parse *t)
{
	return (es_vwhere){"line", t->line};
}

static bool word_end(uint8_t c)
{
	return es_vblank(c) || c == '\n';
}

static embstore_status skip_blanks(es_vstream *s)
{
	for (;;) {
		while (s->pos < s->end && es_vblank(s->buf[s->pos]))
			s->pos++;
		if (s->pos < s->end || s->eof)
			return EMBSTORE_OK;
		ES_TRY(es_vs_fill(s));
	}
}

/* At a line's end: its newline, or the end of the input. */
static bool at_line_end(const es_vstream *s)
{
	return s->pos == s->end || s->buf[s->pos] == '\n';
}

static embstore_status row_room(text_parse *t, size_t n)
{
	if (n <= t->row_cap)
		return EMBSTORE_OK;
	size_t cap = t->row_cap ? 2 * t->row_cap : 512;
	cap = cap < n ? n : cap;
	float *r = realloc(t->row, cap * sizeof *r);
	ES_CHECK(r, EMBSTORE_NO_MEMORY);
	t->row = r;
	t->row_cap = cap;
	return EMBSTORE_OK;
}

/* The fields left on the line, for the message about a row that has too many. */
static embstore_status count_fields_left(es_vstream *s, uint64_t *n)
{
	*n = 0;
	for (;;) {
		ES_TRY(skip_blanks(s));
		if (at_line_end(s))
			return EMBSTORE_OK;
		(*n)++;
		for (;;) {
			while (s->pos < s->end && !word_end(s->buf[s->pos]))
				s->pos++;
			if (s->pos < s->end || s->eof)
				break;
			ES_TRY(es_vs_fill(s));
		}
	}
}

static embstore_status wrong_width(text_parse *t, uint64_t n)
{
	const char *says = t->has_header ? "the header says" : "line 1 has";
	es_detail("line %llu has %llu values; %s %u", (unsigned long long)t->line, (unsigned long long)n, says, t->dim);
	return EMBSTORE_BAD_INPUT;
}

static embstore_status bad_value(text_parse *t, uint32_t j)
{
	es_vstream *s = &t->s;
	size_t e = s->pos;
	while (e < s->end && !word_end(s->buf[e]))
		e++;
	char q[ES_QUOTE_SIZE];
	es_detail("line %llu, value %u: \"%s\" is not a number", (unsigned long long)t->line, j + 1,
	          es_vquote(s->buf + s->pos, e - s->pos, q));
	return EMBSTORE_BAD_INPUT;
}

/* The values after the word, up to the line's end; *n how many. A GloVe file's first line sets the dim. */
static embstore_status parse_values(text_parse *t, uint32_t *n)
{
	es_vstream *s = &t->s;
	uint32_t j = 0;
	for (;;) {
		ES_TRY(skip_blanks(s));
		ES_TRY(es_vs_need(s, t->token_max));
		if (at_line_end(s))
			break;
		if (t->dim ? j == t->dim : j == ES_MAX_DIM) {
			uint64_t more;
			ES_TRY(count_fields_left(s, &more));
			if (!t->dim) {
				es_detail("line %llu: more than %u values", (unsigned long long)t->line, ES_MAX_DIM);
				return EMBSTORE_LIMIT;
			}
			return wrong_width(t, j + more);
		}
		if (!t->dim)
			ES_TRY(row_room(t, (size_t)j + 1));
		char *e;
		float v = strtof_l((const char *)s->buf + s->pos, &e, t->loc);
		size_t stop = (size_t)((uint8_t *)e - s->buf);
		/* The buffer held token_max bytes (or the rest of the input): a shorter field is whole. */
		ES_CHECKF(stop - s->pos < t->token_max, EMBSTORE_LIMIT, "line %llu, value %u: longer than %zu bytes",
		          (unsigned long long)t->line, j + 1, t->token_max - 1);
		if (stop == s->pos || (stop < s->end && !word_end(s->buf[stop])))
			return bad_value(t, j);
		if (!isfinite(v) && !t->o.allow_nonfinite) {
			char q[ES_QUOTE_SIZE];
			es_detail("line %llu, value %u: \"%s\" is not a finite f32", (unsigned long long)t->line, j + 1,
			          es_vquote(s->buf + s->pos, stop - s->pos, q));
			return EMBSTORE_NON_FINITE;
		}
		t->row[j++] = v;
		s->pos = stop;
	}
	*n = j;
	return EMBSTORE_OK;
}

static embstore_status parse_row(text_parse *t)
{
	es_vstream *s = &t->s;
	es_vec_pos pos = {.row = t->rows, .line = t->line, .offset = es_vs_offset(s)};
	size_t end;
	ES_TRY(es_vs_find(s, word_end, &end, at_line(t), "the word"));
	/* A copy: reading the values may move the buffer under the word. */
	ES_TRY(es_vword_set(&t->word, s->buf + s->pos, end - s->pos, t->o.unicode_replace, true, at_line(t)));
	s->pos = end;
	uint32_t n;
	ES_TRY(parse_values(t, &n));
	if (!t->dim) {
		ES_CHECKF(n > 0, EMBSTORE_BAD_INPUT, "line %llu: a word without values", (unsigned long long)t->line);
		t->dim = n;
		ES_TRY(t->sink->begin(t->sink->ctx, 0, n));
	}
	if (n != t->dim)
		return wrong_width(t, n);
	ES_TRY(t->sink->row(t->sink->ctx, t->word.key, t->word.len, t->row, &pos));
	t->rows++;
	return EMBSTORE_OK;
}

/* The non-blank lines left, for the message about a file that has more rows than its header says. */
static embstore_status count_rows_left(es_vstream *s, uint64_t *n)
{
	*n = 0;
	bool filled = false;
	for (;;) {
		for (; s->pos < s->end; s->pos++) {
			if (s->buf[s->pos] == '\n') {
				*n += filled;
				filled = false;
			} else if (!es_vblank(s->buf[s->pos])) {
				filled = true;
			}
		}
		if (s->eof) {
			*n += filled;
			return EMBSTORE_OK;
		}
		ES_TRY(es_vs_fill(s));
	}
}

static embstore_status parse_lines(text_parse *t)
{
	es_vstream *s = &t->s;
	uint64_t blank_line = 0; /* the first of the blank lines seen since the last row */
	for (;;) {
		uint64_t start = es_vs_offset(s);
		ES_TRY(skip_blanks(s));
		if (s->pos == s->end)
			break;
		if (s->buf[s->pos] == '\n') {
			blank_line = blank_line ? blank_line : t->line;
			s->pos++;
			t->line++;
			continue;
		}
		ES_CHECKF(!blank_line, EMBSTORE_BAD_INPUT, "line %llu is blank; only the last lines of the input may be",
		          (unsigned long long)blank_line);
		if (t->has_header && t->rows == t->count) {
			uint64_t more;
			ES_TRY(count_rows_left(s, &more));
			es_detail("line 1: the header says %llu rows, the file has %llu", (unsigned long long)t->count,
			          (unsigned long long)(t->count + more));
			return EMBSTORE_BAD_INPUT;
		}
		ES_CHECKF(es_vs_offset(s) == start, EMBSTORE_BAD_INPUT,
		          "line %llu starts with a blank, so its word would be empty", (unsigned long long)t->line);
		ES_TRY(parse_row(t));
		if (t->o.limit && t->rows == t->o.limit)
			return EMBSTORE_OK;
		if (s->pos < s->end) {
			s->pos++; /* the newline */
			t->line++;
		}
	}
	if (t->has_header) {
		ES_CHECKF(t->rows == t->count, EMBSTORE_BAD_INPUT, "line 1: the header says %llu rows, the file has %llu",
		          (unsigned long long)t->count, (unsigned long long)t->rows);
	} else {
		ES_CHECKF(t->rows > 0, EMBSTORE_BAD_INPUT, t->line > 1 ? "the input has only blank lines" : "the input is empty");
	}
	return EMBSTORE_OK;
}

/* A UTF-8 byte order mark, which Windows editors put first, is no part of the header or of the first word. */
static embstore_status skip_bom(es_vstream *s)
{
	ES_TRY(es_vs_need(s, ES_UTF8_BOM_LEN));
	if (s->end - s->pos >= ES_UTF8_BOM_LEN && memcmp(s->buf + s->pos, ES_UTF8_BOM, ES_UTF8_BOM_LEN) == 0)
		s->pos += ES_UTF8_BOM_LEN;
	return EMBSTORE_OK;
}

static embstore_status parse(text_parse *t, const es_vec_input *in)
{
	ES_TRY(es_c_locale(&t->loc));
	size_t cap = t->o.buffer_bytes ? t->o.buffer_bytes : ES_VEC_BUFFER_BYTES;
	cap = cap < ES_VEC_MIN_BUFFER ? ES_VEC_MIN_BUFFER : cap;
	t->token_max = cap < ES_VEC_MAX_TOKEN ? cap : ES_VEC_MAX_TOKEN;
	ES_TRY(es_vs_open(&t->s, in, cap));
	ES_TRY(skip_bom(&t->s));
	t->line = 1;
	if (t->has_header) {
		ES_TRY(es_vec_read_header(&t->s, &t->count, &t->dim));
		t->line = 2;
		ES_TRY(row_room(t, t->dim));
		uint64_t hint = t->o.limit && t->o.limit < t->count ? t->o.limit : t->count;
		ES_TRY(t->sink->begin(t->sink->ctx, hint, t->dim));
	}
	return parse_lines(t);
}

embstore_status es_parse_vectors_text(const es_vec_input *in, bool has_header, const es_vec_options *o,
                                      const es_vec_sink *sink)
{
	es_detail_clear();
	ES_CHECK(in && sink && sink->begin && sink->row, EMBSTORE_INVALID_ARGUMENT);
	text_parse t = {.o = o ? *o : (es_vec_options){0}, .sink = sink, .has_header = has_header};
	embstore_status st = parse(&t, in);
	if (t.loc)
		freelocale(t.loc);
	es_vs_close(&t.s);
	es_vword_free(&t.word);
	free(t.row);
	return st;
}
