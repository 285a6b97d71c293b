/* safetensors_read.c: reads a safetensors file from a descriptor, header first, then tensors as table rows, in
 * bounded batches. A regular file is read with pread() at each tensor's offset; anything else (a pipe) front to
 * back, which suffices because a stream delivers the tensors in offset order and the reader asks for them so. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "safetensors.h"
#include "stream.h"

#define ST_BATCH_BYTES (4u << 20)

struct es_st_reader {
	es_stream in;        /* sequential reads, and the size of a regular file */
	bool seekable;       /* a regular file: pread() at base + offset */
	uint64_t base;       /* file offset of the length field */
	uint64_t data_start; /* 8 + N */
	uint64_t at;         /* a stream: bytes of the data area read so far */
	es_st_file file;
};

/* Reads n bytes at offset `off` of the safetensors file, fewer only at its end. */
static embstore_status read_at(es_st_reader *r, uint64_t off, void *buf, size_t n, size_t *got)
{
	if (!r->seekable)
		return es_stream_read(&r->in, buf, n, got);
	uint8_t *b = buf;
	*got = 0;
	while (*got < n) {
		ssize_t k = pread(r->in.fd, b + *got, n - *got, (off_t)(r->base + off + *got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return es_stream_io_error(r->in.fd, r->in.path);
		if (k == 0)
			break;
		*got += (size_t)k;
	}
	return EMBSTORE_OK;
}

static embstore_status read_header(es_st_reader *r)
{
	uint8_t len8[8];
	size_t got;
	ES_TRY(read_at(r, 0, len8, 8, &got));
	ES_CHECKF(got == 8, EMBSTORE_BAD_INPUT, "safetensors file of %zu bytes ends inside its 8-byte header length",
	          got);
	uint64_t n = es_le64(len8);
	ES_CHECKF(n <= ES_ST_MAX_HEADER, EMBSTORE_LIMIT, "safetensors header length %llu is over the cap of %u bytes",
	          (unsigned long long)n, ES_ST_MAX_HEADER);
	ES_CHECKF(!r->in.sized || (r->in.size >= 8 && n <= r->in.size - 8), EMBSTORE_BAD_INPUT,
	          "safetensors header length %llu runs past the end of the file (%llu bytes)", (unsigned long long)n,
	          (unsigned long long)r->in.size);
	r->data_start = 8 + n;
	uint8_t *json = malloc(n ? (size_t)n : 1);
	ES_CHECK(json, EMBSTORE_NO_MEMORY);
	embstore_status st = read_at(r, 8, json, (size_t)n, &got);
	if (st == EMBSTORE_OK && got < n) {
		es_detail("safetensors file ends after %llu bytes, inside its %llu-byte header",
		          (unsigned long long)(8 + got), (unsigned long long)n);
		st = EMBSTORE_BAD_INPUT;
	}
	if (st == EMBSTORE_OK)
		st = es_st_parse(json, (size_t)n, r->in.sized ? r->in.size - r->data_start : ES_ST_SIZE_UNKNOWN, &r->file);
	free(json);
	return st;
}

embstore_status es_st_open(int fd, const char *path, es_st_reader **out)
{
	return es_st_open_head(fd, path, NULL, 0, out);
}

embstore_status es_st_open_head(int fd, const char *path, const uint8_t *head, size_t head_len, es_st_reader **out)
{
	es_detail_clear();
	ES_CHECK(fd >= 0 && out && (head || head_len == 0), EMBSTORE_INVALID_ARGUMENT);
	*out = NULL;
	es_st_reader *r = calloc(1, sizeof *r);
	ES_CHECK(r, EMBSTORE_NO_MEMORY);
	embstore_status st = es_stream_fd(&r->in, fd, path);
	if (st == EMBSTORE_OK)
		es_stream_prepend(&r->in, head, head_len);
	if (st == EMBSTORE_OK && r->in.sized) {
		/* es_stream_fd has seen lseek succeed; the head came from just before where it is now */
		uint64_t here = (uint64_t)lseek(fd, 0, SEEK_CUR);
		r->seekable = here >= head_len;
		r->base = here - head_len;
	}
	if (st == EMBSTORE_OK)
		st = read_header(r);
	if (st != EMBSTORE_OK) {
		es_st_close(r);
		return st;
	}
	*out = r;
	return EMBSTORE_OK;
}

const es_st_file *es_st_reader_file(const es_st_reader *r)
{
	return &r->file;
}

/* A stream: reads and drops the data area's bytes up to `to`. */
static embstore_status skip_to(es_st_reader *r, uint64_t to, uint8_t *buf, size_t cap)
{
	while (r->at < to) {
		size_t want = to - r->at < cap ? (size_t)(to - r->at) : cap, got;
		ES_TRY(es_stream_read(&r->in, buf, want, &got));
		ES_CHECKF(got == want, EMBSTORE_BAD_INPUT, "safetensors file ends after %llu bytes; its header says %llu",
		          (unsigned long long)(r->data_start + r->at + got),
		          (unsigned long long)(r->data_start + r->file.data_size));
		r->at += got;
	}
	return EMBSTORE_OK;
}

static embstore_status copy_rows(es_st_reader *r, const es_st_tensor *t, uint64_t rows, uint64_t row_bytes,
                                 uint8_t *buf, size_t cap, const es_rows_sink *sink)
{
	char namebuf[ES_ST_NAME_TEXT];
	uint64_t per_batch = cap / row_bytes;
	for (uint64_t done = 0; done < rows;) {
		uint64_t k = rows - done < per_batch ? rows - done : per_batch;
		uint64_t off = r->data_start + t->begin + done * row_bytes;
		size_t got;
		ES_TRY(read_at(r, off, buf, (size_t)(k * row_bytes), &got));
		ES_CHECKF(got == k * row_bytes, EMBSTORE_BAD_INPUT,
		          "safetensors file ends after %llu bytes, inside tensor '%s' (bytes %llu to %llu)",
		          (unsigned long long)(off + got), es_st_name_text(t->name, namebuf),
		          (unsigned long long)(r->data_start + t->begin), (unsigned long long)(r->data_start + t->end));
		if (!r->seekable)
			r->at += got;
		ES_TRY(sink->rows(sink->ctx, buf, k));
		done += k;
	}
	return EMBSTORE_OK;
}

embstore_status es_st_read_table(es_st_reader *r, const es_st_tensor *t, uint64_t limit, const es_rows_sink *sink)
{
	char namebuf[ES_ST_NAME_TEXT];
	ES_CHECK(r && t && sink && sink->begin && sink->rows, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(t >= r->file.tensors && t < r->file.tensors + r->file.tensor_count, EMBSTORE_INVALID_ARGUMENT);
	uint64_t rows, cols;
	embstore_dtype src;
	ES_TRY(es_st_table_shape(t, &rows, &cols, &src));
	ES_CHECKF(r->seekable || t->begin >= r->at, EMBSTORE_STATE,
	          "safetensors tensor '%s' lies before what was already read of a stream; read tensors in file order",
	          es_st_name_text(t->name, namebuf));
	if (limit && limit < rows)
		rows = limit;
	uint64_t row_bytes = (t->end - t->begin) / t->shape[0];
	size_t cap = row_bytes > ST_BATCH_BYTES ? (size_t)row_bytes : ST_BATCH_BYTES;
	uint8_t *buf = malloc(cap);
	ES_CHECK(buf, EMBSTORE_NO_MEMORY);
	embstore_status st = r->seekable ? EMBSTORE_OK : skip_to(r, t->begin, buf, cap);
	if (st == EMBSTORE_OK)
		st = sink->begin(sink->ctx, t->name, rows, cols, src);
	if (st == EMBSTORE_OK)
		st = copy_rows(r, t, rows, row_bytes, buf, cap, sink);
	free(buf);
	return st;
}

embstore_status es_st_finish(es_st_reader *r)
{
	ES_CHECK(r, EMBSTORE_INVALID_ARGUMENT);
	if (r->seekable)
		return EMBSTORE_OK; /* its size was checked against the header when it was opened */
	uint8_t *buf = malloc(ST_BATCH_BYTES);
	ES_CHECK(buf, EMBSTORE_NO_MEMORY);
	embstore_status st = skip_to(r, r->file.data_size, buf, ST_BATCH_BYTES);
	size_t got = 0;
	if (st == EMBSTORE_OK)
		st = es_stream_read(&r->in, buf, 1, &got);
	free(buf);
	ES_TRY(st);
	ES_CHECKF(got == 0, EMBSTORE_BAD_INPUT,
	          "safetensors stream goes on after the %llu bytes its header accounts for",
	          (unsigned long long)(r->data_start + r->file.data_size));
	return EMBSTORE_OK;
}

void es_st_close(es_st_reader *r)
{
	if (!r)
		return;
	es_st_file_free(&r->file);
	free(r);
}
