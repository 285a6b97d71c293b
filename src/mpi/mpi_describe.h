/* mpi_describe.h: what a rank tells the others about the files it opened, as bytes for MPI_Allgatherv, and the
 * same read back (mpi_parse.h). Host byte order: the ranks of one job run one build on one architecture. */
#ifndef EMBSTORE_MPI_DESCRIBE_H
#define EMBSTORE_MPI_DESCRIBE_H

#include <stddef.h>

#include "mpi_impl.h"
#include "mpi_parse.h"

typedef struct em_buf {
	unsigned char *data;
	size_t len, cap;
	bool failed;
} em_buf;

/* This rank's description: its files' shard keys and tables, or `status` and the thread's error detail. The
 * buffer is failed (NO_MEMORY) when it could not be grown. */
void em_describe(em_buf *b, embstore *const *stores, const char *const *paths, uint32_t n, embstore_status status,
                 const char *detail);

#endif
