/* fuzz_sync.c: training in place on a stranger's file. The input is written to a file and opened writable; if it
 * opens, rows of its f32 tables (ids and gradients taken from the input) are updated and synced, and the synced
 * file must open again; then reseal, which must leave a file that opens and whose verify names no checksum
 * mismatch. Neither may crash, write outside the file, or leave a file that opened before unopenable. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
	if (!cond)
		abort();
}

static char dir[4096], path[4200];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

static void write_input(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/embstore-fuzz-sync-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		require(mkdtemp(dir) != NULL);
		snprintf(path, sizeof path, "%s/store.emb", dir);
		atexit(remove_dir);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	require(fd >= 0);
	for (size_t done = 0; done < size;) {
		ssize_t k = write(fd, data + done, size - done);
		require(k > 0);
		done += (size_t)k;
	}
	require(close(fd) == 0);
}

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
	write_input(data, size);
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
