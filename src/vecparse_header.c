/* vecparse_header.c: the "count dim" line that starts word2vec files (binary and text) and fastText .vec files,
 * and the "C" locale the text parsers read numbers in. */
#include "format.h"
#include "vecparse_impl.h"

embstore_status es_c_locale(locale_t *loc)
{
	*loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	ES_CHECK(*loc != (locale_t)0, EMBSTORE_NO_MEMORY);
	return EMBSTORE_OK;
}

static bool parse_count(const uint8_t *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || !es_mul_u64(x, 10, &x) || !es_add_u64(x, (uint64_t)(s[i] - '0'), &x))
			return false;
	}
	*v = x;
	return n > 0;
}

bool es_vec_header_fields(const uint8_t *s, size_t n, uint64_t *count, uint64_t *dim)
{
	size_t i = 0, start[2], len[2];
	for (int f = 0; f < 2; f++) {
		while (i < n && es_vblank(s[i]))
			i++;
		start[f] = i;
		while (i < n && !es_vblank(s[i]))
			i++;
		len[f] = i - start[f];
	}
	while (i < n && es_vblank(s[i]))
		i++;
	return i == n && parse_count(s + start[0], len[0], count) && parse_count(s + start[1], len[1], dim);
}

static bool newline(uint8_t c)
{
	return c == '\n';
}

embstore_status es_vec_read_header(es_vstream *s, uint64_t *count, uint32_t *dim)
{
	size_t nl;
	ES_TRY(es_vs_need(s, 1));
	ES_CHECKF(s->pos < s->end, EMBSTORE_BAD_INPUT, "the input is empty");
	ES_TRY(es_vs_find(s, newline, &nl, (es_vwhere){"line", 1}, "the header"));
	const uint8_t *line = s->buf + s->pos;
	size_t n = nl - s->pos;
	uint64_t c, d;
	char q[ES_QUOTE_SIZE];
	ES_CHECKF(es_vec_header_fields(line, n, &c, &d), EMBSTORE_BAD_INPUT,
	          "line 1: the header should be \"count dim\" (two whole numbers), not \"%s\"", es_vquote(line, n, q));
	ES_CHECKF(d >= 1, EMBSTORE_BAD_INPUT, "line 1: the header says dim 0");
	ES_CHECKF(d <= ES_MAX_DIM, EMBSTORE_LIMIT, "line 1: the header says dim %llu; the most a table has is %u",
	          (unsigned long long)d, ES_MAX_DIM);
	ES_CHECKF(c <= ES_MAX_ROWS, EMBSTORE_LIMIT, "line 1: the header says %llu rows; the most a table has is %llu",
	          (unsigned long long)c, (unsigned long long)ES_MAX_ROWS);
	s->pos = nl < s->end ? nl + 1 : nl;
	*count = c;
	*dim = (uint32_t)d;
	return EMBSTORE_OK;
}
