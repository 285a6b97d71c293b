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
	uint64_t first, n;
	es_chunk_span(t, k, &first, &n);
	return XXH3_64bits(base + t->data_offset + first * t->row_stride, (size_t)(n * t->row_stride));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Strings sit in the pool back to back, each followed by a zero byte; *cursor is where the next must start.
 * `what` and `index` name the string in messages ("table", 3 -> "table #3 name"). */
static embstore_status take_string(const uint8_t *pool, uint64_t pool_size, uint64_t *cursor, uint32_t off,
                                   uint32_t len, uint32_t min_len, uint32_t max_len, const char *what,
                                   uint32_t index, const char **out)
{
	uint64_t end;
	ES_CHECKF(off == *cursor, EMBSTORE_BAD_STRING, "%s #%u: offset %u, but the previous string ends at %llu", what,
	          index, off, (unsigned long long)*cursor);
	ES_CHECKF(len >= min_len, EMBSTORE_BAD_STRING, "%s #%u is empty", what, index);
	ES_CHECKF(len <= max_len, EMBSTORE_LIMIT, "%s #%u: length %u is over the cap of %u", what, index, len, max_len);
	ES_CHECKF(es_add_u64(off, len, &end) && end < pool_size, EMBSTORE_BAD_STRING,
	          "%s #%u: bytes %u..%llu and its zero byte are not inside the %llu-byte string pool", what, index, off,
	          (unsigned long long)off + len, (unsigned long long)pool_size);
	ES_CHECKF(pool[end] == 0, EMBSTORE_BAD_STRING, "%s #%u is not followed by a zero byte", what, index);
	ES_CHECKF(es_utf8_valid(pool + off, len), EMBSTORE_BAD_STRING, "%s #%u is not valid UTF-8 (or holds a zero byte)",
	          what, index);
	*cursor = end + 1;
	*out = (const char *)pool + off;
	return EMBSTORE_OK;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting finds duplicates in n log n: a crafted file with 65,536 names must not cost n^2 comparisons. */
static embstore_status check_unique(const char **names, uint32_t n, const char *what)
{
	qsort(names, n, sizeof *names, cmp_str_ptr);
	for (uint32_t i = 1; i < n; i++)
		ES_CHECKF(strcmp(names[i - 1], names[i]) != 0, EMBSTORE_DUPLICATE_NAME, "%s '%.100s' appears twice", what,
		          names[i]);
	return EMBSTORE_OK;
}

static embstore_status parse_superblock(const uint8_t *base, uint64_t len, int mode, es_layout *L,
                                        uint64_t *pool_size)
{
	ES_CHECKF(len < ES_MAGIC_LEN || memcmp(base, ES_MAGIC, ES_MAGIC_LEN) == 0, EMBSTORE_BAD_MAGIC,
	          "the first 8 bytes are not \\x89EMB\\r\\n\\x1a\\n");
	ES_CHECKF(len >= ES_SUPERBLOCK_SIZE, EMBSTORE_TRUNCATED, "file is %llu bytes; the superblock alone is %u",
	          (unsigned long long)len, ES_SUPERBLOCK_SIZE);
	L->major = es_le16(base + ES_SB_VERSION_MAJOR);
	L->minor = es_le16(base + ES_SB_VERSION_MINOR);
	ES_CHECKF(L->major == EMBSTORE_FORMAT_MAJOR, EMBSTORE_UNSUPPORTED_VERSION,
	          "format version %u.%u; this reader knows %u.x", L->major, L->minor, EMBSTORE_FORMAT_MAJOR);
	uint32_t sb_size = es_le32(base + ES_SB_SUPERBLOCK_SIZE), flags = es_le32(base + ES_SB_FLAGS);
	ES_CHECKF(sb_size == ES_SUPERBLOCK_SIZE, EMBSTORE_CORRUPT, "superblock_size %u is not %u", sb_size,
	          ES_SUPERBLOCK_SIZE);
	ES_CHECKF((flags & ~ES_KNOWN_FLAGS) == 0, EMBSTORE_UNSUPPORTED_VERSION,
	          "superblock flags 0x%x name features this reader lacks", flags & ~ES_KNOWN_FLAGS);
	L->flags = flags;
	if (L->minor <= EMBSTORE_FORMAT_MINOR)
		ES_CHECKF(all_zero(base + ES_SB_RESERVED, ES_SB_RESERVED_LEN), EMBSTORE_CORRUPT,
		          "superblock reserved bytes are not zero");

	L->file_size = es_le64(base + ES_SB_FILE_SIZE);
	ES_CHECKF(L->file_size <= len, EMBSTORE_TRUNCATED, "file_size %llu, but the file has %llu bytes",
	          (unsigned long long)L->file_size, (unsigned long long)len);
	ES_CHECKF(L->file_size == len, EMBSTORE_BAD_LAYOUT, "file_size %llu, but the file has %llu bytes",
	          (unsigned long long)L->file_size, (unsigned long long)len);

	L->alignment = es_le32(base + ES_SB_ALIGNMENT);
	ES_CHECKF(es_is_pow2(L->alignment) && L->alignment >= ES_MIN_ALIGNMENT && L->alignment <= ES_MAX_ALIGNMENT,
	          EMBSTORE_CORRUPT, "data_alignment %u is not a power of two from %u to %u", L->alignment,
	          ES_MIN_ALIGNMENT, ES_MAX_ALIGNMENT);
	L->table_count = es_le32(base + ES_SB_TABLE_COUNT);
	L->meta_count = es_le32(base + ES_SB_META_COUNT);
	ES_CHECKF(L->table_count <= ES_MAX_TABLES, EMBSTORE_LIMIT, "table_count %u is over the cap of %u",
	          L->table_count, ES_MAX_TABLES);
	ES_CHECKF(L->meta_count <= ES_MAX_META, EMBSTORE_LIMIT, "meta_count %u is over the cap of %u", L->meta_count,
	          ES_MAX_META);

	L->dir_offset = es_le64(base + ES_SB_DIR_OFFSET);
	L->dir_size = es_le64(base + ES_SB_DIR_SIZE);
	ES_CHECKF(L->dir_size <= ES_MAX_DIR_SIZE, EMBSTORE_LIMIT, "directory_size %llu is over the cap of %llu",
	          (unsigned long long)L->dir_size, (unsigned long long)ES_MAX_DIR_SIZE);
	L->checksum_count = es_le64(base + ES_SB_CHECKSUM_COUNT);
	uint64_t dir_end;
	ES_CHECKF(L->dir_offset >= ES_SUPERBLOCK_SIZE && L->dir_offset % ES_DIR_ALIGN == 0 &&
	              es_add_u64(L->dir_offset, L->dir_size, &dir_end) && dir_end <= L->file_size,
	          EMBSTORE_BAD_LAYOUT,
	          "directory_offset %llu + directory_size %llu must lie in the file (%llu bytes), after the superblock, at "
	          "a multiple of %u",
	          (unsigned long long)L->dir_offset, (unsigned long long)L->dir_size, (unsigned long long)L->file_size,
	          ES_DIR_ALIGN);
	bool slots = L->flags & ES_FLAG_SUM_SLOTS;
	if (!slots) {
		ES_CHECKF(dir_end == L->file_size, EMBSTORE_BAD_LAYOUT,
		          "the directory ends at %llu, but the file at %llu (no checksum slots follow it: flags 0x%x)",
		          (unsigned long long)dir_end, (unsigned long long)L->file_size, L->flags);
	} else {
		uint64_t bytes, end = 0;
		bool fits = es_mul_u64(L->checksum_count, 8, &bytes) && es_add_u64(bytes, ES_SLOT_HEADER, &L->slot_size) &&
		            es_align_up(dir_end, ES_DIR_ALIGN, &L->slot_offset[0]) &&
		            es_add_u64(L->slot_offset[0], L->slot_size, &L->slot_offset[1]) &&
		            es_add_u64(L->slot_offset[1], L->slot_size, &end);
		ES_CHECKF(fits && end == L->file_size, EMBSTORE_BAD_LAYOUT,
		          "two checksum slots of %llu checksums after the directory (which ends at %llu) must end the file at "
		          "%llu bytes",
		          (unsigned long long)L->checksum_count, (unsigned long long)dir_end, (unsigned long long)L->file_size);
		ES_CHECKF(all_zero(base + dir_end, (size_t)(L->slot_offset[0] - dir_end)), EMBSTORE_CORRUPT,
		          "padding between the directory and the checksum slots is not zero");
	}

	/* A file without slots rewrites its header checksum on every sync, so a crash can leave it wrong while
	 * everything else is fine: that is what reseal repairs. With slots the header never changes after the build. */
	bool check_header = mode == ES_PARSE_STRICT || slots;
	ES_CHECKF(!check_header ||
	              es_header_checksum(base, base + L->dir_offset, L->dir_size) == es_le64(base + ES_SB_CHECKSUM),
	          EMBSTORE_HEADER_CHECKSUM, "header_checksum %016llx does not match the superblock and directory",
	          (unsigned long long)es_le64(base + ES_SB_CHECKSUM));

	/* From here on the directory is what the writer wrote (or what someone crafted with care): still check. */
	*pool_size = es_le32(base + ES_SB_POOL_SIZE);
	uint64_t need = (uint64_t)L->table_count * ES_TABLE_ENTRY_SIZE + (uint64_t)L->meta_count * ES_META_ENTRY_SIZE;
	uint64_t sums = 0;
	ES_CHECKF((slots || es_mul_u64(L->checksum_count, 8, &sums)) && es_add_u64(need, sums, &need) &&
	              es_add_u64(need, *pool_size, &need) && need == L->dir_size,
	          EMBSTORE_BAD_LAYOUT,
	          "directory_size %llu is not the sum of its parts (%u tables, %u metadata entries, %llu checksums, a "
	          "%llu-byte string pool)",
	          (unsigned long long)L->dir_size, L->table_count, L->meta_count, (unsigned long long)L->checksum_count,
	          (unsigned long long)*pool_size);
	return EMBSTORE_OK;
}

static embstore_status parse_table(const uint8_t *e, es_table *t)
{
	const char *n = t->name; /* already taken from the pool */
	uint32_t dtype = es_le32(e + ES_TE_DTYPE), flags = es_le32(e + ES_TE_FLAGS);
	t->dtype = (embstore_dtype)dtype;
	ES_CHECKF(es_elem_bytes(t->dtype) != 0, EMBSTORE_BAD_DTYPE, "table '%s': dtype code %u", n, dtype);
	ES_CHECKF((flags & ~ES_TABLE_FLAG_VOCAB) == 0, EMBSTORE_UNSUPPORTED_VERSION,
	          "table '%s': flags 0x%x name features this reader lacks", n, flags & ~ES_TABLE_FLAG_VOCAB);
	t->flags = flags;
	t->rows = es_le64(e + ES_TE_ROWS);
	t->dim = es_le32(e + ES_TE_DIM);
	ES_CHECKF(t->rows >= 1 && t->rows <= ES_MAX_ROWS, EMBSTORE_LIMIT, "table '%s': rows %llu is not 1 to %llu", n,
	          (unsigned long long)t->rows, (unsigned long long)ES_MAX_ROWS);
	ES_CHECKF(t->dim >= 1 && t->dim <= ES_MAX_DIM, EMBSTORE_LIMIT, "table '%s': dim %u is not 1 to %u", n, t->dim,
	          ES_MAX_DIM);
	t->chunk_rows = es_le32(e + ES_TE_CHUNK_ROWS);
	ES_CHECKF(t->chunk_rows >= 1, EMBSTORE_CORRUPT, "table '%s': chunk_rows 0", n);

	t->row_stride = es_le64(e + ES_TE_ROW_STRIDE);
	ES_CHECKF(es_stride_fits(t->dtype, t->dim, t->row_stride) && t->row_stride <= ES_MAX_ROW_STRIDE,
	          EMBSTORE_CORRUPT,
	          "table '%s': row_stride %llu does not fit %u %s elements (at least %llu, a multiple of %llu, at most %llu)",
	          n, (unsigned long long)t->row_stride, t->dim, embstore_dtype_name(t->dtype),
	          (unsigned long long)es_row_bytes(t->dtype, t->dim), (unsigned long long)es_elem_bytes(t->dtype),
	          (unsigned long long)ES_MAX_ROW_STRIDE);
	t->data_offset = es_le64(e + ES_TE_DATA_OFFSET);
	t->data_size = es_le64(e + ES_TE_DATA_SIZE);
	uint64_t size;
	ES_CHECKF(es_mul_u64(t->rows, t->row_stride, &size) && size == t->data_size, EMBSTORE_CORRUPT,
	          "table '%s': data_size %llu is not rows %llu x row_stride %llu", n, (unsigned long long)t->data_size,
	          (unsigned long long)t->rows, (unsigned long long)t->row_stride);
	t->chunk_first = es_le64(e + ES_TE_CHUNK_FIRST);
	t->chunk_count = es_le64(e + ES_TE_CHUNK_COUNT);
	ES_CHECKF(t->chunk_count == es_chunk_count(t->rows, t->chunk_rows), EMBSTORE_CORRUPT,
	          "table '%s': chunk_count %llu, but %llu rows in chunks of %llu make %llu", n,
	          (unsigned long long)t->chunk_count, (unsigned long long)t->rows, (unsigned long long)t->chunk_rows,
	          (unsigned long long)es_chunk_count(t->rows, t->chunk_rows));
	t->vocab_offset = es_le64(e + ES_TE_VOCAB_OFFSET);
	t->vocab_size = es_le64(e + ES_TE_VOCAB_SIZE);
	t->vocab_checksum = es_le64(e + ES_TE_VOCAB_CHECKSUM);
	ES_CHECKF((flags & ES_TABLE_FLAG_VOCAB) || (t->vocab_offset == 0 && t->vocab_size == 0 && t->vocab_checksum == 0),
	          EMBSTORE_CORRUPT, "table '%s': vocabulary fields are not zero, but the table has no VOCAB flag", n);
	return EMBSTORE_OK;
}

/* A vocabulary's place and sizes, in O(1): its header's counts agree with the table and its size; the keys
 * themselves are checked where they are read (vocab.c) and all at once by verify. `end` is where the table's
 * data ends; on success it becomes where the vocabulary ends. */
static embstore_status parse_vocab(const uint8_t *base, const es_layout *L, es_table *t, uint64_t *end)
{
	uint64_t expect = 0, header_end;
	ES_CHECKF(es_align_up(*end, ES_VOCAB_ALIGN, &expect) && t->vocab_offset == expect &&
	              es_add_u64(t->vocab_offset, ES_VOCAB_HEADER, &header_end) && header_end <= L->dir_offset,
	          EMBSTORE_BAD_LAYOUT, "table '%s': vocab_offset %llu; the vocabulary must start at %llu, after the data",
	          t->name, (unsigned long long)t->vocab_offset, (unsigned long long)expect);
	const uint8_t *v = base + t->vocab_offset;
	uint64_t keys = es_le64(v + ES_VH_KEY_COUNT);
	t->bucket_count = es_le64(v + ES_VH_BUCKET_COUNT);
	t->blob_size = es_le64(v + ES_VH_BLOB_SIZE);
	ES_CHECKF(keys == t->rows, EMBSTORE_CORRUPT, "table '%s': the vocabulary has %llu keys for %llu rows", t->name,
	          (unsigned long long)keys, (unsigned long long)t->rows);
	ES_CHECKF(t->bucket_count == es_bucket_count(keys), EMBSTORE_CORRUPT,
	          "table '%s': the vocabulary has %llu buckets; %llu keys need %llu", t->name,
	          (unsigned long long)t->bucket_count, (unsigned long long)keys,
	          (unsigned long long)es_bucket_count(keys));
	ES_CHECKF(t->blob_size < ES_MAX_BLOB && es_le64(v + ES_VH_RESERVED) == 0, EMBSTORE_CORRUPT,
	          "table '%s': vocabulary blob_size %llu is over 2^40, or its reserved field is not zero", t->name,
	          (unsigned long long)t->blob_size);
	/* keys <= 2^40 and bucket_count <= 2^41: the sum below cannot wrap */
	uint64_t size = ES_VOCAB_HEADER + 8 * keys + 8 * t->bucket_count + t->blob_size;
	ES_CHECKF(size == t->vocab_size, EMBSTORE_CORRUPT,
	          "table '%s': vocab_size %llu, but %llu keys, %llu buckets and %llu key bytes make %llu", t->name,
	          (unsigned long long)t->vocab_size, (unsigned long long)keys, (unsigned long long)t->bucket_count,
	          (unsigned long long)t->blob_size, (unsigned long long)size);
	ES_CHECKF(es_add_u64(t->vocab_offset, t->vocab_size, end) && *end <= L->dir_offset, EMBSTORE_BAD_LAYOUT,
	          "table '%s': the vocabulary (%llu bytes from %llu) runs past the directory at %llu", t->name,
	          (unsigned long long)t->vocab_size, (unsigned long long)t->vocab_offset,
	          (unsigned long long)L->dir_offset);
	return EMBSTORE_OK;
}

static embstore_status parse_directory(const uint8_t *base, es_layout *L, uint64_t pool_size,
                                       const char **names)
{
	const uint8_t *dir = base + L->dir_offset;
	const uint8_t *metas = dir + (uint64_t)L->table_count * ES_TABLE_ENTRY_SIZE;
	const uint8_t *sums = metas + (uint64_t)L->meta_count * ES_META_ENTRY_SIZE;
	const uint8_t *pool = sums + (L->flags & ES_FLAG_SUM_SLOTS ? 0 : L->checksum_count * 8);
	uint64_t cursor = 0, end = ES_SUPERBLOCK_SIZE, chunks = 0;

	for (uint32_t i = 0; i < L->table_count; i++) {
		const uint8_t *e = dir + (uint64_t)i * ES_TABLE_ENTRY_SIZE;
		es_table *t = &L->tables[i];
		ES_TRY(take_string(pool, pool_size, &cursor, es_le32(e + ES_TE_NAME_OFFSET), es_le32(e + ES_TE_NAME_LENGTH),
		                   1, ES_MAX_NAME_LEN, "table name", i, &t->name));
		if (L->minor <= EMBSTORE_FORMAT_MINOR)
			ES_CHECKF(all_zero(e + ES_TE_RESERVED, ES_TE_RESERVED_LEN), EMBSTORE_CORRUPT,
			          "table '%s': reserved bytes are not zero", t->name);
		names[i] = t->name;
		ES_TRY(parse_table(e, t));

		uint64_t expect = 0;
		bool placed = es_align_up(end, L->alignment, &expect) && t->data_offset == expect;
		ES_CHECKF(placed, EMBSTORE_BAD_LAYOUT,
		          "table '%s': data_offset %llu; the data must start at %llu (the first multiple of %u after %llu)",
		          t->name, (unsigned long long)t->data_offset, (unsigned long long)expect, L->alignment,
		          (unsigned long long)end);
		ES_CHECKF(es_add_u64(t->data_offset, t->data_size, &end) && end <= L->dir_offset, EMBSTORE_BAD_LAYOUT,
		          "table '%s': data (%llu bytes from %llu) runs past the directory at %llu", t->name,
		          (unsigned long long)t->data_size, (unsigned long long)t->data_offset,
		          (unsigned long long)L->dir_offset);
		if (t->flags & ES_TABLE_FLAG_VOCAB)
			ES_TRY(parse_vocab(base, L, t, &end));
		ES_CHECKF(t->chunk_first == chunks && es_add_u64(chunks, t->chunk_count, &chunks), EMBSTORE_CORRUPT,
		          "table '%s': chunk_first %llu; the previous tables' chunks end at %llu", t->name,
		          (unsigned long long)t->chunk_first, (unsigned long long)chunks);
	}
	uint64_t dir_expect = 0;
	ES_CHECKF(es_align_up(end, ES_DIR_ALIGN, &dir_expect) && dir_expect == L->dir_offset, EMBSTORE_BAD_LAYOUT,
	          "directory_offset %llu; after the last table's data it must be %llu", (unsigned long long)L->dir_offset,
	          (unsigned long long)dir_expect);
	ES_CHECKF(chunks == L->checksum_count, EMBSTORE_CORRUPT, "checksum_count %llu, but the tables have %llu chunks",
	          (unsigned long long)L->checksum_count, (unsigned long long)chunks);
	ES_TRY(check_unique(names, L->table_count, "table name"));

	for (uint32_t i = 0; i < L->meta_count; i++) {
		const uint8_t *e = metas + (uint64_t)i * ES_META_ENTRY_SIZE;
		ES_TRY(take_string(pool, pool_size, &cursor, es_le32(e + 0), es_le32(e + 4), 1, ES_MAX_NAME_LEN,
		                   "metadata key", i, &L->meta[i].key));
		ES_TRY(take_string(pool, pool_size, &cursor, es_le32(e + 8), es_le32(e + 12), 0, ES_MAX_VALUE_LEN,
		                   "metadata value", i, &L->meta[i].value));
		names[i] = L->meta[i].key;
	}
	ES_CHECKF(cursor == pool_size, EMBSTORE_BAD_STRING, "string_pool_size %llu, but the strings end at %llu",
	          (unsigned long long)pool_size, (unsigned long long)cursor);
	ES_TRY(check_unique(names, L->meta_count, "metadata key"));
	if (!(L->flags & ES_FLAG_SUM_SLOTS)) {
		for (uint64_t i = 0; i < L->checksum_count; i++)
			L->sums[i] = es_le64(sums + 8 * i);
	}
	return EMBSTORE_OK;
}

uint64_t es_slot_checksum(const uint8_t *slot, uint64_t count)
{
	XXH3_state_t st;
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, slot, ES_SLOT_CHECKSUM);
	XXH3_64bits_update(&st, slot + ES_SLOT_HEADER, (size_t)(8 * count));
	return XXH3_64bits_digest(&st);
}

