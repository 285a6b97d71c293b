/* mpi_parse.h: the description a rank sends the others of the files it opened (mpi_describe.h writes it), read
 * back. Apart from the rest of libembstore_mpi so that it builds without MPI (its fuzz target does). */
#ifndef EMBSTORE_MPI_PARSE_H
#define EMBSTORE_MPI_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "embstore.h"

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

/* Reads rank `rank`'s description from `len` bytes (pointers into them, arrays allocated: em_desc_free).
 * CORRUPT when they do not parse, NO_MEMORY. */
embstore_status em_parse(const unsigned char *data, size_t len, int rank, em_desc *out);
void em_desc_free(em_desc *d);

#endif
