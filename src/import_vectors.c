/* import_vectors.c: the sink that turns a word-vector parser's rows into a keyed table. Rows wait in a batch
 * with their words; at each flush the words go to the vocabulary in input order (a word seen before drops its
 * row: the first is kept, as gensim keeps it), each index bucket prefetched a few words ahead, and the rows kept
 * are written together. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "import_vectors.h"
#include "vocab.h"
#include "writer.h"

#define BATCH_ROWS 1024u
#define BATCH_KEY_BYTES (1u << 20) /* a batch's words: flushed earlier when longer */
#define PREFETCH_AHEAD 8u          /* words; a bucket miss then overlaps the inserts of the words before */
#define PROGRESS_EVERY 65536u

typedef struct waiting {
	size_t at, len; /* the word in vsink.keys */
	uint64_t hash;
	es_vec_pos pos;
} waiting;

typedef struct vsink {
	embstore_writer *w;
	const char *name;
	embstore_import *o;
	uint64_t total_bytes; /* 0: unknown */
	uint32_t dim;
	float *batch;         /* BATCH_ROWS rows waiting */
	waiting *rows;        /* their words */
	uint8_t *keys;
	size_t keys_len, keys_cap;
	uint32_t pending;
	uint64_t seen;        /* rows passed by the parser */
} vsink;

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

static embstore_status flush(vsink *v)
{
	uint32_t kept = 0;
	size_t row_floats = v->dim;
	for (uint32_t i = 0; i < v->pending; i++) {
		if (i + PREFETCH_AHEAD < v->pending)
			es_writer_prefetch_key(v->w, v->rows[i + PREFETCH_AHEAD].hash);
		const waiting *k = &v->rows[i];
		bool repeated;
		embstore_status st = es_writer_add_key(v->w, v->keys + k->at, k->len, k->hash, &repeated);
		if (st != EMBSTORE_OK)
			return at_input(st, &k->pos);
		if (repeated) {
			v->o->duplicates++;
			continue;
		}
		if (kept != i)
			memcpy(v->batch + kept * row_floats, v->batch + i * row_floats, row_floats * sizeof(float));
		kept++;
	}
	embstore_status st = kept ? es_writer_append_keyed_rows(v->w, v->batch, EMBSTORE_F32, kept) : EMBSTORE_OK;
	if (st != EMBSTORE_OK)
		return at_input(st, &v->rows[v->pending - 1].pos);
	v->o->rows += kept;
	v->pending = 0;
	v->keys_len = 0;
	return EMBSTORE_OK;
}

static embstore_status begin(void *ctx, uint64_t rows_hint, uint32_t dim)
{
	vsink *v = ctx;
	(void)rows_hint; /* repeated words may drop rows: the table's row count is what is appended */
	v->dim = dim;
	v->o->dim = dim;
	v->batch = malloc((size_t)BATCH_ROWS * dim * sizeof(float));
	v->rows = malloc(BATCH_ROWS * sizeof *v->rows);
	ES_CHECK(v->batch && v->rows, EMBSTORE_NO_MEMORY);
	return embstore_writer_begin_table(v->w, v->name, v->o->dtype ? v->o->dtype : EMBSTORE_F32, 0, dim);
}

static embstore_status keep_key(vsink *v, const uint8_t *key, size_t len)
{
	if (v->keys_len + len > v->keys_cap) {
		size_t cap = v->keys_len + len > BATCH_KEY_BYTES ? v->keys_len + len : BATCH_KEY_BYTES;
		uint8_t *k = realloc(v->keys, cap);
		ES_CHECK(k, EMBSTORE_NO_MEMORY);
		v->keys = k;
		v->keys_cap = cap;
	}
	memcpy(v->keys + v->keys_len, key, len);
	v->keys_len += len;
	return EMBSTORE_OK;
}

static embstore_status row(void *ctx, const uint8_t *key, size_t key_len, const float *values, const es_vec_pos *pos)
{
	vsink *v = ctx;
	/* Checked now, so that a word the store cannot hold is reported before any later line's problem. */
	embstore_status st = es_key_check(key, key_len);
	if (st == EMBSTORE_OK)
		st = keep_key(v, key, key_len);
	if (st != EMBSTORE_OK)
		return at_input(st, pos);
	v->rows[v->pending] = (waiting){v->keys_len - key_len, key_len, es_key_hash(key, key_len), *pos};
	memcpy(v->batch + (size_t)v->pending * v->dim, values, (size_t)v->dim * sizeof(float));
	if ((++v->pending == BATCH_ROWS || v->keys_len >= BATCH_KEY_BYTES) && (st = flush(v)) != EMBSTORE_OK)
		return st;
	if (v->o->progress && ++v->seen % PROGRESS_EVERY == 0)
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
	free(v.rows);
	free(v.keys);
	return st;
}
