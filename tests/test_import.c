/* test_import.c: importers read any stream front to back (pipes, FIFOs, files), accept what numpy users have
 * (f64), and say exactly what is wrong with an input; values a table's dtype cannot hold are refused by row and
 * column, or clamped when asked to. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Opens the store at path and returns row r, column c of its table 0 as f32. */
static float stored(const char *path, uint64_t r, uint32_t c)
{
	embstore *s;
	embstore_table t;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	cr_assert_eq(embstore_table_at(s, 0, &t), EMBSTORE_OK);
	float *row = malloc(t.matrix.dim * sizeof *row);
	int64_t id = (int64_t)r;
	cr_assert_eq(embstore_gather(&t.matrix, &id, EMBSTORE_ID64, 1, row, NULL), EMBSTORE_OK);
	float v = row[c];
	free(row);
	embstore_close(s);
	return v;
}

static const float values[6] = {1.5f, -2.25f, 3.0f, 0.125f, 1e-3f, -7.0f};

Test(import, npy_from_a_pipe)
{
	uint8_t buf[512];
	size_t len = tu_make_npy(buf, "<f4", 2, 3, values, 4);
	pid_t child;
	int fd = tu_piped(buf, len, &child);
	char *path = tu_path("pipe.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_import_npy_fd(w, "p", fd, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	tu_reap(fd, child);
	cr_expect_eq(stored(path, 1, 2), -7.0f);
	free(path);
}

Test(import, raw_from_a_fifo_path, .timeout = 30)
{
	char *fifo = tu_path("in.fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) { /* the FIFO's writer: blocks in open until the importer opens it */
		FILE *f = fopen(fifo, "wb");
		_exit(f && fwrite(values, 4, 6, f) == 6 && fclose(f) == 0 ? 0 : 1);
	}
	char *path = tu_path("fifo.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_import_raw(w, "r", fifo, 3, 2, EMBSTORE_F16), EMBSTORE_OK, "%s",
	             embstore_error_detail());
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_expect_eq(stored(path, 2, 1), -7.0f);
	free(path);
	free(fifo);
}

/* A stream shorter or longer than its header says is refused, with the sizes. */
Test(import, stream_length_must_match)
{
	uint8_t buf[512];
	size_t len = tu_make_npy(buf, "<f4", 2, 3, values, 4);
	for (int extra = -1; extra <= 1; extra += 2) {
		pid_t child;
		int fd = tu_piped(buf, len + (size_t)extra, &child);
		char *path = tu_path("short.emb");
		embstore_writer *w;
		cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
		cr_expect_eq(embstore_writer_import_npy_fd(w, "p", fd, 0), EMBSTORE_BAD_INPUT);
		const char *want = extra < 0 ? "input ends after" : "input is longer than";
		cr_expect(strstr(embstore_error_detail(), want), "'%s' lacks '%s'", embstore_error_detail(), want);
		embstore_writer_free(w);
		tu_reap(fd, child);
		cr_expect_eq(access(path, F_OK), -1, "a failed build left %s", path);
		free(path);
	}
}

Test(import, raw_size_error_states_both_sizes)
{
	char *in = tu_path("odd.f32");
	tu_write_file(in, values, 20);
	char *path = tu_path("odd.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_import_raw(w, "r", in, 3, 2, 0), EMBSTORE_BAD_INPUT);
	cr_expect_str_eq(embstore_error_detail(), "file is 20 bytes; 3 x 2 f32 values need 24");
	embstore_writer_free(w);
	free(in);
	free(path);
}

Test(import, npy_size_error_states_both_sizes)
{
	uint8_t buf[512];
	size_t len = tu_make_npy(buf, "<f4", 2, 3, values, 4);
	char *in = tu_path("cut.npy");
	tu_write_file(in, buf, len - 4);
	char *path = tu_path("cut.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_import_npy(w, "n", in, 0), EMBSTORE_BAD_INPUT);
	cr_expect(strstr(embstore_error_detail(), "file is 148 bytes; its header says 152"), "%s",
	          embstore_error_detail());
	embstore_writer_free(w);
	free(in);
	free(path);
}

/* f64 rounds to nearest f32; a finite f64 beyond f32 names its row and column, or saturates when asked. */
Test(import, f64_npy)
{
	double d[6] = {0.1, -1e-300, 1.0000000596046448, 3.0, 1e39, -2.5};
	uint8_t buf[512];
	size_t len = tu_make_npy(buf, "<f8", 3, 2, d, 8);
	char *in = tu_path("d.npy");
	tu_write_file(in, buf, len);
	char *path = tu_path("d.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_import_npy(w, "d", in, 0), EMBSTORE_RANGE);
	cr_expect(strstr(embstore_error_detail(), "table 'd', row 2, column 0: 1e+39 does not fit f32"), "%s",
	          embstore_error_detail());
	embstore_writer_free(w);

	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_saturate(w, 1), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_import_npy(w, "d", in, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	cr_expect_eq(stored(path, 0, 0), 0.1f);
	cr_expect_eq(stored(path, 0, 1), -0.0f);
	cr_expect(signbit(stored(path, 0, 1)));
	cr_expect_eq(stored(path, 1, 0), 1.0f); /* 1 + 2^-24 ties between 1 and 1 + 2^-23: to the even one */
	cr_expect_eq(stored(path, 2, 0), FLT_MAX);
	cr_expect_eq(stored(path, 2, 1), -2.5f);
	free(in);
	free(path);
}

/* A finite f32 that f16 cannot hold was silently infinity; now an error naming table, row and column. */
Test(import, f16_overflow_names_the_value)
{
	float rows[2][3] = {{1.0f, 65504.0f, 2.0f}, {3.0f, 4.0f, -1e6f}};
	char *path = tu_path("h.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "half", EMBSTORE_F16, 2, 3), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 2, 0), EMBSTORE_RANGE);
	cr_expect_str_eq(embstore_error_detail(), "table 'half', row 1, column 2: -1e+06 does not fit f16");
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	embstore_writer_free(w);
	cr_expect_eq(access(path, F_OK), -1);

	/* 65520 rounds up to infinity in f16: also out of range; infinity itself is kept as it is */
	float edge[3] = {65519.0f, INFINITY, -65520.0f};
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "half", EMBSTORE_F16, 1, 3), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append(w, edge, EMBSTORE_F32, 1, 0), EMBSTORE_RANGE);
	cr_expect(strstr(embstore_error_detail(), "column 2"), "%s", embstore_error_detail());
	embstore_writer_free(w);

	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_saturate(w, 1), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "half", EMBSTORE_F16, 3, 3), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 2, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, edge, EMBSTORE_F32, 1, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	cr_expect_eq(stored(path, 1, 2), -65504.0f);
	cr_expect_eq(stored(path, 0, 1), 65504.0f);
	cr_expect_eq(stored(path, 2, 0), 65504.0f);
	cr_expect(isinf(stored(path, 2, 1)));
	cr_expect_eq(stored(path, 2, 2), -65504.0f);
	free(path);
}

Test(import, bf16_overflow_and_int8_detail)
{
	float big[2] = {FLT_MAX, 1.0f};
	char *path = tu_path("b.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "b", EMBSTORE_BF16, 1, 2), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append(w, big, EMBSTORE_F32, 1, 0), EMBSTORE_RANGE);
	cr_expect(strstr(embstore_error_detail(), "row 0, column 0") && strstr(embstore_error_detail(), "bf16"), "%s",
	          embstore_error_detail());
	embstore_writer_free(w);

	float nan_row[3] = {1.0f, NAN, 2.0f};
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "q", EMBSTORE_INT8_ROWWISE, 1, 3), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append(w, nan_row, EMBSTORE_F32, 1, 0), EMBSTORE_NON_FINITE);
	cr_expect(strstr(embstore_error_detail(), "table 'q', row 0, column 1: int8 cannot quantise nan"), "%s",
	          embstore_error_detail());
	embstore_writer_free(w);
	free(path);
}
