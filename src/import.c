/* import.c: streaming table importers on top of the writer (.npy and raw f32). An input is read once, front to
 * back, in bounded batches through a stream (stream.h) - never mapped, never seeked - so pipes, FIFOs, standard
 * input and zip members work like files, and a file truncated while we read it is an error, not a SIGBUS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "format.h"
#include "import.h"
#include "safetensors.h"
#include "import_vectors.h"
#include "writer.h"

#define IMPORT_BATCH_BYTES (4u << 20)
#define NPY_PREAMBLE 12              /* magic, version and the longest header-length field */
#define NPY_MAX_HEADER_READ ((1u << 20) + NPY_PREAMBLE)

static embstore_status read_exact(es_stream *in, void *p, size_t n, uint64_t need_total)
{
	size_t got;
	ES_TRY(es_stream_read(in, p, n, &got));
	ES_CHECKF(got == n, EMBSTORE_BAD_INPUT, "input ends after %llu bytes; it should have %llu",
	          (unsigned long long)in->pos, (unsigned long long)need_total);
	return EMBSTORE_OK;
}

/* The input must end where the data does. */
static embstore_status expect_end(es_stream *in, uint64_t total)
{
	if (in->sized)
		return EMBSTORE_OK; /* checked up front */
	uint8_t extra;
	size_t got;
	ES_TRY(es_stream_read(in, &extra, 1, &got));
	ES_CHECKF(got == 0, EMBSTORE_BAD_INPUT, "input is longer than the %llu bytes it should have",
	          (unsigned long long)total);
	return EMBSTORE_OK;
}

/* Streams rows x cols elements of `src_type` into a new table; with a limit, only the first `limit` rows (and the
 * rest of the input is left unread). */
