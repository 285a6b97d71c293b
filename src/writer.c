/* writer.c: the streaming builder. Rows go to a temporary file as they come, hashed chunk by chunk; the
 * directory (which holds the checksums) is written last, then the superblock, then the file is committed with
 * fsync + rename + directory fsync. Memory holds one conversion buffer and 8 bytes per chunk, whatever the
 * table size. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "format.h"
#include "half.h"

#define ES_WRITE_BUFFER (1u << 20)

typedef struct wtable {
	char *name;
	embstore_dtype dtype;
	uint64_t rows_declared; /* 0: not known in advance */
	uint64_t rows;
	uint32_t dim;
	uint64_t row_stride;
	uint64_t chunk_rows;
	uint64_t data_offset;
	uint64_t chunk_first;
} wtable;

typedef struct wmeta {
	char *key, *value;
} wmeta;

enum wstate { W_OPEN, W_FAILED, W_FINISHED };

struct embstore_writer {
	char *path, *tmp_path;
	int fd;
	bool named; /* tmp_path exists on disk and is ours to remove */
	enum wstate state;
	uint64_t pos; /* bytes written so far = end of file */
	uint32_t alignment;
	uint64_t chunk_bytes;
	wtable *tables;
	uint32_t n_tables, cap_tables;
	wmeta *meta;
	uint32_t n_meta, cap_meta;
	uint64_t *sums;
	uint64_t n_sums, cap_sums;
	uint64_t pool_size;
	XXH3_state_t chunk; /* hash of the current chunk so far */
	uint64_t chunk_filled; /* rows in it */
	uint8_t *buf;          /* converted rows waiting to be written */
	size_t buf_cap;
	float *row_f32;        /* one row widened to f32 */
};

static embstore_status fail(embstore_writer *w, embstore_status st)
{
	if (st != EMBSTORE_OK)
		w->state = W_FAILED;
	return st;
}

static bool grow(void **p, uint64_t *cap, uint64_t need, size_t size)
{
	if (need <= *cap)
		return true;
	uint64_t n = *cap ? *cap * 2 : 16, bytes;
	if (n < need)
		n = need;
	if (!es_mul_u64(n, size, &bytes) || bytes > SIZE_MAX)
		return false;
	void *q = realloc(*p, (size_t)bytes);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

static bool grow32(void **p, uint32_t *cap, uint64_t need, size_t size)
{
	uint64_t c = *cap;
	bool ok = grow(p, &c, need, size);
	*cap = (uint32_t)c;
	return ok;
}

static embstore_status write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		ES_CHECK(k > 0, EMBSTORE_IO);
		b += k;
		n -= (size_t)k;
	}
	return EMBSTORE_OK;
}

static embstore_status write_at_pos(embstore_writer *w, const void *p, size_t n)
{
	ES_TRY(write_all(w->fd, p, n));
	w->pos += n;
	return EMBSTORE_OK;
}

static embstore_status pad_to(embstore_writer *w, uint64_t align)
{
	static const uint8_t zeros[4096];
	uint64_t target;
	ES_CHECK(es_align_up(w->pos, align, &target), EMBSTORE_LIMIT);
	while (w->pos < target) {
		uint64_t n = target - w->pos < sizeof zeros ? target - w->pos : sizeof zeros;
		ES_TRY(write_at_pos(w, zeros, (size_t)n));
	}
	return EMBSTORE_OK;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* The temporary file lives beside the target so that rename() is atomic (same file system). */
static void next_temp_name(embstore_writer *w)
{
	static atomic_uint counter;
	const char *slash = strrchr(w->path, '/');
	int dir_len = slash ? (int)(slash - w->path) + 1 : 0;
	snprintf(w->tmp_path, strlen(w->path) + 64, "%.*s.%s.%ld.%u.tmp", dir_len, w->path, w->path + dir_len,
	         (long)getpid(), atomic_fetch_add(&counter, 1u));
}

static char *parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : dup_str(".");
}

/* Preferably an unnamed file (O_TMPFILE): if the process dies mid-build, not even a temporary is left behind.
 * File systems without O_TMPFILE get a named temporary, created O_EXCL (not mkstemp, whose mode 0600 would
 * end up on the final file). */
