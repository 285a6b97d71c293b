/* test_format.c: one crafted file per validation rule of docs/FORMAT.md, each refused with its status. The
 * mutations are resealed (header checksum recomputed) so that each reaches the rule it targets. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "format.h"
#include "testutil.h"

#include <string.h>

/* Every refusal also says which rule failed on which field (embstore_error_detail); `detail`, when not NULL,
 * is text it must contain. */
static void expect_status(uint8_t *b, size_t len, embstore_status want, int reseal, const char *detail)
{
	if (reseal)
		tu_reseal(b, len);
	embstore_status got = tu_open_status(b, len, 0);
	cr_expect_eq(got, want, "got %s, want %s", embstore_status_name(got), embstore_status_name(want));
	const char *said = embstore_error_detail();
	if (want == EMBSTORE_OK)
		cr_expect_str_eq(said, "");
	else
		cr_expect(said[0] != 0, "%s with no detail", embstore_status_name(got));
	if (detail)
		cr_expect(strstr(said, detail) != NULL, "detail '%s' lacks '%s'", said, detail);
}

/* RULE(name, status, mutation): the mutation sees `b` (the sample file), `len`, `t0`/`t1` (table entries),
 * `m0`/`m1` (metadata entries) and `pool`. */
#define RULE(name, status, ...) RULE_SAYING(name, status, NULL, __VA_ARGS__)
#define RULE_SAYING(name, status, detail, ...)                                                         \
	Test(format, name)                                                                                 \
	{                                                                                                  \
		size_t len;                                                                                    \
		uint8_t *b = tu_sample_store(&len);                                                            \
		uint8_t *t0 = tu_table_entry(b, 0), *t1 = tu_table_entry(b, 1);                                \
		uint8_t *m0 = tu_meta_entry(b, 0), *m1 = tu_meta_entry(b, 1), *pool = tu_pool(b);              \
		(void)t0, (void)t1, (void)m0, (void)m1, (void)pool;                                            \
		__VA_ARGS__;                                                                                   \
		expect_status(b, len, status, 1, detail);                                                      \
		free(b);                                                                                       \
	}

RULE(sample_is_valid, EMBSTORE_OK, (void)0)

/* Superblock. */
RULE(bad_magic, EMBSTORE_BAD_MAGIC, b[1] ^= 1)
RULE(major_too_new, EMBSTORE_UNSUPPORTED_VERSION, es_put16(b + ES_SB_VERSION_MAJOR, 2))
RULE(major_zero, EMBSTORE_UNSUPPORTED_VERSION, es_put16(b + ES_SB_VERSION_MAJOR, 0))
RULE(newer_minor_may_use_reserved, EMBSTORE_OK, es_put16(b + ES_SB_VERSION_MINOR, EMBSTORE_FORMAT_MINOR + 1); b[ES_SB_RESERVED + 3] = 7;
     t0[ES_TE_RESERVED] = 1)
RULE(minor0_reserved_nonzero, EMBSTORE_CORRUPT, b[ES_SB_RESERVED + 51] = 1)
RULE(superblock_size, EMBSTORE_CORRUPT, es_put32(b + ES_SB_SUPERBLOCK_SIZE, 64))
RULE(unknown_flag, EMBSTORE_UNSUPPORTED_VERSION, es_put32(b + ES_SB_FLAGS, 1u << 31))
RULE(file_size_larger_than_file, EMBSTORE_TRUNCATED, es_put64(b + ES_SB_FILE_SIZE, len + 1))
RULE_SAYING(chunk_count_says_both, EMBSTORE_CORRUPT, "table 'aa': chunk_count 4, but 10 rows in chunks of 2 make 5",
            es_put64(t0 + ES_TE_CHUNK_COUNT, 4))
RULE(file_size_smaller_than_file, EMBSTORE_BAD_LAYOUT, es_put64(b + ES_SB_FILE_SIZE, len - 1))
RULE_SAYING(alignment_not_pow2, EMBSTORE_CORRUPT, "data_alignment 4097 is not a power of two",
            es_put32(b + ES_SB_ALIGNMENT, 4097))
