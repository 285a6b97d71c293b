/* fuzz_util.h: what the fuzz targets share: the abort that makes a broken promise a finding, a directory of
 * their own for the files they write, and the input as a descriptor (a pipe or a memfd) or as a file. */
#ifndef EMBSTORE_FUZZ_UTIL_H
#define EMBSTORE_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Aborts unless cond: the fuzzer (or the replay in ctest) reports it with the input. */
void require(int cond);

/* `name` in a directory made once per process under $TMPDIR ("embstore-fuzz-TARGET-XXXXXX"), for one file that
 * the target rewrites for each input; the file and the directory are removed at exit. One name per process. */
const char *fuzz_path(const char *target, const char *name);

/* A memfd named `name` holding the input, positioned at its start: a regular file without a disk. */
int fuzz_memfd(const char *name, const uint8_t *data, size_t size);

/* The input as a readable descriptor at its start: a pipe already holding all of it (closed for writing, so the
 * reader sees its end) when `want_pipe` and the pipe can hold it, else a memfd. *sized (when not NULL) says
 * whether it is the memfd. */
int fuzz_input_fd(const char *name, const uint8_t *data, size_t size, int want_pipe, int *sized);

/* Replaces the file at `path` with the input. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);

#endif
