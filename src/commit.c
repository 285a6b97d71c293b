/* commit.c: atomic replacement of a file: unnamed temporary, fsync, link, rename, directory fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "commit.h"

#define TMP_NAME_ROOM 64 /* "." + "." + pid + "." + counter + ".tmp" */

embstore_status es_write_all(int fd, const void *p, size_t n)
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

static char *parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
}

/* The temporary file lives beside the target so that rename() is atomic (same file system). */
static void next_temp_name(es_commit *c)
{
	static atomic_uint counter;
	const char *slash = strrchr(c->path, '/');
	int dir_len = slash ? (int)(slash - c->path) + 1 : 0;
	snprintf(c->tmp_path, strlen(c->path) + TMP_NAME_ROOM, "%.*s.%s.%ld.%u.tmp", dir_len, c->path,
	         c->path + dir_len, (long)getpid(), atomic_fetch_add(&counter, 1u));
}

/* Preferably an unnamed file (O_TMPFILE): if the process dies mid-build, not even a temporary is left behind.
 * File systems without O_TMPFILE get a named temporary, created O_EXCL (not mkstemp, whose mode 0600 would
 * end up on the final file). */
static embstore_status create_temp(es_commit *c)
{
	char *dir = parent_dir(c->path);
	ES_CHECK(dir, EMBSTORE_NO_MEMORY);
#ifdef O_TMPFILE
	c->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
#endif
	free(dir);
	if (c->fd >= 0)
		return EMBSTORE_OK;
	for (int attempt = 0; attempt < 100; attempt++) {
		next_temp_name(c);
		c->fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (c->fd >= 0) {
			c->named = true;
			return EMBSTORE_OK;
		}
		if (errno != EEXIST)
			break;
	}
	return EMBSTORE_IO;
}

embstore_status es_commit_begin(es_commit *c, const char *path)
{
	*c = (es_commit){.fd = -1};
	c->path = strdup(path);
	c->tmp_path = c->path ? malloc(strlen(path) + TMP_NAME_ROOM) : NULL;
	embstore_status st = c->tmp_path ? create_temp(c) : EMBSTORE_NO_MEMORY;
	if (st != EMBSTORE_OK)
		es_commit_abandon(c);
	return st;
}

/* Gives an unnamed temporary a name beside the target, right before the rename. */
static embstore_status name_temp(es_commit *c)
{
	if (c->named)
		return EMBSTORE_OK;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", c->fd);
	for (int attempt = 0; attempt < 100; attempt++) {
		next_temp_name(c);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, c->tmp_path, AT_SYMLINK_FOLLOW) == 0) {
			c->named = true;
			return EMBSTORE_OK;
		}
		if (errno != EEXIST)
			break;
	}
	return EMBSTORE_IO;
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

embstore_status es_commit_finish(es_commit *c)
{
	ES_CHECK(c->fd >= 0, EMBSTORE_STATE);
	ES_CHECK(fsync(c->fd) == 0, EMBSTORE_IO);
	ES_TRY(name_temp(c));
	int rc = close(c->fd);
	c->fd = -1;
	ES_CHECK(rc == 0, EMBSTORE_IO);
	ES_CHECK(rename(c->tmp_path, c->path) == 0, EMBSTORE_IO);
	c->named = false; /* committed: nothing left to remove */
	return sync_parent_dir(c->path);
}

void es_commit_abandon(es_commit *c)
{
	int saved = errno;
	if (c->fd >= 0)
		close(c->fd);
	if (c->named)
		unlink(c->tmp_path);
	errno = saved;
	free(c->tmp_path);
	free(c->path);
	*c = (es_commit){.fd = -1};
}
