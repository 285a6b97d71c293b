/* writer.c: the streaming builder. Rows are converted (convert.c) and written to the file being committed
 * (commit.c) as they come, hashed chunk by chunk; the directory, which holds the checksums, is encoded last
 * (encode.c), then the superblock. Memory holds one conversion buffer and 8 bytes per chunk, whatever the table
 * size. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "commit.h"
#include "format.h"
#include "lock.h"
#include "vocab.h"
#include "writer.h"

#define ES_WRITE_BUFFER (1u << 20)
#define ES_WRITEBACK_BYTES (8u << 20)
/* The page cache gives a write(2) folios no larger than the write and aligned in the file: only whole aligned
 * 2 MiB writes give the 2 MiB folios that readers map with one TLB entry each, not 512. */
#define ES_FOLIO_BYTES ((size_t)2 << 20)

enum wstate { W_OPEN, W_FAILED, W_SEALED, W_FINISHED };

struct embstore_writer {
	es_commit file;
	enum wstate state;
	uint64_t pos; /* bytes written so far = end of file, staged bytes included */
	uint64_t flushed; /* bytes in the file; stage holds those from flushed to pos */
	uint8_t *stage;   /* huge pages asked for: ES_FOLIO_BYTES waiting for the next 2 MiB boundary of the file */
	uint64_t writeback; /* bytes whose write-back was started */
	uint32_t alignment;
	uint64_t chunk_bytes;
	bool saturate;
	bool wait; /* for a writer holding the file at path */
	bool holding; /* es_writer_hold took the lock of the file at path: `held` (-1: there was no file) */
	int held;
	es_table *tables; /* names owned; the last one is being appended to */
	uint32_t n_tables, cap_tables;
	uint64_t rows_declared; /* of the last table; 0: not known in advance */
	es_meta *meta;          /* keys and values owned */
	uint32_t n_meta, cap_meta;
	uint64_t *sums;
	uint64_t n_sums, cap_sums;
	uint64_t pool_size;
	XXH3_state_t chunk;    /* hash of the current chunk so far */
	uint64_t chunk_filled; /* rows in it */
	uint8_t *buf;          /* converted rows waiting to be written */
	size_t buf_cap;
	float *row_f32;        /* one row widened to f32 */
	bool table_ended;      /* end_table ran for the last table (it writes its vocabulary: only once) */
	int keyed;             /* last table: -1 no rows yet, 0 plain rows, 1 rows with keys */
	es_vocab_build vocab;  /* its keys, while keyed */
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

/* Names the output file in the detail of a failure to write or commit it ("writing 'out.emb'"); keeps errno. */
static embstore_status file_error(embstore_status st, const char *doing, const char *path)
{
	if (st != EMBSTORE_OK) {
		int saved = errno;
		es_detail("%s '%s'", doing, path);
		errno = saved;
	}
	return st;
}

/* Starts the write-back of what was written since the last call, once that is ES_WRITEBACK_BYTES: the disk then
 * works while the input is still read, instead of all at once in the commit's fsync, which is left to wait for
 * the rest. Only a hint: that fsync still makes the file durable and reports any error. */
static void start_writeback(embstore_writer *w)
{
#ifdef SYNC_FILE_RANGE_WRITE
	if (w->flushed - w->writeback >= ES_WRITEBACK_BYTES) {
		(void)sync_file_range(w->file.fd, (off_t)w->writeback, (off_t)(w->flushed - w->writeback),
		                      SYNC_FILE_RANGE_WRITE);
		w->writeback = w->flushed;
	}
#else
	(void)w;
#endif
}

static embstore_status write_out(embstore_writer *w, const void *p, size_t n)
{
	ES_TRY(file_error(es_write_all(w->file.fd, p, n), "writing", w->file.path));
	w->flushed += n;
	start_writeback(w);
	return EMBSTORE_OK;
}

/* Writes what is staged: before anything else writes to the file, and at the end. */
static embstore_status flush_stage(embstore_writer *w)
{
	size_t staged = (size_t)(w->pos - w->flushed);
	return staged > 0 ? write_out(w, w->stage, staged) : EMBSTORE_OK;
}

/* Appends n bytes to the file. With huge pages, every write(2) past the first 2 MiB boundary covers whole
 * aligned 2 MiB: bytes short of a boundary are staged; whole blocks from a boundary go out without a copy. */
static embstore_status write_at_pos(embstore_writer *w, const void *p, size_t n)
{
	if (!w->stage) {
		ES_TRY(write_out(w, p, n));
		w->pos += n;
		return EMBSTORE_OK;
	}
	const uint8_t *b = p;
	while (n > 0) {
		size_t to_boundary = ES_FOLIO_BYTES - (size_t)(w->pos % ES_FOLIO_BYTES);
		size_t k;
		if (w->pos == w->flushed && to_boundary == ES_FOLIO_BYTES && n >= ES_FOLIO_BYTES) {
			k = n - n % ES_FOLIO_BYTES;
			ES_TRY(write_out(w, b, k));
		} else {
			k = n < to_boundary ? n : to_boundary;
			memcpy(w->stage + (size_t)(w->pos - w->flushed), b, k);
		}
		w->pos += k;
		b += k;
		n -= k;
		if (w->pos % ES_FOLIO_BYTES == 0)
			ES_TRY(flush_stage(w));
	}
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

embstore_status embstore_writer_create(const char *path, embstore_writer **out)
{
	es_detail_clear();
	ES_CHECK(path && *path && out, EMBSTORE_INVALID_ARGUMENT);
	embstore_writer *w = calloc(1, sizeof *w);
	ES_CHECK(w, EMBSTORE_NO_MEMORY);
	w->file.fd = -1;
	w->held = -1;
	w->alignment = ES_MIN_ALIGNMENT;
	w->chunk_bytes = ES_DEFAULT_CHUNK_BYTES;
	XXH3_INITSTATE(&w->chunk);
	embstore_status st = file_error(es_commit_begin(&w->file, path), "creating a temporary file for", path);
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

embstore_status embstore_writer_set_huge_pages(embstore_writer *w, int huge_pages)
{
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN && w->n_tables == 0, EMBSTORE_STATE);
	if (huge_pages && !w->stage) {
		w->stage = malloc(ES_FOLIO_BYTES);
		ES_CHECK(w->stage, EMBSTORE_NO_MEMORY);
	} else if (!huge_pages && w->stage) {
		ES_TRY(fail(w, flush_stage(w)));
		free(w->stage);
		w->stage = NULL;
	}
	return EMBSTORE_OK;
}

embstore_status embstore_writer_set_saturate(embstore_writer *w, int saturate)
{
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	w->saturate = saturate != 0;
	return EMBSTORE_OK;
}

embstore_status embstore_writer_set_wait(embstore_writer *w, int wait)
{
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	w->wait = wait != 0;
	return EMBSTORE_OK;
}

/* The file now at the path, if any, locked as its writers lock it, and held through the rename: a trainer that
 * has it open makes this fail (or wait), and one that opens it meanwhile finds it locked, and then the new file.
 * *fd is -1 when there is nothing to lock. */
static embstore_status lock_replaced(embstore_writer *w, int *fd)
{
	*fd = open(w->file.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0 && errno == ENOENT)
		return EMBSTORE_OK; /* nothing to replace */
	ES_TRY(file_error(*fd < 0 ? EMBSTORE_IO : EMBSTORE_OK, "checking for a writer of", w->file.path));
	struct stat sb;
	embstore_status st = fstat(*fd, &sb) == 0 && S_ISREG(sb.st_mode) ? es_lock(*fd, w->wait, w->file.path)
	                                                                   : EMBSTORE_OK;
	if (st != EMBSTORE_OK) {
		int saved = errno;
		close(*fd);
		*fd = -1;
		errno = saved;
	}
	return st;
}

/* Validates a string for the pool and accounts for it (string plus its zero byte). */
static embstore_status check_pool_string(embstore_writer *w, const char *what, const char *s, uint32_t min_len,
                                         uint32_t max_len, uint64_t *len_out)
{
	size_t len = strlen(s);
	ES_CHECKF(len >= min_len, EMBSTORE_INVALID_ARGUMENT, "empty %s", what);
	ES_CHECKF(len <= max_len, EMBSTORE_LIMIT, "%s of %zu bytes is over the cap of %u", what, len, max_len);
	ES_CHECKF(es_utf8_valid((const uint8_t *)s, len), EMBSTORE_BAD_STRING, "%s is not valid UTF-8", what);
	ES_CHECKF(w->pool_size + len + 1 <= UINT32_MAX, EMBSTORE_LIMIT, "names, keys and values exceed 4 GiB");
	*len_out = len;
	return EMBSTORE_OK;
}

embstore_status embstore_writer_add_meta(embstore_writer *w, const char *key, const char *value)
{
	es_detail_clear();
	ES_CHECK(w && key && value, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	uint64_t klen, vlen;
	ES_TRY(check_pool_string(w, "metadata key", key, 1, ES_MAX_NAME_LEN, &klen));
	ES_TRY(check_pool_string(w, "metadata value", value, 0, ES_MAX_VALUE_LEN, &vlen));
	ES_CHECKF(w->n_meta < ES_MAX_META, EMBSTORE_LIMIT, "more than %u metadata entries", ES_MAX_META);
	for (uint32_t i = 0; i < w->n_meta; i++)
		ES_CHECKF(strcmp(w->meta[i].key, key) != 0, EMBSTORE_DUPLICATE_NAME, "metadata key '%s' given twice", key);
	ES_CHECK(grow32((void **)&w->meta, &w->cap_meta, w->n_meta + 1, sizeof *w->meta), EMBSTORE_NO_MEMORY);
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return EMBSTORE_NO_MEMORY;
	}
	w->meta[w->n_meta++] = (es_meta){k, v};
	w->pool_size += klen + 1 + vlen + 1;
	return EMBSTORE_OK;
}

const char *es_writer_meta_value(const embstore_writer *w, const char *key)
{
	for (uint32_t i = 0; i < w->n_meta; i++)
		if (strcmp(w->meta[i].key, key) == 0)
			return w->meta[i].value;
	return NULL;
}

static es_table *current(embstore_writer *w)
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

/* Closes the last chunk of the current table, checks it got all its rows and completes its entry. */
static embstore_status end_table(embstore_writer *w)
{
	es_table *t = current(w);
	if (!t || w->table_ended)
		return EMBSTORE_OK;
	ES_CHECKF(t->rows >= 1, EMBSTORE_STATE, "table '%s' has no rows", t->name);
	ES_CHECKF(w->rows_declared == 0 || t->rows == w->rows_declared, EMBSTORE_STATE,
	          "table '%s' has %llu of its %llu rows", t->name, (unsigned long long)t->rows,
	          (unsigned long long)w->rows_declared);
	if (w->chunk_filled > 0)
		ES_TRY(close_chunk(w));
	if (t->chunk_rows > t->rows)
		t->chunk_rows = t->rows;
	t->chunk_count = es_chunk_count(t->rows, t->chunk_rows);
	t->data_size = t->rows * t->row_stride;
	if (w->keyed == 1) {
		ES_CHECKF(w->vocab.n == t->rows, EMBSTORE_STATE, "table '%s' has %llu rows and %llu keys", t->name,
		          (unsigned long long)t->rows, (unsigned long long)w->vocab.n);
		ES_TRY(pad_to(w, ES_VOCAB_ALIGN));
		t->flags |= ES_TABLE_FLAG_VOCAB;
		t->vocab_offset = w->pos;
		ES_TRY(flush_stage(w));
		ES_TRY(file_error(es_vocab_build_write(&w->vocab, w->file.fd, &t->vocab_size, &t->vocab_checksum), "writing",
		                  w->file.path));
		w->pos += t->vocab_size;
		w->flushed = w->pos;
		es_vocab_build_free(&w->vocab);
	}
	w->table_ended = true;
	return EMBSTORE_OK;
}

embstore_status embstore_writer_begin_table(embstore_writer *w, const char *name, embstore_dtype dtype,
                                            uint64_t rows, uint32_t dim)
{
	es_detail_clear();
	ES_CHECK(w && name, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	ES_CHECKF(es_elem_bytes(dtype) != 0, EMBSTORE_BAD_DTYPE, "dtype code %d", (int)dtype);
	ES_CHECKF(dim >= 1, EMBSTORE_INVALID_ARGUMENT, "table '%s': dim 0", name);
	ES_CHECKF(dim <= ES_MAX_DIM && rows <= ES_MAX_ROWS, EMBSTORE_LIMIT,
	          "table '%s': %llu rows x %u dim is over the caps (%llu rows, %u dim)", name, (unsigned long long)rows,
	          dim, (unsigned long long)ES_MAX_ROWS, ES_MAX_DIM);
	uint64_t name_len;
	ES_TRY(check_pool_string(w, "table name", name, 1, ES_MAX_NAME_LEN, &name_len));
	ES_CHECKF(w->n_tables < ES_MAX_TABLES, EMBSTORE_LIMIT, "more than %u tables", ES_MAX_TABLES);
	for (uint32_t i = 0; i < w->n_tables; i++)
		ES_CHECKF(strcmp(w->tables[i].name, name) != 0, EMBSTORE_DUPLICATE_NAME, "table '%s' given twice", name);
	ES_TRY(end_table(w));

	es_table t = {.dtype = dtype, .dim = dim, .row_stride = es_row_bytes(dtype, dim), .chunk_first = w->n_sums};
	t.chunk_rows = es_chunk_rows(w->chunk_bytes, t.row_stride);

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
	ES_CHECK((t.name = strdup(name)) != NULL, EMBSTORE_NO_MEMORY);

	embstore_status st = pad_to(w, w->alignment);
	if (st != EMBSTORE_OK) {
		free((char *)t.name);
		return fail(w, st);
	}
	t.data_offset = w->pos;
	w->tables[w->n_tables++] = t;
	w->rows_declared = rows;
	w->table_ended = false;
	w->keyed = -1;
	w->pool_size += name_len + 1;
	XXH3_64bits_reset(&w->chunk);
	w->chunk_filled = 0;
	return EMBSTORE_OK;
}

/* Hashes `n` packed rows of the current table into the running chunks, closing chunks as they fill. */
static embstore_status hash_rows(embstore_writer *w, const es_table *t, const uint8_t *p, uint64_t n)
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

/* Says which value of which row could not be stored. */
static embstore_status conversion_error(const es_table *t, embstore_status st, const uint8_t *src,
                                        embstore_dtype src_type, uint64_t row, uint32_t col, const float *widened)
{
	unsigned long long r = (unsigned long long)row;
	if (st == EMBSTORE_RANGE) {
		double v = widened[col];
		if (src_type == ES_SRC_F64) /* the value itself: its f32 rounding is what overflowed */
			memcpy(&v, src + 8 * (size_t)col, 8);
		es_detail("table '%s', row %llu, column %u: %g does not fit %s", t->name, r, col, v,
		          src_type == ES_SRC_F64 && t->dtype != EMBSTORE_F16 && t->dtype != EMBSTORE_BF16
		                  ? "f32"
		                  : embstore_dtype_name(t->dtype));
	} else if (st == EMBSTORE_NON_FINITE && col == t->dim) {
		es_detail("table '%s', row %llu: the int8 row's scale or bias is not finite", t->name, r);
	} else if (st == EMBSTORE_NON_FINITE) {
		es_detail("table '%s', row %llu, column %u: int8 cannot quantise %g", t->name, r, col, (double)widened[col]);
	}
	return st;
}

static embstore_status append_rows(embstore_writer *w, const void *src, embstore_dtype src_type, uint64_t n,
                                   uint64_t src_stride)
{
	ES_CHECK(w && (src || n == 0), EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN, EMBSTORE_STATE);
	es_table *t = current(w);
	ES_CHECKF(t, EMBSTORE_STATE, "rows appended before any table was begun");
	uint64_t src_row = es_src_row_bytes(src_type, t->dim);
	ES_CHECKF(src_row != 0, EMBSTORE_BAD_DTYPE, "source dtype code %d", (int)src_type);
	ES_CHECKF(src_type != EMBSTORE_INT8_ROWWISE || t->dtype == EMBSTORE_INT8_ROWWISE, EMBSTORE_BAD_DTYPE,
	          "int8 rows can only go to an int8 table; table '%s' is %s", t->name, embstore_dtype_name(t->dtype));
	if (src_stride == 0)
		src_stride = src_row;
	ES_CHECK(src_stride >= src_row, EMBSTORE_INVALID_ARGUMENT);
	uint64_t total;
	ES_CHECKF(es_add_u64(t->rows, n, &total) && total <= ES_MAX_ROWS, EMBSTORE_LIMIT,
	          "table '%s': more than %llu rows", t->name, (unsigned long long)ES_MAX_ROWS);
	ES_CHECKF(w->rows_declared == 0 || total <= w->rows_declared, EMBSTORE_STATE,
	          "table '%s': %llu rows appended to a table of %llu", t->name, (unsigned long long)total,
	          (unsigned long long)w->rows_declared);

	const uint8_t *s = src;
	if (src_type == t->dtype && src_type != EMBSTORE_INT8_ROWWISE && src_stride == t->row_stride) {
		/* Nothing to convert or check: the rows go out as they are, without a copy through the buffer. */
		ES_TRY(fail(w, hash_rows(w, t, s, n)));
		ES_TRY(fail(w, write_at_pos(w, s, (size_t)(n * t->row_stride))));
		t->rows += n;
		return EMBSTORE_OK;
	}
	uint64_t per_batch = w->buf_cap / t->row_stride;
	while (n > 0) {
		uint64_t k = n < per_batch ? n : per_batch;
		for (uint64_t r = 0; r < k; r++) {
			uint32_t col = 0;
			const uint8_t *row = s + r * src_stride;
			embstore_status st = es_convert_row(row, src_type, w->buf + r * t->row_stride, t->dtype, t->dim,
			                                    w->saturate, w->row_f32, &col);
			if (st != EMBSTORE_OK)
				return fail(w, conversion_error(t, st, row, src_type, t->rows + r, col, w->row_f32));
		}
		ES_TRY(fail(w, hash_rows(w, t, w->buf, k)));
		ES_TRY(fail(w, write_at_pos(w, w->buf, (size_t)(k * t->row_stride))));
		t->rows += k;
		s += k * src_stride;
		n -= k;
	}
	return EMBSTORE_OK;
}

/* A table's rows all have keys, or none. */
static embstore_status check_keyed(embstore_writer *w, int keyed)
{
	es_table *t = current(w);
	if (!t || w->state != W_OPEN || w->keyed == keyed)
		return EMBSTORE_OK; /* append_rows names the other problems */
	ES_CHECKF(w->keyed == -1, EMBSTORE_STATE, "table '%s': rows with keys and rows without cannot be mixed", t->name);
	if (keyed) {
		embstore_status st = es_vocab_build_init(&w->vocab, w->file.dir);
		if (st != EMBSTORE_OK) {
			es_vocab_build_free(&w->vocab);
			return st;
		}
	}
	w->keyed = keyed;
	return EMBSTORE_OK;
}

embstore_status es_writer_append(embstore_writer *w, const void *src, embstore_dtype src_type, uint64_t n,
                                 uint64_t src_stride)
{
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_TRY(check_keyed(w, 0));
	return append_rows(w, src, src_type, n, src_stride);
}

embstore_status embstore_writer_append(embstore_writer *w, const void *src, embstore_dtype src_dtype, uint64_t n,
                                       uint64_t src_stride)
{
	es_detail_clear();
	ES_CHECKF(es_elem_bytes(src_dtype) != 0, EMBSTORE_BAD_DTYPE, "source dtype code %d", (int)src_dtype);
	return es_writer_append(w, src, src_dtype, n, src_stride);
}

embstore_status embstore_writer_append_keyed(embstore_writer *w, const void *src, embstore_dtype src_dtype,
                                             uint64_t n, uint64_t src_stride, const char *const *keys,
                                             const size_t *key_lens)
{
	es_detail_clear();
	ES_CHECK(w && ((keys && key_lens) || n == 0), EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(es_elem_bytes(src_dtype) != 0, EMBSTORE_BAD_DTYPE, "source dtype code %d", (int)src_dtype);
	ES_CHECK(w->state == W_OPEN && current(w), EMBSTORE_STATE);
	ES_TRY(check_keyed(w, 1));
	/* Keys first: a repeat refuses the call before its rows are written (the writer fails either way). */
	for (uint64_t i = 0; i < n; i++) {
		ES_CHECK(keys[i] || key_lens[i] == 0, EMBSTORE_INVALID_ARGUMENT);
		ES_TRY(fail(w, es_vocab_build_add(&w->vocab, keys[i], key_lens[i])));
	}
	return append_rows(w, src, src_dtype, n, src_stride);
}

embstore_status es_writer_add_key(embstore_writer *w, const void *key, size_t len, uint64_t hash, bool *repeated)
{
	ES_CHECK(w->state == W_OPEN && current(w), EMBSTORE_STATE);
	ES_TRY(check_keyed(w, 1));
	uint64_t row;
	embstore_status st = es_vocab_build_add_once(&w->vocab, key, len, hash, &row);
	*repeated = st == EMBSTORE_DUPLICATE_NAME;
	return *repeated ? EMBSTORE_OK : fail(w, st);
}

void es_writer_prefetch_key(const embstore_writer *w, uint64_t hash)
{
	if (w->keyed == 1)
		es_vocab_build_prefetch(&w->vocab, hash);
}

embstore_status es_writer_append_keyed_rows(embstore_writer *w, const void *src, embstore_dtype src_type, uint64_t n)
{
	ES_CHECK(w->keyed == 1, EMBSTORE_STATE);
	return append_rows(w, src, src_type, n, 0);
}

embstore_status embstore_writer_find_key(embstore_writer *w, const void *key, size_t len, uint64_t *row)
{
	es_detail_clear();
	ES_CHECK(w && (key || len == 0) && row, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK(w->state == W_OPEN && current(w), EMBSTORE_STATE);
	if (w->keyed != 1)
		return EMBSTORE_UNKNOWN_KEY;
	return es_vocab_build_find(&w->vocab, key, len, row);
}

/* Both checksum slots after the directory, with the same checksums: slot 0 current (generation 1), slot 1 the one
 * the first sync will write. */
static embstore_status write_slots(embstore_writer *w)
{
	ES_TRY(pad_to(w, ES_DIR_ALIGN));
	size_t size = (size_t)es_slot_size(w->n_sums);
	uint8_t *slot = malloc(size);
	ES_CHECK(slot, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	for (unsigned k = 0; k < 2 && st == EMBSTORE_OK; k++) {
		es_encode_slot(slot, k == 0 ? 1 : 0, w->sums, w->n_sums);
		st = write_at_pos(w, slot, size);
	}
	free(slot);
	return st;
}

static embstore_status seal(embstore_writer *w)
{
	ES_TRY(end_table(w));
	ES_TRY(pad_to(w, ES_DIR_ALIGN));
	es_dir_parts parts = {w->tables, w->n_tables, w->meta, w->n_meta, w->sums, w->n_sums, (uint32_t)w->pool_size};
	uint64_t dir_offset = w->pos, dir_size;
	uint8_t *dir;
	ES_TRY(es_encode_directory(&parts, &dir, &dir_size));
	uint8_t sb[ES_SUPERBLOCK_SIZE];
	es_encode_superblock(&parts, w->alignment, dir_offset, dir, dir_size, sb);
	embstore_status st = write_at_pos(w, dir, (size_t)dir_size);
	free(dir);
	ES_TRY(st);
	ES_TRY(write_slots(w));
	ES_TRY(flush_stage(w));
	return file_error(es_pwrite_all(w->file.fd, sb, sizeof sb, 0), "writing", w->file.path);
}

static void release(embstore_writer *w)
{
	if (w->held >= 0) {
		int saved = errno;
		close(w->held);
		errno = saved;
	}
	w->held = -1;
	w->holding = false;
}

static embstore_status hold(embstore_writer *w)
{
	if (!w->holding) {
		ES_TRY(lock_replaced(w, &w->held));
		w->holding = true;
	}
	return EMBSTORE_OK;
}

static embstore_status publish(embstore_writer *w)
{
	ES_TRY(hold(w));
	embstore_status st = file_error(es_commit_finish(&w->file), "committing", w->file.path);
	release(w);
	return st;
}

embstore_status embstore_writer_finish(embstore_writer *w)
{
	es_detail_clear();
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(w->state == W_OPEN, EMBSTORE_STATE, "the writer failed earlier or was finished");
	embstore_status st = seal(w);
	if (st == EMBSTORE_OK)
		st = publish(w);
	w->state = st == EMBSTORE_OK ? W_FINISHED : W_FAILED;
	return st;
}

embstore_status es_writer_seal(embstore_writer *w)
{
	es_detail_clear();
	ES_CHECK(w, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(w->state == W_OPEN, EMBSTORE_STATE, "the writer failed earlier or was finished");
	embstore_status st = seal(w);
	if (st == EMBSTORE_OK && fdatasync(w->file.fd) != 0)
		st = file_error(EMBSTORE_IO, "writing", w->file.path);
	w->state = st == EMBSTORE_OK ? W_SEALED : W_FAILED;
	/* Only the unnamed file is left to publish: a set of many sealed writers holds no buffers. */
	free(w->buf);
	free(w->stage);
	free(w->row_f32);
	free(w->sums);
	w->buf = NULL;
	w->stage = NULL;
	w->row_f32 = NULL;
	w->sums = NULL;
	w->buf_cap = 0;
	w->n_sums = w->cap_sums = 0;
	return st;
}

embstore_status es_writers_publish(embstore_writer *const *w, uint32_t n)
{
	es_detail_clear();
	for (uint32_t i = 0; i < n; i++) {
		ES_CHECK(w[i], EMBSTORE_INVALID_ARGUMENT);
		ES_CHECKF(w[i]->state == W_SEALED, EMBSTORE_STATE, "the writer is not sealed");
	}
	es_commit **c = malloc((n ? n : 1) * sizeof *c);
	ES_CHECK(c, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	for (uint32_t i = 0; i < n && st == EMBSTORE_OK; i++) {
		st = hold(w[i]);
		c[i] = &w[i]->file;
	}
	if (st == EMBSTORE_OK) {
		size_t failed = 0;
		st = es_commit_finish_all(c, n, &failed);
		if (st == EMBSTORE_IO)
			file_error(st, "committing", w[failed]->file.path);
	}
	for (uint32_t i = 0; i < n; i++) {
		release(w[i]);
		w[i]->state = st == EMBSTORE_OK ? W_FINISHED : W_FAILED;
	}
	free(c);
	return st;
}

void embstore_writer_free(embstore_writer *w)
{
	if (!w)
		return;
	es_commit_abandon(&w->file);
	release(w);
	for (uint32_t i = 0; i < w->n_tables; i++)
		free((char *)w->tables[i].name);
	for (uint32_t i = 0; i < w->n_meta; i++) {
		free((char *)w->meta[i].key);
		free((char *)w->meta[i].value);
	}
	free(w->tables);
	free(w->meta);
	free(w->sums);
	free(w->buf);
	free(w->stage);
	free(w->row_f32);
	if (w->keyed == 1)
		es_vocab_build_free(&w->vocab);
	free(w);
}
