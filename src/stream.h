/* stream.h: an input read once, front to back, in bounded pieces. An importer reads through this so that a file,
 * a pipe and a member of a zip archive (npz.c) look alike to it. */
#ifndef EMBSTORE_STREAM_H
#define EMBSTORE_STREAM_H

#include <stddef.h>

#include "util.h"

typedef struct es_stream es_stream;

/* Reads up to n bytes into buf and sets *got; 0 only at the end. On failure sets the detail, naming the input. */
typedef embstore_status (*es_stream_read_fn)(es_stream *s, void *buf, size_t n, size_t *got);

struct es_stream {
	es_stream_read_fn read;
	void *ctx;        /* the read function's own */
	int fd;           /* es_stream_fd: the descriptor; -1 otherwise */
	const char *path; /* es_stream_fd: for messages; NULL for a descriptor the caller gave */
	bool sized;       /* the size is known before reading (a regular file) */
	uint64_t size;    /* when sized: bytes from where the stream started */
	uint64_t pos;     /* bytes read so far, through es_stream_read */
	const uint8_t *head; /* es_stream_prepend: bytes given back, read first */
	size_t head_len, head_pos;
};

/* A stream over fd from its current position. A regular file is sized; a directory is refused (IO, EISDIR). */
embstore_status es_stream_fd(es_stream *s, int fd, const char *path);

/* Gives back the len bytes at `head`, taken from the input before (to tell its format): they are read first, and
 * count in its size. They must stay valid while the stream is read. */
void es_stream_prepend(es_stream *s, const uint8_t *head, size_t len);

/* Reads n bytes, fewer only at the end of the input; *got says how many. */
embstore_status es_stream_read(es_stream *s, void *buf, size_t n, size_t *got);

/* IO with the detail "reading 'path'" (or "reading file descriptor N"); keeps errno. */
embstore_status es_stream_io_error(int fd, const char *path);

#endif
