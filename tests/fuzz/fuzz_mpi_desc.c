/* fuzz_mpi_desc.c: a fuzz target over em_parse (src/mpi/mpi_parse.c), which reads the description of its files
 * that each rank of libembstore_mpi receives from every other one at open. Those bytes come from another
 * process, so the parser must return OK, CORRUPT or NO_MEMORY, never read outside them, and on OK every string
 * it hands out must lie inside the input and end there with its NUL. */
#include <string.h>

#include "fuzz_util.h"
#include "mpi_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *s, const uint8_t *data, size_t size)
{
	const uint8_t *p = (const uint8_t *)s;
	require(p >= data && p < data + size);
	require(memchr(p, 0, (size_t)(data + size - p)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	em_desc d;
	embstore_status st = em_parse(data, size, 3, &d);
	require(st == EMBSTORE_OK || st == EMBSTORE_CORRUPT || st == EMBSTORE_NO_MEMORY);
	if (st == EMBSTORE_OK) {
		inside(d.detail, data, size);
		for (uint32_t i = 0; i < d.n_files; i++) {
			const em_file *f = &d.files[i];
			require(f->rank == 3 && f->store == i);
			inside(f->path, data, size);
			require(memchr(f->shard.set_id, 0, sizeof f->shard.set_id) != NULL);
			for (uint32_t k = 0; k < f->n_parts; k++) {
				inside(f->parts[k].name, data, size);
				require(f->parts[k].table_index == k);
			}
		}
	}
	em_desc_free(&d);
	return 0;
}