RULE(alignment_too_small, EMBSTORE_CORRUPT, es_put32(b + ES_SB_ALIGNMENT, 2048))
RULE(alignment_too_large, EMBSTORE_CORRUPT, es_put32(b + ES_SB_ALIGNMENT, 4u << 20))
RULE(alignment_zero, EMBSTORE_CORRUPT, es_put32(b + ES_SB_ALIGNMENT, 0))
RULE(alignment_not_met_by_data, EMBSTORE_BAD_LAYOUT, es_put32(b + ES_SB_ALIGNMENT, 8192))
RULE(table_count_cap, EMBSTORE_LIMIT, es_put32(b + ES_SB_TABLE_COUNT, ES_MAX_TABLES + 1))
RULE(meta_count_cap, EMBSTORE_LIMIT, es_put32(b + ES_SB_META_COUNT, 0xFFFFFFFFu))
RULE(directory_cap, EMBSTORE_LIMIT, es_put64(b + ES_SB_DIR_SIZE, ES_MAX_DIR_SIZE + 1))
RULE(directory_misaligned, EMBSTORE_BAD_LAYOUT,
     es_put64(b + ES_SB_DIR_OFFSET, es_le64(b + ES_SB_DIR_OFFSET) + 1);
     es_put64(b + ES_SB_DIR_SIZE, es_le64(b + ES_SB_DIR_SIZE) - 1))
RULE(directory_offset_wraps, EMBSTORE_BAD_LAYOUT, es_put64(b + ES_SB_DIR_OFFSET, UINT64_MAX - 7))
RULE(directory_inside_superblock, EMBSTORE_BAD_LAYOUT, es_put64(b + ES_SB_DIR_OFFSET, 64);
     es_put64(b + ES_SB_DIR_SIZE, len - 64))
RULE(directory_short_of_file_end, EMBSTORE_BAD_LAYOUT, es_put64(b + ES_SB_DIR_SIZE, es_le64(b + ES_SB_DIR_SIZE) - 8))
RULE(checksum_count_vs_directory, EMBSTORE_BAD_LAYOUT,
     es_put64(b + ES_SB_CHECKSUM_COUNT, es_le64(b + ES_SB_CHECKSUM_COUNT) + 1))
RULE(checksum_count_overflows, EMBSTORE_BAD_LAYOUT, es_put64(b + ES_SB_CHECKSUM_COUNT, 1ull << 61))
RULE(pool_size_vs_directory, EMBSTORE_BAD_LAYOUT, es_put32(b + ES_SB_POOL_SIZE, es_le32(b + ES_SB_POOL_SIZE) + 1))
RULE(counts_vs_directory, EMBSTORE_BAD_LAYOUT, es_put32(b + ES_SB_TABLE_COUNT, 3))

/* Table entries. */
RULE(table_reserved_nonzero, EMBSTORE_CORRUPT, t1[ES_TE_RESERVED + ES_TE_RESERVED_LEN - 1] = 1)
RULE(dtype_zero, EMBSTORE_BAD_DTYPE, es_put32(t0 + ES_TE_DTYPE, 0))
RULE_SAYING(dtype_unknown, EMBSTORE_BAD_DTYPE, "table 'ab': dtype code 5", es_put32(t1 + ES_TE_DTYPE, 5))
RULE(dtype_huge, EMBSTORE_BAD_DTYPE, es_put32(t1 + ES_TE_DTYPE, 0xFFFFFFFFu))
RULE(table_flag, EMBSTORE_UNSUPPORTED_VERSION, es_put32(t0 + ES_TE_FLAGS, 2))
RULE(rows_zero, EMBSTORE_LIMIT, es_put64(t0 + ES_TE_ROWS, 0))
RULE(rows_cap, EMBSTORE_LIMIT, es_put64(t0 + ES_TE_ROWS, ES_MAX_ROWS + 1))
RULE(dim_zero, EMBSTORE_LIMIT, es_put32(t0 + ES_TE_DIM, 0))
RULE(dim_cap, EMBSTORE_LIMIT, es_put32(t0 + ES_TE_DIM, ES_MAX_DIM + 1))
RULE(chunk_rows_zero, EMBSTORE_CORRUPT, es_put32(t0 + ES_TE_CHUNK_ROWS, 0))
RULE(stride_below_row, EMBSTORE_CORRUPT, es_put64(t0 + ES_TE_ROW_STRIDE, 11))
RULE_SAYING(stride_misaligned_f32, EMBSTORE_CORRUPT, "table 'aa': row_stride 14 does not fit 3 f32 elements",
            es_put64(t0 + ES_TE_ROW_STRIDE, 14))
