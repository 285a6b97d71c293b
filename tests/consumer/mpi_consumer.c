/* mpi_consumer.c: a program outside embstore that uses libembstore_mpi through the installed CMake package
 * (find_package(embstore CONFIG COMPONENTS mpi)), built and run under mpiexec by tests/consumer_mpi_test.sh. Rank 0
 * writes a store and holds it; every rank gathers rows of it over the communicator and checks their values. */
#include <embstore_mpi.h>

#include <stdio.h>

#define ROWS 3
#define DIM 4

static float value(int r, int j)
{
	return (float)(r * 10 + j) + 0.5f;
}

static embstore_status write_store(const char *path)
{
	float rows[ROWS][DIM];
	for (int r = 0; r < ROWS; r++) {
		for (int j = 0; j < DIM; j++)
			rows[r][j] = value(r, j);
	}
	embstore_writer *w = NULL;
	embstore_status st = embstore_writer_create(path, &w);
	if (st == EMBSTORE_OK)
		st = embstore_writer_begin_table(w, "words", EMBSTORE_F32, ROWS, DIM);
	if (st == EMBSTORE_OK)
		st = embstore_writer_append(w, rows, EMBSTORE_F32, ROWS, 0);
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	return st;
}

/* Every rank's status, so that all of them return or none (a rank alone in a collective would hang). */
static embstore_status agree(embstore_status st)
{
	int mine = (int)st, worst = 0;
	MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return (embstore_status)worst;
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank = 0;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (argc != 2) {
		fprintf(stderr, "usage: mpi_consumer STORE\n");
		MPI_Finalize();
		return 2;
	}
	embstore_status st = agree(rank == 0 ? write_store(argv[1]) : EMBSTORE_OK);
	embstore_mpi *h = NULL;
	if (st == EMBSTORE_OK)
		st = embstore_mpi_open(MPI_COMM_WORLD, (const char *const *)&argv[1], rank == 0 ? 1 : 0, 0, &h);
	int64_t ids[2] = {2, rank % ROWS};
	float out[2][DIM];
	if (st == EMBSTORE_OK)
		st = embstore_mpi_gather(h, 0, ids, EMBSTORE_ID64, 2, &out[0][0], NULL);
	embstore_mpi_close(h);
	int bad = st != EMBSTORE_OK;
	for (int i = 0; i < 2 && !bad; i++) {
		for (int j = 0; j < DIM; j++)
			bad |= out[i][j] != value((int)ids[i], j);
	}
	if (bad)
		fprintf(stderr, "mpi_consumer: rank %d: %s %s\n", rank, embstore_strerror(st), embstore_mpi_error_detail());
	else
		printf("mpi_consumer: rank %d ok\n", rank);
	MPI_Finalize();
	return bad;
}
