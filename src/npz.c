/* npz.c: one member of a zip archive as a stream, through minizip. minizip reads the archive through the
 * callbacks below, from a descriptor with pread() or from memory; it checks that the member's local header agrees
 * with the central directory and its CRC-32 once all of it is read. What it does not refuse, this does: encrypted
 * members (minizip would hand out their ciphertext), methods other than stored and deflated, a name present twice. */
#include <errno.h>
#include <fcntl.h>
#include <minizip/unzip.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npz.h"

#define ZIP_MAX_NAME 65535 /* the name length field is 16 bits */
#define LISTED_NAMES 4     /* members a "no such member" names */

/* The archive's bytes, for minizip's callbacks. */
typedef struct source {
	const uint8_t *mem; /* or NULL: read fd */
	int fd;
	bool owns_fd; /* close it with the member */
	uint64_t size;
	uint64_t pos;
	int err; /* errno of a failed read, 0 if none */
} source;

struct es_npz_member {
	source src;
	unzFile zip;
	bool opened; /* the member is open in minizip */
	bool ended;  /* its end was read and its CRC checked */
	es_stream stream;
	char *path; /* for messages */
	char *member;
};

static voidpf src_open(voidpf opaque, const void *name, int mode)
{
	(void)name;
	return (mode & ZLIB_FILEFUNC_MODE_WRITE) ? NULL : opaque;
}

