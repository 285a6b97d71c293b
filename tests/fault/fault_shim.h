/* fault_shim.h: fault injection for the tests, a link-time seam. A program linked with embstore_fault (see
 * tests/CMakeLists.txt) has every call to the functions below, its own and the library's, sent through
 * fault_shim.c by the linker's --wrap; calls made inside libc or by Criterion's shared library are not (so neither
 * stdio's nor Criterion's allocations can be hit). Nothing fails and nothing is counted until a test arms a fault
 * around the code under test. One thread at a time. */
#ifndef EMBSTORE_FAULT_SHIM_H
#define EMBSTORE_FAULT_SHIM_H

#include <stdbool.h>

/* What can be made to fail. FAULT_ALLOC is every allocation: malloc, calloc, realloc, strdup, strndup. */
#define FAULT_KINDS(X)                                                                                 \
	X(WRITE, "write")                                                                                  \
	X(PWRITE, "pwrite")                                                                                \
	X(FSYNC, "fsync")                                                                                  \
	X(FDATASYNC, "fdatasync")                                                                          \
	X(LINKAT, "linkat")                                                                                \
	X(RENAME, "rename")                                                                                \
	X(OPEN, "open")                                                                                    \
	X(READ, "read")                                                                                    \
	X(PREAD, "pread")                                                                                  \
	X(MSYNC, "msync")                                                                                  \
	X(ALLOC, "alloc")

typedef enum fault_kind {
#define X(name, text) FAULT_##name,
	FAULT_KINDS(X)
#undef X
	FAULT_KIND_COUNT
} fault_kind;

/* `err` for a short count instead of a failure: write, pwrite, read and pread then move half of what was asked
 * (at least one byte), as a signal or a full pipe can make them. */
#define FAULT_SHORT 0

/* From now on counts the calls of `kind`; the nth (from 1) fails with errno `err` (allocations: ENOMEM, whatever
 * `err` says) or, with FAULT_SHORT, returns a short count. The others go through. EINTR makes the call fail as
 * an interrupted one does, having moved nothing: a caller must retry it. */
void fault_arm(fault_kind kind, unsigned long n, int err);
/* Stops counting; nothing fails any more. */
void fault_disarm(void);
/* Whether the armed call was reached since fault_arm. */
bool fault_hit(void);

/* While on, open() with O_TMPFILE fails with EOPNOTSUPP, as on a file system without it, so that the named
 * temporary files are used. Independent of arming; such opens are not counted. */
void fault_refuse_tmpfile(bool on);

/* "write", "alloc", ...; NULL for an unknown kind. */
const char *fault_kind_name(fault_kind kind);
/* Parses a fault as "KIND:N:ERR", ERR being ENOSPC, EIO, EINTR or short ("write:3:ENOSPC"); false when malformed. The
 * format of EMBSTORE_FAULT, which test_faults reads to run a single case. */
bool fault_parse(const char *spec, fault_kind *kind, unsigned long *n, int *err);

#endif
