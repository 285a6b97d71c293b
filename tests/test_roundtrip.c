/* test_roundtrip.c: what the writer converts and writes, the reader returns, for every dtype and source. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#define ROWS 300
#define DIM 37

static float src[ROWS * DIM];

static void fill_src(void)
{
	uint64_t s = 7;
	for (size_t i = 0; i < ROWS * DIM; i++)
		src[i] = tu_randf(&s) * 100.0f;
}

/* The bytes row r must have in a table of `dtype` built from `src`. */
static void expected_row(embstore_dtype dtype, const float *x, uint8_t *out)
{
	for (uint32_t j = 0; j < DIM; j++) {
		uint16_t h = dtype == EMBSTORE_F16 ? embstore_f32_to_f16(x[j]) : embstore_f32_to_bf16(x[j]);
		if (dtype == EMBSTORE_F32)
			memcpy(out + 4 * j, &x[j], 4);
		else if (dtype != EMBSTORE_INT8_ROWWISE)
			memcpy(out + 2 * j, &h, 2);
	}
	if (dtype == EMBSTORE_INT8_ROWWISE)
		cr_assert_eq(embstore_quantize_row_int8(x, DIM, out), EMBSTORE_OK);
}

Test(roundtrip, every_dtype_in_odd_batches, .init = fill_src)
{
	char *path = tu_path("rt.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_chunk_bytes(w, 1000), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_add_meta(w, "licence", "CC0 \xc3\xa9t\xc3\xa9"), EMBSTORE_OK);
	for (int d = EMBSTORE_F32; d <= EMBSTORE_INT8_ROWWISE; d++) {
		/* f16 declares its rows; the others leave the count open */
		cr_assert_eq(embstore_writer_begin_table(w, embstore_dtype_name((embstore_dtype)d), (embstore_dtype)d,
		                                         d == EMBSTORE_F16 ? ROWS : 0, DIM),
		             EMBSTORE_OK);
		for (uint64_t done = 0, k = 1; done < ROWS; done += k, k = k * 2 + 1) {
			if (k > ROWS - done)
				k = ROWS - done;
			cr_assert_eq(embstore_writer_append(w, src + done * DIM, EMBSTORE_F32, k, 0), EMBSTORE_OK);
		}
	}
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);

	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY | EMBSTORE_ADVISE_RANDOM, &s), EMBSTORE_OK);
	embstore_info info;
	embstore_get_info(s, &info);
	cr_expect_eq(info.table_count, 4);
	cr_expect_eq(info.format_major, 1);
	cr_expect_str_eq(embstore_meta_get(s, "licence"), "CC0 \xc3\xa9t\xc3\xa9");
	cr_expect_null(embstore_meta_get(s, "nope"));
	for (int d = EMBSTORE_F32; d <= EMBSTORE_INT8_ROWWISE; d++) {
		embstore_table t;
		cr_assert_eq(embstore_table_find(s, embstore_dtype_name((embstore_dtype)d), &t), EMBSTORE_OK);
		cr_assert_eq(t.matrix.dtype, d);
		cr_assert_eq(t.matrix.rows, ROWS);
		cr_assert_eq(t.matrix.dim, DIM);
		cr_assert_eq(t.data_offset % 4096, 0);
		uint8_t want[DIM * 4 + 8];
		for (uint64_t r = 0; r < ROWS; r++) {
			expected_row((embstore_dtype)d, src + r * DIM, want);
			cr_assert_eq(memcmp((uint8_t *)t.matrix.data + r * t.matrix.row_stride, want, t.matrix.row_stride), 0,
			             "dtype %d row %lu", d, (unsigned long)r);
		}
		/* and through the gather kernel, dequantised */
		int64_t ids[3] = {0, ROWS - 1, 5};
		float out[3 * DIM];
		size_t bad = 99;
		cr_assert_eq(embstore_gather(&t.matrix, ids, EMBSTORE_ID64, 3, out, &bad), EMBSTORE_OK);
		for (int i = 0; i < 3; i++) {
			const float *x = src + ids[i] * DIM;
			for (uint32_t j = 0; j < DIM; j++) {
				float v = out[i * DIM + j];
				float e;
				if (d == EMBSTORE_INT8_ROWWISE) {
					const uint8_t *row = (const uint8_t *)t.matrix.data + ids[i] * t.matrix.row_stride;
					float sb[2];
					memcpy(sb, row + DIM, 8);
					e = (float)row[j] * sb[0] + sb[1];
					cr_assert(fabsf(v - e) <= 1e-5f * fabsf(e) + 1e-6f, "int8 id %ld col %u", (long)ids[i], j);
					cr_assert(fabsf(v - x[j]) <= sb[0] * 0.5f + 1e-4f);
					continue;
				}
				e = d == EMBSTORE_F32   ? x[j]
				    : d == EMBSTORE_F16 ? embstore_f16_to_f32(embstore_f32_to_f16(x[j]))
				                        : embstore_bf16_to_f32(embstore_f32_to_bf16(x[j]));
				cr_assert_eq(v, e, "dtype %d id %ld col %u", d, (long)ids[i], j);
			}
		}
	}
	embstore_table t;
	cr_expect_eq(embstore_table_find(s, "missing", &t), EMBSTORE_NOT_FOUND);
	cr_expect_eq(embstore_table_at(s, 4, &t), EMBSTORE_INVALID_ARGUMENT);
	const char *k, *v;
	cr_assert_eq(embstore_meta_at(s, 0, &k, &v), EMBSTORE_OK);
	cr_expect_str_eq(k, "licence");
	embstore_close(s);
	free(path);
}

