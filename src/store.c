/* store.c: opening a store (map, then validate everything before use) and the read-only accessors. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "store_impl.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* Tables are served zero-copy from the mapping, so the kernels would need byte-swapping variants. */
#error "embstore supports little-endian hosts only"
#endif

#define ES_ADVISE_MASK                                                                                 \
	(EMBSTORE_ADVISE_RANDOM | EMBSTORE_ADVISE_SEQUENTIAL | EMBSTORE_ADVISE_WILLNEED | EMBSTORE_ADVISE_HUGEPAGE)
#define ES_OPEN_MASK (EMBSTORE_OPEN_VERIFY | EMBSTORE_OPEN_WRITABLE | ES_ADVISE_MASK)

static embstore_status check_flags(unsigned flags)
{
	ES_CHECK((flags & ~ES_OPEN_MASK) == 0, EMBSTORE_INVALID_ARGUMENT);
	unsigned advice = flags & ES_ADVISE_MASK;
	ES_CHECK((advice & (advice - 1)) == 0, EMBSTORE_INVALID_ARGUMENT); /* at most one */
	return EMBSTORE_OK;
}

/* Validates the bytes and builds the store around them; takes ownership of the mapping and fd (-1: none) on
 * success only. */
static embstore_status finish_open(uint8_t *base, uint64_t len, int fd, unsigned flags, int mode, embstore **out)
{
	embstore *s = calloc(1, sizeof *s);
	ES_CHECK(s, EMBSTORE_NO_MEMORY);
	s->base = base;
	s->len = len;
	s->fd = fd;
	embstore_status st = es_layout_parse(base, len, mode, &s->layout);
	if (st == EMBSTORE_OK && (flags & EMBSTORE_OPEN_VERIFY))
		st = embstore_verify(s, NULL, NULL);
	if (st == EMBSTORE_OK && (flags & EMBSTORE_OPEN_WRITABLE)) {
		s->dirty = calloc(s->layout.checksum_count ? s->layout.checksum_count : 1, 1);
		if (!s->dirty)
			st = EMBSTORE_NO_MEMORY;
	}
	if (st != EMBSTORE_OK) {
		es_layout_free(&s->layout);
		free(s);
		return st;
	}
	*out = s;
	return EMBSTORE_OK;
}

/* madvise is a hint: a kernel that refuses one (old kernels lack MADV_HUGEPAGE for files) is not an error. */
static void advise(embstore *s, unsigned flags)
{
	int advice = -1;
	if (flags & EMBSTORE_ADVISE_RANDOM)
		advice = MADV_RANDOM;
	else if (flags & EMBSTORE_ADVISE_SEQUENTIAL)
		advice = MADV_SEQUENTIAL;
	else if (flags & EMBSTORE_ADVISE_WILLNEED)
		advice = MADV_WILLNEED;
#ifdef MADV_HUGEPAGE
	else if (flags & EMBSTORE_ADVISE_HUGEPAGE)
		advice = MADV_HUGEPAGE;
#endif
	if (advice < 0)
		return;
	for (uint32_t i = 0; i < s->layout.table_count; i++) {
		const es_table *t = &s->layout.tables[i];
		int saved = errno;
		(void)madvise(s->base + t->data_offset, (size_t)t->data_size, advice);
		errno = saved;
	}
}

/* Opens path for a writer: the lock taken, and the file still the one at path (a build may have renamed a new
 * file over it between our open and our lock; then the new one is opened). */
static embstore_status open_locked(const char *path, int *out)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		ES_CHECK(fd >= 0, EMBSTORE_IO);
		embstore_status st = es_lock(fd, false, path);
		if (st == EMBSTORE_OK && es_still_at(path, fd)) {
			*out = fd;
			return EMBSTORE_OK;
		}
		int saved = errno;
		close(fd);
		errno = saved;
		ES_TRY(st);
	}
	ES_CHECKF(false, EMBSTORE_LOCKED, "'%s' kept being replaced while it was being opened", path);
}

