/* commit.c: atomic replacement of a file: temporary beside the target, fsync, link, rename, directory fsync. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"

#define TMP_NAME_ROOM 48   /* "/" "." "." pid "." counter ".tmp" NUL */
#define MAX_LINK_HOPS 40   /* the kernel's own limit on symbolic links followed in one path */
#define MAX_PID_DIGITS 7   /* pid_max is at most 2^22 */

embstore_status es_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0)
			errno = EIO; /* no progress and no reason given */
		ES_CHECK(k > 0, EMBSTORE_IO);
		b += k;
		n -= (size_t)k;
	}
	return EMBSTORE_OK;
}

embstore_status es_pwrite_all(int fd, const void *p, size_t n, uint64_t offset)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t k = pwrite(fd, b, n, (off_t)offset);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0)
			errno = EIO;
		ES_CHECK(k > 0, EMBSTORE_IO);
		b += k;
		n -= (size_t)k;
		offset += (uint64_t)k;
	}
	return EMBSTORE_OK;
}

/* What a symbolic link at `path` points to, a relative target taken from the link's directory. NULL with errno
 * set on failure. */
static char *follow_link(const char *path)
{
	char text[PATH_MAX];
	ssize_t n = readlink(path, text, sizeof text);
	if (n < 0)
		return NULL;
	if ((size_t)n == sizeof text) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	const char *slash = strrchr(path, '/');
	size_t dir_len = text[0] != '/' && slash ? (size_t)(slash - path) + 1 : 0;
	char *next = malloc(dir_len + (size_t)n + 1);
	if (!next)
		return NULL;
	memcpy(next, path, dir_len);
	memcpy(next + dir_len, text, (size_t)n);
	next[dir_len + (size_t)n] = 0;
	return next;
}

/* The end of the chain of symbolic links at `path`: path itself when it is no link. It need not exist (a dangling
 * link gets its target created, as open(O_CREAT) would). NULL with errno set on failure. */
static char *chain_end(const char *path)
{
	char *end = strdup(path);
	struct stat sb;
	for (int hops = 0; end && lstat(end, &sb) == 0 && S_ISLNK(sb.st_mode); hops++) {
		char *next = hops < MAX_LINK_HOPS ? follow_link(end) : NULL;
		if (hops == MAX_LINK_HOPS)
			errno = ELOOP;
		free(end);
		end = next;
	}
	return end;
}

/* The file that writing `path` replaces - the end of its chain of symbolic links, since replacing a link would
 * turn it into a plain file - as the real path of its directory and its name. */
static embstore_status resolve_target(es_commit *c)
{
	char *end = chain_end(c->path);
	if (!end)
		return errno == ENOMEM ? EMBSTORE_NO_MEMORY : EMBSTORE_IO;
	char *slash = strrchr(end, '/');
	const char *name = slash ? slash + 1 : end;
	if (slash)
		*slash = 0;
	embstore_status st = EMBSTORE_IO;
	size_t name_len = strlen(name), dir_len;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		errno = EISDIR;
	else if ((c->dir = realpath(!slash ? "." : *end ? end : "/", NULL)) != NULL)
		st = EMBSTORE_OK;
	if (st == EMBSTORE_OK) {
		dir_len = strlen(c->dir);
		c->target = malloc(dir_len + 1 + name_len + 1);
		c->tmp_path = malloc(dir_len + name_len + TMP_NAME_ROOM);
		if (!c->target || !c->tmp_path)
			st = EMBSTORE_NO_MEMORY;
	}
	if (st == EMBSTORE_OK) {
		bool root = c->dir[dir_len - 1] == '/';
		snprintf(c->target, dir_len + 1 + name_len + 1, "%s%s%s", c->dir, root ? "" : "/", name);
		c->name = c->target + dir_len + (root ? 0 : 1);
	}
	free(end);
	return st;
}

