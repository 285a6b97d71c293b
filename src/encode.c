/* encode.c: the superblock and directory bytes of docs/FORMAT.md, written the way format.c reads them. */
#include <stdlib.h>

#include "format.h"

static void put_string(uint8_t *pool, uint64_t *cursor, const char *s, uint8_t *entry_off, uint8_t *entry_len)
{
	size_t len = strlen(s);
	es_put32(entry_off, (uint32_t)*cursor);
	es_put32(entry_len, (uint32_t)len);
	memcpy(pool + *cursor, s, len + 1);
	*cursor += len + 1;
}

embstore_status es_encode_directory(const es_dir_parts *d, uint8_t **out, uint64_t *size)
{
	/* Counts are capped by the writer long before these products could wrap. */
	uint64_t n = (uint64_t)d->table_count * ES_TABLE_ENTRY_SIZE + (uint64_t)d->meta_count * ES_META_ENTRY_SIZE +
	             d->pool_size;
	ES_CHECKF(n <= ES_MAX_DIR_SIZE, EMBSTORE_LIMIT, "directory of %llu bytes is over the cap of %llu",
	          (unsigned long long)n, (unsigned long long)ES_MAX_DIR_SIZE);
	uint8_t *dir = calloc(1, (size_t)(n ? n : 1));
	ES_CHECK(dir, EMBSTORE_NO_MEMORY);
	uint8_t *metas = dir + (uint64_t)d->table_count * ES_TABLE_ENTRY_SIZE;
	uint8_t *pool = metas + (uint64_t)d->meta_count * ES_META_ENTRY_SIZE;
	uint64_t cursor = 0;
	for (uint32_t i = 0; i < d->table_count; i++) {
		const es_table *t = &d->tables[i];
		uint8_t *e = dir + (uint64_t)i * ES_TABLE_ENTRY_SIZE;
		put_string(pool, &cursor, t->name, e + ES_TE_NAME_OFFSET, e + ES_TE_NAME_LENGTH);
		es_put32(e + ES_TE_DTYPE, (uint32_t)t->dtype);
		es_put32(e + ES_TE_FLAGS, t->flags);
		es_put64(e + ES_TE_ROWS, t->rows);
		es_put32(e + ES_TE_DIM, t->dim);
		es_put32(e + ES_TE_CHUNK_ROWS, (uint32_t)t->chunk_rows);
		es_put64(e + ES_TE_ROW_STRIDE, t->row_stride);
		es_put64(e + ES_TE_DATA_OFFSET, t->data_offset);
		es_put64(e + ES_TE_DATA_SIZE, t->data_size);
		es_put64(e + ES_TE_CHUNK_FIRST, t->chunk_first);
		es_put64(e + ES_TE_CHUNK_COUNT, t->chunk_count);
		es_put64(e + ES_TE_VOCAB_OFFSET, t->vocab_offset);
		es_put64(e + ES_TE_VOCAB_SIZE, t->vocab_size);
		es_put64(e + ES_TE_VOCAB_CHECKSUM, t->vocab_checksum);
	}
	for (uint32_t i = 0; i < d->meta_count; i++) {
		uint8_t *e = metas + (uint64_t)i * ES_META_ENTRY_SIZE;
		put_string(pool, &cursor, d->meta[i].key, e + 0, e + 4);
		put_string(pool, &cursor, d->meta[i].value, e + 8, e + 12);
	}
	*out = dir;
	*size = n;
	return EMBSTORE_OK;
}

void es_encode_superblock(const es_dir_parts *d, uint32_t alignment, uint64_t dir_offset, const uint8_t *dir,
                          uint64_t dir_size, uint8_t sb[ES_SUPERBLOCK_SIZE])
{
	memset(sb, 0, ES_SUPERBLOCK_SIZE);
	memcpy(sb, ES_MAGIC, ES_MAGIC_LEN);
	es_put16(sb + ES_SB_VERSION_MAJOR, EMBSTORE_FORMAT_MAJOR);
	es_put16(sb + ES_SB_VERSION_MINOR, EMBSTORE_FORMAT_MINOR);
	es_put32(sb + ES_SB_FLAGS, ES_FLAG_SUM_SLOTS);
	es_put32(sb + ES_SB_SUPERBLOCK_SIZE, ES_SUPERBLOCK_SIZE);
	uint64_t slots = (dir_offset + dir_size + ES_DIR_ALIGN - 1) / ES_DIR_ALIGN * ES_DIR_ALIGN;
	es_put64(sb + ES_SB_FILE_SIZE, slots + 2 * es_slot_size(d->checksum_count));
	es_put64(sb + ES_SB_DIR_OFFSET, dir_offset);
	es_put64(sb + ES_SB_DIR_SIZE, dir_size);
	es_put32(sb + ES_SB_TABLE_COUNT, d->table_count);
	es_put32(sb + ES_SB_META_COUNT, d->meta_count);
	es_put64(sb + ES_SB_CHECKSUM_COUNT, d->checksum_count);
	es_put32(sb + ES_SB_POOL_SIZE, d->pool_size);
	es_put32(sb + ES_SB_ALIGNMENT, alignment);
	es_put64(sb + ES_SB_CHECKSUM, es_header_checksum(sb, dir, dir_size));
}

void es_encode_slot(uint8_t *slot, uint64_t generation, const uint64_t *sums, uint64_t count)
{
	es_put64(slot + ES_SLOT_GENERATION, generation);
	es_put64(slot + ES_SLOT_COUNT, count);
	es_put64(slot + ES_SLOT_RESERVED, 0);
	for (uint64_t i = 0; i < count; i++)
		es_put64(slot + ES_SLOT_HEADER + 8 * i, sums[i]);
	es_put64(slot + ES_SLOT_CHECKSUM, es_slot_checksum(slot, count));
}
