/* lock.h: one writer at a time. A store open for writing, and a build about to replace a file, hold an exclusive
 * flock on it; flock belongs to the open file description, so it is released when the store is closed or the
 * process dies, and it does not reach across a rename (the new file is unlocked). */
#ifndef EMBSTORE_LOCK_H
#define EMBSTORE_LOCK_H

#include <stdbool.h>

#include "util.h"

/* Takes the exclusive lock on fd, waiting for it when `wait`. Errors: LOCKED (another open of the file holds it;
 * the detail names the holder's pid where /proc/locks tells it), IO. `what` names the file in the detail. */
embstore_status es_lock(int fd, bool wait, const char *what);

/* Whether `path` still names the file open at fd: a lock taken on a file that a build renamed away meanwhile
 * protects nothing. */
bool es_still_at(const char *path, int fd);

#endif
