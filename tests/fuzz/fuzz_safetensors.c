/* fuzz_safetensors.c: a fuzz target over a safetensors input: the header parser (es_st_parse) on the bytes, the
 * reader (es_st_open, es_st_read_table, es_st_finish) on the same bytes from a memfd (pread) or a pipe (read,
 * front to back), and the header writer on what was parsed. The last byte of the input picks the descriptor and
 * whether only the first row of each table is read, so the corpus holds plain safetensors files. Oracles: an
 * accepted header tiles its data area exactly; the reader agrees with the parser and hands out exactly the bytes
 * at each tensor's offsets; the writer gives back a header that parses to the same tensors. Anything else
 * aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "fuzz_util.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted header: tensors in data order, each as long as its shape says, tiling [0, data_size). */
static void check_file(const es_st_file *f)
{
	uint64_t at = 0;
	for (size_t i = 0; i < f->tensor_count; i++) {
		const es_st_tensor *t = &f->tensors[i];
		uint64_t elems = 1, bytes;
		for (size_t d = 0; d < t->rank; d++)
			elems = t->shape[d] == 0 || elems == 0 ? 0 : elems * t->shape[d]; /* checked by the parser */
		require(es_st_nbytes(t->dtype, elems, &bytes) && t->end - t->begin == bytes);
		require(t->begin == at);
		at = t->end;
		require(es_st_find(f, t->name) != NULL);
	}
	require(at == f->data_size);
}

/* The writer, given the parsed tensors in data order, writes a header with the same offsets. */
static void check_rewrite(const es_st_file *f)
{
	es_st_desc *d = calloc(f->tensor_count + 1, sizeof *d);
	require(d != NULL);
	for (size_t i = 0; i < f->tensor_count; i++)
		d[i] = (es_st_desc){f->tensors[i].name, f->tensors[i].dtype, f->tensors[i].rank, f->tensors[i].shape};
	uint8_t *out;
	size_t len;
	uint64_t data_size;
	embstore_status st = es_st_write_header(d, f->tensor_count, f->meta, f->meta_count, &out, &len, &data_size);
	free(d);
	if (st == EMBSTORE_LIMIT) /* escapes can make the header longer than the cap */
		return;
	require(st == EMBSTORE_OK && data_size == f->data_size && len % 8 == 0);
	es_st_file g;
	require(es_st_parse(out + 8, len - 8, data_size, &g) == EMBSTORE_OK);
	require(g.tensor_count == f->tensor_count && g.meta_count == f->meta_count);
	for (size_t i = 0; i < g.tensor_count; i++) {
		const es_st_tensor *a = &f->tensors[i], *b = es_st_find(&g, a->name);
		require(b && b->dtype == a->dtype && b->rank == a->rank && b->begin == a->begin && b->end == a->end);
		require(a->rank == 0 || memcmp(a->shape, b->shape, a->rank * sizeof *a->shape) == 0);
	}
	es_st_file_free(&g);
	free(out);
}

/* A sink that checks every row against the bytes at the tensor's offset in the input. */
typedef struct expect_sink {
	const uint8_t *at; /* the tensor's first byte in the input */
	uint64_t rows, row_bytes, seen;
} expect_sink;

static embstore_status sink_begin(void *ctx, const char *name, uint64_t rows, uint64_t cols, embstore_dtype src)
{
	expect_sink *s = ctx;
	require(name != NULL && rows == s->rows);
	require(es_src_row_bytes(src, (uint32_t)cols) == s->row_bytes);
	return EMBSTORE_OK;
}

static embstore_status sink_rows(void *ctx, const void *rows, uint64_t n)
{
	expect_sink *s = ctx;
	require(n >= 1 && s->seen + n <= s->rows);
	require(memcmp(rows, s->at + s->seen * s->row_bytes, (size_t)(n * s->row_bytes)) == 0);
	s->seen += n;
	return EMBSTORE_OK;
}

/* Reads every table of the file through the reader; the status of the whole read. */
static embstore_status read_tables(es_st_reader *r, const uint8_t *data, uint64_t limit)
{
	const es_st_file *f = es_st_reader_file(r);
	uint64_t data_start = 8 + es_le64(data);
	for (size_t i = 0; i < f->tensor_count; i++) {
		const es_st_tensor *t = &f->tensors[i];
		uint64_t rows, cols;
		embstore_dtype src;
		if (es_st_table_shape(t, &rows, &cols, &src) != EMBSTORE_OK)
			continue;
		expect_sink s = {data + data_start + t->begin, limit && limit < rows ? limit : rows,
		                 (t->end - t->begin) / rows, 0};
		es_rows_sink sink = {&s, sink_begin, sink_rows};
		embstore_status st = es_st_read_table(r, t, limit, &sink);
		if (st != EMBSTORE_OK)
			return st;
		require(s.seen == s.rows);
	}
	return es_st_finish(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	embstore_status parsed = EMBSTORE_BAD_INPUT;
	if (size >= 8 && es_le64(data) <= size - 8) {
		uint64_t n = es_le64(data);
		es_st_file f;
		parsed = es_st_parse(data + 8, (size_t)n, size - 8 - n, &f);
		require(parsed != EMBSTORE_INVALID_ARGUMENT && embstore_error_detail() != NULL);
		if (parsed == EMBSTORE_OK) {
			check_file(&f);
			check_rewrite(&f);
			es_st_file_free(&f);
		}
	}

	uint8_t ctl = size ? data[size - 1] : 0;
	int sized;
	int fd = fuzz_input_fd("fuzz_safetensors", data, size, ctl & 1, &sized);
	es_st_reader *r;
	embstore_status st = es_st_open(fd, NULL, &r);
	require(embstore_error_detail() != NULL);
	if (st == EMBSTORE_OK) {
		/* The data area is only read when the whole header was, which the parse above saw. */
		st = read_tables(r, data, (ctl >> 1) & 1);
		es_st_close(r);
	}
	/* A file read through is one the parser accepts; a sized file is accepted exactly when it does. */
	require(st != EMBSTORE_OK || parsed == EMBSTORE_OK);
	require(!sized || parsed != EMBSTORE_OK || st == EMBSTORE_OK);
	close(fd);
	return 0;
}
