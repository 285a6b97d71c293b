/* vocab.c: see vocab.h. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "commit.h"
#include "vocab.h"

#define OFFSET_BITS 40
#define OFFSET_MASK ((UINT64_C(1) << OFFSET_BITS) - 1)
#define SPILL_BUFFER (1u << 16)
#define HUGE_PAGE ((size_t)2 << 20)

uint64_t es_key_hash(const void *key, size_t len)
{
	return XXH3_64bits(key, len);
}

embstore_status es_key_check(const void *key, size_t len)
{
	ES_CHECKF(len >= 1, EMBSTORE_BAD_STRING, "empty key");
	ES_CHECKF(len <= ES_MAX_KEY_LEN, EMBSTORE_LIMIT, "key of %zu bytes is over the cap of %u", len, ES_MAX_KEY_LEN);
	ES_CHECKF(es_utf8_valid(key, len), EMBSTORE_BAD_STRING, "key '%.*s' is not valid UTF-8 (or holds a zero byte)",
	          (int)(len > 60 ? 60 : len), (const char *)key);
	return EMBSTORE_OK;
}

static uint64_t bucket_value(uint64_t hash, uint64_t entry)
{
	return (hash >> OFFSET_BITS) << OFFSET_BITS | (entry + 1);
}

/* ---- reader ---- */

typedef struct vview {
	const uint8_t *offsets, *buckets, *blob;
	uint64_t rows, bucket_count, blob_size;
} vview;

static vview view(const uint8_t *base, const es_table *t)
{
	const uint8_t *v = base + t->vocab_offset;
	vview w = {v + ES_VOCAB_HEADER, v + ES_VOCAB_HEADER + 8 * t->rows, NULL, t->rows, t->bucket_count, t->blob_size};
	w.blob = w.buckets + 8 * t->bucket_count;
	return w;
}

/* The key entry at blob offset `off`, checked to lie in the blob. */
static embstore_status entry_at(const vview *w, uint64_t off, uint64_t *row, const uint8_t **key, uint32_t *len)
{
	ES_CHECKF(off <= w->blob_size && w->blob_size - off >= ES_KEY_ENTRY_HEADER, EMBSTORE_CORRUPT,
	          "vocabulary key entry at %llu is outside the %llu-byte blob", (unsigned long long)off,
	          (unsigned long long)w->blob_size);
	*row = es_le64(w->blob + off);
	*len = es_le32(w->blob + off + 8);
	ES_CHECKF(*row < w->rows && *len <= w->blob_size - off - ES_KEY_ENTRY_HEADER, EMBSTORE_CORRUPT,
	          "vocabulary key entry at %llu (row %llu, %u bytes) does not fit", (unsigned long long)off,
	          (unsigned long long)*row, *len);
	*key = w->blob + off + ES_KEY_ENTRY_HEADER;
	return EMBSTORE_OK;
}

embstore_status es_vocab_find(const uint8_t *base, const es_table *t, const void *key, size_t len, uint64_t *row)
{
	vview w = view(base, t);
	uint64_t h = es_key_hash(key, len), mask = w.bucket_count - 1, tag = h >> OFFSET_BITS;
	/* At most every bucket once: a crafted index with no empty bucket ends too. */
	for (uint64_t probe = 0, i = h & mask; probe < w.bucket_count; probe++, i = (i + 1) & mask) {
		uint64_t b = es_le64(w.buckets + 8 * i);
		if (b == 0)
			break;
		if (b >> OFFSET_BITS != tag)
			continue;
		ES_CHECKF((b & OFFSET_MASK) != 0, EMBSTORE_CORRUPT, "vocabulary bucket %llu is malformed",
		          (unsigned long long)i);
		uint64_t r;
		const uint8_t *k;
		uint32_t n;
		ES_TRY(entry_at(&w, (b & OFFSET_MASK) - 1, &r, &k, &n));
		if (n == len && memcmp(k, key, len) == 0) {
			*row = r;
			return EMBSTORE_OK;
		}
	}
	return EMBSTORE_UNKNOWN_KEY;
}

