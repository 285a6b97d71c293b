/* mpi_describe.h: what a rank tells the others about the files it opened, as bytes for MPI_Allgatherv, and the
 * same read back. Host byte order: the ranks of one job run one build on one architecture. */
#ifndef EMBSTORE_MPI_DESCRIBE_H
#define EMBSTORE_MPI_DESCRIBE_H

#include <stddef.h>

#include "mpi_impl.h"

typedef struct em_part {
	const char *name;
	uint32_t position, dim, dtype, has_vocab, table_index;
	uint64_t first, total, rows;
} em_part;

typedef struct em_file {
	const char *path;
	int rank;
	uint32_t store;    /* its place in its rank's list */
	int is_shard;
	embstore_shard_info shard;
	em_part *parts;
	uint32_t n_parts;
} em_file;

/* One rank's description: its status and detail when opening its files failed, else its files. */
typedef struct em_desc {
	embstore_status status;
	const char *detail;
	em_file *files;
	uint32_t n_files;
} em_desc;

typedef struct em_buf {
	unsigned char *data;
	size_t len, cap;
	bool failed;
} em_buf;

/* This rank's description: its files' shard keys and tables, or `status` and the thread's error detail. The
 * buffer is failed (NO_MEMORY) when it could not be grown. */
void em_describe(em_buf *b, embstore *const *stores, const char *const *paths, uint32_t n, embstore_status status,
                 const char *detail);
/* Reads rank `rank`'s description from `len` bytes (pointers into them, arrays allocated: em_desc_free).
 * CORRUPT when they do not parse, NO_MEMORY. */
embstore_status em_parse(const unsigned char *data, size_t len, int rank, em_desc *out);
void em_desc_free(em_desc *d);

#endif
