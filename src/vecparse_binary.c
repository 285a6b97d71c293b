/* vecparse_binary.c: word2vec binary files, read as gensim's _word2vec_read_binary reads them: after the
 * "count dim" line, per row the newlines before the word are skipped, the word runs to the first space, and dim
 * little-endian f32 follow. Nothing marks a row's end, so a word with a space in it cannot be told from a shorter
 * word: it is cut at the space like gensim cuts it, and its vector starts there (gensim loads the same bytes). */
#include <math.h>
#include <stdlib.h>

#include "vecparse_impl.h"

typedef struct bin_parse {
	es_vstream s;
	es_vec_options o;
	const es_vec_sink *sink;
	es_vword word;
	float *row;
	uint32_t dim;
	uint64_t count;
} bin_parse;

static bool space(uint8_t c)
{
	return c == ' ';
}

static embstore_status skip_newlines(es_vstream *s)
{
	for (;;) {
		while (s->pos < s->end && s->buf[s->pos] == '\n')
			s->pos++;
		if (s->pos < s->end || s->eof)
			return EMBSTORE_OK;
		ES_TRY(es_vs_fill(s));
	}
}

/* Reads a row's vector into b->row; *got < its size only at the end of the input. */
static embstore_status read_vector(bin_parse *b, size_t *got)
{
	size_t n = (size_t)b->dim * 4;
	ES_TRY(es_vs_take(&b->s, b->row, n, got));
	if (*got < n)
		return EMBSTORE_OK;
	/* Little-endian in the file whatever the machine; a plain copy where they agree. */
	const uint8_t *p = (const uint8_t *)b->row;
	for (uint32_t j = 0; j < b->dim; j++) {
		uint32_t u = es_le32(p + 4 * (size_t)j);
		memcpy(&b->row[j], &u, 4);
	}
	return EMBSTORE_OK;
}

/* After the header's count of rows: newlines, then the end. Anything else is counted as rows if it has their
 * shape, for the message. */
static embstore_status expect_end(bin_parse *b)
{
	es_vstream *s = &b->s;
	ES_TRY(skip_newlines(s));
	if (s->pos == s->end)
		return EMBSTORE_OK;
	uint64_t at = es_vs_offset(s), more = 0;
	for (;;) {
		size_t sp, got;
		embstore_status st = es_vs_find(s, space, &sp, (es_vwhere){"byte offset", es_vs_offset(s)}, "a word");
		if (st == EMBSTORE_LIMIT || (st == EMBSTORE_OK && sp == s->end))
			break;
		ES_TRY(st);
		s->pos = sp + 1;
		ES_TRY(read_vector(b, &got));
		if (got < (size_t)b->dim * 4)
			break;
		more++;
		ES_TRY(skip_newlines(s));
		if (s->pos == s->end) {
			es_detail("line 1: the header says %llu rows, the file has %llu", (unsigned long long)b->count,
			          (unsigned long long)(b->count + more));
			return EMBSTORE_BAD_INPUT;
		}
	}
	es_detail("byte offset %llu: the header says %llu rows, and the file goes on after them", (unsigned long long)at,
	          (unsigned long long)b->count);
	return EMBSTORE_BAD_INPUT;
}

static embstore_status parse_row(bin_parse *b, uint64_t r)
{
	es_vstream *s = &b->s;
	ES_TRY(skip_newlines(s));
	uint64_t at = es_vs_offset(s);
	ES_CHECKF(s->pos < s->end, EMBSTORE_BAD_INPUT, "byte offset %llu: the header says %llu rows, the file has %llu",
	          (unsigned long long)at, (unsigned long long)b->count, (unsigned long long)r);
	es_vwhere where = {"byte offset", at};
	size_t sp;
	ES_TRY(es_vs_find(s, space, &sp, where, "the word"));
	char q[ES_QUOTE_SIZE];
	ES_CHECKF(sp < s->end, EMBSTORE_BAD_INPUT,
	          "byte offset %llu: the file ends in row %llu's word \"%s\"; the header says %llu rows",
	          (unsigned long long)at, (unsigned long long)r + 1, es_vquote(s->buf + s->pos, sp - s->pos, q),
	          (unsigned long long)b->count);
	/* A copy: reading the vector may move the buffer under the word. */
	ES_TRY(es_vword_set(&b->word, s->buf + s->pos, sp - s->pos, b->o.unicode_replace, true, where));
	s->pos = sp + 1;
	uint64_t vec_at = es_vs_offset(s);
	size_t got, n = (size_t)b->dim * 4;
	ES_TRY(read_vector(b, &got));
	ES_CHECKF(got == n, EMBSTORE_BAD_INPUT,
	          "byte offset %llu: the file ends in the vector of row %llu (\"%s\") after %zu of its %zu bytes",
	          (unsigned long long)vec_at, (unsigned long long)r + 1, es_vquote(b->word.key, b->word.len, q), got, n);
	for (uint32_t j = 0; j < b->dim && !b->o.allow_nonfinite; j++) {
		ES_CHECKF(isfinite(b->row[j]), EMBSTORE_NON_FINITE,
		          "byte offset %llu: value %u of row %llu (\"%s\") is %s, not a finite f32",
		          (unsigned long long)(vec_at + 4 * (uint64_t)j), j + 1, (unsigned long long)r + 1,
		          es_vquote(b->word.key, b->word.len, q), isnan(b->row[j]) ? "NaN" : "infinite");
	}
	es_vec_pos pos = {.row = r, .line = 0, .offset = at};
	return b->sink->row(b->sink->ctx, b->word.key, b->word.len, b->row, &pos);
}

static embstore_status parse(bin_parse *b, const es_vec_input *in)
{
	size_t cap = b->o.buffer_bytes ? b->o.buffer_bytes : ES_VEC_BUFFER_BYTES;
	ES_TRY(es_vs_open(&b->s, in, cap < ES_VEC_MIN_BUFFER ? ES_VEC_MIN_BUFFER : cap));
	ES_TRY(es_vec_read_header(&b->s, &b->count, &b->dim));
	b->row = malloc((size_t)b->dim * 4);
	ES_CHECK(b->row, EMBSTORE_NO_MEMORY);
	uint64_t rows = b->o.limit && b->o.limit < b->count ? b->o.limit : b->count;
	ES_TRY(b->sink->begin(b->sink->ctx, rows, b->dim));
	for (uint64_t r = 0; r < rows; r++)
		ES_TRY(parse_row(b, r));
	return rows == b->count ? expect_end(b) : EMBSTORE_OK;
}

embstore_status es_parse_word2vec_binary(const es_vec_input *in, const es_vec_options *o, const es_vec_sink *sink)
{
	es_detail_clear();
	ES_CHECK(in && sink && sink->begin && sink->row, EMBSTORE_INVALID_ARGUMENT);
	bin_parse b = {.o = o ? *o : (es_vec_options){0}, .sink = sink};
	embstore_status st = parse(&b, in);
	es_vs_close(&b.s);
	es_vword_free(&b.word);
	free(b.row);
	return st;
}
