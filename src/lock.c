/* lock.c: the writer lock (flock) and, for messages, who holds it. */
#include <errno.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lock.h"

/* The pid /proc/locks gives for a flock on this file, or 0. Its lines read
 * "1: FLOCK  ADVISORY  WRITE 4242 08:01:131075 0 EOF" (device major:minor in hex, then the inode). */
static long holder_pid(int fd)
{
	struct stat sb;
	FILE *f = fstat(fd, &sb) == 0 ? fopen("/proc/locks", "re") : NULL;
	if (!f)
		return 0;
	char line[256];
	long pid = 0;
	while (pid == 0 && fgets(line, sizeof line, f)) {
		char kind[16];
		unsigned maj, min;
		unsigned long long ino;
		long p;
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &p, &maj, &min, &ino) == 5 &&
		    strcmp(kind, "FLOCK") == 0 && maj == major(sb.st_dev) && min == minor(sb.st_dev) &&
		    ino == (unsigned long long)sb.st_ino && p > 0)
			pid = p;
	}
	fclose(f);
	return pid;
}

embstore_status es_lock(int fd, bool wait, const char *what)
{
	int rc;
	while ((rc = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) != 0 && errno == EINTR)
		;
	if (rc == 0)
		return EMBSTORE_OK;
	if (errno != EWOULDBLOCK)
		return EMBSTORE_IO;
	long pid = holder_pid(fd);
	if (pid > 0)
		es_detail("'%s' is open for writing by process %ld", what, pid);
	else
		es_detail("'%s' is open for writing by another process", what);
	return EMBSTORE_LOCKED;
}

bool es_still_at(const char *path, int fd)
{
	struct stat a, b;
	return stat(path, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}
