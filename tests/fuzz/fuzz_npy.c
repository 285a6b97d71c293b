/* fuzz_npy.c: a fuzz target over a .npy input: the header parser (embstore_npy_parse) on the bytes, then the
 * streaming import (embstore_writer_import_npy_fd) of the same bytes from a pipe or from a memfd (a sized
 * regular file: two different paths through the importer), into a writer over a temporary directory, stored as
 * the file's own dtype or as another, with --saturate on or off. The last byte of the input picks these, so the
 * corpus holds plain .npy files. A successful import must agree with the parser, and the finished store must
 * open, verify and hold the table the header describes; anything else aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "embstore.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The store just written holds one table `t`, rows x cols of `dtype`, and passes verify. */
static void check_output(const char *path, const embstore_npy_info *info, embstore_dtype dtype)
{
	embstore *s;
	require(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s) == EMBSTORE_OK);
	embstore_table t;
	require(embstore_table_find(s, "t", &t) == EMBSTORE_OK);
	require(t.matrix.rows == info->rows && t.matrix.dim == info->cols && t.matrix.dtype == dtype);
	embstore_close(s);
}

/* What the last byte picks: bits 0-2 the table's dtype (0: the file's own), bit 3 saturate, bit 4 a pipe. */
static const embstore_dtype dtypes[8] = {0, EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE, 0,
                                         EMBSTORE_F32, EMBSTORE_F16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	embstore_npy_info info;
	embstore_status parsed = embstore_npy_parse(data, size, &info);
	require(parsed != EMBSTORE_INVALID_ARGUMENT);
	require(embstore_error_detail() != NULL);
	uint64_t total = 0;
	if (parsed == EMBSTORE_OK) {
		require(info.item_size == 2 || info.item_size == 4 || info.item_size == 8);
		require(info.dtype == (info.item_size == 2 ? EMBSTORE_F16 : EMBSTORE_F32));
		require(info.rows >= 1 && info.cols >= 1 && info.data_offset <= size);
		/* Sizes are capped (rows 2^40, cols 2^20, 8 bytes), so this cannot wrap. */
		total = info.data_offset + info.rows * info.cols * info.item_size;
	}

	uint8_t ctl = size ? data[size - 1] : 0;
	embstore_dtype dtype = dtypes[ctl & 7];
	int saturate = (ctl >> 3) & 1;
	const char *path = fuzz_path("npy", "out.emb");
	embstore_writer *w;
	require(embstore_writer_create(path, &w) == EMBSTORE_OK);
	require(embstore_writer_set_saturate(w, saturate) == EMBSTORE_OK);
	int fd = fuzz_input_fd("fuzz_npy", data, size, (ctl >> 4) & 1, NULL);
	embstore_status st = embstore_writer_import_npy_fd(w, "t", fd, dtype);
	require(embstore_error_detail() != NULL);
	close(fd);

	if (st == EMBSTORE_OK) {
		/* Only a file the parser accepts, exactly as long as its header says. */
		require(parsed == EMBSTORE_OK && total == size);
		require(embstore_writer_finish(w) == EMBSTORE_OK);
		check_output(path, &info, dtype ? dtype : info.dtype);
		require(unlink(path) == 0);
	} else if (parsed == EMBSTORE_OK && total == size && saturate && dtype != EMBSTORE_INT8_ROWWISE) {
		/* Saturated, every value has a float of each dtype (int8 refuses NaN and infinity): a well-formed file
		 * cannot fail. */
		abort();
	}
	embstore_writer_free(w);
	return 0;
}