RULE(stride_cap, EMBSTORE_CORRUPT, es_put64(t0 + ES_TE_ROW_STRIDE, ES_MAX_ROW_STRIDE + 4))
RULE(data_size_not_rows_times_stride, EMBSTORE_CORRUPT, es_put64(t0 + ES_TE_DATA_SIZE, 121))
RULE(rows_times_stride_overflows, EMBSTORE_CORRUPT, es_put64(t0 + ES_TE_ROWS, ES_MAX_ROWS);
     es_put64(t0 + ES_TE_ROW_STRIDE, ES_MAX_ROW_STRIDE))
RULE(chunk_count_wrong, EMBSTORE_CORRUPT, es_put64(t0 + ES_TE_CHUNK_COUNT, 4))
RULE(chunk_first_wrong, EMBSTORE_CORRUPT, es_put64(t1 + ES_TE_CHUNK_FIRST, 4))
RULE(chunk_total_vs_superblock, EMBSTORE_CORRUPT, es_put32(t1 + ES_TE_CHUNK_ROWS, 1);
     es_put64(t1 + ES_TE_CHUNK_COUNT, 5))
RULE(vocab_reserved, EMBSTORE_CORRUPT, es_put64(t0 + ES_TE_VOCAB_SIZE, 16))

/* Layout: no overlap, no gap, nothing outside the file. */
RULE(data_overlaps_previous, EMBSTORE_BAD_LAYOUT, es_put64(t1 + ES_TE_DATA_OFFSET, 4096))
RULE(data_after_gap, EMBSTORE_BAD_LAYOUT, es_put64(t1 + ES_TE_DATA_OFFSET, 12288))
RULE_SAYING(data_misaligned, EMBSTORE_BAD_LAYOUT, "table 'aa': data_offset 4100; the data must start at 4096",
            es_put64(t0 + ES_TE_DATA_OFFSET, 4100))
RULE(data_inside_superblock, EMBSTORE_BAD_LAYOUT, es_put64(t0 + ES_TE_DATA_OFFSET, 0))
RULE(data_runs_into_directory, EMBSTORE_BAD_LAYOUT, es_put64(t1 + ES_TE_ROWS, 20);
     es_put64(t1 + ES_TE_DATA_SIZE, 240); es_put64(t1 + ES_TE_CHUNK_COUNT, 10))
RULE(data_offset_wraps, EMBSTORE_BAD_LAYOUT, es_put64(t1 + ES_TE_DATA_OFFSET, UINT64_MAX - 4095))

/* Strings. */
RULE(name_offset_not_in_order, EMBSTORE_BAD_STRING, es_put32(t0 + ES_TE_NAME_OFFSET, 1))
RULE(name_empty, EMBSTORE_BAD_STRING, es_put32(t0 + ES_TE_NAME_LENGTH, 0))
RULE(name_cap, EMBSTORE_LIMIT, es_put32(t0 + ES_TE_NAME_LENGTH, ES_MAX_NAME_LEN + 1))
RULE(name_past_pool, EMBSTORE_BAD_STRING, es_put32(t0 + ES_TE_NAME_LENGTH, 1000))
RULE(name_length_wraps, EMBSTORE_BAD_STRING, es_put32(t1 + ES_TE_NAME_OFFSET, 0xFFFFFFFFu))
RULE(name_not_terminated, EMBSTORE_BAD_STRING, pool[2] = 'x')
RULE_SAYING(name_invalid_utf8, EMBSTORE_BAD_STRING, "table name #0 is not valid UTF-8", pool[0] = 0xFF)
RULE(name_overlong_utf8, EMBSTORE_BAD_STRING, pool[0] = 0xC0; pool[1] = 0x80)
RULE(name_surrogate_utf8, EMBSTORE_BAD_STRING, es_put32(t0 + ES_TE_NAME_LENGTH, 3);
     es_put32(t1 + ES_TE_NAME_OFFSET, 4); pool[0] = 0xED; pool[1] = 0xA0; pool[2] = 0x80; pool[3] = 0)
