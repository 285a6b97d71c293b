/* format.h: the on-disk layout of docs/FORMAT.md (offsets, sizes, caps) and the parsed directory. */
#ifndef EMBSTORE_FORMAT_H
#define EMBSTORE_FORMAT_H

#include "element.h"
#include "util.h"

#define ES_MAGIC "\x89" "EMB\r\n\x1a\n"
#define ES_MAGIC_LEN 8

#define ES_SUPERBLOCK_SIZE 128
#define ES_SB_VERSION_MAJOR 8
#define ES_SB_VERSION_MINOR 10
#define ES_SB_SUPERBLOCK_SIZE 12
#define ES_SB_FILE_SIZE 16
#define ES_SB_DIR_OFFSET 24
#define ES_SB_DIR_SIZE 32
#define ES_SB_TABLE_COUNT 40
#define ES_SB_META_COUNT 44
#define ES_SB_CHECKSUM_COUNT 48
#define ES_SB_POOL_SIZE 56
#define ES_SB_ALIGNMENT 60
#define ES_SB_FLAGS 64
#define ES_SB_RESERVED 68
#define ES_SB_RESERVED_LEN 52
#define ES_SB_CHECKSUM 120

#define ES_TABLE_ENTRY_SIZE 128
#define ES_TE_NAME_OFFSET 0
#define ES_TE_NAME_LENGTH 4
#define ES_TE_DTYPE 8
#define ES_TE_FLAGS 12
#define ES_TE_ROWS 16
#define ES_TE_DIM 24
#define ES_TE_CHUNK_ROWS 28
#define ES_TE_ROW_STRIDE 32
#define ES_TE_DATA_OFFSET 40
#define ES_TE_DATA_SIZE 48
#define ES_TE_CHUNK_FIRST 56
#define ES_TE_CHUNK_COUNT 64
#define ES_TE_VOCAB_OFFSET 72
#define ES_TE_VOCAB_SIZE 80
#define ES_TE_VOCAB_CHECKSUM 88
#define ES_TE_RESERVED 96
#define ES_TE_RESERVED_LEN 32

/* Table flags. VOCAB (1.2): a key per row, in a vocabulary section after the table's data. */
#define ES_TABLE_FLAG_VOCAB 1u

/* The vocabulary section (docs/FORMAT.md, "Vocabulary"). */
#define ES_VOCAB_ALIGN 8
#define ES_VH_KEY_COUNT 0
#define ES_VH_BUCKET_COUNT 8
#define ES_VH_BLOB_SIZE 16
#define ES_VH_RESERVED 24
#define ES_VOCAB_HEADER 32
#define ES_KEY_ENTRY_HEADER 12 /* u64 row, u32 length */
#define ES_MAX_KEY_LEN 65535u
#define ES_MAX_BLOB (1ull << 40)

#define ES_META_ENTRY_SIZE 16
#define ES_DIR_ALIGN 8

/* Superblock flags. SUM_SLOTS (1.1): chunk checksums in two slots after the directory (docs/FORMAT.md). */
#define ES_FLAG_SUM_SLOTS 1u
#define ES_KNOWN_FLAGS ES_FLAG_SUM_SLOTS

#define ES_SLOT_GENERATION 0
#define ES_SLOT_COUNT 8
#define ES_SLOT_RESERVED 16
#define ES_SLOT_CHECKSUM 24
#define ES_SLOT_HEADER 32

/* Caps (docs/FORMAT.md, "Caps, in one place"). */
#define ES_MAX_TABLES 65536u
#define ES_MAX_META 65536u
#define ES_MAX_NAME_LEN 1024u
#define ES_MAX_VALUE_LEN (1u << 20)
#define ES_MAX_DIR_SIZE (1ull << 30)
#define ES_MAX_ROWS (1ull << 40)
#define ES_MAX_DIM (1u << 20)
#define ES_MAX_ROW_STRIDE (1ull << 26)
#define ES_MIN_ALIGNMENT 4096u
#define ES_MAX_ALIGNMENT (2u << 20)

#define ES_DEFAULT_CHUNK_BYTES 65536u

/* One table's entry: validated, with pointers into the mapping (reader), or about to be encoded (writer). */
typedef struct es_table {
	const char *name;
	embstore_dtype dtype;
	uint32_t flags;         /* ES_TABLE_FLAG_* */
	uint64_t rows;
	uint32_t dim;
	uint64_t chunk_rows;
	uint64_t row_stride;
	uint64_t data_offset;
	uint64_t data_size;
	uint64_t chunk_first;
	uint64_t chunk_count;
	/* With ES_TABLE_FLAG_VOCAB; all 0 otherwise. */
	uint64_t vocab_offset, vocab_size, vocab_checksum;
	uint64_t bucket_count, blob_size;
} es_table;

/* Buckets of a vocabulary of n keys: the smallest power of two at least 2n (at most half used, so probes are
 * short). n is at most 2^40, so this cannot overflow. */