/* Temporaries are named ".NAME.PID.N.tmp" beside the target, so that rename() is atomic (same file system) and a
 * later commit can tell a dead build's leftovers from a live one's. */
static void next_temp_name(es_commit *c)
{
	static atomic_uint counter;
	size_t dir_len = (size_t)(c->name - c->target);
	snprintf(c->tmp_path, dir_len + strlen(c->name) + TMP_NAME_ROOM, "%.*s.%s.%ld.%u.tmp", (int)dir_len, c->target,
	         c->name, (long)getpid(), atomic_fetch_add(&counter, 1u));
}

/* The end of a decimal number written as printf writes it (no sign, no leading zero) starting at p, or NULL. */
static const char *number_end(const char *p)
{
	if (*p < '0' || *p > '9')
		return NULL;
	if (*p == '0')
		return p + 1;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

/* The pid in `entry` when it is exactly ".NAME.PID.N.tmp" for our NAME; 0 otherwise. */
static pid_t temp_owner(const char *entry, const char *name)
{
	size_t n = strlen(name);
	if (entry[0] != '.' || strncmp(entry + 1, name, n) != 0 || entry[n + 1] != '.')
		return 0;
	const char *pid = entry + n + 2, *pid_end = number_end(pid);
	if (!pid_end || *pid_end != '.' || pid_end - pid > MAX_PID_DIGITS)
		return 0;
	const char *count_end = number_end(pid_end + 1);
	if (!count_end || strcmp(count_end, ".tmp") != 0)
		return 0;
	return (pid_t)strtol(pid, NULL, 10);
}

/* Removes the named temporaries for our target that builds whose process is gone left behind (killed without
 * O_TMPFILE, or between naming the temporary and the rename): regular files of ours only, never a live
 * process's. Best effort: what cannot be listed or removed stays. */
static void remove_stale_temporaries(const es_commit *c)
{
	int saved = errno;
	DIR *d = opendir(c->dir);
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		pid_t pid = temp_owner(e->d_name, c->name);
		struct stat sb;
		if (pid > 0 && fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_uid == geteuid() && kill(pid, 0) == -1 && errno == ESRCH)
			(void)unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	errno = saved;
}

/* O_TMPFILE is missing: EOPNOTSUPP from the file system, EISDIR from kernels that predate it. */
static bool tmpfile_unsupported(int err)
{
	return err == EOPNOTSUPP || err == EISDIR;
}

/* Preferably an unnamed file (O_TMPFILE): if the process dies mid-build, not even a temporary is left behind.
 * Otherwise a named temporary, created O_EXCL (not mkstemp, whose mode 0600 would end up on a new file). */
static embstore_status create_temp(es_commit *c)
{
#ifdef O_TMPFILE
	c->fd = open(c->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (c->fd >= 0)
		return EMBSTORE_OK;
	ES_CHECK(tmpfile_unsupported(errno), EMBSTORE_IO);
#endif
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
	embstore_status st = c->path ? resolve_target(c) : EMBSTORE_NO_MEMORY;
	if (st == EMBSTORE_OK) {
		remove_stale_temporaries(c);
		st = create_temp(c);
	}
	if (st != EMBSTORE_OK)
		es_commit_abandon(c);
	return st;
}

/* A replaced file keeps its permission bits (a 0600 store stays private); a new one has the 0666 less umask it
 * was created with. Owner, group and extended attributes are not carried over. */
static embstore_status keep_mode(const es_commit *c)
{
	struct stat sb;
	if (stat(c->target, &sb) != 0)
		return errno == ENOENT ? EMBSTORE_OK : EMBSTORE_IO;
	ES_CHECK(fchmod(c->fd, sb.st_mode & 07777) == 0, EMBSTORE_IO);
	return EMBSTORE_OK;
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
static embstore_status sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ES_CHECK(fd >= 0, EMBSTORE_IO);
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	ES_CHECK(rc == 0, EMBSTORE_IO);
	return EMBSTORE_OK;
}

/* The content made durable and named beside the target: all that can fail before the rename. */
static embstore_status prepare(es_commit *c)
{
	ES_CHECK(c->fd >= 0, EMBSTORE_STATE);
	ES_TRY(keep_mode(c));
	ES_CHECK(fsync(c->fd) == 0, EMBSTORE_IO);
	ES_TRY(name_temp(c));
	int rc = close(c->fd);
	c->fd = -1;
	ES_CHECK(rc == 0, EMBSTORE_IO);
	return EMBSTORE_OK;
}

embstore_status es_commit_finish(es_commit *c)
{
	ES_TRY(prepare(c));
	ES_CHECK(rename(c->tmp_path, c->target) == 0, EMBSTORE_IO);
	c->named = false; /* committed: nothing left to remove */
	return sync_dir(c->dir);
}

/* A second name for the file the commit replaces, ".NAME.PID.N.old" beside it, so that a failed group can put it
 * back; *kept stays NULL when there is no such file. */
static embstore_status keep_replaced(const es_commit *c, char **kept)
{
	*kept = NULL;
	size_t dir_len = (size_t)(c->name - c->target), cap = dir_len + strlen(c->name) + TMP_NAME_ROOM;
	char *name = malloc(cap);
	ES_CHECK(name, EMBSTORE_NO_MEMORY);
	static atomic_uint counter;
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(name, cap, "%.*s.%s.%ld.%u.old", (int)dir_len, c->target, c->name, (long)getpid(),
		         atomic_fetch_add(&counter, 1u));
		if (linkat(AT_FDCWD, c->target, AT_FDCWD, name, 0) == 0) {
			*kept = name;
			return EMBSTORE_OK;
		}
		if (errno != EEXIST)
			break;
	}
	int err = errno;
	free(name);
	errno = err;
	return err == ENOENT ? EMBSTORE_OK : EMBSTORE_IO;
}

/* Puts the files of commits [0, done) back as they were: the replaced file under its name again, or no file. */
static void roll_back(es_commit *const *c, char **kept, size_t done)
{
	int saved = errno;
	for (size_t i = done; i-- > 0;) {
		if (kept[i])
			(void)rename(kept[i], c[i]->target);
		else
			(void)unlink(c[i]->target);
		free(kept[i]);
		kept[i] = NULL;
		(void)sync_dir(c[i]->dir);
	}
	errno = saved;
}

embstore_status es_commit_finish_all(es_commit *const *c, size_t n, size_t *failed)
{
	*failed = 0;
	for (size_t i = 0; i < n; i++) {
		*failed = i;
		ES_TRY(prepare(c[i]));
	}
	char **kept = calloc(n ? n : 1, sizeof *kept);
	ES_CHECK(kept, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	size_t done = 0;
	for (; done < n; done++) {
		*failed = done;
		st = keep_replaced(c[done], &kept[done]);
		if (st == EMBSTORE_OK && rename(c[done]->tmp_path, c[done]->target) != 0)
			st = EMBSTORE_IO;
		if (st != EMBSTORE_OK)
			break;
		c[done]->named = false;
	}
	if (st != EMBSTORE_OK) {
		if (kept[done]) { /* kept, then the rename failed: the file is still in place */
			int saved = errno;
			unlink(kept[done]);
			free(kept[done]);
			errno = saved;
		}
		roll_back(c, kept, done);
		free(kept);
		return st;
	}
	/* All in place: the second names go, then each directory is made durable (new files and removals both). */
	for (size_t i = 0; i < n; i++) {
		if (kept[i])
			(void)unlink(kept[i]);
		free(kept[i]);
	}
	free(kept);
	for (size_t i = 0; i < n; i++) {
		*failed = i;
		ES_TRY(sync_dir(c[i]->dir));
	}
	return EMBSTORE_OK;
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
	free(c->target);
	free(c->dir);
	free(c->path);
	*c = (es_commit){.fd = -1};
}
