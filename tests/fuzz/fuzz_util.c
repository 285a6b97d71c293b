/* fuzz_util.c: see fuzz_util.h. */
#include "fuzz_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void require(int cond)
{
	if (!cond)
		abort();
}

static char dir[4096], path[4200];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

const char *fuzz_path(const char *target, const char *name)
{
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/embstore-fuzz-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", target);
		require(mkdtemp(dir) != NULL);
		snprintf(path, sizeof path, "%s/%s", dir, name);
		atexit(remove_dir);
	}
	return path;
}

/* All of data to fd, which takes it whole (a memfd, a pipe with room) or not at all. */
static void write_all(int fd, const uint8_t *data, size_t size)
{
	for (size_t done = 0; done < size;) {
		ssize_t k = write(fd, data + done, size - done);
		require(k > 0);
		done += (size_t)k;
	}
}

int fuzz_memfd(const char *name, const uint8_t *data, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	require(fd >= 0);
	write_all(fd, data, size);
	require(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

int fuzz_input_fd(const char *name, const uint8_t *data, size_t size, int want_pipe, int *sized)
{
	int p[2];
	if (sized)
		*sized = 0;
	if (want_pipe && pipe(p) == 0) {
		int cap = fcntl(p[1], F_GETPIPE_SZ);
		if (cap > 0 && size <= (size_t)cap) {
			write_all(p[1], data, size);
			close(p[1]);
			return p[0];
		}
		close(p[0]);
		close(p[1]);
	}
	if (sized)
		*sized = 1;
	return fuzz_memfd(name, data, size);
}

void fuzz_write_file(const char *file, const uint8_t *data, size_t size)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	require(fd >= 0);
	write_all(fd, data, size);
	require(close(fd) == 0);
}
