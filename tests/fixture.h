/* fixture.h: the store kept in tests/data/store-X.Y.emb (one file per format version, format X.Y, written on
 * x86-64 and never rewritten, so that every old format is proven readable on every CPU): four small tables, one
 * per dtype, whose every value follows an exact formula that the dtype represents without rounding, and two
 * metadata entries.
 *
 * fx_write writes that store with the current writer (tests/data/make_fixture.c makes the shipped files with it).
 * fx_check_dir reads every shipped file and checks it bit for bit, on whatever CPU and kernel set runs it
 * (tests/test_fixture.c on the build machine, tests/aarch64/check_store.c under qemu-user); fx_check_writer
 * checks that the writer still produces the shipped file of the current format byte for byte. Checks go through
 * KC_CHECK (kernel_cases.h), so each program decides what a failure does. */
#ifndef EMBSTORE_TEST_FIXTURE_H
#define EMBSTORE_TEST_FIXTURE_H

#include "embstore.h"

/* Writes the fixture store at `path` with the library's writer. */
embstore_status fx_write(const char *path);

/* Checks every store-X.Y.emb in `dir`: format version X.Y, tables, metadata, every row's bytes and its gathered
 * values, verify. store-1.0.emb must be among them: format 1.0 stays readable. Returns the files checked. */
unsigned fx_check_dir(const char *dir);

/* Writes the fixture at `scratch` and compares it byte for byte with `dir`/store-X.Y.emb, X.Y the format this
 * library writes. A difference, or no such file, is a failure whose message says what to do. */
void fx_check_writer(const char *dir, const char *scratch);

#endif
