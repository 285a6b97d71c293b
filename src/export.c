/* export.c: a table back out as .npy, word2vec binary or word2vec text (safetensors: export_safetensors.c),
 * committed atomically like a build. Rows are gathered as f32 in batches through the kernels (any dtype), keys
 * come from the vocabulary. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "commit.h"
#include "export.h"
#include "store_impl.h"
#include "vocab.h"

#define EXPORT_BATCH_BYTES (1u << 20)
#define OUT_BUFFER (1u << 20)

/* Output through a buffer: one write per megabyte. */
typedef struct out {
	es_commit file;
	uint8_t *buf;
	size_t len;
} out;

static embstore_status put(out *o, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		if (o->len == OUT_BUFFER) {
			ES_TRY(es_write_all(o->file.fd, o->buf, o->len));
			o->len = 0;
		}
		size_t k = n < OUT_BUFFER - o->len ? n : OUT_BUFFER - o->len;
		memcpy(o->buf + o->len, b, k);
		o->len += k;
		b += k;
		n -= k;
	}
	return EMBSTORE_OK;
}

static embstore_status putf(out *o, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static embstore_status putf(out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	return put(o, tmp, (size_t)n);
}

/* A .npy header (version 1.0, padded so the data starts at a multiple of 64, as numpy writes it). */
static embstore_status npy_header(out *o, const char *descr, uint64_t rows, uint32_t dim)
{
	char dict[160];
	int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%llu, %u), }", descr,
	                 (unsigned long long)rows, dim);
	size_t pad = (64 - (10 + (size_t)n + 1) % 64) % 64, hlen = (size_t)n + pad + 1;
	uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)hlen, (uint8_t)(hlen >> 8)};
	ES_TRY(put(o, pre, sizeof pre));
	ES_TRY(put(o, dict, (size_t)n));
	for (size_t i = 0; i < pad; i++)
		ES_TRY(put(o, " ", 1));
	return put(o, "\n", 1);
}

/* A key that a word-vector format can hold: the readers split on blanks (text) or the first space (binary). */
static embstore_status word_key(const es_table *t, uint64_t row, const uint8_t *k, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		ES_CHECKF(k[i] != ' ' && k[i] != '\t' && k[i] != '\n' && k[i] != '\r' && k[i] != '\v' && k[i] != '\f',
		          EMBSTORE_BAD_STRING, "table '%s', row %llu: key '%.*s' holds a blank, which word2vec formats "
		          "cannot hold (export it as npy)", t->name, (unsigned long long)row, (int)(n > 60 ? 60 : n), k);
	return EMBSTORE_OK;
}

static embstore_status write_rows(const embstore *s, uint32_t index, embstore_format format, out *o)
{
	const es_table *t = &s->layout.tables[index];
	embstore_table view;
	ES_TRY(embstore_table_at(s, index, &view));
	bool keyed = format == EMBSTORE_FORMAT_WORD2VEC || format == EMBSTORE_FORMAT_WORD2VEC_TEXT;
	ES_CHECKF(!keyed || (t->flags & ES_TABLE_FLAG_VOCAB), EMBSTORE_NO_VOCAB,
	          "table '%s' has no vocabulary: word2vec formats need a word per row (export it as npy)", t->name);
	/* f16 tables keep their dtype in .npy; everything else is exported as f32 (bf16 and int8 widen exactly) */
	bool half = format == EMBSTORE_FORMAT_NPY && t->dtype == EMBSTORE_F16;
	if (format == EMBSTORE_FORMAT_NPY)
		ES_TRY(npy_header(o, half ? "<f2" : "<f4", t->rows, t->dim));
	else
		ES_TRY(putf(o, "%llu %u\n", (unsigned long long)t->rows, t->dim));

	uint64_t batch = EXPORT_BATCH_BYTES / ((uint64_t)t->dim * 4);
	batch = batch ? batch : 1;
	float *rows = malloc((size_t)(batch * t->dim) * sizeof(float));
	int64_t *ids = malloc((size_t)batch * sizeof(int64_t));
	embstore_status st = rows && ids ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	for (uint64_t first = 0; first < t->rows && st == EMBSTORE_OK; first += batch) {
		uint64_t n = t->rows - first < batch ? t->rows - first : batch;
		for (uint64_t i = 0; i < n; i++)
			ids[i] = (int64_t)(first + i);
		if (half) { /* the stored halves themselves: exact, and half the size */
			for (uint64_t i = 0; i < n && st == EMBSTORE_OK; i++)
				st = put(o, (const uint8_t *)view.matrix.data + (first + i) * t->row_stride, (size_t)t->dim * 2);
			continue;
		}
		st = embstore_gather(&view.matrix, ids, EMBSTORE_ID64, (size_t)n, rows, NULL);
		for (uint64_t i = 0; i < n && st == EMBSTORE_OK; i++) {
			const float *r = rows + i * t->dim;
			if (keyed) {
				const uint8_t *k;
				uint32_t len;
				st = es_vocab_key(s->base, t, first + i, &k, &len);
				if (st == EMBSTORE_OK)
					st = word_key(t, first + i, k, len);
				if (st == EMBSTORE_OK)
					st = put(o, k, len);
				if (st == EMBSTORE_OK)
					st = put(o, " ", 1);
			}
			if (format == EMBSTORE_FORMAT_WORD2VEC_TEXT) {
				/* %.9g: every f32 read back by strtof is the same f32 */
				for (uint32_t j = 0; j < t->dim && st == EMBSTORE_OK; j++)
					st = putf(o, j ? " %.9g" : "%.9g", (double)r[j]);
				if (st == EMBSTORE_OK)
					st = put(o, "\n", 1);
			} else if (st == EMBSTORE_OK) {
				st = put(o, r, (size_t)t->dim * 4); /* little-endian hosts only, as the library */
				if (st == EMBSTORE_OK && format == EMBSTORE_FORMAT_WORD2VEC)
					st = put(o, "\n", 1);
			}
		}
	}
	free(rows);
	free(ids);
	return st;
}

embstore_status embstore_export(const embstore *s, uint32_t index, embstore_format format, const char *path)
{
	es_detail_clear();
	ES_CHECK(s && path, EMBSTORE_INVALID_ARGUMENT);
	if (format == EMBSTORE_FORMAT_SAFETENSORS) {
		ES_CHECK(index < s->layout.table_count || index == EMBSTORE_ALL_TABLES, EMBSTORE_INVALID_ARGUMENT);
		return es_export_safetensors(s, index, path);
	}
	ES_CHECK(index < s->layout.table_count, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(format == EMBSTORE_FORMAT_NPY || format == EMBSTORE_FORMAT_WORD2VEC ||
	             format == EMBSTORE_FORMAT_WORD2VEC_TEXT,
	         EMBSTORE_INVALID_ARGUMENT);
	out o = {.buf = malloc(OUT_BUFFER)};
	ES_CHECK(o.buf, EMBSTORE_NO_MEMORY);
	embstore_status st = es_commit_begin(&o.file, path);
	if (st == EMBSTORE_OK) {
		st = write_rows(s, index, format, &o);
		if (st == EMBSTORE_OK)
			st = es_write_all(o.file.fd, o.buf, o.len);
		if (st == EMBSTORE_OK)
			st = es_commit_finish(&o.file);
		es_commit_abandon(&o.file);
	}
	int saved = errno;
	if (st == EMBSTORE_IO) /* creating the temporary file included */
		es_detail("writing '%s'", path);
	free(o.buf);
	errno = saved;
	return st;
}