/* Copies slot k into buf and says whether the copy is intact. The copy, not the mapping, is checked and then
 * used: a sync in another process may be writing this very slot. */
static bool copy_slot(const uint8_t *base, const es_layout *L, unsigned k, uint8_t *buf)
{
	memcpy(buf, base + L->slot_offset[k], (size_t)L->slot_size);
	return es_le64(buf + ES_SLOT_COUNT) == L->checksum_count && es_le64(buf + ES_SLOT_RESERVED) == 0 &&
	       es_slot_checksum(buf, L->checksum_count) == es_le64(buf + ES_SLOT_CHECKSUM);
}

/* The newest intact slot's checksums into L->sums. A slot found torn while another process syncs is tried again:
 * that process writes only the slot that is not current, so a second look finds the one it just completed. */
static embstore_status choose_slot(const uint8_t *base, es_layout *L, int mode)
{
	uint8_t *buf[2] = {malloc((size_t)L->slot_size), malloc((size_t)L->slot_size)};
	embstore_status st = EMBSTORE_NO_MEMORY;
	bool intact[2] = {false, false};
	uint64_t gen[2] = {0, 0};
	for (int attempt = 0; buf[0] && buf[1] && attempt < 3 && st != EMBSTORE_OK; attempt++) {
		for (unsigned k = 0; k < 2; k++) {
			intact[k] = copy_slot(base, L, k, buf[k]);
			gen[k] = es_le64(buf[k] + ES_SLOT_GENERATION);
		}
		if (intact[0] || intact[1] || mode == ES_PARSE_RESEAL)
			st = EMBSTORE_OK;
		else
			st = EMBSTORE_HEADER_CHECKSUM;
	}
	if (st == EMBSTORE_OK) {
		unsigned k = intact[0] && intact[1] ? (gen[1] > gen[0]) : intact[1];
		if (!intact[0] && !intact[1]) /* reseal: any generation above both will do */
			k = gen[1] > gen[0];
		L->current_slot = k;
		L->generation = gen[k];
		for (uint64_t i = 0; i < L->checksum_count; i++)
			L->sums[i] = es_le64(buf[k] + ES_SLOT_HEADER + 8 * i);
	} else if (st == EMBSTORE_HEADER_CHECKSUM) {
		es_detail("neither checksum slot is intact (generations %llu and %llu); 'embstore reseal' rewrites them "
		          "from the rows",
		          (unsigned long long)gen[0], (unsigned long long)gen[1]);
	}
	free(buf[0]);
	free(buf[1]);
	return st;
}

embstore_status es_layout_parse(const uint8_t *base, uint64_t len, int mode, es_layout *out)
{
	es_layout L = {0};
	uint64_t pool_size;
	ES_TRY(parse_superblock(base, len, mode, &L, &pool_size));

	/* Counts are capped and the directory that holds their entries lies in the file, so these allocations are
	 * bounded by the file's own size. */
	uint32_t n_names = L.table_count > L.meta_count ? L.table_count : L.meta_count;
	L.tables = calloc(L.table_count ? L.table_count : 1, sizeof *L.tables);
	L.meta = calloc(L.meta_count ? L.meta_count : 1, sizeof *L.meta);
	const char **names = calloc(n_names ? n_names : 1, sizeof *names);
	/* checksum_count is bounded by the file too: its checksums lie in the directory or in the slots. */
	L.sums = malloc(L.checksum_count ? (size_t)L.checksum_count * 8 : 1);
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (L.tables && L.meta && names && L.sums)
		st = parse_directory(base, &L, pool_size, names);
	if (st == EMBSTORE_OK && (L.flags & ES_FLAG_SUM_SLOTS))
		st = choose_slot(base, &L, mode);
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
	free(L->sums);
	L->tables = NULL;
	L->meta = NULL;
	L->sums = NULL;
}
