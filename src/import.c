/* import.c: streaming table importers on top of the writer (.npy and raw f32). An input is read once, front to
 * back, with read() in bounded batches - never mapped, never seeked - so pipes, FIFOs and standard input work
 * like files, and a file truncated while we read it is an error, not a SIGBUS. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "import_vectors.h"
#include "writer.h"

#define IMPORT_BATCH_BYTES (4u << 20)
#define NPY_PREAMBLE 12              /* magic, version and the longest header-length field */
#define NPY_MAX_HEADER_READ ((1u << 20) + NPY_PREAMBLE)

/* An input being read. For a regular file the size is known up front, so a size mismatch is named before any
 * row is read; for anything else it shows at the end. */
typedef struct input {
	int fd;
	const char *path; /* for messages; NULL for a descriptor the caller gave */
	const uint8_t *head; /* bytes already read from fd (to tell the format), read again first */
	size_t head_len, head_pos;
	bool sized;
	uint64_t size; /* when sized: head_len + what fd has left */
	uint64_t pos;
} input;

/* Names the input in the detail of a failure to read it; keeps errno. */
static embstore_status input_error(const input *in)
{
	int saved = errno;
	if (in->path)
		es_detail("reading '%s'", in->path);
	else
		es_detail("reading file descriptor %d", in->fd);
	errno = saved;
	return EMBSTORE_IO;
}

static embstore_status input_init(input *in, int fd, const char *path, const uint8_t *head, size_t head_len)
{
	struct stat sb;
	*in = (input){.fd = fd, .path = path, .head = head, .head_len = head_len};
	if (fstat(fd, &sb) != 0)
		return input_error(in);
	if (S_ISDIR(sb.st_mode)) {
		errno = EISDIR;
		return input_error(in);
	}
	off_t here = S_ISREG(sb.st_mode) ? lseek(fd, 0, SEEK_CUR) : -1;
	if (here >= 0 && here <= sb.st_size) {
		in->sized = true;
		in->size = (uint64_t)(sb.st_size - here) + head_len;
	}
	return EMBSTORE_OK;
}

