/* fuzz_sync.c: training in place on a stranger's file. The input is written to a file and opened writable; if it
 * opens, rows of its f32 tables (ids and gradients taken from the input) are updated and synced, and the synced
 * file must open again; then reseal, which must leave a file that opens and whose verify names no checksum
 * mismatch. Neither may crash, write outside the file, or leave a file that opened before unopenable. */
#include <stdint.h>
#include <stdlib.h>

#include "embstore.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_checksum_problem(void *ctx, const embstore_problem *p)
{
	*(int *)ctx |= p->status == EMBSTORE_DATA_CHECKSUM;
	return 0;
}

/* Updates up to 8 rows of every f32 table, with ids and gradients from the input's bytes. */
static void train(embstore *s, const uint8_t *data, size_t size)
{
	embstore_info info;
	embstore_get_info(s, &info);
	for (uint32_t i = 0; i < info.table_count; i++) {
		embstore_table t;
		require(embstore_table_at(s, i, &t) == EMBSTORE_OK);
		if (t.matrix.dtype != EMBSTORE_F32 || t.matrix.dim > 4096)
			continue;
		int64_t ids[8];
		size_t n = 1 + (size ? data[size - 1] % 8 : 0);
		for (size_t k = 0; k < n; k++)
			ids[k] = (int64_t)((size ? data[(k * 7919) % size] : 0) % t.matrix.rows);
		float *g = calloc(n * t.matrix.dim, sizeof *g);
		require(g != NULL);
		for (size_t k = 0; k < n * t.matrix.dim; k++)
			g[k] = size ? (float)(data[k % size]) / 64.0f - 2.0f : 1.0f;
		require(embstore_table_scatter_add(s, i, ids, EMBSTORE_ID64, n, g, -0.5f, NULL, 1) == EMBSTORE_OK);
		free(g);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_path("sync", "store.emb");
	fuzz_write_file(path, data, size);
	embstore *s;
	embstore_status opened = embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s);
	if (opened == EMBSTORE_OK) {
		train(s, data, size);
		require(embstore_sync(s) == EMBSTORE_OK);
		embstore_close(s);
		require(embstore_open(path, 0, &s) == EMBSTORE_OK); /* a sync never makes a file unopenable */
		embstore_close(s);
	}
	embstore_status resealed = embstore_reseal(path);
	if (opened == EMBSTORE_OK)
		require(resealed == EMBSTORE_OK);
	if (resealed == EMBSTORE_OK) {
		require(embstore_open(path, 0, &s) == EMBSTORE_OK);
		int mismatch = 0;
		embstore_verify(s, no_checksum_problem, &mismatch);
		require(!mismatch); /* reseal makes every checksum match its rows */
		embstore_close(s);
	}
	return 0;
}
