/* format.c: validation of a whole embstore file, rule by rule as docs/FORMAT.md states them. Nothing read from
 * the file is used before it is checked; the order of checks is the order of trust (LMDB mdb_env_read_header:
 * magic, version, sizes, checksum, then the contents the checksum vouches for). */
#include <stdlib.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: no allocation to fail */
#include <xxhash.h>

#include "format.h"

uint64_t es_header_checksum(const uint8_t *superblock, const uint8_t *dir, uint64_t dir_size)
{
	XXH3_state_t st;
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, superblock, ES_SB_CHECKSUM);
	XXH3_64bits_update(&st, dir, (size_t)dir_size);
	return XXH3_64bits_digest(&st);
}

uint64_t es_chunk_checksum(const uint8_t *base, const es_table *t, uint64_t k)
{
	uint64_t first = k * t->chunk_rows;
	uint64_t n = t->rows - first < t->chunk_rows ? t->rows - first : t->chunk_rows;
	return XXH3_64bits(base + t->data_offset + first * t->row_stride, (size_t)(n * t->row_stride));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Strings sit in the pool back to back, each followed by a zero byte; *cursor is where the next must start. */
static embstore_status take_string(const uint8_t *pool, uint64_t pool_size, uint64_t *cursor, uint32_t off,
                                   uint32_t len, uint32_t min_len, uint32_t max_len, const char **out)
{
	uint64_t end;
	ES_CHECK(off == *cursor, EMBSTORE_BAD_STRING);
	ES_CHECK(len >= min_len, EMBSTORE_BAD_STRING);
	ES_CHECK(len <= max_len, EMBSTORE_LIMIT);
	ES_CHECK(es_add_u64(off, len, &end) && end < pool_size, EMBSTORE_BAD_STRING);
	ES_CHECK(pool[end] == 0 && es_utf8_valid(pool + off, len), EMBSTORE_BAD_STRING);
	*cursor = end + 1;
	*out = (const char *)pool + off;
	return EMBSTORE_OK;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting finds duplicates in n log n: a crafted file with 65,536 names must not cost n^2 comparisons. */
static embstore_status check_unique(const char **names, uint32_t n)
{
	qsort(names, n, sizeof *names, cmp_str_ptr);
	for (uint32_t i = 1; i < n; i++)
		ES_CHECK(strcmp(names[i - 1], names[i]) != 0, EMBSTORE_DUPLICATE_NAME);
	return EMBSTORE_OK;
}

static embstore_status parse_superblock(const uint8_t *base, uint64_t len, es_layout *L, uint64_t *pool_size)
{
	if (len >= ES_MAGIC_LEN && memcmp(base, ES_MAGIC, ES_MAGIC_LEN) != 0)
		return EMBSTORE_BAD_MAGIC;
	ES_CHECK(len >= ES_SUPERBLOCK_SIZE, EMBSTORE_TRUNCATED);
	L->major = es_le16(base + ES_SB_VERSION_MAJOR);
	L->minor = es_le16(base + ES_SB_VERSION_MINOR);
	ES_CHECK(L->major == EMBSTORE_FORMAT_MAJOR, EMBSTORE_UNSUPPORTED_VERSION);
	ES_CHECK(es_le32(base + ES_SB_SUPERBLOCK_SIZE) == ES_SUPERBLOCK_SIZE, EMBSTORE_CORRUPT);
	ES_CHECK(es_le32(base + ES_SB_FLAGS) == 0, EMBSTORE_UNSUPPORTED_VERSION);
	if (L->minor == 0)
		ES_CHECK(all_zero(base + ES_SB_RESERVED, ES_SB_RESERVED_LEN), EMBSTORE_CORRUPT);

	L->file_size = es_le64(base + ES_SB_FILE_SIZE);
	ES_CHECK(L->file_size <= len, EMBSTORE_TRUNCATED);
	ES_CHECK(L->file_size == len, EMBSTORE_BAD_LAYOUT);

	L->alignment = es_le32(base + ES_SB_ALIGNMENT);
	ES_CHECK(es_is_pow2(L->alignment) && L->alignment >= ES_MIN_ALIGNMENT && L->alignment <= ES_MAX_ALIGNMENT,
	         EMBSTORE_CORRUPT);
	L->table_count = es_le32(base + ES_SB_TABLE_COUNT);
	L->meta_count = es_le32(base + ES_SB_META_COUNT);
	ES_CHECK(L->table_count <= ES_MAX_TABLES && L->meta_count <= ES_MAX_META, EMBSTORE_LIMIT);

	L->dir_offset = es_le64(base + ES_SB_DIR_OFFSET);
	L->dir_size = es_le64(base + ES_SB_DIR_SIZE);
	ES_CHECK(L->dir_size <= ES_MAX_DIR_SIZE, EMBSTORE_LIMIT);
	uint64_t dir_end;
	ES_CHECK(L->dir_offset >= ES_SUPERBLOCK_SIZE && L->dir_offset % ES_DIR_ALIGN == 0 &&
	             es_add_u64(L->dir_offset, L->dir_size, &dir_end) && dir_end == L->file_size,
	         EMBSTORE_BAD_LAYOUT);

	ES_CHECK(es_header_checksum(base, base + L->dir_offset, L->dir_size) == es_le64(base + ES_SB_CHECKSUM),
	         EMBSTORE_HEADER_CHECKSUM);

	/* From here on the directory is what the writer wrote (or what someone crafted with care): still check. */
	L->checksum_count = es_le64(base + ES_SB_CHECKSUM_COUNT);
	*pool_size = es_le32(base + ES_SB_POOL_SIZE);
	uint64_t need = (uint64_t)L->table_count * ES_TABLE_ENTRY_SIZE + (uint64_t)L->meta_count * ES_META_ENTRY_SIZE;
	uint64_t sums;
	ES_CHECK(es_mul_u64(L->checksum_count, 8, &sums) && es_add_u64(need, sums, &need) &&
	             es_add_u64(need, *pool_size, &need) && need == L->dir_size,
	         EMBSTORE_BAD_LAYOUT);
	return EMBSTORE_OK;
}

static embstore_status parse_table(const uint8_t *e, es_table *t)
{
	t->dtype = (embstore_dtype)es_le32(e + ES_TE_DTYPE);
	ES_CHECK(embstore_dtype_name(t->dtype) != NULL, EMBSTORE_BAD_DTYPE);
	ES_CHECK(es_le32(e + ES_TE_FLAGS) == 0, EMBSTORE_UNSUPPORTED_VERSION);
	t->rows = es_le64(e + ES_TE_ROWS);
	t->dim = es_le32(e + ES_TE_DIM);
	ES_CHECK(t->rows >= 1 && t->rows <= ES_MAX_ROWS && t->dim >= 1 && t->dim <= ES_MAX_DIM, EMBSTORE_LIMIT);
	t->chunk_rows = es_le32(e + ES_TE_CHUNK_ROWS);
	ES_CHECK(t->chunk_rows >= 1, EMBSTORE_CORRUPT);

	t->row_stride = es_le64(e + ES_TE_ROW_STRIDE);
	uint64_t elem = t->dtype == EMBSTORE_F32 ? 4 : t->dtype == EMBSTORE_INT8_ROWWISE ? 1 : 2;
	ES_CHECK(t->row_stride >= embstore_row_bytes(t->dtype, t->dim) && t->row_stride % elem == 0 &&
	             t->row_stride <= ES_MAX_ROW_STRIDE,
	         EMBSTORE_CORRUPT);
	t->data_offset = es_le64(e + ES_TE_DATA_OFFSET);
	t->data_size = es_le64(e + ES_TE_DATA_SIZE);
	uint64_t size;
	ES_CHECK(es_mul_u64(t->rows, t->row_stride, &size) && size == t->data_size, EMBSTORE_CORRUPT);
	t->chunk_first = es_le64(e + ES_TE_CHUNK_FIRST);
	t->chunk_count = es_le64(e + ES_TE_CHUNK_COUNT);
	/* rows <= 2^40, so rows + chunk_rows - 1 cannot wrap */
	ES_CHECK(t->chunk_count == (t->rows + t->chunk_rows - 1) / t->chunk_rows, EMBSTORE_CORRUPT);
	ES_CHECK(es_le64(e + ES_TE_VOCAB_OFFSET) == 0 && es_le64(e + ES_TE_VOCAB_SIZE) == 0, EMBSTORE_CORRUPT);
	return EMBSTORE_OK;
}

static embstore_status parse_directory(const uint8_t *base, es_layout *L, uint64_t pool_size,
                                       const char **names)
{
	const uint8_t *dir = base + L->dir_offset;
	const uint8_t *metas = dir + (uint64_t)L->table_count * ES_TABLE_ENTRY_SIZE;
	const uint8_t *sums = metas + (uint64_t)L->meta_count * ES_META_ENTRY_SIZE;
	const uint8_t *pool = sums + L->checksum_count * 8;
	uint64_t cursor = 0, end = ES_SUPERBLOCK_SIZE, chunks = 0;

	for (uint32_t i = 0; i < L->table_count; i++) {
		const uint8_t *e = dir + (uint64_t)i * ES_TABLE_ENTRY_SIZE;
		es_table *t = &L->tables[i];
		if (L->minor == 0)
			ES_CHECK(all_zero(e + ES_TE_RESERVED, ES_TE_RESERVED_LEN), EMBSTORE_CORRUPT);
		ES_TRY(take_string(pool, pool_size, &cursor, es_le32(e + ES_TE_NAME_OFFSET), es_le32(e + ES_TE_NAME_LENGTH),
		                   1, ES_MAX_NAME_LEN, &t->name));
		t->name_len = es_le32(e + ES_TE_NAME_LENGTH);
		names[i] = t->name;
		ES_TRY(parse_table(e, t));

		uint64_t expect;
		ES_CHECK(es_align_up(end, L->alignment, &expect) && t->data_offset == expect &&
		             es_add_u64(t->data_offset, t->data_size, &end) && end <= L->dir_offset,
		         EMBSTORE_BAD_LAYOUT);
		ES_CHECK(t->chunk_first == chunks && es_add_u64(chunks, t->chunk_count, &chunks), EMBSTORE_CORRUPT);
	}
	uint64_t dir_expect;
	ES_CHECK(es_align_up(end, ES_DIR_ALIGN, &dir_expect) && dir_expect == L->dir_offset, EMBSTORE_BAD_LAYOUT);
	ES_CHECK(chunks == L->checksum_count, EMBSTORE_CORRUPT);
	ES_TRY(check_unique(names, L->table_count));

	for (uint32_t i = 0; i < L->meta_count; i++) {
		const uint8_t *e = metas + (uint64_t)i * ES_META_ENTRY_SIZE;
		ES_TRY(take_string(pool, pool_size, &cursor, es_le32(e + 0), es_le32(e + 4), 1, ES_MAX_NAME_LEN,
		                   &L->meta[i].key));
		ES_TRY(take_string(pool, pool_size, &cursor, es_le32(e + 8), es_le32(e + 12), 0, ES_MAX_VALUE_LEN,
		                   &L->meta[i].value));
		names[i] = L->meta[i].key;
	}
	ES_CHECK(cursor == pool_size, EMBSTORE_BAD_STRING);
	ES_TRY(check_unique(names, L->meta_count));
	L->checksums = sums;
	return EMBSTORE_OK;
}

embstore_status es_layout_parse(const uint8_t *base, uint64_t len, es_layout *out)
{
	es_layout L = {0};
	uint64_t pool_size;
	ES_TRY(parse_superblock(base, len, &L, &pool_size));

	/* Counts are capped and the directory that holds their entries lies in the file, so these allocations are
	 * bounded by the file's own size. */
	uint32_t n_names = L.table_count > L.meta_count ? L.table_count : L.meta_count;
	L.tables = calloc(L.table_count ? L.table_count : 1, sizeof *L.tables);
	L.meta = calloc(L.meta_count ? L.meta_count : 1, sizeof *L.meta);
	const char **names = calloc(n_names ? n_names : 1, sizeof *names);
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (L.tables && L.meta && names)
		st = parse_directory(base, &L, pool_size, names);
	free(names);
	if (st != EMBSTORE_OK) {
		es_layout_free(&L);
		return st;
	}
	*out = L;
	return EMBSTORE_OK;
}

void es_layout_free(es_layout *L)
{
	free(L->tables);
	free(L->meta);
	L->tables = NULL;
	L->meta = NULL;
}
