/* set_merge.c: writes a shard set back as one store, streamed through the writer from the shards' mappings. */
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "set_impl.h"
#include "shard.h"
#include "writer.h"

#define KEY_BATCH 4096u

/* The chunk rows of the store the set came from: the largest of its parts', unless every part is one chunk (the
 * writer caps chunk rows at a table's rows), and then at least the writer's default. */
static uint64_t chunk_rows(const es_set_table *t)
{
	uint64_t rows = 1;
	bool capped = true;
	for (uint32_t k = 0; k < t->info.parts; k++) {
		const embstore_table *p = &t->pieces[k].table;
		rows = p->chunk_rows > rows ? p->chunk_rows : rows;
		capped = capped && p->chunk_rows == p->matrix.rows;
	}
	uint64_t standard = es_chunk_rows(ES_DEFAULT_CHUNK_BYTES, t->pieces[0].table.matrix.row_stride);
	return capped && standard > rows ? standard : rows;
}

static embstore_status copy_piece(const embstore_set *set, embstore_writer *w, const es_piece *p)
{
	const embstore_matrix *m = &p->table.matrix;
	if (!p->table.has_vocab)
		return embstore_writer_append(w, m->data, m->dtype, m->rows, m->row_stride);
	const embstore *store = set->stores[p->shard];
	const char **keys = malloc(KEY_BATCH * sizeof *keys);
	size_t *lens = malloc(KEY_BATCH * sizeof *lens);
	embstore_status st = keys && lens ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	for (uint64_t done = 0; st == EMBSTORE_OK && done < m->rows;) {
		uint64_t n = m->rows - done < KEY_BATCH ? m->rows - done : KEY_BATCH;
		for (uint64_t i = 0; st == EMBSTORE_OK && i < n; i++)
			st = embstore_table_key(store, p->table.index, done + i, &keys[i], &lens[i]);
		if (st == EMBSTORE_OK)
			st = embstore_writer_append_keyed(w, (const char *)m->data + done * m->row_stride, m->dtype, n,
			                                  m->row_stride, keys, lens);
		done += n;
	}
	free(keys);
	free(lens);
	return st;
}

static embstore_status merge(const embstore_set *set, embstore_writer *w)
{
	const embstore *first = set->stores[0];
	embstore_info info;
	embstore_get_info(first, &info);
	ES_TRY(embstore_writer_set_alignment(w, info.data_alignment));
	size_t prefix = strlen(ES_SHARD_PREFIX);
	for (uint32_t i = 0; i < info.meta_count; i++) {
		const char *key, *value;
		embstore_meta_at(first, i, &key, &value);
		if (set->info.shard.by == EMBSTORE_SHARD_NONE || strncmp(key, ES_SHARD_PREFIX, prefix) != 0)
			ES_TRY(embstore_writer_add_meta(w, key, value));
	}
	for (uint32_t t = 0; t < set->info.table_count; t++) {
		const es_set_table *table = &set->tables[t];
		ES_TRY(embstore_writer_set_chunk_bytes(w, chunk_rows(table) * table->pieces[0].table.matrix.row_stride));
		ES_TRY(embstore_writer_begin_table(w, table->info.name, table->info.dtype, table->info.rows, table->info.dim));
		for (uint32_t k = 0; k < table->info.parts; k++)
			ES_TRY(copy_piece(set, w, &table->pieces[k]));
	}
	return embstore_writer_finish(w);
}

embstore_status embstore_set_merge(const embstore_set *set, const char *path)
{
	es_detail_clear();
	ES_CHECK(set && path, EMBSTORE_INVALID_ARGUMENT);
	embstore_writer *w;
	ES_TRY(embstore_writer_create(path, &w));
	embstore_status st = merge(set, w);
	embstore_writer_free(w);
	return st;
}
