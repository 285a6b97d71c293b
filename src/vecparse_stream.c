/* vecparse_stream.c: the word-vector parsers' input, one fixed buffer filled with read(). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "vecparse_impl.h"

embstore_status es_vs_open(es_vstream *s, const es_vec_input *in, size_t cap)
{
	*s = (es_vstream){.in = *in, .cap = cap};
	if (!s->in.head)
		s->in.head_len = 0;
	s->eof = s->in.fd < 0 && s->in.head_len == 0;
	s->buf = malloc(cap + 1);
	ES_CHECK(s->buf, EMBSTORE_NO_MEMORY);
	s->buf[0] = 0;
	return EMBSTORE_OK;
}

void es_vs_close(es_vstream *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* Reads up to n bytes at the input's current place into dst: the rest of the head first, then the descriptor.
 * *got == 0 only at the end of the input. */
static embstore_status read_input(es_vstream *s, uint8_t *dst, size_t n, uint64_t at, size_t *got)
{
	*got = 0;
	if (s->head_pos < s->in.head_len) {
		size_t k = s->in.head_len - s->head_pos;
		k = k < n ? k : n;
		memcpy(dst, s->in.head + s->head_pos, k);
		s->head_pos += k;
		*got = k;
		return EMBSTORE_OK;
	}
	if (s->in.fd < 0)
		return EMBSTORE_OK;
	for (;;) {
		ssize_t k = read(s->in.fd, dst, n);
		if (k >= 0) {
			*got = (size_t)k;
			return EMBSTORE_OK;
		}
		if (errno != EINTR) {
			int saved = errno;
			es_detail("reading the input at byte offset %llu", (unsigned long long)at);
			errno = saved;
			return EMBSTORE_IO;
		}
	}
}

embstore_status es_vs_fill(es_vstream *s)
{
	if (s->pos > 0) {
		memmove(s->buf, s->buf + s->pos, s->end - s->pos);
		s->base += s->pos;
		s->end -= s->pos;
		s->pos = 0;
	}
	while (!s->eof && s->end < s->cap) {
		size_t got;
		embstore_status st = read_input(s, s->buf + s->end, s->cap - s->end, s->base + s->end, &got);
		if (st != EMBSTORE_OK) {
			s->buf[s->end] = 0;
			return st;
		}
		s->end += got;
		s->eof = got == 0;
	}
	s->buf[s->end] = 0;
	return EMBSTORE_OK;
}

embstore_status es_vs_find(es_vstream *s, bool (*stop)(uint8_t), size_t *at, es_vwhere where, const char *what)
{
	size_t i = s->pos;
	for (;;) {
		while (i < s->end && !stop(s->buf[i]))
			i++;
		if (i < s->end || s->eof) {
			*at = i;
			return EMBSTORE_OK;
		}
		ES_CHECKF(s->pos > 0 || s->end < s->cap, EMBSTORE_LIMIT, "%s %llu: %s is longer than %zu bytes", where.unit,
		          (unsigned long long)where.at, what, s->cap);
		size_t scanned = i - s->pos;
		ES_TRY(es_vs_fill(s));
		i = s->pos + scanned;
	}
}

embstore_status es_vs_take(es_vstream *s, void *dst, size_t n, size_t *got)
{
	uint8_t *d = dst;
	size_t k = s->end - s->pos < n ? s->end - s->pos : n;
	memcpy(d, s->buf + s->pos, k);
	s->pos += k;
	*got = k;
	if (k == n)
		return EMBSTORE_OK;
	/* The buffer is empty: read the rest past it, which is where it would have gone anyway. */
	s->base += s->end;
	s->pos = s->end = 0;
	s->buf[0] = 0;
	while (*got < n && !s->eof) {
		size_t r;
		ES_TRY(read_input(s, d + *got, n - *got, s->base, &r));
		s->base += r;
		*got += r;
		s->eof = r == 0;
	}
	return EMBSTORE_OK;
}
