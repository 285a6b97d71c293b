/* fuzz_vecparse.h: what the word-vector fuzz targets share: a sink that checks the parsers' promises on every row
 * (a non-empty valid UTF-8 key, rows in order, finite values unless allowed, no more rows than the limit) and
 * aborts when one is broken, and the option sets each input is parsed with. */
#ifndef EMBSTORE_FUZZ_VECPARSE_H
#define EMBSTORE_FUZZ_VECPARSE_H

#include <math.h>

#include "fuzz_util.h"
#include "vecparse_impl.h"

typedef struct fuzz_sink {
	const es_vec_options *o;
	uint32_t dim;
	uint64_t rows, begins;
} fuzz_sink;

static embstore_status fuzz_begin(void *ctx, uint64_t rows_hint, uint32_t dim)
{
	fuzz_sink *f = ctx;
	require(!f->begins++ && !f->rows && dim != 0 && (!f->o->limit || rows_hint <= f->o->limit));
	f->dim = dim;
	return EMBSTORE_OK;
}

static embstore_status fuzz_row(void *ctx, const uint8_t *key, size_t key_len, const float *values,
                                const es_vec_pos *pos)
{
	fuzz_sink *f = ctx;
	require(f->begins && pos->row == f->rows && key_len != 0 && es_utf8_first_invalid(key, key_len) == key_len);
	for (uint32_t j = 0; j < f->dim; j++)
		require(f->o->allow_nonfinite || isfinite(values[j]));
	require(++f->rows <= f->o->limit || !f->o->limit);
	return EMBSTORE_OK;
}

/* The default options but a 64 KiB buffer (the 4 MiB one costs more per run than a short input's parse; above
 * ES_VEC_MAX_TOKEN, both take the same paths), and the smallest buffer with every option on (so refills, long
 * words, replacement and the limit are reached by short inputs). */
static const es_vec_options fuzz_options[] = {
	{.buffer_bytes = 1u << 16},
	{.limit = 3, .allow_nonfinite = true, .unicode_replace = true, .buffer_bytes = ES_VEC_MIN_BUFFER},
};

typedef embstore_status (*fuzz_parse_fn)(const es_vec_input *in, const es_vec_options *o, const es_vec_sink *s);

static void fuzz_parse_all(const uint8_t *data, size_t size, fuzz_parse_fn parse)
{
	es_vec_input in = {.fd = -1, .head = data, .head_len = size};
	for (size_t i = 0; i < sizeof fuzz_options / sizeof fuzz_options[0]; i++) {
		fuzz_sink f = {.o = &fuzz_options[i]};
		embstore_status st = parse(&in, &fuzz_options[i], &(es_vec_sink){&f, fuzz_begin, fuzz_row});
		require(st == EMBSTORE_OK || embstore_error_detail()[0] != 0 || st == EMBSTORE_NO_MEMORY); /* says why */
	}
	(void)es_detect_vector_format(data, size, true);
	(void)es_detect_vector_format(data, size / 2, false);
}

#endif
