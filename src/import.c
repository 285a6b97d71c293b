/* import.c: streaming table importers on top of the writer (.npy and raw f32). Input files are read in
 * bounded batches, never mapped, so a file truncated while we read it is an error, not a SIGBUS. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"

#define IMPORT_BATCH_BYTES (4u << 20)
#define NPY_HEAD_READ ((1u << 20) + 12)

static embstore_status read_exact(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t k = pread(fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		ES_CHECK(k >= 0, EMBSTORE_IO);
		ES_CHECK(k > 0, EMBSTORE_BAD_INPUT); /* shorter than its header promised */
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return EMBSTORE_OK;
}

/* Streams rows x cols elements of `src_dtype` starting at `offset` into a new table. */
static embstore_status stream_rows(embstore_writer *w, int fd, const char *name, embstore_dtype src_dtype,
                                   embstore_dtype dtype, uint64_t rows, uint64_t cols, uint64_t offset)
{
	ES_TRY(embstore_writer_begin_table(w, name, dtype ? dtype : src_dtype, rows, (uint32_t)cols));
	uint64_t row_bytes = embstore_row_bytes(src_dtype, cols);
	uint64_t per_batch = IMPORT_BATCH_BYTES / row_bytes;
	if (per_batch == 0)
		per_batch = 1;
	uint8_t *buf = malloc((size_t)(per_batch * row_bytes));
	ES_CHECK(buf, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	for (uint64_t done = 0; done < rows && st == EMBSTORE_OK;) {
		uint64_t k = rows - done < per_batch ? rows - done : per_batch;
		st = read_exact(fd, buf, (size_t)(k * row_bytes), offset + done * row_bytes);
		if (st == EMBSTORE_OK)
			st = embstore_writer_append(w, buf, src_dtype, k, 0);
		done += k;
	}
	free(buf);
	return st;
}

static embstore_status open_input(const char *path, int *fd, uint64_t *size)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block: refused below */
	ES_CHECK(*fd >= 0, EMBSTORE_IO);
	struct stat sb;
	int rc = fstat(*fd, &sb);
	if (rc == 0 && !S_ISREG(sb.st_mode)) {
		rc = -1;
		errno = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
	}
	if (rc != 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		return EMBSTORE_IO;
	}
	*size = (uint64_t)sb.st_size;
	return EMBSTORE_OK;
}

static embstore_status import_npy_fd(embstore_writer *w, const char *name, int fd, uint64_t size,
                                     embstore_dtype dtype)
{
	/* enough for the largest header the parser accepts */
	size_t want = size < NPY_HEAD_READ ? (size_t)size : NPY_HEAD_READ;
	uint8_t *head = malloc(want ? want : 1);
	ES_CHECK(head, EMBSTORE_NO_MEMORY);
	embstore_npy_info info;
	embstore_status st = read_exact(fd, head, want, 0);
	if (st == EMBSTORE_OK)
		st = embstore_npy_parse(head, want, &info);
	free(head);
	ES_TRY(st);
	uint64_t data, end;
	ES_CHECK(es_mul_u64(info.rows, embstore_row_bytes(info.dtype, info.cols), &data) &&
	             es_add_u64(data, info.data_offset, &end),
	         EMBSTORE_LIMIT);
	ES_CHECK(end == size, EMBSTORE_BAD_INPUT); /* truncated, or trailing bytes that are not part of the array */
	return stream_rows(w, fd, name, info.dtype, dtype, info.rows, info.cols, info.data_offset);
}

embstore_status embstore_writer_import_npy(embstore_writer *w, const char *name, const char *path,
                                           embstore_dtype dtype)
{
	ES_CHECK(w && name && path, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(dtype == 0 || embstore_dtype_name(dtype), EMBSTORE_BAD_DTYPE);
	int fd;
	uint64_t size;
	ES_TRY(open_input(path, &fd, &size));
	embstore_status st = import_npy_fd(w, name, fd, size, dtype);
	int saved = errno;
	close(fd);
	errno = saved;
	return st;
}

embstore_status embstore_writer_import_raw(embstore_writer *w, const char *name, const char *path, uint64_t rows,
                                           uint32_t dim, embstore_dtype dtype)
{
	ES_CHECK(w && name && path && rows >= 1 && dim >= 1, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(dtype == 0 || embstore_dtype_name(dtype), EMBSTORE_BAD_DTYPE);
	int fd;
	uint64_t size, expect;
	ES_TRY(open_input(path, &fd, &size));
	embstore_status st = EMBSTORE_BAD_INPUT;
	if (es_mul_u64(rows, (uint64_t)dim * 4, &expect) && expect == size)
		st = stream_rows(w, fd, name, EMBSTORE_F32, dtype, rows, dim, 0);
	int saved = errno;
	close(fd);
	errno = saved;
	return st;
}