embstore_status es_vocab_key(const uint8_t *base, const es_table *t, uint64_t row, const uint8_t **key,
                             uint32_t *len)
{
	vview w = view(base, t);
	uint64_t r;
	ES_TRY(entry_at(&w, es_le64(w.offsets + 8 * row), &r, key, len));
	ES_CHECKF(r == row, EMBSTORE_CORRUPT, "vocabulary entry of row %llu says row %llu", (unsigned long long)row,
	          (unsigned long long)r);
	return EMBSTORE_OK;
}

void es_vocab_verify(const uint8_t *base, const es_table *t, int (*bad)(void *ctx, uint64_t first_row,
                                                                      uint64_t row_count), void *ctx)
{
	vview w = view(base, t);
	if (XXH3_64bits(base + t->vocab_offset, (size_t)t->vocab_size) != t->vocab_checksum && bad(ctx, 0, t->rows))
		return;
	uint64_t expect = 0;
	for (uint64_t r = 0; r < w.rows; r++) {
		const uint8_t *k;
		uint32_t n;
		uint64_t found = UINT64_MAX;
		bool ok = es_le64(w.offsets + 8 * r) == expect && es_vocab_key(base, t, r, &k, &n) == EMBSTORE_OK &&
		          n >= 1 && n <= ES_MAX_KEY_LEN && es_utf8_valid(k, n) &&
		          es_vocab_find(base, t, k, n, &found) == EMBSTORE_OK && found == r;
		if (ok)
			expect += ES_KEY_ENTRY_HEADER + n;
		else if (bad(ctx, r, 1))
			return;
		else if (r + 1 < w.rows)
			expect = es_le64(w.offsets + 8 * (r + 1)); /* resynchronise on the next entry */
	}
	uint64_t used = 0;
	for (uint64_t i = 0; i < w.bucket_count; i++)
		used += es_le64(w.buckets + 8 * i) != 0;
	if (expect != w.blob_size || used != w.rows)
		bad(ctx, 0, w.rows);
}

/* ---- writer ---- */

embstore_status es_vocab_build_init(es_vocab_build *b, const char *dir)
{
	*b = (es_vocab_build){.fd = -1};
	b->buf = malloc(SPILL_BUFFER);
	b->bucket_count = 16;
	b->buckets = calloc(b->bucket_count, 8);
	ES_CHECK(b->buf && b->buckets, EMBSTORE_NO_MEMORY);
#ifdef O_TMPFILE
	b->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	/* Only a file system without O_TMPFILE (EOPNOTSUPP; EISDIR from kernels before it) gets the named file: any
	 * other failure is the error to report, as for the output's own temporary (commit.c). */
	ES_CHECKF(b->fd >= 0 || errno == EOPNOTSUPP || errno == EISDIR, EMBSTORE_IO,
	          "creating a temporary file for keys in '%s'", dir);
#endif
	if (b->fd < 0) { /* no O_TMPFILE here: a named file, unlinked at once */
		size_t n = strlen(dir) + 32;
		char *name = malloc(n);
		ES_CHECK(name, EMBSTORE_NO_MEMORY);
		snprintf(name, n, "%s/.embstore-keys-XXXXXX", dir);
		b->fd = mkostemp(name, O_CLOEXEC);
		if (b->fd >= 0)
			unlink(name);
		free(name);
	}
	ES_CHECKF(b->fd >= 0, EMBSTORE_IO, "creating a temporary file for keys in '%s'", dir);
	return EMBSTORE_OK;
}

static embstore_status flush_spill(es_vocab_build *b)
{
	ES_TRY(es_write_all(b->fd, b->buf, b->buf_len));
	b->flushed += b->buf_len;
	b->buf_len = 0;
	return EMBSTORE_OK;
}

/* `n` bytes of the blob at `off`, from the spill or from the buffer. */
static embstore_status read_blob(es_vocab_build *b, uint64_t off, uint8_t *dst, size_t n)
{
	if (off >= b->flushed) {
		memcpy(dst, b->buf + (off - b->flushed), n);
		return EMBSTORE_OK;
	}
	if (off + n > b->flushed)
		ES_TRY(flush_spill(b));
	while (n > 0) { /* a short count or an interrupted call is no error */
		ssize_t got = pread(b->fd, dst, n, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0)
			errno = EIO; /* the spill is shorter than what was written to it */
		ES_CHECK(got > 0, EMBSTORE_IO);
		dst += got;
		off += (uint64_t)got;
		n -= (size_t)got;
	}
	return EMBSTORE_OK;
}