embstore_status es_open(const char *path, unsigned flags, int mode, embstore **out)
{
	bool writable = flags & EMBSTORE_OPEN_WRITABLE;
	int fd;
	/* O_NONBLOCK: a FIFO or device must not block the open; it is refused right after, as not a regular file. */
	if (writable)
		ES_TRY(open_locked(path, &fd));
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return EMBSTORE_IO;

	struct stat sb;
	embstore_status st = EMBSTORE_IO;
	if (fstat(fd, &sb) != 0)
		goto fail;
	if (!S_ISREG(sb.st_mode)) {
		es_detail("not a regular file");
		errno = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	uint64_t len = (uint64_t)sb.st_size;
	if (len < ES_SUPERBLOCK_SIZE) {
		/* Too short to map usefully (and mmap of 0 bytes fails): let the parser name the problem, which it
		 * always finds, since a valid file holds at least the superblock. */
		uint8_t head[ES_SUPERBLOCK_SIZE];
		ssize_t got = pread(fd, head, (size_t)len, 0);
		if (got < 0)
			goto fail;
		es_layout probe;
		st = es_layout_parse(head, (uint64_t)got, mode, &probe);
		goto fail;
	}
	if (len > SIZE_MAX) {
		st = EMBSTORE_LIMIT;
		goto fail;
	}
	void *map = mmap(NULL, (size_t)len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	st = finish_open(map, len, fd, flags, mode, out);
	if (st != EMBSTORE_OK) {
		munmap(map, (size_t)len);
		goto fail;
	}
	(*out)->mapped = true; /* fd stays open: verify reads through it (verify.c says why), and it holds the lock */
	(*out)->writable = writable;
	advise(*out, flags);
	return EMBSTORE_OK;

fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return st;
}

embstore_status embstore_open(const char *path, unsigned flags, embstore **out)
{
	es_detail_clear();
	ES_CHECK(path && out, EMBSTORE_INVALID_ARGUMENT);
	ES_TRY(check_flags(flags));
	return es_open(path, flags, ES_PARSE_STRICT, out);
}

embstore_status embstore_open_memory(const void *data, size_t len, unsigned flags, embstore **out)
{
	es_detail_clear();
	ES_CHECK(out && (data || len == 0), EMBSTORE_INVALID_ARGUMENT);
	ES_CHECK((flags & ~EMBSTORE_OPEN_VERIFY) == 0, EMBSTORE_INVALID_ARGUMENT);
	static const uint8_t empty[1];
	return finish_open((uint8_t *)(data ? data : empty), len, -1, flags, ES_PARSE_STRICT, out);
}

void embstore_close(embstore *s)
{
	if (!s)
		return;
	if (s->mapped)
		munmap(s->base, (size_t)s->len);
	if (s->fd >= 0)
		close(s->fd);
	es_layout_free(&s->layout);
	free(s->dirty);
	free(s);
}

void embstore_get_info(const embstore *s, embstore_info *out)
{
	if (!s || !out)
		return;
	out->format_major = s->layout.major;
	out->format_minor = s->layout.minor;
	out->file_size = s->layout.file_size;
	out->table_count = s->layout.table_count;
	out->meta_count = s->layout.meta_count;
	out->data_alignment = s->layout.alignment;
}

static void fill_table(const embstore *s, const es_table *t, embstore_table *out)
{
	out->name = t->name;
	out->matrix.data = s->base + t->data_offset;
	out->matrix.rows = t->rows;
	out->matrix.row_stride = t->row_stride;
	out->matrix.dim = t->dim;
	out->matrix.dtype = t->dtype;
	/* Only a writable store's mapping may be written; caller memory under open_memory is the caller's, and is
	 * treated as read-only too, as its documentation promises the bytes stay unchanged. */
	out->matrix.flags = s->writable ? 0 : EMBSTORE_MATRIX_READ_ONLY;
	out->data_offset = t->data_offset;
	out->chunk_rows = t->chunk_rows;
	out->chunk_count = t->chunk_count;
	out->has_vocab = (t->flags & ES_TABLE_FLAG_VOCAB) != 0;
	out->index = (uint32_t)(t - s->layout.tables);
}

embstore_status embstore_table_at(const embstore *s, uint32_t index, embstore_table *out)
{
	ES_CHECK(s && out && index < s->layout.table_count, EMBSTORE_INVALID_ARGUMENT);
	fill_table(s, &s->layout.tables[index], out);
	return EMBSTORE_OK;
}

embstore_status embstore_table_find(const embstore *s, const char *name, embstore_table *out)
{
	ES_CHECK(s && name && out, EMBSTORE_INVALID_ARGUMENT);
	for (uint32_t i = 0; i < s->layout.table_count; i++) {
		if (strcmp(s->layout.tables[i].name, name) == 0) {
			fill_table(s, &s->layout.tables[i], out);
			return EMBSTORE_OK;
		}
	}
	return EMBSTORE_NOT_FOUND;
}

embstore_status embstore_meta_at(const embstore *s, uint32_t index, const char **key, const char **value)
{
	ES_CHECK(s && key && value && index < s->layout.meta_count, EMBSTORE_INVALID_ARGUMENT);
	*key = s->layout.meta[index].key;
	*value = s->layout.meta[index].value;
	return EMBSTORE_OK;
}

const char *embstore_meta_get(const embstore *s, const char *key)
{
	if (!s || !key)
		return NULL;
	for (uint32_t i = 0; i < s->layout.meta_count; i++)
		if (strcmp(s->layout.meta[i].key, key) == 0)
			return s->layout.meta[i].value;
	return NULL;
}