static embstore_status create_temp(embstore_writer *w)
{
	w->tmp_path = malloc(strlen(w->path) + 64);
	char *dir = parent_dir(w->path);
	if (!w->tmp_path || !dir) {
		free(dir);
		return EMBSTORE_NO_MEMORY;
	}
#ifdef O_TMPFILE
	w->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
#endif
	free(dir);
	if (w->fd >= 0)
		return EMBSTORE_OK;
	for (int attempt = 0; attempt < 100; attempt++) {
		next_temp_name(w);
		w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (w->fd >= 0) {
			w->named = true;
			return EMBSTORE_OK;
		}
		if (errno != EEXIST)
			break;
	}
	return EMBSTORE_IO;
}

/* Gives an unnamed temporary a name beside the target, right before the rename. */
static embstore_status name_temp(embstore_writer *w)
{
	if (w->named)
		return EMBSTORE_OK;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->fd);
	for (int attempt = 0; attempt < 100; attempt++) {
		next_temp_name(w);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, w->tmp_path, AT_SYMLINK_FOLLOW) == 0) {
			w->named = true;
			return EMBSTORE_OK;
		}
		if (errno != EEXIST)
			break;
	}
	return EMBSTORE_IO;
}

embstore_status embstore_writer_create(const char *path, embstore_writer **out)
{
	ES_CHECK(path && *path && out, EMBSTORE_INVALID_ARGUMENT);
	embstore_writer *w = calloc(1, sizeof *w);
	ES_CHECK(w, EMBSTORE_NO_MEMORY);
	w->fd = -1;
	w->alignment = ES_MIN_ALIGNMENT;
	w->chunk_bytes = ES_DEFAULT_CHUNK_BYTES;
	XXH3_INITSTATE(&w->chunk);
	embstore_status st = EMBSTORE_NO_MEMORY;
	if ((w->path = dup_str(path)) != NULL)
		st = create_temp(w);
	if (st == EMBSTORE_OK) {
		static const uint8_t placeholder[ES_SUPERBLOCK_SIZE];
		st = write_at_pos(w, placeholder, sizeof placeholder);
	}
	if (st != EMBSTORE_OK) {
		int saved = errno;
		embstore_writer_free(w);
		errno = saved;
		return st;
	}
	*out = w;
	return EMBSTORE_OK;
}

embstore_status embstore_writer_set_alignment(embstore_writer *w, uint32_t alignment)
{
	ES_CHECK(w && es_is_pow2(alignment) && alignment >= ES_MIN_ALIGNMENT && alignment <= ES_MAX_ALIGNMENT,
	         EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN && w->n_tables == 0, EMBSTORE_STATE);
	w->alignment = alignment;
	return EMBSTORE_OK;
}

embstore_status embstore_writer_set_chunk_bytes(embstore_writer *w, uint64_t bytes)
{
	ES_CHECK(w && bytes > 0, EMBSTORE_INVALID_ARGUMENT);
	w->chunk_bytes = bytes;
	return EMBSTORE_OK;
}

