/* stream.c: the descriptor-backed stream and the read loop every stream shares. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream.h"

embstore_status es_stream_io_error(int fd, const char *path)
{
	int saved = errno;
	if (path)
		es_detail("reading '%s'", path);
	else
		es_detail("reading file descriptor %d", fd);
	errno = saved;
	return EMBSTORE_IO;
}

static embstore_status fd_read(es_stream *s, void *buf, size_t n, size_t *got)
{
	for (;;) {
		ssize_t k = read(s->fd, buf, n);
		if (k >= 0) {
			*got = (size_t)k;
			return EMBSTORE_OK;
		}
		if (errno != EINTR)
			return es_stream_io_error(s->fd, s->path);
	}
}

embstore_status es_stream_fd(es_stream *s, int fd, const char *path)
{
	struct stat sb;
	*s = (es_stream){.read = fd_read, .fd = fd, .path = path};
	if (fstat(fd, &sb) != 0)
		return es_stream_io_error(fd, path);
	if (S_ISDIR(sb.st_mode)) {
		errno = EISDIR;
		return es_stream_io_error(fd, path);
	}
	off_t here = S_ISREG(sb.st_mode) ? lseek(fd, 0, SEEK_CUR) : -1;
	if (here >= 0 && here <= sb.st_size) {
		s->sized = true;
		s->size = (uint64_t)(sb.st_size - here);
	}
	return EMBSTORE_OK;
}

void es_stream_prepend(es_stream *s, const uint8_t *head, size_t len)
{
	s->head = head;
	s->head_len = len;
	s->head_pos = 0;
	s->size += len;
}

embstore_status es_stream_read(es_stream *s, void *buf, size_t n, size_t *got)
{
	uint8_t *b = buf;
	*got = 0;
	if (s->head_pos < s->head_len) {
		size_t k = s->head_len - s->head_pos < n ? s->head_len - s->head_pos : n;
		memcpy(b, s->head + s->head_pos, k);
		s->head_pos += k;
		*got = k;
	}
	while (*got < n) {
		size_t k;
		ES_TRY(s->read(s, b + *got, n - *got, &k));
		if (k == 0)
			break;
		*got += k;
	}
	s->pos += *got;
	return EMBSTORE_OK;
}
