/* test_fixture.c: the stores shipped in tests/data (store-X.Y.emb, written on x86-64, one per format version) read
 * back bit for bit, and the writer still writes the current format's file byte for byte (fixture.h).
 *
 * When the format version changes (EMBSTORE_FORMAT_MINOR bumped), writer_reproduces_the_shipped_file fails until
 * the new version's file is made deliberately (tests/data/README.md: make_fixture tests/data/store-X.Y.emb).
 * Keep every older file: store-1.0.emb and its successors must stay readable, which
 * every_shipped_file_reads_bit_for_bit checks. Never regenerate an existing file to make a test pass. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "fixture.h"
#include "testutil.h"

Test(fixture, every_shipped_file_reads_bit_for_bit)
{
	cr_expect_geq(fx_check_dir(EMBSTORE_TEST_DATA_DIR), 1);
}

Test(fixture, writer_reproduces_the_shipped_file)
{
	char *path = tu_path("fixture.emb");
	fx_check_writer(EMBSTORE_TEST_DATA_DIR, path);
	free(path);
}
