/* make_fixture.c: writes the fixture store of tests/fixture.h to the path given, with the library's writer.
 * The shipped tests/data/store-X.Y.emb files were made with it; see tests/data/README.md for when to run it. */
#include <stdio.h>
#include <stdlib.h>

#include "../fixture.h"
#include "../kernel_cases.h"

/* fixture.c's checks are not called here; kernel_cases.c, linked for them, wants this defined. */
void kc_failed(const char *file, int line, const char *msg)
{
	fprintf(stderr, "%s:%d: %s\n", file, line, msg);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_fixture OUTPUT.emb\n");
		return 2;
	}
	embstore_status st = fx_write(argv[1]);
	if (st != EMBSTORE_OK) {
		fprintf(stderr, "make_fixture: %s: %s (%s)\n", argv[1], embstore_strerror(st), embstore_error_detail());
		return 1;
	}
	return 0;
}
