/* commit.h: a file that appears at its path all at once, or not at all. The writer builds a store through it; the
 * importers and exporters that write other files will too. */
#ifndef EMBSTORE_COMMIT_H
#define EMBSTORE_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Content goes to an unnamed temporary file (O_TMPFILE) in the target's directory, or where the file system has
 * none, to a named one beside it (".NAME.PID.N.tmp"). es_commit_finish gives it the replaced file's permission
 * bits, fsyncs it, gives it a name, renames it over the target and fsyncs the directory: a reader of the target
 * sees the old file or the whole new one, and a process killed at any point leaves the old file as it was (and,
 * with O_TMPFILE, nothing else; without, a named temporary that the next commit in that directory removes).
 * The target is `path`, or where a symbolic link at `path` leads: the link stays a link. */
typedef struct es_commit {
	char *path;       /* as given, for messages */
	char *dir;        /* the target's directory, symbolic links resolved (realpath) */
	char *target;     /* dir + "/" + name: the file the rename replaces */
	const char *name; /* the target's last component, inside `target` */
	char *tmp_path;   /* room for a temporary name in dir */
	int fd;           /* the temporary file, open for writing; -1 after finish or abandon */
	bool named;       /* tmp_path exists on disk and is ours to remove */
} es_commit;

/* Resolves the target, removes the named temporaries that dead processes left for it, and creates the
 * temporary file. Errors: NO_MEMORY, IO (errno kept). On error nothing is left to abandon. */
embstore_status es_commit_begin(es_commit *c, const char *path);
/* Makes the content durable and puts it at the target. Errors: IO (errno kept); then abandon. An error from the
 * final directory fsync comes after the rename: the new file is in place, not yet known to be durable. */
embstore_status es_commit_finish(es_commit *c);
/* es_commit_finish for a group of n commits (the shards of a set) that must appear together: all are made durable
 * and named first, then each replaced file gets a second name (".NAME.PID.N.old") before its rename, so that a
 * failure puts the files renamed so far back as they were (or removes them where there was none): the group's
 * targets hold the old files or all the new ones. Once all are renamed the second names go and the directories
 * are fsynced; an error from that fsync, as for one commit, comes with the new files in place. A process killed
 * between the renames leaves the group mixed, with the replaced files under their ".old" names for recovery.
 * *failed is the commit the error is about. Errors: IO (errno kept), NO_MEMORY, STATE; then abandon each. */
embstore_status es_commit_finish_all(es_commit *const *c, size_t n, size_t *failed);
/* Removes the temporary file if it is still ours and frees everything; the target is untouched. Keeps errno. */
void es_commit_abandon(es_commit *c);

/* write(2) / pwrite(2) until all is written; EINTR and short counts are retried. Errors: IO. */
embstore_status es_write_all(int fd, const void *p, size_t n);
embstore_status es_pwrite_all(int fd, const void *p, size_t n, uint64_t offset);

#endif
