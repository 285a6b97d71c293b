/* fault_shim.c: see fault_shim.h. Each __wrap_NAME receives the calls the program's objects make to NAME and
 * passes them on to __real_NAME, the C library's, unless it is the armed one. */
#include "fault_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct {
	bool armed, hit, refuse_tmpfile;
	fault_kind kind;
	unsigned long n, calls;
	int err;
} fault;

void fault_arm(fault_kind kind, unsigned long n, int err)
{
	fault.armed = true;
	fault.hit = false;
	fault.kind = kind;
	fault.n = n;
	fault.calls = 0;
	fault.err = err;
}

void fault_disarm(void)
{
	fault.armed = false;
}

bool fault_hit(void)
{
	return fault.hit;
}

void fault_refuse_tmpfile(bool on)
{
	fault.refuse_tmpfile = on;
}

const char *fault_kind_name(fault_kind kind)
{
	static const char *const names[] = {
#define X(name, text) text,
		FAULT_KINDS(X)
#undef X
	};
	return (unsigned)kind < FAULT_KIND_COUNT ? names[kind] : NULL;
}

bool fault_parse(const char *spec, fault_kind *kind, unsigned long *n, int *err)
{
	char k[16], e[16];
	int used = 0;
	if (sscanf(spec, "%15[a-z]:%lu:%15[a-zA-Z]%n", k, n, e, &used) != 3 || spec[used] != 0 || *n == 0)
		return false;
	if (strcmp(e, "ENOSPC") == 0)
		*err = ENOSPC;
	else if (strcmp(e, "EIO") == 0)
		*err = EIO;
	else if (strcmp(e, "EINTR") == 0)
		*err = EINTR;
	else if (strcmp(e, "short") == 0)
		*err = FAULT_SHORT;
	else
		return false;
	for (int i = 0; i < FAULT_KIND_COUNT; i++) {
		if (strcmp(k, fault_kind_name((fault_kind)i)) == 0) {
			*kind = (fault_kind)i;
			return true;
		}
	}
	return false;
}

/* Counts a call of `kind`; true when it is the armed one. */
static bool due(fault_kind kind)
{
	if (!fault.armed || kind != fault.kind || ++fault.calls != fault.n)
		return false;
	fault.hit = true;
	return true;
}

/* Whether the call of `kind` being made is the armed one and fails (errno set). A short count only means
 * something to the calls that transfer bytes; the others then go through. */
static bool fails(fault_kind kind)
{
	if (!due(kind) || fault.err == FAULT_SHORT)
		return false;
	errno = fault.err;
	return true;
}

/* fails(), for the calls that transfer `*n` bytes: a short count halves it (leaving at least one byte). */
static bool transfer_fails(fault_kind kind, size_t *n)
{
	if (!due(kind))
		return false;
	if (fault.err != FAULT_SHORT) {
		errno = fault.err;
		return true;
	}
	if (*n > 1)
		*n /= 2;
	return false;
}

/* What the linker resolves __real_NAME to, and the wrappers it sends NAME to. */
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
int __real_rename(const char *oldpath, const char *newpath);
int __real_open(const char *path, int flags, ...);
int __real_msync(void *addr, size_t len, int flags);
void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);

ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
int __wrap_rename(const char *oldpath, const char *newpath);
int __wrap_open(const char *path, int flags, ...);
int __wrap_msync(void *addr, size_t len, int flags);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	return transfer_fails(FAULT_WRITE, &n) ? -1 : __real_write(fd, buf, n);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return transfer_fails(FAULT_PWRITE, &n) ? -1 : __real_pwrite(fd, buf, n, off);
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	return transfer_fails(FAULT_READ, &n) ? -1 : __real_read(fd, buf, n);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	return transfer_fails(FAULT_PREAD, &n) ? -1 : __real_pread(fd, buf, n, off);
}

int __wrap_fsync(int fd)
{
	return fails(FAULT_FSYNC) ? -1 : __real_fsync(fd);
}

int __wrap_fdatasync(int fd)
{
	return fails(FAULT_FDATASYNC) ? -1 : __real_fdatasync(fd);
}

int __wrap_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	return fails(FAULT_LINKAT) ? -1 : __real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
}

int __wrap_rename(const char *oldpath, const char *newpath)
{
	return fails(FAULT_RENAME) ? -1 : __real_rename(oldpath, newpath);
}

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
	if ((flags & O_CREAT) || tmpfile) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (tmpfile && fault.refuse_tmpfile) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return fails(FAULT_OPEN) ? -1 : __real_open(path, flags, mode);
}

int __wrap_msync(void *addr, size_t len, int flags)
{
	return fails(FAULT_MSYNC) ? -1 : __real_msync(addr, len, flags);
}

/* Allocations fail with ENOMEM, as the C library's do. */
static bool alloc_fails(void)
{
	if (!due(FAULT_ALLOC))
		return false;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return alloc_fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return alloc_fails() ? NULL : __real_strndup(s, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	return alloc_fails() ? ENOMEM : __real_posix_memalign(p, align, n);
}