static uLong src_read(voidpf opaque, voidpf stream, void *buf, uLong n)
{
	(void)opaque;
	source *s = stream;
	/* After a failed read, every read fails: minizip takes some failures for "not there" (looking for a zip64
	 * directory, it goes on to the plain one), and an error of the disk must not pass for an answer. */
	if (s->pos >= s->size || s->err)
		return 0;
	if (n > s->size - s->pos)
		n = (uLong)(s->size - s->pos);
	if (s->mem) {
		memcpy(buf, s->mem + s->pos, n);
		s->pos += n;
		return n;
	}
	uLong got = 0;
	while (got < n) {
		ssize_t k = pread(s->fd, (uint8_t *)buf + got, n - got, (off_t)(s->pos + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			s->err = k < 0 ? errno : 0;
			break;
		}
		got += (uLong)k;
	}
	s->pos += got;
	return got;
}

static uLong src_write(voidpf opaque, voidpf stream, const void *buf, uLong n)
{
	(void)opaque, (void)stream, (void)buf, (void)n;
	return 0;
}

static ZPOS64_T src_tell(voidpf opaque, voidpf stream)
{
	(void)opaque;
	return ((source *)stream)->pos;
}

static long src_seek(voidpf opaque, voidpf stream, ZPOS64_T offset, int origin)
{
	(void)opaque;
	source *s = stream;
	uint64_t from = origin == ZLIB_FILEFUNC_SEEK_SET ? 0 : origin == ZLIB_FILEFUNC_SEEK_CUR ? s->pos : s->size;
	if (origin != ZLIB_FILEFUNC_SEEK_SET && origin != ZLIB_FILEFUNC_SEEK_CUR && origin != ZLIB_FILEFUNC_SEEK_END)
		return -1;
	if (!es_add_u64(from, offset, &s->pos))
		return -1;
	return 0;
}

static int src_close(voidpf opaque, voidpf stream)
{
	(void)opaque, (void)stream;
	return 0;
}

static int src_error(voidpf opaque, voidpf stream)
{
	(void)opaque;
	return ((source *)stream)->err != 0;
}

/* The status of a failed minizip call: IO when a read of the archive failed, else BAD_INPUT saying what is wrong
 * with it. */
static embstore_status fail(es_npz_member *m, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static embstore_status fail(es_npz_member *m, const char *fmt, ...)
{
	if (m->src.err) {
		errno = m->src.err;
		es_detail("reading '%s'", m->path);
		return EMBSTORE_IO;
	}
	char text[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	es_detail("'%.120s': %s", m->path, text);
	return EMBSTORE_BAD_INPUT;
}

static bool is_named(const char *name, size_t len, const char *member, const char *suffix)
{
	size_t ml = strlen(member), sl = strlen(suffix);
	return len == ml + sl && memcmp(name, member, ml) == 0 && memcmp(name + ml, suffix, sl) == 0;
}

/* Walks the central directory once: where `member` and `member`.npy are and how often each occurs, and the first
 * few other names for a message. */
typedef struct lookup {
	unsigned count[2]; /* exact name, name + ".npy" */
	unz64_file_pos pos[2];
	char listed[160];
} lookup;

static embstore_status scan(es_npz_member *m, char *name, lookup *lk)
{
	size_t listed = 0;
	int rc = unzGoToFirstFile(m->zip);
	for (unsigned long i = 0; rc == UNZ_OK; i++, rc = unzGoToNextFile(m->zip)) {
		unz_file_info64 info;
		rc = unzGetCurrentFileInfo64(m->zip, &info, name, ZIP_MAX_NAME + 1, NULL, 0, NULL, 0);
		if (rc != UNZ_OK)
			break;
		size_t len = info.size_filename;
		int which = is_named(name, len, m->member, "") ? 0 : is_named(name, len, m->member, ".npy") ? 1 : -1;
		if (which >= 0) {
			lk->count[which]++;
			unzGetFilePos64(m->zip, &lk->pos[which]);
		} else if (i < LISTED_NAMES && listed < sizeof lk->listed) {
			listed += (size_t)snprintf(lk->listed + listed, sizeof lk->listed - listed, "%s'%.*s'", i ? ", " : "",
			                           (int)(len < 30 ? len : 30), name);
		}
	}
	if (rc != UNZ_END_OF_LIST_OF_FILE)
		return fail(m, "its central directory is damaged (minizip error %d)", rc);
	return EMBSTORE_OK;
}

/* Makes the member the current file of m->zip and opens it. */
static embstore_status find_and_open(es_npz_member *m)
{
	lookup lk = {0};
	char *name = malloc(ZIP_MAX_NAME + 1);
	ES_CHECK(name, EMBSTORE_NO_MEMORY);
	embstore_status st = scan(m, name, &lk);
	free(name);
	ES_TRY(st);
	int which = lk.count[0] ? 0 : 1;
	ES_CHECKF(lk.count[which] > 0, EMBSTORE_NOT_FOUND, "'%.120s' has no member '%.60s' nor '%.60s.npy'%s%s",
	          m->path, m->member, m->member, lk.listed[0] ? "; it holds " : "", lk.listed);
	if (lk.count[which] > 1)
		return fail(m, "member '%.60s%s' is in it %u times", m->member, which ? ".npy" : "", lk.count[which]);
	unz_file_info64 info;
	int rc = unzGoToFilePos64(m->zip, &lk.pos[which]);
	if (rc == UNZ_OK)
		rc = unzGetCurrentFileInfo64(m->zip, &info, NULL, 0, NULL, 0, NULL, 0);
	if (rc != UNZ_OK)
		return fail(m, "its central directory is damaged (minizip error %d)", rc);
	if (info.flag & 1)
		return fail(m, "member '%.60s' is encrypted", m->member);
	if (info.compression_method != 0 && info.compression_method != Z_DEFLATED)
		return fail(m, "member '%.60s' is compressed with method %lu; only stored (0) and deflated (8) are read",
		            m->member, info.compression_method);
	rc = unzOpenCurrentFile(m->zip);
	if (rc == UNZ_INTERNALERROR || rc == Z_MEM_ERROR)
		return EMBSTORE_NO_MEMORY;
	if (rc != UNZ_OK)
		return fail(m, "member '%.60s': its local header is damaged or disagrees with the directory", m->member);
	m->opened = true;
	return EMBSTORE_OK;
}

static embstore_status member_read(es_stream *s, void *buf, size_t n, size_t *got)
{
	es_npz_member *m = s->ctx;
	*got = 0;
	if (m->ended || n == 0)
		return EMBSTORE_OK;
	int k = unzReadCurrentFile(m->zip, buf, n > (1u << 30) ? 1u << 30 : (unsigned)n);
	if (k > 0) {
		*got = (size_t)k;
		return EMBSTORE_OK;
	}
	if (k == Z_MEM_ERROR)
		return EMBSTORE_NO_MEMORY;
	if (k < 0)
		return fail(m, "member '%.60s' ends early or its deflate data is damaged (minizip error %d)", m->member, k);
	/* Its end: once every byte it declares was read, minizip compares the CRC-32. */
	m->ended = true;
	m->opened = false;
	if (unzCloseCurrentFile(m->zip) == UNZ_CRCERROR)
		return fail(m, "member '%.60s' does not match its CRC-32", m->member);
	return EMBSTORE_OK;
}

static embstore_status open_source(const source *src, const char *path, const char *member, es_npz_member **out)
{
	*out = NULL;
	es_npz_member *m = calloc(1, sizeof *m);
	ES_CHECK(m, EMBSTORE_NO_MEMORY);
	m->src = *src;
	m->path = strdup(path);
	m->member = strdup(member);
	m->stream = (es_stream){.read = member_read, .ctx = m, .fd = -1};
	zlib_filefunc64_def io = {src_open, src_read, src_write, src_tell, src_seek, src_close, src_error, &m->src};
	embstore_status st = m->path && m->member ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	if (st == EMBSTORE_OK) {
		m->zip = unzOpen2_64(path, &io);
		if (!m->zip)
			st = fail(m, "not a zip archive (no central directory found)");
	}
	if (st == EMBSTORE_OK)
		st = find_and_open(m);
	if (st != EMBSTORE_OK) {
		m->src.owns_fd = false; /* still the caller's */
		es_npz_close(m);
		return st;
	}
	*out = m;
	return EMBSTORE_OK;
}

/* The archive's source over a descriptor, which must be a regular file. */
static embstore_status fd_source(int fd, const char *path, source *src)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0)
		return es_stream_io_error(fd, path);
	ES_CHECKF(S_ISREG(sb.st_mode), EMBSTORE_BAD_INPUT,
	          "'%.120s' is not a regular file; a .npz archive is read by seeking (give a file, not a pipe)", path);
	*src = (source){.fd = fd, .size = (uint64_t)sb.st_size};
	return EMBSTORE_OK;
}

embstore_status es_npz_open_member(const char *path, const char *member, es_npz_member **out)
{
	es_detail_clear();
	ES_CHECK(path && member && out, EMBSTORE_INVALID_ARGUMENT);
	*out = NULL;
	/* Non-blocking, so that a FIFO is refused below instead of waiting for a writer; no effect on a file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return es_stream_io_error(-1, path);
	source src;
	embstore_status st = fd_source(fd, path, &src);
	if (st == EMBSTORE_OK) {
		src.owns_fd = true;
		st = open_source(&src, path, member, out);
	}
	if (st != EMBSTORE_OK) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return st;
}

embstore_status es_npz_open_member_fd(int fd, const char *path, const char *member, es_npz_member **out)
{
	es_detail_clear();
	ES_CHECK(fd >= 0 && path && member && out, EMBSTORE_INVALID_ARGUMENT);
	*out = NULL;
	source src;
	ES_TRY(fd_source(fd, path, &src));
	return open_source(&src, path, member, out);
}

embstore_status es_npz_list_fd(int fd, const char *path, es_npz_names *out)
{
	es_detail_clear();
	ES_CHECK(fd >= 0 && path && out, EMBSTORE_INVALID_ARGUMENT);
	*out = (es_npz_names){0};
	es_npz_member m = {.path = (char *)path};
	ES_TRY(fd_source(fd, path, &m.src));
	zlib_filefunc64_def io = {src_open, src_read, src_write, src_tell, src_seek, src_close, src_error, &m.src};
	m.zip = unzOpen2_64(path, &io);
	if (!m.zip)
		return fail(&m, "not a zip archive (no central directory found)");
	char *name = malloc(ZIP_MAX_NAME + 1);
	embstore_status st = name ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	int rc = unzGoToFirstFile(m.zip);
	while (st == EMBSTORE_OK && rc == UNZ_OK) {
		unz_file_info64 info;
		rc = unzGetCurrentFileInfo64(m.zip, &info, name, ZIP_MAX_NAME + 1, NULL, 0, NULL, 0);
		if (rc != UNZ_OK)
			break;
		char **grown = realloc(out->names, (out->count + 1) * sizeof *grown);
		char *copy = strndup(name, info.size_filename);
		if (grown)
			out->names = grown;
		if (!grown || !copy) {
			free(copy);
			st = EMBSTORE_NO_MEMORY;
			break;
		}
		out->names[out->count++] = copy;
		rc = unzGoToNextFile(m.zip);
	}
	if (st == EMBSTORE_OK && rc != UNZ_END_OF_LIST_OF_FILE)
		st = fail(&m, "its central directory is damaged (minizip error %d)", rc);
	free(name);
	unzClose(m.zip);
	if (st != EMBSTORE_OK)
		es_npz_names_free(out);
	return st;
}

void es_npz_names_free(es_npz_names *n)
{
	for (size_t i = 0; i < n->count; i++)
		free(n->names[i]);
	free(n->names);
	*n = (es_npz_names){0};
}

embstore_status es_npz_open_member_mem(const void *buf, size_t len, const char *member, es_npz_member **out)
{
	es_detail_clear();
	ES_CHECK((buf || len == 0) && member && out, EMBSTORE_INVALID_ARGUMENT);
	static const uint8_t empty;
	return open_source(&(source){.mem = buf ? buf : &empty, .fd = -1, .size = len}, "archive in memory", member, out);
}

es_stream *es_npz_stream(es_npz_member *m)
{
	return &m->stream;
}

void es_npz_close(es_npz_member *m)
{
	if (!m)
		return;
	if (m->opened)
		unzCloseCurrentFile(m->zip);
	if (m->zip)
		unzClose(m->zip);
	if (m->src.owns_fd)
		close(m->src.fd);
	free(m->path);
	free(m->member);
	free(m);
}