Test(roundtrip, half_sources_widen_exactly, .init = fill_src)
{
	uint16_t h[ROWS * DIM], b[ROWS * DIM];
	for (size_t i = 0; i < ROWS * DIM; i++) {
		h[i] = embstore_f32_to_f16(src[i]);
		b[i] = embstore_f32_to_bf16(src[i]);
	}
	char *path = tu_path("half.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "from_f16", EMBSTORE_F32, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, h, EMBSTORE_F16, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "f16_copy", EMBSTORE_F16, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, h, EMBSTORE_F16, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "from_bf16_strided", EMBSTORE_F32, ROWS / 2, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, b, EMBSTORE_BF16, ROWS / 2, 2 * DIM * 2), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);

	embstore *s;
	embstore_table t0, t1, t2;
	cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK);
	cr_assert_eq(embstore_table_at(s, 0, &t0), EMBSTORE_OK);
	cr_assert_eq(embstore_table_at(s, 1, &t1), EMBSTORE_OK);
	cr_assert_eq(embstore_table_at(s, 2, &t2), EMBSTORE_OK);
	const float *f0 = t0.matrix.data, *f2 = t2.matrix.data;
	for (size_t i = 0; i < ROWS * DIM; i++)
		cr_assert_eq(f0[i], embstore_f16_to_f32(h[i]));
	cr_assert_eq(memcmp(t1.matrix.data, h, sizeof h), 0);
	for (size_t r = 0; r < ROWS / 2; r++)
		for (size_t j = 0; j < DIM; j++)
			cr_assert_eq(f2[r * DIM + j], embstore_bf16_to_f32(b[2 * r * DIM + j]));
	embstore_close(s);
	free(path);
}

Test(roundtrip, writer_state_rules, .init = fill_src)
{
	char *path = tu_path("state.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append(w, src, EMBSTORE_F32, 1, 0), EMBSTORE_STATE); /* no table yet */
	cr_expect_eq(embstore_writer_begin_table(w, "", EMBSTORE_F32, 1, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_begin_table(w, "\xff", EMBSTORE_F32, 1, 1), EMBSTORE_BAD_STRING);
	cr_expect_eq(embstore_writer_begin_table(w, "x", (embstore_dtype)7, 1, 1), EMBSTORE_BAD_DTYPE);
	cr_expect_eq(embstore_writer_begin_table(w, "x", EMBSTORE_F32, 1, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_begin_table(w, "x", EMBSTORE_F32, 1, (1u << 20) + 1), EMBSTORE_LIMIT);
	cr_expect_eq(embstore_writer_add_meta(w, "k", "v"), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_add_meta(w, "k", "w"), EMBSTORE_DUPLICATE_NAME);
	cr_expect_eq(embstore_writer_set_alignment(w, 3000), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_set_alignment(w, 1u << 21), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "x", EMBSTORE_F32, 4, DIM), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_set_alignment(w, 4096), EMBSTORE_STATE);
	cr_expect_eq(embstore_writer_begin_table(w, "x", EMBSTORE_F32, 4, DIM), EMBSTORE_DUPLICATE_NAME);
	cr_assert_eq(embstore_writer_append(w, src, EMBSTORE_F32, 3, 0), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_begin_table(w, "y", EMBSTORE_F32, 4, DIM), EMBSTORE_STATE); /* x is short */
	cr_expect_eq(embstore_writer_append(w, src, EMBSTORE_F32, 2, 0), EMBSTORE_STATE);        /* too many */
	cr_expect_eq(embstore_writer_append(w, src, EMBSTORE_INT8_ROWWISE, 1, 0), EMBSTORE_BAD_DTYPE);
	cr_assert_eq(embstore_writer_append(w, src + 3 * DIM, EMBSTORE_F32, 1, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	embstore_writer_free(w);

	embstore *s;
	embstore_table t;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	cr_assert_eq(embstore_table_at(s, 0, &t), EMBSTORE_OK);
	cr_expect_eq(t.data_offset, 1u << 21);
	cr_expect_eq(memcmp(t.matrix.data, src, 4 * DIM * sizeof(float)), 0);
	embstore_close(s);
	free(path);
}

Test(roundtrip, empty_store_and_open_flags, .timeout = 30)
{
	char *path = tu_path("empty.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	embstore_info info;
	embstore_get_info(s, &info);
	cr_expect_eq(info.table_count, 0);
	cr_expect_eq(info.file_size, 128 + 2 * 32); /* superblock, empty directory, two empty checksum slots */
	embstore_close(s);
	cr_expect_eq(embstore_open(path, 1u << 30, &s), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open(path, EMBSTORE_ADVISE_RANDOM | EMBSTORE_ADVISE_WILLNEED, &s),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open(tu_tmpdir(), 0, &s), EMBSTORE_IO);
	cr_expect_eq(embstore_open("/nonexistent/x.emb", 0, &s), EMBSTORE_IO);
	char *fifo = tu_path("fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_expect_eq(embstore_open(fifo, 0, &s), EMBSTORE_IO); /* refused, and without blocking */
	cr_expect_str_eq(embstore_error_detail(), "not a regular file");
	free(fifo);
	embstore_close(NULL);
	embstore_writer_free(NULL);
	free(path);
}