RULE(name_truncated_utf8, EMBSTORE_BAD_STRING, pool[1] = 0xC3)
RULE(name_with_zero_byte, EMBSTORE_BAD_STRING, pool[0] = 0)
RULE_SAYING(duplicate_table_names, EMBSTORE_DUPLICATE_NAME, "table name 'aa' appears twice", pool[4] = 'a')
RULE(duplicate_meta_keys, EMBSTORE_DUPLICATE_NAME, pool[13] = '1')
RULE(meta_key_empty, EMBSTORE_BAD_STRING, es_put32(m0 + 4, 0))
RULE(meta_value_cap, EMBSTORE_LIMIT, es_put32(m1 + 12, ES_MAX_VALUE_LEN + 1))
RULE(meta_value_out_of_order, EMBSTORE_BAD_STRING, es_put32(m1 + 8, 0))
RULE(pool_has_trailing_bytes, EMBSTORE_BAD_STRING, es_put32(m1 + 12, 0); pool[15] = 0)

Test(format, checksum_of_superblock_is_checked)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	b[ES_SB_CHECKSUM] ^= 0x10;
	expect_status(b, len, EMBSTORE_HEADER_CHECKSUM, 0, NULL);
	free(b);
}

Test(format, checksum_covers_directory)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	uint64_t end = tu_dir_offset(b) + es_le64(b + ES_SB_DIR_SIZE);
	for (size_t i = tu_dir_offset(b); i < end; i++) {
		b[i] ^= 1;
		expect_status(b, len, EMBSTORE_HEADER_CHECKSUM, 0, NULL);
		b[i] ^= 1;
	}
	free(b);
}

/* Two checksum slots follow the directory (1.1): any damage to one leaves the other in charge; damage to both is
 * refused, and the padding before them must be zero. */
Test(format, checksum_slots)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	cr_assert(es_le32(b + ES_SB_FLAGS) & ES_FLAG_SUM_SLOTS);
	uint64_t count = es_le64(b + ES_SB_CHECKSUM_COUNT), slot = es_slot_size(count);
	uint64_t dir_end = tu_dir_offset(b) + es_le64(b + ES_SB_DIR_SIZE), slot0 = len - 2 * slot;
	cr_assert_eq(slot0, (dir_end + 7) / 8 * 8);
	cr_assert(slot0 > dir_end, "the sample has padding before its slots, which the last loop damages");
	cr_assert_eq(es_le64(b + slot0), 1, "the builder writes generation 1 into slot 0");
	cr_assert_eq(es_le64(b + slot0 + slot), 0);
	for (size_t i = (size_t)slot0; i < len; i++) {
		b[i] ^= 0x10;
		expect_status(b, len, EMBSTORE_OK, 0, NULL);
		size_t j = i < slot0 + slot ? i + slot : i - slot; /* the same byte of the other slot */
		b[j] ^= 0x10;
		expect_status(b, len, EMBSTORE_HEADER_CHECKSUM, 0, "neither checksum slot is intact");
		b[i] ^= 0x10;
		b[j] ^= 0x10;
	}
	for (size_t i = (size_t)dir_end; i < slot0; i++) {
		b[i] = 1;
		expect_status(b, len, EMBSTORE_CORRUPT, 0, "padding between the directory and the checksum slots");
		b[i] = 0;
	}
	free(b);
}

Test(format, truncated_at_every_length)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	for (size_t n = 0; n < len; n++) {
		embstore_status st = tu_open_status(b, n, 0);
		cr_assert_eq(st, EMBSTORE_TRUNCATED, "length %zu: %s", n, embstore_status_name(st));
	}
	free(b);
}

Test(format, trailing_byte)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	b = realloc(b, len + 1);
	b[len] = 0;
	expect_status(b, len + 1, EMBSTORE_BAD_LAYOUT, 0, NULL);
	free(b);
}

Test(format, short_garbage)
{
	expect_status((uint8_t *)"garbage!", 8, EMBSTORE_BAD_MAGIC, 0, NULL);
	expect_status((uint8_t *)"\x89" "EMB", 4, EMBSTORE_TRUNCATED, 0, NULL);
}
