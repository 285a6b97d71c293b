/* commit.h: a file that appears at its path all at once, or not at all. The writer builds a store through it; the
 * importers and exporters that write other files will too. */
#ifndef EMBSTORE_COMMIT_H
#define EMBSTORE_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Content goes to an unnamed temporary file (O_TMPFILE) in the target's directory, or where the file system has
 * none, to a named one beside it. es_commit_finish fsyncs it, gives it a name, renames it over the path and
 * fsyncs the directory: a reader of `path` sees the old file or the whole new one, and a process killed at any
 * point leaves the old file as it was (and, with O_TMPFILE, nothing else). */
typedef struct es_commit {
	char *path;
	char *tmp_path; /* room for a temporary name beside path */
	int fd;         /* the temporary file, open for writing; -1 after finish or abandon */
	bool named;     /* tmp_path exists on disk and is ours to remove */
} es_commit;

/* Creates the temporary file. Errors: NO_MEMORY, IO (errno kept). On error nothing is left to abandon. */
embstore_status es_commit_begin(es_commit *c, const char *path);
/* Makes the content durable and puts it at the path. Errors: IO (errno kept), NO_MEMORY; then abandon. */
embstore_status es_commit_finish(es_commit *c);
/* Removes the temporary file if it is still ours and frees everything; the path is untouched. Keeps errno. */
void es_commit_abandon(es_commit *c);

/* write(2) until all is written; EINTR is retried. Errors: IO. */
embstore_status es_write_all(int fd, const void *p, size_t n);

#endif