/* Validates a string for the pool and accounts for it (string plus its zero byte). */
static embstore_status add_pool_string(embstore_writer *w, const char *s, uint32_t min_len, uint32_t max_len,
                                       uint64_t *len_out)
{
	size_t len = strlen(s);
	ES_CHECK(len >= min_len, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(len <= max_len, EMBSTORE_LIMIT);
	ES_CHECK(es_utf8_valid((const uint8_t *)s, len), EMBSTORE_BAD_STRING);
	ES_CHECK(w->pool_size + len + 1 <= UINT32_MAX, EMBSTORE_LIMIT);
	*len_out = len;
	return EMBSTORE_OK;
}

embstore_status embstore_writer_add_meta(embstore_writer *w, const char *key, const char *value)
{
	ES_CHECK(w && key && value, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	uint64_t klen, vlen;
	ES_TRY(add_pool_string(w, key, 1, ES_MAX_NAME_LEN, &klen));
	ES_TRY(add_pool_string(w, value, 0, ES_MAX_VALUE_LEN, &vlen));
	ES_CHECK(w->n_meta < ES_MAX_META, EMBSTORE_LIMIT);
	for (uint32_t i = 0; i < w->n_meta; i++)
		ES_CHECK(strcmp(w->meta[i].key, key) != 0, EMBSTORE_DUPLICATE_NAME);
	ES_CHECK(grow32((void **)&w->meta, &w->cap_meta, w->n_meta + 1, sizeof *w->meta), EMBSTORE_NO_MEMORY);
	wmeta m = {dup_str(key), dup_str(value)};
	if (!m.key || !m.value) {
		free(m.key);
		free(m.value);
		return EMBSTORE_NO_MEMORY;
	}
	w->meta[w->n_meta++] = m;
	w->pool_size += klen + 1 + vlen + 1;
	return EMBSTORE_OK;
}

static wtable *current(embstore_writer *w)
{
	return w->n_tables ? &w->tables[w->n_tables - 1] : NULL;
}

static embstore_status close_chunk(embstore_writer *w)
{
	ES_CHECK(grow((void **)&w->sums, &w->cap_sums, w->n_sums + 1, 8), EMBSTORE_NO_MEMORY);
	w->sums[w->n_sums++] = XXH3_64bits_digest(&w->chunk);
	XXH3_64bits_reset(&w->chunk);
	w->chunk_filled = 0;
	return EMBSTORE_OK;
}

/* Closes the last chunk of the current table and checks it got all its rows. */
static embstore_status end_table(embstore_writer *w)
{
	wtable *t = current(w);
	if (!t)
		return EMBSTORE_OK;
	ES_CHECK(t->rows >= 1 && (t->rows_declared == 0 || t->rows == t->rows_declared), EMBSTORE_STATE);
	return w->chunk_filled > 0 ? close_chunk(w) : EMBSTORE_OK;
}

embstore_status embstore_writer_begin_table(embstore_writer *w, const char *name, embstore_dtype dtype,
                                            uint64_t rows, uint32_t dim)
{
	ES_CHECK(w && name, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	ES_CHECK(embstore_dtype_name(dtype) != NULL, EMBSTORE_BAD_DTYPE);
	ES_CHECK(dim >= 1, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(dim <= ES_MAX_DIM && rows <= ES_MAX_ROWS, EMBSTORE_LIMIT);
	uint64_t name_len;
	ES_TRY(add_pool_string(w, name, 1, ES_MAX_NAME_LEN, &name_len));
	ES_CHECK(w->n_tables < ES_MAX_TABLES, EMBSTORE_LIMIT);
	for (uint32_t i = 0; i < w->n_tables; i++)
		ES_CHECK(strcmp(w->tables[i].name, name) != 0, EMBSTORE_DUPLICATE_NAME);
	ES_TRY(end_table(w));

	wtable t = {0};
	t.dtype = dtype;
	t.rows_declared = rows;
	t.dim = dim;
	t.row_stride = embstore_row_bytes(dtype, dim);
	t.chunk_rows = w->chunk_bytes / t.row_stride;
	t.chunk_rows = t.chunk_rows < 1 ? 1 : t.chunk_rows > UINT32_MAX ? UINT32_MAX : t.chunk_rows;
	t.chunk_first = w->n_sums;

	/* Buffers for this table's rows: at least one row, about a megabyte otherwise. */
	size_t need = t.row_stride > ES_WRITE_BUFFER ? (size_t)t.row_stride : ES_WRITE_BUFFER;
	if (need > w->buf_cap) {
		uint8_t *b = realloc(w->buf, need);
		ES_CHECK(b, EMBSTORE_NO_MEMORY);
		w->buf = b;
		w->buf_cap = need;
	}
	float *rf = realloc(w->row_f32, (size_t)dim * sizeof(float));
	ES_CHECK(rf, EMBSTORE_NO_MEMORY);
	w->row_f32 = rf;
	ES_CHECK(grow32((void **)&w->tables, &w->cap_tables, w->n_tables + 1, sizeof *w->tables), EMBSTORE_NO_MEMORY);
	ES_CHECK((t.name = dup_str(name)) != NULL, EMBSTORE_NO_MEMORY);

	embstore_status st = pad_to(w, w->alignment);
	if (st != EMBSTORE_OK) {
		free(t.name);
		return fail(w, st);
	}
	t.data_offset = w->pos;
	w->tables[w->n_tables++] = t;
	w->pool_size += name_len + 1;
	XXH3_64bits_reset(&w->chunk);
	w->chunk_filled = 0;
	return EMBSTORE_OK;
}

/* Hashes `n` packed rows of the current table into the running chunks, closing chunks as they fill. */
static embstore_status hash_rows(embstore_writer *w, const wtable *t, const uint8_t *p, uint64_t n)
{
	while (n > 0) {
		uint64_t take = t->chunk_rows - w->chunk_filled;
		if (take > n)
			take = n;
		XXH3_64bits_update(&w->chunk, p, (size_t)(take * t->row_stride));
		p += take * t->row_stride;
		n -= take;
		w->chunk_filled += take;
		if (w->chunk_filled == t->chunk_rows)
			ES_TRY(close_chunk(w));
	}
	return EMBSTORE_OK;
}

/* Widens one source row to f32. */
static void widen_row(const uint8_t *src, embstore_dtype src_dtype, uint32_t dim, float *dst)
{
	switch (src_dtype) {
	case EMBSTORE_F32:
		memcpy(dst, src, (size_t)dim * 4);
		break;
	case EMBSTORE_F16:
	case EMBSTORE_BF16:
		for (uint32_t j = 0; j < dim; j++) {
			uint16_t h;
			memcpy(&h, src + 2 * (size_t)j, 2);
			dst[j] = src_dtype == EMBSTORE_F16 ? es_f16_to_f32(h) : es_bf16_to_f32(h);
		}
		break;
	case EMBSTORE_INT8_ROWWISE: /* never a conversion source: refused by the caller */
		break;
	}
}

/* Converts one source row into the table's dtype at dst. */
static embstore_status convert_row(embstore_writer *w, const wtable *t, const uint8_t *src,
                                   embstore_dtype src_dtype, uint8_t *dst)
{
	if (src_dtype == t->dtype) {
		memcpy(dst, src, (size_t)t->row_stride);
		if (t->dtype == EMBSTORE_INT8_ROWWISE) {
			float sb[2];
			memcpy(sb, src + t->dim, sizeof sb);
			ES_CHECK(isfinite(sb[0]) && isfinite(sb[1]), EMBSTORE_NON_FINITE);
		}
		return EMBSTORE_OK;
	}
	widen_row(src, src_dtype, t->dim, w->row_f32);
	switch (t->dtype) {
	case EMBSTORE_F32:
		memcpy(dst, w->row_f32, (size_t)t->dim * 4);
		break;
	case EMBSTORE_F16:
	case EMBSTORE_BF16:
		for (uint32_t j = 0; j < t->dim; j++) {
			uint16_t h = t->dtype == EMBSTORE_F16 ? embstore_f32_to_f16(w->row_f32[j])
			                                      : embstore_f32_to_bf16(w->row_f32[j]);
			memcpy(dst + 2 * (size_t)j, &h, 2);
		}
		break;
	case EMBSTORE_INT8_ROWWISE:
		return embstore_quantize_row_int8(w->row_f32, t->dim, dst);
	}
	return EMBSTORE_OK;
}

embstore_status embstore_writer_append(embstore_writer *w, const void *src, embstore_dtype src_dtype, uint64_t n,
                                       uint64_t src_stride)
{
	ES_CHECK(w && (src || n == 0), EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	wtable *t = current(w);
	ES_CHECK(t, EMBSTORE_STATE);
	ES_CHECK(embstore_dtype_name(src_dtype) != NULL, EMBSTORE_BAD_DTYPE);
	ES_CHECK(src_dtype != EMBSTORE_INT8_ROWWISE || t->dtype == EMBSTORE_INT8_ROWWISE, EMBSTORE_BAD_DTYPE);
	uint64_t src_row = embstore_row_bytes(src_dtype, t->dim);
	if (src_stride == 0)
		src_stride = src_row;
	ES_CHECK(src_stride >= src_row, EMBSTORE_INVALID_ARGUMENT);
	uint64_t total;
	ES_CHECK(es_add_u64(t->rows, n, &total) && total <= ES_MAX_ROWS, EMBSTORE_LIMIT);
	ES_CHECK(t->rows_declared == 0 || total <= t->rows_declared, EMBSTORE_STATE);

	const uint8_t *s = src;
	uint64_t per_batch = w->buf_cap / t->row_stride;
	while (n > 0) {
		uint64_t k = n < per_batch ? n : per_batch;
		for (uint64_t r = 0; r < k; r++)
			ES_TRY(fail(w, convert_row(w, t, s + r * src_stride, src_dtype, w->buf + r * t->row_stride)));
		ES_TRY(fail(w, hash_rows(w, t, w->buf, k)));
		ES_TRY(fail(w, write_at_pos(w, w->buf, (size_t)(k * t->row_stride))));
		t->rows += k;
		s += k * src_stride;
		n -= k;
	}
	return EMBSTORE_OK;
}

static void put_string(uint8_t *pool, uint64_t *cursor, const char *s, uint8_t *entry_off, uint8_t *entry_len)
{
	size_t len = strlen(s);
	es_put32(entry_off, (uint32_t)*cursor);
	es_put32(entry_len, (uint32_t)len);
	memcpy(pool + *cursor, s, len + 1);
	*cursor += len + 1;
}

/* Lays the directory out exactly as docs/FORMAT.md says, in one buffer. */
static embstore_status build_directory(embstore_writer *w, uint8_t **out, uint64_t *size)
{
	uint64_t n = (uint64_t)w->n_tables * ES_TABLE_ENTRY_SIZE + (uint64_t)w->n_meta * ES_META_ENTRY_SIZE +
	             w->n_sums * 8 + w->pool_size;
	ES_CHECK(n <= ES_MAX_DIR_SIZE, EMBSTORE_LIMIT);
	uint8_t *dir = calloc(1, (size_t)(n ? n : 1));
	ES_CHECK(dir, EMBSTORE_NO_MEMORY);
	uint8_t *metas = dir + (uint64_t)w->n_tables * ES_TABLE_ENTRY_SIZE;
	uint8_t *sums = metas + (uint64_t)w->n_meta * ES_META_ENTRY_SIZE;
	uint8_t *pool = sums + w->n_sums * 8;
	uint64_t cursor = 0;
	for (uint32_t i = 0; i < w->n_tables; i++) {
		const wtable *t = &w->tables[i];
		uint8_t *e = dir + (uint64_t)i * ES_TABLE_ENTRY_SIZE;
		put_string(pool, &cursor, t->name, e + ES_TE_NAME_OFFSET, e + ES_TE_NAME_LENGTH);
		es_put32(e + ES_TE_DTYPE, (uint32_t)t->dtype);
		es_put64(e + ES_TE_ROWS, t->rows);
		es_put32(e + ES_TE_DIM, t->dim);
		/* a table shorter than one chunk says so: the checksum is the same either way */
		es_put32(e + ES_TE_CHUNK_ROWS, (uint32_t)(t->chunk_rows < t->rows ? t->chunk_rows : t->rows));
		es_put64(e + ES_TE_ROW_STRIDE, t->row_stride);
		es_put64(e + ES_TE_DATA_OFFSET, t->data_offset);
		es_put64(e + ES_TE_DATA_SIZE, t->rows * t->row_stride);
		es_put64(e + ES_TE_CHUNK_FIRST, t->chunk_first);
		es_put64(e + ES_TE_CHUNK_COUNT, (t->rows + t->chunk_rows - 1) / t->chunk_rows);
	}
	for (uint32_t i = 0; i < w->n_meta; i++) {
		uint8_t *e = metas + (uint64_t)i * ES_META_ENTRY_SIZE;
		put_string(pool, &cursor, w->meta[i].key, e + 0, e + 4);
		put_string(pool, &cursor, w->meta[i].value, e + 8, e + 12);
	}
	for (uint64_t i = 0; i < w->n_sums; i++)
		es_put64(sums + 8 * i, w->sums[i]);
	*out = dir;
	*size = n;
	return EMBSTORE_OK;
}

static embstore_status write_superblock(embstore_writer *w, const uint8_t *dir, uint64_t dir_offset,
                                        uint64_t dir_size)
{
	uint8_t sb[ES_SUPERBLOCK_SIZE] = {0};
	memcpy(sb, ES_MAGIC, ES_MAGIC_LEN);
	es_put16(sb + ES_SB_VERSION_MAJOR, EMBSTORE_FORMAT_MAJOR);
	es_put16(sb + ES_SB_VERSION_MINOR, EMBSTORE_FORMAT_MINOR);
	es_put32(sb + ES_SB_SUPERBLOCK_SIZE, ES_SUPERBLOCK_SIZE);
	es_put64(sb + ES_SB_FILE_SIZE, dir_offset + dir_size);
	es_put64(sb + ES_SB_DIR_OFFSET, dir_offset);
	es_put64(sb + ES_SB_DIR_SIZE, dir_size);
	es_put32(sb + ES_SB_TABLE_COUNT, w->n_tables);
	es_put32(sb + ES_SB_META_COUNT, w->n_meta);
	es_put64(sb + ES_SB_CHECKSUM_COUNT, w->n_sums);
	es_put32(sb + ES_SB_POOL_SIZE, (uint32_t)w->pool_size);
	es_put32(sb + ES_SB_ALIGNMENT, w->alignment);
	es_put64(sb + ES_SB_CHECKSUM, es_header_checksum(sb, dir, dir_size));
	ES_CHECK(pwrite(w->fd, sb, sizeof sb, 0) == (ssize_t)sizeof sb, EMBSTORE_IO);
	return EMBSTORE_OK;
}

/* fsync of the directory makes the rename itself durable. */
static embstore_status sync_parent_dir(const char *path)
{
	char *dir = parent_dir(path);
	ES_CHECK(dir, EMBSTORE_NO_MEMORY);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	ES_CHECK(fd >= 0, EMBSTORE_IO);
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	ES_CHECK(rc == 0, EMBSTORE_IO);
	return EMBSTORE_OK;
}

static embstore_status commit(embstore_writer *w)
{
	ES_TRY(end_table(w));
	ES_TRY(pad_to(w, ES_DIR_ALIGN));
	uint64_t dir_offset = w->pos, dir_size;
	uint8_t *dir;
	ES_TRY(build_directory(w, &dir, &dir_size));
	embstore_status st = write_at_pos(w, dir, (size_t)dir_size);
	if (st == EMBSTORE_OK)
		st = write_superblock(w, dir, dir_offset, dir_size);
	free(dir);
	ES_TRY(st);
	ES_CHECK(fsync(w->fd) == 0, EMBSTORE_IO);
	ES_TRY(name_temp(w));
	int rc = close(w->fd);
	w->fd = -1;
	ES_CHECK(rc == 0, EMBSTORE_IO);
	ES_CHECK(rename(w->tmp_path, w->path) == 0, EMBSTORE_IO);
	w->named = false; /* committed: nothing for free() to remove */
	return sync_parent_dir(w->path);
}

embstore_status embstore_writer_finish(embstore_writer *w)
{
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	embstore_status st = commit(w);
	w->state = st == EMBSTORE_OK ? W_FINISHED : W_FAILED;
	return st;
}

void embstore_writer_free(embstore_writer *w)
{
	if (!w)
		return;
	int saved = errno;
	if (w->fd >= 0)
		close(w->fd);
	if (w->named)
		unlink(w->tmp_path);
	errno = saved;
	for (uint32_t i = 0; i < w->n_tables; i++)
		free(w->tables[i].name);
	for (uint32_t i = 0; i < w->n_meta; i++) {
		free(w->meta[i].key);
		free(w->meta[i].value);
	}
	free(w->tables);
	free(w->meta);
	free(w->sums);
	free(w->buf);
	free(w->row_f32);
	free(w->tmp_path);
	free(w->path);
	free(w);
}
