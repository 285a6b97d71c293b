/* format.h: the on-disk layout of docs/FORMAT.md (offsets, sizes, caps) and the parsed directory. */
#ifndef EMBSTORE_FORMAT_H
#define EMBSTORE_FORMAT_H

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
#define ES_TE_RESERVED 88
#define ES_TE_RESERVED_LEN 40

#define ES_META_ENTRY_SIZE 16
#define ES_DIR_ALIGN 8

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

/* One validated table; pointers lead into the mapping. */
typedef struct es_table {
	const char *name;
	uint32_t name_len;
	embstore_dtype dtype;
	uint64_t rows;
	uint32_t dim;
	uint64_t chunk_rows;
	uint64_t row_stride;
	uint64_t data_offset;
	uint64_t data_size;
	uint64_t chunk_first;
	uint64_t chunk_count;
} es_table;

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
	const uint8_t *checksums;  /* checksum_count little-endian u64, in the mapping */
	uint64_t checksum_count;
	uint64_t dir_offset;
	uint64_t dir_size;
} es_layout;

/* Validates the `len` bytes at `base` as a whole embstore file, per docs/FORMAT.md. Touches the superblock
 * and directory only. On success fills *out (free with es_layout_free). */
embstore_status es_layout_parse(const uint8_t *base, uint64_t len, es_layout *out);
void es_layout_free(es_layout *layout);

/* XXH3-64 of the 120 superblock bytes before the checksum field, then the directory. */
uint64_t es_header_checksum(const uint8_t *superblock, const uint8_t *dir, uint64_t dir_size);

/* Chunk k of table t: its row range and its bytes' XXH3-64. */
uint64_t es_chunk_checksum(const uint8_t *base, const es_table *t, uint64_t k);

#endif