static embstore_status find_hashed(es_vocab_build *b, const void *key, size_t len, uint64_t h, uint64_t *row)
{
	uint64_t mask = b->bucket_count - 1, tag = h >> OFFSET_BITS;
	uint8_t head[ES_KEY_ENTRY_HEADER], small[256];
	for (uint64_t i = h & mask;; i = (i + 1) & mask) {
		uint64_t v = b->buckets[i];
		if (v == 0)
			return EMBSTORE_UNKNOWN_KEY;
		if (v >> OFFSET_BITS != tag)
			continue;
		uint64_t off = (v & OFFSET_MASK) - 1;
		ES_TRY(read_blob(b, off, head, sizeof head));
		if (es_le32(head + 8) != len)
			continue;
		uint8_t *k = len <= sizeof small ? small : malloc(len);
		ES_CHECK(k, EMBSTORE_NO_MEMORY);
		embstore_status st = read_blob(b, off + ES_KEY_ENTRY_HEADER, k, len);
		bool same = st == EMBSTORE_OK && memcmp(k, key, len) == 0;
		if (k != small)
			free(k);
		ES_TRY(st);
		if (same) {
			*row = es_le64(head);
			return EMBSTORE_OK;
		}
	}
}

embstore_status es_vocab_build_find(es_vocab_build *b, const void *key, size_t len, uint64_t *row)
{
	return find_hashed(b, key, len, es_key_hash(key, len), row);
}

static void insert(uint64_t *buckets, uint64_t count, uint64_t hash, uint64_t entry)
{
	uint64_t mask = count - 1, i = hash & mask;
	while (buckets[i])
		i = (i + 1) & mask;
	buckets[i] = bucket_value(hash, entry);
}

/* A large index in huge pages where the kernel gives them (transparent huge pages in "madvise" mode): its probes
 * land anywhere, and on 4 KiB pages nearly every one also misses the TLB. */
