/* testutil.h: helpers shared by the Criterion tests: temporary files, sample stores, byte surgery. testutil.c also
 * ends a test at a failed kernel case (kc_failed, kernel_cases.h) and lists the skipped tests after a run. */
#ifndef EMBSTORE_TESTUTIL_H
#define EMBSTORE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "embstore.h"

/* A fresh directory under $TMPDIR (removed at exit) and a path inside it. */
const char *tu_tmpdir(void);
char *tu_path(const char *name); /* malloc'd */
/* tu_path(name) made a directory, for a test that counts what is left in it (a temporary left behind). */
char *tu_fresh_dir(const char *name); /* malloc'd */
char *tu_join(const char *dir, const char *name); /* "dir/name", malloc'd */
/* Keeps p (malloc'd; returned) until tu_free_kept, which a suite gives as its .fini: a test's paths and arrays
 * are then freed after it, whatever assertion ends it, and LeakSanitizer sees no leak. */
void *tu_keep(void *p);
void tu_free_kept(void);
/* The entries of dir, but for . and .. */
int tu_count_entries(const char *dir);

/* Whole-file I/O; abort the test on failure. */
uint8_t *tu_read_file(const char *path, size_t *len);
void tu_write_file(const char *path, const void *data, size_t len);

/* The read end of a pipe into which a child process writes the len bytes at `bytes` (more than a pipe holds, if
 * need be) and exits; *child is its pid, for tu_reap. */
int tu_piped(const void *bytes, size_t len, pid_t *child);
/* Closes the pipe's read end (a child still writing gets EPIPE and ends) and waits for the child. */
void tu_reap(int fd, pid_t child);

/* Deterministic pseudo-random numbers (splitmix64). */
uint64_t tu_rand(uint64_t *state);
float tu_randf(uint64_t *state); /* uniform in [-1, 1) */

/* The sample store used by the format tests: tables "aa" (f32, 10 x 3) and "ab" (int8, 5 x 4), metadata
 * k1=v1, k2=v2, two rows per checksum chunk. Returns the file's bytes. */
uint8_t *tu_sample_store(size_t *len);
/* The value the sample writes for table "aa" row r, column c. */
float tu_sample_value(uint64_t r, uint32_t c);

/* Recomputes the header checksum of a (possibly mutated) file so that later rules are reached. No-op when the
 * superblock's directory fields point outside the buffer. */
void tu_reseal(uint8_t *buf, size_t len);

/* Sets chunk checksum `index` (in both slots of a 1.1 file, resealing them; in the directory of a 1.0 file,
 * resealing the header), so that a test can make a chunk's rows and checksum agree again after changing them. */
void tu_set_chunk_sum(uint8_t *buf, size_t len, uint64_t index, uint64_t value);

/* A version-1 .npy, as numpy writes it, of rows x cols elements of `descr` (item bytes each) copied from data, into
 * out (room for 256 header bytes plus the data); returns its length. */
size_t tu_make_npy(uint8_t *out, const char *descr, uint64_t rows, uint64_t cols, const void *data, size_t item);

/* Opens the bytes (copied into an exactly sized buffer, so overreads are caught by sanitizers) and returns the
 * status; verifies too when the open succeeds and `verify` is set. */
embstore_status tu_open_status(const uint8_t *buf, size_t len, int verify);

/* Offsets inside the sample store. */
uint64_t tu_dir_offset(const uint8_t *buf);
uint8_t *tu_table_entry(uint8_t *buf, uint32_t i);
uint8_t *tu_meta_entry(uint8_t *buf, uint32_t i);
uint8_t *tu_pool(uint8_t *buf);

#endif