/* Reads up to n bytes; fewer only at the end of the input. */
static embstore_status read_some(input *in, void *p, size_t n, size_t *got)
{
	uint8_t *b = p;
	*got = 0;
	if (in->head_pos < in->head_len) {
		size_t k = in->head_len - in->head_pos < n ? in->head_len - in->head_pos : n;
		memcpy(b, in->head + in->head_pos, k);
		in->head_pos += k;
		*got = k;
	}
	while (*got < n) {
		ssize_t k = read(in->fd, b + *got, n - *got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return input_error(in);
		if (k == 0)
			break;
		*got += (size_t)k;
	}
	in->pos += *got;
	return EMBSTORE_OK;
}

static embstore_status read_exact(input *in, void *p, size_t n, uint64_t need_total)
{
	size_t got;
	ES_TRY(read_some(in, p, n, &got));
	ES_CHECKF(got == n, EMBSTORE_BAD_INPUT, "input ends after %llu bytes; it should have %llu",
	          (unsigned long long)in->pos, (unsigned long long)need_total);
	return EMBSTORE_OK;
}

/* The input must end where the data does. */
static embstore_status expect_end(input *in, uint64_t total)
{
	if (in->sized)
		return EMBSTORE_OK; /* checked up front */
	uint8_t extra;
	size_t got;
	ES_TRY(read_some(in, &extra, 1, &got));
	ES_CHECKF(got == 0, EMBSTORE_BAD_INPUT, "input is longer than the %llu bytes it should have",
	          (unsigned long long)total);
	return EMBSTORE_OK;
}

/* Streams rows x cols elements of `src_type` into a new table; with a limit, only the first `limit` rows (and the
 * rest of the input is left unread). */
static embstore_status stream_rows(embstore_writer *w, input *in, const char *name, embstore_dtype src_type,
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

static embstore_status import_npy(embstore_writer *w, const char *name, input *in, embstore_dtype dtype,
                                  embstore_import *o)
{
	uint8_t pre[NPY_PREAMBLE];
	size_t got;
	ES_TRY(read_some(in, pre, 10, &got));
	size_t head_len = 10;
	if (got == 10 && memcmp(pre, "\x93NUMPY", 6) == 0 && (pre[6] == 2 || pre[6] == 3)) {
		ES_TRY(read_some(in, pre + 10, 2, &got));
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
	embstore_status st = read_some(in, head + head_len, want - head_len, &got);
	if (st == EMBSTORE_OK)
		st = embstore_npy_parse(head, head_len + got, &info);
	free(head);
	ES_TRY(st);

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

static embstore_status import_raw(embstore_writer *w, const char *name, input *in, uint64_t rows, uint32_t dim,
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
	input in;
	ES_TRY(input_init(&in, fd, path, NULL, 0));
	return c->dim ? import_raw(c->w, c->name, &in, c->rows, c->dim, c->dtype, NULL)
	              : import_npy(c->w, c->name, &in, c->dtype, NULL);
}

static embstore_status run_path(const import_call *c, const char *path)
{
	ES_CHECK(path, EMBSTORE_INVALID_ARGUMENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return input_error(&(input){.fd = -1, .path = path});
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

static const char *const format_names[] = {"auto", "npy", "raw", "word2vec", "word2vec-text", "glove"};

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
	if (path && ends_with(path, ".bin"))
		return EMBSTORE_FORMAT_WORD2VEC;
	if (path && (ends_with(path, ".vec") || ends_with(path, ".w2v")))
		return EMBSTORE_FORMAT_WORD2VEC_TEXT;
	return EMBSTORE_FORMAT_AUTO;
}

static embstore_status import_any(embstore_writer *w, const char *name, int fd, const char *path, embstore_import *o)
{
	ES_CHECK((unsigned)o->format <= EMBSTORE_FORMAT_GLOVE, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(o->format != EMBSTORE_FORMAT_RAW || (o->rows >= 1 && o->dim >= 1), EMBSTORE_INVALID_ARGUMENT);
	uint8_t *head = malloc(SNIFF_BYTES);
	ES_CHECK(head, EMBSTORE_NO_MEMORY);
	input in;
	embstore_status st = input_init(&in, fd, path, NULL, 0);
	size_t got = 0;
	if (st == EMBSTORE_OK && o->format != EMBSTORE_FORMAT_RAW)
		st = read_some(&in, head, SNIFF_BYTES, &got);
	if (st == EMBSTORE_OK) {
		if (o->format == EMBSTORE_FORMAT_AUTO)
			o->format = detect(head, got, got < SNIFF_BYTES, path);
		if (o->format == EMBSTORE_FORMAT_AUTO) {
			es_detail("cannot tell the format of %s%s%s: not .npy, word2vec (binary or text), fastText or GloVe; "
			          "name it",
			          path ? "'" : "the input", path ? path : "", path ? "'" : "");
			st = EMBSTORE_BAD_INPUT;
		}
	}
	if (st == EMBSTORE_OK) {
		input again;
		st = input_init(&again, fd, path, head, got);
		again.pos = 0;
		switch (o->format) {
		case EMBSTORE_FORMAT_NPY:
			st = import_npy(w, name, &again, o->dtype, o);
			break;
		case EMBSTORE_FORMAT_RAW:
			st = import_raw(w, name, &again, o->rows, o->dim, o->dtype, o);
			break;
		default:
			st = es_import_vectors(w, name, &(es_vec_input){fd, head, got}, o);
			break;
		}
	}
	int saved = errno;
	free(head);
	errno = saved;
	return st;
}

embstore_status embstore_writer_import_fd(embstore_writer *w, const char *name, int fd, embstore_import *o)
{
	ES_TRY(check_args(w, name, o ? o->dtype : 0));
	ES_CHECK(fd >= 0 && o, EMBSTORE_INVALID_ARGUMENT);
	return import_any(w, name, fd, NULL, o);
}

embstore_status embstore_writer_import(embstore_writer *w, const char *name, const char *path, embstore_import *o)
{
	ES_TRY(check_args(w, name, o ? o->dtype : 0));
	ES_CHECK(path && o, EMBSTORE_INVALID_ARGUMENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return input_error(&(input){.fd = -1, .path = path});
	embstore_status st = import_any(w, name, fd, path, o);
	int saved = errno;
	close(fd);
	errno = saved;
	return st;
}
