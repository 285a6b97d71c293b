/* consumer.c: a program outside embstore that uses only the installed header and library, built by
 * tests/consumer_test.sh through each way a project can take embstore in. It writes a store, opens it with every
 * checksum verified (xxHash must have been linked), gathers two rows and checks their values. */
#include <embstore.h>

#include <stdio.h>
#include <string.h>

#define ROWS 3
#define DIM 4

static int fail(const char *what, embstore_status st)
{
	fprintf(stderr, "consumer: %s: %s\n", what, embstore_strerror(st));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: consumer STORE\n");
		return 2;
	}
	if (strcmp(embstore_version(), EMBSTORE_VERSION_STRING) != 0) {
		fprintf(stderr, "consumer: library %s, header %s\n", embstore_version(), EMBSTORE_VERSION_STRING);
		return 1;
	}
	float rows[ROWS][DIM];
	for (int r = 0; r < ROWS; r++) {
		for (int j = 0; j < DIM; j++)
			rows[r][j] = (float)(r * 10 + j) + 0.25f; /* exact in f16: the f16 table must give these back */
	}

	embstore_writer *w = NULL;
	embstore_status st = embstore_writer_create(argv[1], &w);
	if (st == EMBSTORE_OK)
		st = embstore_writer_begin_table(w, "words", EMBSTORE_F16, ROWS, DIM);
	if (st == EMBSTORE_OK)
		st = embstore_writer_append(w, rows, EMBSTORE_F32, ROWS, 0);
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	if (st != EMBSTORE_OK)
		return fail("writing the store", st);

	embstore *s = NULL;
	if ((st = embstore_open(argv[1], EMBSTORE_OPEN_VERIFY, &s)) != EMBSTORE_OK)
		return fail("opening the store", st);
	embstore_table t;
	int64_t ids[2] = {2, 0};
	float out[2][DIM];
	st = embstore_table_find(s, "words", &t);
	if (st == EMBSTORE_OK)
		st = embstore_gather(&t.matrix, ids, EMBSTORE_ID64, 2, &out[0][0], NULL);
	embstore_close(s);
	if (st != EMBSTORE_OK)
		return fail("gathering", st);
	for (int i = 0; i < 2; i++) {
		for (int j = 0; j < DIM; j++) {
			if (out[i][j] != rows[ids[i]][j]) {
				fprintf(stderr, "consumer: row %d [%d] = %g, expected %g\n", (int)ids[i], j, (double)out[i][j],
				        (double)rows[ids[i]][j]);
				return 1;
			}
		}
	}
	printf("consumer: ok (embstore %s)\n", embstore_version());
	return 0;
}
