/* export_safetensors.c: tables of a store as one safetensors file, each a 2-D tensor named after its table: f32,
 * f16 and bf16 rows as they are stored (F32, F16, BF16), int8 rows dequantised to F32 by the kernels; the store's
 * metadata as __metadata__. Safetensors holds no strings, so vocabularies stay behind. Committed atomically. */
#include <errno.h>
#include <stdlib.h>

#include "commit.h"
#include "export.h"
#include "safetensors.h"
#include "store_impl.h"

#define OUT_BUFFER (1u << 20)

typedef struct out {
	int fd;
	uint8_t *buf;
	size_t len;
} out;

static embstore_status flush(out *o)
{
	embstore_status st = es_write_all(o->fd, o->buf, o->len);
	o->len = 0;
	return st;
}

/* Room for n bytes at the end of the buffer (n at most OUT_BUFFER); floats for the kernels start aligned. */
static embstore_status room(out *o, size_t n, bool floats, uint8_t **at)
{
	if (OUT_BUFFER - o->len < n || (floats && o->len % sizeof(float)))
		ES_TRY(flush(o));
	*at = o->buf + o->len;
	o->len += n;
	return EMBSTORE_OK;
}

/* Rows in batches that fill at most the buffer: the stored bytes, or for int8 the gathered f32. */
static embstore_status write_table(const embstore *s, uint32_t index, out *o)
{
	const es_table *t = &s->layout.tables[index];
	embstore_table view;
	ES_TRY(embstore_table_at(s, index, &view));
	bool wide = t->dtype == EMBSTORE_INT8_ROWWISE;
	uint64_t row_bytes = wide ? (uint64_t)t->dim * 4 : embstore_row_bytes(t->dtype, t->dim);
	uint64_t batch = OUT_BUFFER / row_bytes;
	ES_CHECKF(batch > 0, EMBSTORE_LIMIT, "table '%s': a row of %llu bytes is over the export buffer", t->name,
	          (unsigned long long)row_bytes);
	int64_t *ids = wide ? malloc((size_t)batch * sizeof *ids) : NULL;
	ES_CHECK(!wide || ids, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	for (uint64_t first = 0; first < t->rows && st == EMBSTORE_OK; first += batch) {
		uint64_t n = t->rows - first < batch ? t->rows - first : batch;
		uint8_t *at;
		st = room(o, (size_t)(n * row_bytes), wide, &at);
		for (uint64_t i = 0; i < n && st == EMBSTORE_OK && !wide; i++)
			memcpy(at + i * row_bytes, (const uint8_t *)view.matrix.data + (first + i) * t->row_stride,
			       (size_t)row_bytes);
		if (st == EMBSTORE_OK && wide) {
			for (uint64_t i = 0; i < n; i++)
				ids[i] = (int64_t)(first + i);
			st = embstore_gather(&view.matrix, ids, EMBSTORE_ID64, (size_t)n, (float *)(void *)at, NULL);
		}
	}
	free(ids);
	return st;
}

static embstore_status write_file(const embstore *s, uint32_t first, uint32_t count, out *o)
{
	const es_layout *l = &s->layout;
	es_st_desc *d = calloc(count, sizeof *d);
	uint64_t *shapes = calloc(count, 2 * sizeof *shapes);
	embstore_status st = d && shapes ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	for (uint32_t i = 0; i < count && st == EMBSTORE_OK; i++) {
		const es_table *t = &l->tables[first + i];
		shapes[2 * i] = t->rows;
		shapes[2 * i + 1] = t->dim;
		d[i] = (es_st_desc){.name = t->name, .rank = 2, .shape = shapes + 2 * i};
		if (!es_st_dtype_of_table(t->dtype, &d[i].dtype))
			d[i].dtype = ES_ST_F32; /* int8, dequantised */
	}
	uint8_t *head = NULL;
	size_t head_len = 0;
	uint64_t data_size;
	if (st == EMBSTORE_OK)
		st = es_st_write_header(d, count, l->meta, l->meta_count, &head, &head_len, &data_size);
	if (st == EMBSTORE_OK)
		st = es_write_all(o->fd, head, head_len);
	for (uint32_t i = 0; i < count && st == EMBSTORE_OK; i++)
		st = write_table(s, first + i, o);
	if (st == EMBSTORE_OK)
		st = flush(o);
	free(head);
	free(shapes);
	free(d);
	return st;
}

embstore_status es_export_safetensors(const embstore *s, uint32_t index, const char *path)
{
	uint32_t first = index == EMBSTORE_ALL_TABLES ? 0 : index;
	uint32_t count = index == EMBSTORE_ALL_TABLES ? s->layout.table_count : 1;
	out o = {.buf = malloc(OUT_BUFFER)};
	ES_CHECK(o.buf, EMBSTORE_NO_MEMORY);
	es_commit c;
	embstore_status st = es_commit_begin(&c, path);
	if (st == EMBSTORE_OK) {
		o.fd = c.fd;
		st = write_file(s, first, count, &o);
		if (st == EMBSTORE_OK)
			st = es_commit_finish(&c);
		if (st == EMBSTORE_IO) {
			int saved = errno;
			es_detail("writing '%s'", path);
			errno = saved;
		}
		es_commit_abandon(&c);
	}
	free(o.buf);
	return st;
}
