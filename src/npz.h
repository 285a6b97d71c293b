/* npz.h: members of .npz archives (numpy's savez and savez_compressed: a zip of .npy files), read through minizip
 * (zlib's unzip library, Debian's libminizip-dev). An open member is a stream (stream.h) of its uncompressed bytes,
 * which the .npy importer reads like a file (es_import_npy_stream, import.h): exactly the bytes its .npy header
 * announces, then the member must end there. So the sizes the archive declares are never trusted beyond what
 * that header says, and a member that inflates to more is refused after one byte too many. */
#ifndef EMBSTORE_NPZ_H
#define EMBSTORE_NPZ_H

#include "stream.h"

typedef struct es_npz_member es_npz_member;

/* Opens the member `member` of the archive at `path` (a regular file: a zip is read by seeking): the member of
 * exactly that name, else `member`.npy, as numpy's load() finds them. It must be stored or deflated and not
 * encrypted. Clears the detail.
 * Errors: NOT_FOUND (no such member; the detail lists a few that exist), BAD_INPUT (not a zip archive, a damaged
 * directory, a name present twice, another compression method, encryption), IO, NO_MEMORY. */
embstore_status es_npz_open_member(const char *path, const char *member, es_npz_member **out);

/* The same over fd, a regular file, read whole (wherever fd is positioned) with pread(); fd stays the caller's
 * and must outlive the member. `path` names it in messages. A descriptor that is not a regular file (a pipe) is
 * BAD_INPUT. */
embstore_status es_npz_open_member_fd(int fd, const char *path, const char *member, es_npz_member **out);

/* The names of an archive's members, in directory order. */
typedef struct es_npz_names {
	char **names;
	size_t count;
} es_npz_names;

/* Lists the members of the archive in the regular file fd (as es_npz_open_member_fd reads it). Clears the detail.
 * Errors: BAD_INPUT (not a regular file, not a zip archive, a damaged directory), IO, NO_MEMORY. */
embstore_status es_npz_list_fd(int fd, const char *path, es_npz_names *out);
void es_npz_names_free(es_npz_names *names);

/* The same for an archive held in memory (len bytes at buf, which must outlive the member). */
embstore_status es_npz_open_member_mem(const void *buf, size_t len, const char *member, es_npz_member **out);

/* The member's bytes. A read fails with BAD_INPUT on damaged deflate data, an archive that ends inside the member,
 * or (at its end) a CRC-32 that does not match, with IO on a read error; the detail names the member. */
es_stream *es_npz_stream(es_npz_member *m);

void es_npz_close(es_npz_member *m);

#endif