static uint64_t *alloc_buckets(uint64_t count)
{
	size_t bytes = (size_t)count * 8;
	if (bytes < HUGE_PAGE)
		return calloc((size_t)count, 8);
	void *p;
	if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

/* Keeps at most half the buckets used: the format fixes the count at the smallest power of two >= 2n. */
static embstore_status grow_index(es_vocab_build *b, uint64_t n)
{
	if (es_bucket_count(n) == b->bucket_count)
		return EMBSTORE_OK;
	uint64_t count = es_bucket_count(n);
	uint64_t *nb = alloc_buckets(count);
	ES_CHECK(nb, EMBSTORE_NO_MEMORY);
	for (uint64_t r = 0; r < b->n; r++)
		insert(nb, count, b->hashes[r], b->offsets[r]);
	free(b->buckets);
	b->buckets = nb;
	b->bucket_count = count;
	return EMBSTORE_OK;
}

void es_vocab_build_prefetch(const es_vocab_build *b, uint64_t hash)
{
	__builtin_prefetch(&b->buckets[hash & (b->bucket_count - 1)]);
}

embstore_status es_vocab_build_add_once(es_vocab_build *b, const void *key, size_t len, uint64_t hash,
                                        uint64_t *first)
{
	ES_TRY(es_key_check(key, len));
	embstore_status st = find_hashed(b, key, len, hash, first);
	if (st == EMBSTORE_OK)
		return EMBSTORE_DUPLICATE_NAME;
	ES_CHECK(st == EMBSTORE_UNKNOWN_KEY, st);
	if (b->n == b->cap) {
		uint64_t cap = b->cap ? 2 * b->cap : 1024;
		uint64_t *o = realloc(b->offsets, (size_t)cap * 8), *h = o ? realloc(b->hashes, (size_t)cap * 8) : NULL;
		if (o)
			b->offsets = o;
		ES_CHECK(o && h, EMBSTORE_NO_MEMORY);
		b->hashes = h;
		b->cap = cap;
	}
	ES_TRY(grow_index(b, b->n + 1));
	uint64_t off = b->flushed + b->buf_len;
	ES_CHECKF(off + ES_KEY_ENTRY_HEADER + len < ES_MAX_BLOB, EMBSTORE_LIMIT, "keys exceed %llu bytes",
	          (unsigned long long)ES_MAX_BLOB);
	uint8_t head[ES_KEY_ENTRY_HEADER];
	es_put64(head, b->n);
	es_put32(head + 8, (uint32_t)len);
	const uint8_t *parts[2] = {head, key};
	size_t sizes[2] = {sizeof head, len};
	for (int p = 0; p < 2; p++) {
		for (size_t done = 0; done < sizes[p];) {
			if (b->buf_len == SPILL_BUFFER)
				ES_TRY(flush_spill(b));
			size_t k = sizes[p] - done < SPILL_BUFFER - b->buf_len ? sizes[p] - done : SPILL_BUFFER - b->buf_len;
			memcpy(b->buf + b->buf_len, parts[p] + done, k);
			b->buf_len += k;
			done += k;
		}
	}
	b->offsets[b->n] = off;
	b->hashes[b->n] = hash;
	insert(b->buckets, b->bucket_count, hash, off);
	b->n++;
	return EMBSTORE_OK;
}

embstore_status es_vocab_build_add(es_vocab_build *b, const void *key, size_t len)
{
	uint64_t row;
	embstore_status st = es_vocab_build_add_once(b, key, len, es_key_hash(key, len), &row);
	ES_CHECKF(st != EMBSTORE_DUPLICATE_NAME, st, "key '%.*s' of row %llu repeats row %llu", (int)(len > 60 ? 60 : len),
	          (const char *)key, (unsigned long long)b->n, (unsigned long long)row);
	return st;
}

/* Writes p[0..n) to out, hashing it. */
static embstore_status emit(int out, XXH3_state_t *st, const void *p, size_t n)
{
	XXH3_64bits_update(st, p, n);
	return es_write_all(out, p, n);
}

/* u64 values as little-endian bytes, through a bounded buffer. */
static embstore_status emit_u64s(int out, XXH3_state_t *st, const uint64_t *v, uint64_t n, uint8_t *tmp)
{
	const size_t per = SPILL_BUFFER / 8;
	for (uint64_t i = 0; i < n;) {
		size_t k = n - i < per ? (size_t)(n - i) : per;
		for (size_t j = 0; j < k; j++)
			es_put64(tmp + 8 * j, v[i + j]);
		ES_TRY(emit(out, st, tmp, 8 * k));
		i += k;
	}
	return EMBSTORE_OK;
}

embstore_status es_vocab_build_write(es_vocab_build *b, int out_fd, uint64_t *size, uint64_t *checksum)
{
	ES_TRY(flush_spill(b));
	ES_TRY(grow_index(b, b->n)); /* a table of no keys still has the smallest index */
	XXH3_state_t st;
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset(&st);
	uint8_t head[ES_VOCAB_HEADER] = {0};
	es_put64(head + ES_VH_KEY_COUNT, b->n);
	es_put64(head + ES_VH_BUCKET_COUNT, b->bucket_count);
	es_put64(head + ES_VH_BLOB_SIZE, b->flushed);
	ES_TRY(emit(out_fd, &st, head, sizeof head));
	uint8_t *tmp = b->buf; /* empty after the flush */
	ES_TRY(emit_u64s(out_fd, &st, b->offsets, b->n, tmp));
	ES_TRY(emit_u64s(out_fd, &st, b->buckets, b->bucket_count, tmp));
	for (uint64_t off = 0; off < b->flushed;) {
		size_t k = b->flushed - off < SPILL_BUFFER ? (size_t)(b->flushed - off) : SPILL_BUFFER;
		ssize_t got = pread(b->fd, tmp, k, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0)
			errno = EIO; /* not a stale EINTR, which would loop here for ever */
		ES_CHECK(got > 0, EMBSTORE_IO);
		ES_TRY(emit(out_fd, &st, tmp, (size_t)got));
		off += (uint64_t)got;
	}
	*size = ES_VOCAB_HEADER + 8 * b->n + 8 * b->bucket_count + b->flushed;
	*checksum = XXH3_64bits_digest(&st);
	return EMBSTORE_OK;
}

void es_vocab_build_free(es_vocab_build *b)
{
	int saved = errno;
	if (b->fd >= 0)
		close(b->fd);
	errno = saved;
	free(b->buf);
	free(b->offsets);
	free(b->hashes);
	free(b->buckets);
	*b = (es_vocab_build){.fd = -1};
}
