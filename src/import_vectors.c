/* import_vectors.c: the sink that turns a word-vector parser's rows into a keyed table: the word goes to the
 * vocabulary (or, seen before, the row is dropped: the first is kept, as gensim keeps it), the values to a batch
 * of rows written together. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "import_vectors.h"
#include "writer.h"

#define BATCH_ROWS 1024u
#define PROGRESS_EVERY 65536u

typedef struct vsink {
	embstore_writer *w;
	const char *name;
	embstore_import *o;
	uint64_t total_bytes; /* 0: unknown */
	uint32_t dim;
	float *batch;         /* BATCH_ROWS rows waiting */
	uint32_t pending;
} vsink;

static embstore_status flush(vsink *v)
{
	embstore_status st = es_writer_append_keyed_rows(v->w, v->batch, EMBSTORE_F32, v->pending);
	v->o->rows += v->pending;
	v->pending = 0;
	return st;
}

static embstore_status begin(void *ctx, uint64_t rows_hint, uint32_t dim)
{
	vsink *v = ctx;
	(void)rows_hint; /* repeated words may drop rows: the table's row count is what is appended */
	v->dim = dim;
	v->o->dim = dim;
	v->batch = malloc((size_t)BATCH_ROWS * dim * sizeof(float));
	ES_CHECK(v->batch, EMBSTORE_NO_MEMORY);
	return embstore_writer_begin_table(v->w, v->name, v->o->dtype ? v->o->dtype : EMBSTORE_F32, 0, dim);
}

/* A writer error on a row names the table's row; the input's line or offset is what the user can find. */
static embstore_status at_input(embstore_status st, const es_vec_pos *pos)
{
	char was[256];
	snprintf(was, sizeof was, "%s", embstore_error_detail());
	if (pos->line)
		es_detail("line %llu: %s", (unsigned long long)pos->line, was);
	else
		es_detail("byte %llu: %s", (unsigned long long)pos->offset, was);
	return st;
}

static embstore_status row(void *ctx, const uint8_t *key, size_t key_len, const float *values, const es_vec_pos *pos)
{
	vsink *v = ctx;
	bool repeated;
	embstore_status st = es_writer_add_key(v->w, key, key_len, &repeated);
	if (st != EMBSTORE_OK)
		return at_input(st, pos);
	if (repeated) {
		v->o->duplicates++;
		return EMBSTORE_OK;
	}
	memcpy(v->batch + (size_t)v->pending * v->dim, values, (size_t)v->dim * sizeof(float));
	if (++v->pending == BATCH_ROWS && (st = flush(v)) != EMBSTORE_OK)
		return at_input(st, pos);
	if (v->o->progress && (pos->row + 1) % PROGRESS_EVERY == 0)
		v->o->progress(v->o->progress_ctx, v->o->rows + v->pending, pos->offset, v->total_bytes);
	return EMBSTORE_OK;
}

embstore_status es_import_vectors(embstore_writer *w, const char *name, const es_vec_input *in, embstore_import *o)
{
	vsink v = {.w = w, .name = name, .o = o};
	struct stat sb;
	if (in->fd >= 0 && fstat(in->fd, &sb) == 0 && S_ISREG(sb.st_mode))
		v.total_bytes = (uint64_t)sb.st_size;
	o->rows = 0;
	o->duplicates = 0;
	es_vec_options opt = {
		.limit = o->limit,
		.allow_nonfinite = o->flags & EMBSTORE_IMPORT_ALLOW_NONFINITE,
		.unicode_replace = o->flags & EMBSTORE_IMPORT_UNICODE_REPLACE,
	};
	es_vec_sink sink = {&v, begin, row};
	embstore_status st = o->format == EMBSTORE_FORMAT_WORD2VEC
	                         ? es_parse_word2vec_binary(in, &opt, &sink)
	                         : es_parse_vectors_text(in, o->format == EMBSTORE_FORMAT_WORD2VEC_TEXT, &opt, &sink);
	if (st == EMBSTORE_OK && v.pending)
		st = flush(&v);
	if (st == EMBSTORE_OK && o->rows == 0) {
		es_detail("the input has no rows");
		st = EMBSTORE_BAD_INPUT;
	}
	if (st == EMBSTORE_OK && o->progress)
		o->progress(o->progress_ctx, o->rows, v.total_bytes, v.total_bytes);
	free(v.batch);
	return st;
}