static inline uint64_t es_bucket_count(uint64_t n)
{
	uint64_t b = 1;
	while (b < 2 * n)
		b <<= 1;
	return b;
}

typedef struct es_meta {
	const char *key;
	const char *value;
} es_meta;

/* A validated file: everything the reader trusts, nothing it has not checked. */
typedef struct es_layout {
	uint16_t major, minor;
	uint64_t file_size;
	uint32_t alignment;
	uint32_t table_count, meta_count;
	es_table *tables;          /* table_count, owned */
	es_meta *meta;             /* meta_count, owned */
	uint64_t *sums;            /* checksum_count chunk checksums, owned: a copy, so that a sync writing the
	                            * mapping meanwhile cannot change what was validated */
	uint64_t checksum_count;
	uint32_t flags;
	uint64_t dir_offset;
	uint64_t dir_size;
	/* With ES_FLAG_SUM_SLOTS: where the slots are, which one the sums came from, and its generation. */
	uint64_t slot_offset[2];
	uint64_t slot_size;
	unsigned current_slot;
	uint64_t generation;
} es_layout;

/* Rows per checksum chunk: about `chunk_bytes` of rows, at least one, and within the u32 field. A table shorter
 * than that stores its row count instead, which gives the same single checksum. */
static inline uint64_t es_chunk_rows(uint64_t chunk_bytes, uint64_t row_stride)
{
	uint64_t n = chunk_bytes / row_stride;
	return n < 1 ? 1 : n > UINT32_MAX ? UINT32_MAX : n;
}

/* Chunks of a table: ceil(rows / chunk_rows). rows is capped at 2^40 first, so the sum cannot wrap. */
static inline uint64_t es_chunk_count(uint64_t rows, uint64_t chunk_rows)
{
	return (rows + chunk_rows - 1) / chunk_rows;
}

/* Chunk k of t covers rows [*first, *first + *n). */
static inline void es_chunk_span(const es_table *t, uint64_t k, uint64_t *first, uint64_t *n)
{
	*first = k * t->chunk_rows;
	*n = t->rows - *first < t->chunk_rows ? t->rows - *first : t->chunk_rows;
}

/* How much of a damaged file es_layout_parse accepts: ES_PARSE_STRICT for every reader; ES_PARSE_RESEAL for
 * embstore_reseal, which is about to recompute every checksum: it skips the header checksum of a file without
 * slots and accepts slots that are not intact (every other rule still holds). */
enum { ES_PARSE_STRICT, ES_PARSE_RESEAL };

/* Validates the `len` bytes at `base` as a whole embstore file, per docs/FORMAT.md. Touches the superblock,
 * directory and checksum slots only. On success fills *out (free with es_layout_free). */
embstore_status es_layout_parse(const uint8_t *base, uint64_t len, int mode, es_layout *out);
void es_layout_free(es_layout *layout);

/* XXH3-64 of a slot's first 24 bytes and then its `count` checksums (little-endian u64 after the header). */
uint64_t es_slot_checksum(const uint8_t *slot, uint64_t count);

/* XXH3-64 of the 120 superblock bytes before the checksum field, then the directory. */
uint64_t es_header_checksum(const uint8_t *superblock, const uint8_t *dir, uint64_t dir_size);

/* XXH3-64 of the bytes of chunk k of table t. */
uint64_t es_chunk_checksum(const uint8_t *base, const es_table *t, uint64_t k);

/* encode.c: the writer's side of the same layout. The parts of a directory, in file order. */
typedef struct es_dir_parts {
	const es_table *tables; /* complete entries: rows, chunk_rows, chunk_count, data_size final */
	uint32_t table_count;
	const es_meta *meta;
	uint32_t meta_count;
	const uint64_t *sums;   /* checksum_count chunk checksums, tables' chunks in order */
	uint64_t checksum_count;
	uint32_t pool_size;     /* bytes of every name, key and value with its zero byte */
} es_dir_parts;

/* The directory's bytes, malloc'd; the checksums go to the slots (es_encode_slot), not here. Errors: LIMIT (over
 * the size cap), NO_MEMORY. */
embstore_status es_encode_directory(const es_dir_parts *d, uint8_t **out, uint64_t *size);

/* Bytes of one checksum slot holding `count` checksums. */
static inline uint64_t es_slot_size(uint64_t count)
{
	return ES_SLOT_HEADER + 8 * count;
}

/* One checksum slot at `slot`: the header with `generation` and the slot checksum, then the sums, little-endian. */
void es_encode_slot(uint8_t *slot, uint64_t generation, const uint64_t *sums, uint64_t count);
/* The superblock of a file whose directory `dir` (dir_size bytes) starts at dir_offset, checksum included. */
void es_encode_superblock(const es_dir_parts *d, uint32_t alignment, uint64_t dir_offset, const uint8_t *dir,
                          uint64_t dir_size, uint8_t sb[ES_SUPERBLOCK_SIZE]);

#endif
