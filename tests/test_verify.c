/* test_verify.c: verify finds every flipped bit in table data and names the right rows; padding and int8
 * scale / bias are checked too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "testutil.h"

typedef struct seen {
	int n;
	embstore_problem last;
} seen;

static int record(void *ctx, const embstore_problem *p)
{
	seen *s = ctx;
	s->n++;
	s->last = *p;
	return 0;
}

static embstore_status verify_bytes(const uint8_t *b, size_t len, seen *out)
{
	embstore *s;
	embstore_status st = embstore_open_memory(b, len, 0, &s);
	cr_assert_eq(st, EMBSTORE_OK, "open: %s", embstore_status_name(st));
	*out = (seen){0};
	st = embstore_verify(s, record, out);
	embstore_close(s);
	return st;
}

Test(verify, intact_sample)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	seen s;
	cr_expect_eq(verify_bytes(b, len, &s), EMBSTORE_OK);
	cr_expect_eq(s.n, 0);
	free(b);
}

Test(verify, every_bit_flip_in_data_names_its_rows)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	for (uint32_t ti = 0; ti < 2; ti++) {
		const uint8_t *e = tu_table_entry(b, ti);
		uint64_t off = es_le64(e + ES_TE_DATA_OFFSET), size = es_le64(e + ES_TE_DATA_SIZE);
		uint64_t stride = es_le64(e + ES_TE_ROW_STRIDE), chunk = es_le32(e + ES_TE_CHUNK_ROWS);
		uint64_t rows = es_le64(e + ES_TE_ROWS);
		for (uint64_t i = 0; i < size; i++) {
			for (int bit = 0; bit < 8; bit += 3) {
				b[off + i] ^= (uint8_t)(1u << bit);
				seen s;
				cr_assert_eq(verify_bytes(b, len, &s), EMBSTORE_DATA_CHECKSUM, "table %u byte %lu", ti,
				             (unsigned long)i);
				uint64_t row = i / stride, first = row / chunk * chunk;
				uint64_t count = rows - first < chunk ? rows - first : chunk;
				cr_assert_eq(s.n, 1);
				cr_assert_eq(s.last.table_index, ti);
				cr_assert_eq(s.last.status, EMBSTORE_DATA_CHECKSUM);
				cr_assert_eq(s.last.first_row, first);
				cr_assert_eq(s.last.row_count, count);
				b[off + i] ^= (uint8_t)(1u << bit);
			}
		}
	}
	free(b);
}

Test(verify, open_verify_flag_checks_data)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	b[4096 + 5] ^= 0x40;
	embstore *s = NULL;
	cr_expect_eq(embstore_open_memory(b, len, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_DATA_CHECKSUM);
	cr_expect_null(s);
	cr_expect_eq(embstore_open_memory(b, len, 0, &s), EMBSTORE_OK); /* open alone never reads data */
	embstore_close(s);
	free(b);
}

Test(verify, nonzero_padding)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	uint64_t pads[] = {128, 4095, 4096 + 120, 8191, 8192 + 60};
	for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++) {
		b[pads[i]] = 1;
		seen s;
		cr_expect_eq(verify_bytes(b, len, &s), EMBSTORE_CORRUPT, "padding byte %lu", (unsigned long)pads[i]);
		cr_expect_eq(s.n, 1);
		b[pads[i]] = 0;
	}
	free(b);
}

Test(verify, int8_scale_must_be_finite)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	uint8_t *e = tu_table_entry(b, 1);
	uint64_t off = es_le64(e + ES_TE_DATA_OFFSET);
	float nan = NAN;
	memcpy(b + off + 3 * 12 + 4, &nan, 4); /* row 3's scale */
	/* reseal the chunk checksum so that only the value is wrong */
	es_table t = {.rows = 5, .chunk_rows = 2, .row_stride = 12, .data_offset = off};
	tu_set_chunk_sum(b, len, 5 + 1, es_chunk_checksum(b, &t, 1));
	seen s;
	cr_expect_eq(verify_bytes(b, len, &s), EMBSTORE_NON_FINITE);
	cr_expect_eq(s.n, 1);
	cr_expect_eq(s.last.table_index, 1);
	cr_expect_eq(s.last.first_row, 3);
	cr_expect_eq(s.last.row_count, 1);
	free(b);
}

static int stop_at_first(void *ctx, const embstore_problem *p)
{
	(void)p;
	++*(int *)ctx;
	return 1;
}

Test(verify, callback_can_stop)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	b[4096] ^= 1;
	b[4096 + 100] ^= 1;
	embstore *s;
	cr_assert_eq(embstore_open_memory(b, len, 0, &s), EMBSTORE_OK);
	int calls = 0;
	cr_expect_eq(embstore_verify(s, stop_at_first, &calls), EMBSTORE_DATA_CHECKSUM);
	cr_expect_eq(calls, 1);
	embstore_close(s);
	free(b);
}

/* Stores opened from a file are verified with pread in 1 MiB pieces: chunks larger than that, corruption in
 * any piece, and int8 rows past the first piece must all come out right. */
Test(verify, file_reads_in_pieces)
{
	enum { DIM = 1000, ROWS = 9000 }; /* int8 stride 1008: a 4 MiB chunk spans several reads */
	char *path = tu_path("pieces.emb");
	float *rows = malloc(sizeof(float) * DIM * 64);
	uint64_t s = 3;
	for (size_t i = 0; i < (size_t)DIM * 64; i++)
		rows[i] = tu_randf(&s);
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_chunk_bytes(w, 4u << 20), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "q", EMBSTORE_INT8_ROWWISE, ROWS, DIM), EMBSTORE_OK);
	for (int r = 0; r < ROWS; r += 60)
		cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 60, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	free(rows);

	size_t len;
	uint8_t *b = tu_read_file(path, &len);
	embstore *st;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &st), EMBSTORE_OK);
	embstore_table t;
	cr_assert_eq(embstore_table_at(st, 0, &t), EMBSTORE_OK);
	uint64_t off = t.data_offset, chunk = t.chunk_rows, stride = t.matrix.row_stride;
	cr_assert_gt(chunk * stride, 3u << 20);
	embstore_close(st);

	/* a flipped byte deep inside the second chunk */
	uint64_t row = chunk + chunk / 2 + 7;
	b[off + row * stride + 11] ^= 0x20;
	tu_write_file(path, b, len);
	seen got = {0};
	cr_assert_eq(embstore_open(path, 0, &st), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(st, record, &got), EMBSTORE_DATA_CHECKSUM);
	cr_expect_eq(got.n, 1);
	cr_expect_eq(got.last.first_row, chunk);
	cr_expect_eq(got.last.row_count, chunk);
	embstore_close(st);
	b[off + row * stride + 11] ^= 0x20;

	/* an infinite scale in that row, with the chunk checksum made to match */
	float inf = INFINITY;
	memcpy(b + off + row * stride + DIM, &inf, 4);
	es_table et = {.rows = ROWS, .chunk_rows = chunk, .row_stride = stride, .data_offset = off};
	tu_set_chunk_sum(b, len, 1, es_chunk_checksum(b, &et, 1));
	tu_write_file(path, b, len);
	got = (seen){0};
	cr_assert_eq(embstore_open(path, 0, &st), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(st, record, &got), EMBSTORE_NON_FINITE);
	cr_expect_eq(got.n, 1);
	cr_expect_eq(got.last.first_row, row);
	cr_expect_eq(got.last.row_count, 1);
	embstore_close(st);
	free(b);
	free(path);
}