static embstore_status stream_rows(embstore_writer *w, es_stream *in, const char *name, embstore_dtype src_type,
                                   embstore_dtype dtype, uint64_t rows, uint64_t cols, uint64_t total,
                                   embstore_import *o)
{
	bool cut = o && o->limit != 0 && o->limit < rows;
	if (cut)
		rows = o->limit;
	if (o) {
		o->rows = rows;
		o->dim = (uint32_t)cols;
	}
	ES_TRY(embstore_writer_begin_table(w, name, dtype, rows, (uint32_t)cols));
	uint64_t row_bytes = es_src_row_bytes(src_type, (uint32_t)cols);
	uint64_t per_batch = IMPORT_BATCH_BYTES / row_bytes;
	if (per_batch == 0)
		per_batch = 1;
	uint8_t *buf = malloc((size_t)(per_batch * row_bytes));
	ES_CHECK(buf, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	for (uint64_t done = 0; done < rows && st == EMBSTORE_OK;) {
		uint64_t k = rows - done < per_batch ? rows - done : per_batch;
		st = read_exact(in, buf, (size_t)(k * row_bytes), total);
		if (st == EMBSTORE_OK)
			st = es_writer_append(w, buf, src_type, k, 0);
		done += k;
	}
	free(buf);
	ES_TRY(st);
	return cut ? EMBSTORE_OK : expect_end(in, total);
}

embstore_status es_npy_read_header(es_stream *in, embstore_npy_info *out, bool *refused)
{
	*refused = false;
	uint8_t pre[NPY_PREAMBLE];
	size_t got;
	ES_TRY(es_stream_read(in, pre, 10, &got));
	size_t head_len = 10;
	if (got == 10 && memcmp(pre, "\x93NUMPY", 6) == 0 && (pre[6] == 2 || pre[6] == 3)) {
		ES_TRY(es_stream_read(in, pre + 10, 2, &got));
		head_len = 10 + got;
	} else if (got < 10) {
		head_len = got;
	}
	/* Let the parser name whatever is wrong with the preamble, then read the header it announces. */
	embstore_npy_info info;
	uint64_t announced = 0;
	if (head_len >= 10 && memcmp(pre, "\x93NUMPY", 6) == 0)
		announced = pre[6] == 1 ? es_le16(pre + 8) : head_len == 12 ? es_le32(pre + 8) : 0;
	size_t want = head_len + (announced < NPY_MAX_HEADER_READ ? (size_t)announced : 0);
	uint8_t *head = malloc(want);
	ES_CHECK(head, EMBSTORE_NO_MEMORY);
	memcpy(head, pre, head_len);
	embstore_status st = es_stream_read(in, head + head_len, want - head_len, &got);
	if (st == EMBSTORE_OK) {
		st = embstore_npy_parse(head, head_len + got, &info);
		*refused = st != EMBSTORE_OK;
	}
	free(head);
	ES_TRY(st);
	*out = info;
	return EMBSTORE_OK;
}

static embstore_status import_npy(embstore_writer *w, const char *name, es_stream *in, embstore_dtype dtype,
                                  embstore_import *o)
{
	embstore_npy_info info;
	bool refused;
	ES_TRY(es_npy_read_header(in, &info, &refused));

	uint64_t data, total;
	ES_CHECKF(es_mul_u64(info.rows * info.cols, info.item_size, &data) && es_add_u64(data, info.data_offset, &total),
	          EMBSTORE_LIMIT, "%llu x %llu elements of %u bytes do not fit 64 bits", (unsigned long long)info.rows,
	          (unsigned long long)info.cols, info.item_size);
	ES_CHECKF(!in->sized || in->size == total, EMBSTORE_BAD_INPUT,
	          "file is %llu bytes; its header says %llu (%llu x %llu elements of %u bytes after a %llu-byte header)",
	          (unsigned long long)in->size, (unsigned long long)total, (unsigned long long)info.rows,
	          (unsigned long long)info.cols, info.item_size, (unsigned long long)info.data_offset);
	embstore_dtype src = info.item_size == 8 ? ES_SRC_F64 : info.dtype;
	return stream_rows(w, in, name, src, dtype ? dtype : info.dtype, info.rows, info.cols, total, o);
}

static embstore_status import_raw(embstore_writer *w, const char *name, es_stream *in, uint64_t rows, uint32_t dim,
                                  embstore_dtype dtype, embstore_import *o)
{
	uint64_t total;
	ES_CHECKF(es_mul_u64(rows, (uint64_t)dim * 4, &total), EMBSTORE_LIMIT,
	          "%llu x %u f32 values do not fit 64 bits", (unsigned long long)rows, dim);
	ES_CHECKF(!in->sized || in->size == total, EMBSTORE_BAD_INPUT, "file is %llu bytes; %llu x %u f32 values need %llu",
	          (unsigned long long)in->size, (unsigned long long)rows, dim, (unsigned long long)total);
	return stream_rows(w, in, name, EMBSTORE_F32, dtype ? dtype : EMBSTORE_F32, rows, dim, total, o);
}

static embstore_status check_args(embstore_writer *w, const char *name, embstore_dtype dtype)
{
	es_detail_clear();
	ES_CHECK(w && name, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(dtype == 0 || es_elem_bytes(dtype) != 0, EMBSTORE_BAD_DTYPE, "dtype code %d", (int)dtype);
	return EMBSTORE_OK;
}

void es_import_table_made(embstore_import *o, const char *name, uint64_t rows, uint32_t dim)
{
	o->tables++;
	if (o->table_made)
		o->table_made(o->table_made_ctx, name, rows, dim);
}

embstore_status es_import_pick_one(const char *input, const char *what, const char *const *names, size_t count)
{
	char list[200];
	size_t at = 0;
	for (size_t i = 0; i < count && i < 4 && at < sizeof list; i++)
		at += (size_t)snprintf(list + at, sizeof list - at, "%s'%.40s'", i ? ", " : "", names[i]);
	es_detail("%.100s holds %zu %s that can be tables (%s%s): pick one (the import's tensor; embstore build --tensor "
	          "NAME), or give no table name to import each as a table named after it",
	          input, count, what, list, count > 4 ? ", ..." : "");
	return EMBSTORE_INVALID_ARGUMENT;
}

embstore_status es_import_npy_stream(embstore_writer *w, const char *name, es_stream *in, embstore_dtype dtype)
{
	ES_TRY(check_args(w, name, dtype));
	ES_CHECK(in, EMBSTORE_INVALID_ARGUMENT);
	return import_npy(w, name, in, dtype, NULL);
}

embstore_status es_import_npy_with(embstore_writer *w, const char *name, es_stream *in, embstore_import *o)
{
	return import_npy(w, name, in, o->dtype, o);
}

/* Runs an importer on a path: opened blocking, so a FIFO waits for its writer as `cat` would. */
typedef struct import_call {
	embstore_writer *w;
	const char *name;
	embstore_dtype dtype;
	uint64_t rows; /* raw only */
	uint32_t dim;  /* raw only; 0 for .npy */
} import_call;

static embstore_status run(const import_call *c, int fd, const char *path)
{
	es_stream in;
	ES_TRY(es_stream_fd(&in, fd, path));
	return c->dim ? import_raw(c->w, c->name, &in, c->rows, c->dim, c->dtype, NULL)
	              : import_npy(c->w, c->name, &in, c->dtype, NULL);
}

static embstore_status run_path(const import_call *c, const char *path)
{
	ES_CHECK(path, EMBSTORE_INVALID_ARGUMENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return es_stream_io_error(-1, path);
	embstore_status st = run(c, fd, path);
	int saved = errno;
	close(fd);
	errno = saved;
	return st;
}

embstore_status embstore_writer_import_npy(embstore_writer *w, const char *name, const char *path,
                                           embstore_dtype dtype)
{
	ES_TRY(check_args(w, name, dtype));
	return run_path(&(import_call){w, name, dtype, 0, 0}, path);
}

embstore_status embstore_writer_import_npy_fd(embstore_writer *w, const char *name, int fd, embstore_dtype dtype)
{
	ES_TRY(check_args(w, name, dtype));
	ES_CHECK(fd >= 0, EMBSTORE_INVALID_ARGUMENT);
	return run(&(import_call){w, name, dtype, 0, 0}, fd, NULL);
}

embstore_status embstore_writer_import_raw(embstore_writer *w, const char *name, const char *path, uint64_t rows,
                                           uint32_t dim, embstore_dtype dtype)
{
	ES_TRY(check_args(w, name, dtype));
	ES_CHECK(rows >= 1 && dim >= 1, EMBSTORE_INVALID_ARGUMENT);
	return run_path(&(import_call){w, name, dtype, rows, dim}, path);
}

embstore_status embstore_writer_import_raw_fd(embstore_writer *w, const char *name, int fd, uint64_t rows,
                                              uint32_t dim, embstore_dtype dtype)
{
	ES_TRY(check_args(w, name, dtype));
	ES_CHECK(fd >= 0 && rows >= 1 && dim >= 1, EMBSTORE_INVALID_ARGUMENT);
	return run(&(import_call){w, name, dtype, rows, dim}, fd, NULL);
}

/* ---- one front for every format ---- */

#define SNIFF_BYTES (64u << 10) /* enough to see a header line and a few rows of any of the formats */

static const char *const format_names[] = {"auto",  "npy",           "raw", "word2vec", "word2vec-text",
                                           "glove", "safetensors", "npz"};

const char *embstore_format_name(embstore_format f)
{
	return (unsigned)f < sizeof format_names / sizeof format_names[0] ? format_names[f] : NULL;
}

embstore_status embstore_format_parse(const char *name, embstore_format *out)
{
	ES_CHECK(name && out, EMBSTORE_INVALID_ARGUMENT);
	for (unsigned f = 0; f < sizeof format_names / sizeof format_names[0]; f++) {
		if (strcmp(name, format_names[f]) == 0) {
			*out = (embstore_format)f;
			return EMBSTORE_OK;
		}
	}
	if (strcmp(name, "fasttext") == 0) {
		*out = EMBSTORE_FORMAT_WORD2VEC_TEXT;
		return EMBSTORE_OK;
	}
	return EMBSTORE_INVALID_ARGUMENT;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* The content decides; the extension only when the content does not. */
static embstore_format detect(const uint8_t *head, size_t len, bool whole, const char *path)
{
	if (len >= 6 && memcmp(head, "\x93NUMPY", 6) == 0)
		return EMBSTORE_FORMAT_NPY;
	if (len >= 9 && es_le64(head) <= ES_ST_MAX_HEADER && head[8] == '{')
		return EMBSTORE_FORMAT_SAFETENSORS;
	if (len >= 4 && memcmp(head, "PK\3\4", 4) == 0)
		return EMBSTORE_FORMAT_NPZ;
	switch (es_detect_vector_format(head, len, whole)) {
	case ES_VEC_WORD2VEC:
		return EMBSTORE_FORMAT_WORD2VEC;
	case ES_VEC_TEXT_HEADER:
		return EMBSTORE_FORMAT_WORD2VEC_TEXT;
	case ES_VEC_GLOVE:
		return EMBSTORE_FORMAT_GLOVE;
	case ES_VEC_UNKNOWN:
		break;
	}
	if (path && ends_with(path, ".npy"))
		return EMBSTORE_FORMAT_NPY;
	if (path && ends_with(path, ".safetensors"))
		return EMBSTORE_FORMAT_SAFETENSORS;
	if (path && ends_with(path, ".npz"))
		return EMBSTORE_FORMAT_NPZ;
	if (path && ends_with(path, ".bin"))
		return EMBSTORE_FORMAT_WORD2VEC;
	if (path && (ends_with(path, ".vec") || ends_with(path, ".w2v")))
		return EMBSTORE_FORMAT_WORD2VEC_TEXT;
	return EMBSTORE_FORMAT_AUTO;
}

static bool multi_table(embstore_format f)
{
	return f == EMBSTORE_FORMAT_SAFETENSORS || f == EMBSTORE_FORMAT_NPZ;
}

/* A format of one table, whose table only `name` can name; or a tensor asked of a format without tensors. */
static embstore_status check_name(const char *name, const embstore_import *o)
{
	if (multi_table(o->format))
		return EMBSTORE_OK;
	ES_CHECKF(name, EMBSTORE_INVALID_ARGUMENT, "%s input is one table, which needs a name",
	          embstore_format_name(o->format));
	ES_CHECKF(!o->tensor, EMBSTORE_INVALID_ARGUMENT, "%s input has no tensors to pick '%.60s' from",
	          embstore_format_name(o->format), o->tensor);
	return EMBSTORE_OK;
}

static embstore_status import_one(embstore_writer *w, const char *name, int fd, const char *path,
                                  const uint8_t *head, size_t got, embstore_import *o)
{
	/* multi_table formats name their tables after their tensors unless `name` is more than a default */
	const char *multi_name = o->flags & EMBSTORE_IMPORT_NAME_DEFAULT ? NULL : name;
	embstore_status st;
	switch (o->format) {
	case EMBSTORE_FORMAT_SAFETENSORS:
		return es_import_safetensors(w, multi_name, fd, path, head, got, o);
	case EMBSTORE_FORMAT_NPZ:
		return es_import_npz(w, multi_name, fd, path, o);
	default:
		break;
	}
	ES_TRY(check_name(name, o));
	if (o->format == EMBSTORE_FORMAT_NPY || o->format == EMBSTORE_FORMAT_RAW) {
		es_stream again;
		ES_TRY(es_stream_fd(&again, fd, path));
		es_stream_prepend(&again, head, got);
		st = o->format == EMBSTORE_FORMAT_NPY ? import_npy(w, name, &again, o->dtype, o)
		                                      : import_raw(w, name, &again, o->rows, o->dim, o->dtype, o);
	} else {
		st = es_import_vectors(w, name, &(es_vec_input){fd, head, got}, o);
	}
	if (st == EMBSTORE_OK)
		es_import_table_made(o, name, o->rows, o->dim);
	return st;
}

static embstore_status import_any(embstore_writer *w, const char *name, int fd, const char *path, embstore_import *o)
{
	ES_CHECK((unsigned)o->format <= EMBSTORE_FORMAT_NPZ, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(o->format != EMBSTORE_FORMAT_RAW || (o->rows >= 1 && o->dim >= 1), EMBSTORE_INVALID_ARGUMENT);
	o->tables = 0;
	o->skipped = 0;
	o->meta_dropped = 0;
	if (o->format != EMBSTORE_FORMAT_AUTO)
		ES_TRY(check_name(name, o));
	uint8_t *head = malloc(SNIFF_BYTES);
	ES_CHECK(head, EMBSTORE_NO_MEMORY);
	es_stream in;
	embstore_status st = es_stream_fd(&in, fd, path);
	size_t got = 0;
	if (st == EMBSTORE_OK && o->format != EMBSTORE_FORMAT_RAW)
		st = es_stream_read(&in, head, SNIFF_BYTES, &got);
	if (st == EMBSTORE_OK) {
		if (o->format == EMBSTORE_FORMAT_AUTO)
			o->format = detect(head, got, got < SNIFF_BYTES, path);
		if (o->format == EMBSTORE_FORMAT_AUTO) {
			es_detail("cannot tell the format of %s%s%s: not .npy, safetensors, .npz, word2vec (binary or text), "
			          "fastText or GloVe; name it",
			          path ? "'" : "the input", path ? path : "", path ? "'" : "");
			st = EMBSTORE_BAD_INPUT;
		}
	}
	if (st == EMBSTORE_OK)
		st = import_one(w, name, fd, path, head, got, o);
	int saved = errno;
	free(head);
	errno = saved;
	return st;
}

/* The checks of check_args, but a name may be left to the input (check_name, once the format is known). */
static embstore_status check_import_args(embstore_writer *w, embstore_dtype dtype)
{
	es_detail_clear();
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(dtype == 0 || es_elem_bytes(dtype) != 0, EMBSTORE_BAD_DTYPE, "dtype code %d", (int)dtype);
	return EMBSTORE_OK;
}

embstore_status embstore_writer_import_fd(embstore_writer *w, const char *name, int fd, embstore_import *o)
{
	ES_TRY(check_import_args(w, o ? o->dtype : 0));
	ES_CHECK(fd >= 0 && o, EMBSTORE_INVALID_ARGUMENT);
	return import_any(w, name, fd, NULL, o);
}

embstore_status embstore_writer_import(embstore_writer *w, const char *name, const char *path, embstore_import *o)
{
	ES_TRY(check_import_args(w, o ? o->dtype : 0));
	ES_CHECK(path && o, EMBSTORE_INVALID_ARGUMENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return es_stream_io_error(-1, path);
	embstore_status st = import_any(w, name, fd, path, o);
	int saved = errno;
	close(fd);
	errno = saved;
	return st;
}
