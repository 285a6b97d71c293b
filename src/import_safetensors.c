/* import_safetensors.c: a safetensors file into tables: every 2-D floating-point tensor (or the one asked for), in
 * the order of their data, so that a pipe is read once from front to back; __metadata__ into the store's
 * metadata. The header and the reading are safetensors.c's and safetensors_read.c's. */
#include <stdio.h>
#include <stdlib.h>

#include "import.h"
#include "safetensors.h"
#include "writer.h"

#define PROGRESS_EVERY 65536u

typedef struct sink_ctx {
	embstore_writer *w;
	const char *table;
	embstore_import *o;
	embstore_dtype src;
	uint64_t rows, done, before; /* the table's rows, those appended, and the rows of earlier tables */
	uint32_t dim;
} sink_ctx;

static embstore_status sink_begin(void *ctx, const char *name, uint64_t rows, uint64_t cols, embstore_dtype src)
{
	sink_ctx *s = ctx;
	(void)name; /* the table's name is s->table: the tensor's, or the caller's */
	s->src = src;
	s->rows = rows;
	s->dim = (uint32_t)cols;
	/* F64 is rounded to f32; the other dtypes are kept as they are unless the caller asks for one */
	embstore_dtype d = s->o->dtype ? s->o->dtype : src == ES_SRC_F64 ? EMBSTORE_F32 : src;
	return embstore_writer_begin_table(s->w, s->table, d, rows, (uint32_t)cols);
}

static embstore_status sink_rows(void *ctx, const void *data, uint64_t n)
{
	sink_ctx *s = ctx;
	ES_TRY(es_writer_append(s->w, data, s->src, n, 0));
	uint64_t was = s->done;
	s->done += n;
	if (s->o->progress && was / PROGRESS_EVERY != s->done / PROGRESS_EVERY)
		s->o->progress(s->o->progress_ctx, s->before + s->done, 0, 0);
	return EMBSTORE_OK;
}

/* A key the store already has keeps the value set first (the caller's, an earlier input's); a different value
 * from this file is counted as dropped. */
static embstore_status add_metadata(embstore_writer *w, const es_st_file *f, embstore_import *o)
{
	char namebuf[ES_ST_NAME_TEXT], was[200];
	for (size_t i = 0; i < f->meta_count; i++) {
		const char *k = f->meta[i].key, *v = f->meta[i].value, *had = es_writer_meta_value(w, k);
		if (had) {
			o->meta_dropped += strcmp(had, v) != 0;
			continue;
		}
		embstore_status st = embstore_writer_add_meta(w, k, v);
		if (st != EMBSTORE_OK) {
			snprintf(was, sizeof was, "%s", embstore_error_detail());
			es_detail("safetensors __metadata__ '%s': %s", es_st_name_text(k, namebuf), was);
			return st;
		}
	}
	return EMBSTORE_OK;
}

static embstore_status not_found(const es_st_file *f, const char *input, const char *tensor)
{
	char list[200], namebuf[ES_ST_NAME_TEXT];
	size_t at = 0;
	list[0] = 0;
	for (size_t i = 0; i < f->tensor_count && i < 4 && at < sizeof list; i++)
		at += (size_t)snprintf(list + at, sizeof list - at, "%s'%s'", i ? ", " : "",
		                       es_st_name_text(f->tensors[i].name, namebuf));
	es_detail("%.100s has no tensor '%.60s'%s%s%s", input, tensor, f->tensor_count ? "; it holds " : "", list,
	          f->tensor_count > 4 ? ", ..." : "");
	return EMBSTORE_NOT_FOUND;
}

/* The tensors that become tables, in data order: o->tensor, or every one that can (the others counted). */
static embstore_status choose(const es_st_file *f, const char *name, const char *input, embstore_import *o,
                              const es_st_tensor **chosen, size_t *n)
{
	uint64_t rows, cols;
	embstore_dtype src;
	*n = 0;
	if (o->tensor) {
		const es_st_tensor *t = es_st_find(f, o->tensor);
		if (!t)
			return not_found(f, input, o->tensor);
		ES_TRY(es_st_table_shape(t, &rows, &cols, &src));
		chosen[(*n)++] = t;
		return EMBSTORE_OK;
	}
	char why[200] = "";
	for (size_t i = 0; i < f->tensor_count; i++) {
		if (es_st_table_shape(&f->tensors[i], &rows, &cols, &src) == EMBSTORE_OK) {
			chosen[(*n)++] = &f->tensors[i];
		} else {
			if (o->skipped++ == 0)
				snprintf(why, sizeof why, "%s", embstore_error_detail());
		}
	}
	ES_CHECKF(*n > 0, EMBSTORE_BAD_INPUT,
	          "%.100s has no tensor that can be a table (2-D F32, F16, BF16 or F64 with rows and columns)%s%s", input,
	          why[0] ? ": " : "", why);
	if (name && *n > 1) {
		const char *names[5];
		for (size_t i = 0; i < 5 && i < *n; i++)
			names[i] = chosen[i]->name;
		return es_import_pick_one(input, "tensors", names, *n);
	}
	return EMBSTORE_OK;
}

static embstore_status read_tables(es_st_reader *r, embstore_writer *w, const char *name,
                                   const es_st_tensor *const *chosen, size_t n, embstore_import *o)
{
	o->rows = 0;
	for (size_t i = 0; i < n; i++) {
		sink_ctx s = {.w = w, .table = name ? name : chosen[i]->name, .o = o, .before = o->rows};
		es_rows_sink sink = {&s, sink_begin, sink_rows};
		ES_TRY(es_st_read_table(r, chosen[i], o->limit, &sink));
		o->rows += s.rows;
		o->dim = s.dim;
		es_import_table_made(o, s.table, s.rows, s.dim);
	}
	/* A stream is read to its end, which must be where the header says, unless --limit said to read no further. */
	return o->limit ? EMBSTORE_OK : es_st_finish(r);
}

embstore_status es_import_safetensors(embstore_writer *w, const char *name, int fd, const char *path,
                                      const uint8_t *head, size_t head_len, embstore_import *o)
{
	char input[160];
	if (path)
		snprintf(input, sizeof input, "'%.120s'", path);
	else
		snprintf(input, sizeof input, "the input");
	es_st_reader *r;
	ES_TRY(es_st_open_head(fd, path, head, head_len, &r));
	const es_st_file *f = es_st_reader_file(r);
	const es_st_tensor **chosen = malloc((f->tensor_count ? f->tensor_count : 1) * sizeof *chosen);
	size_t n = 0;
	embstore_status st = chosen ? choose(f, name, input, o, chosen, &n) : EMBSTORE_NO_MEMORY;
	if (st == EMBSTORE_OK)
		st = add_metadata(w, f, o);
	if (st == EMBSTORE_OK)
		st = read_tables(r, w, name, chosen, n, o);
	free(chosen);
	es_st_close(r);
	return st;
}
