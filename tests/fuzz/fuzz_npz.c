/* fuzz_npz.c: a fuzz target over a .npz input, read from memory (es_npz_open_member_mem) as minizip reads an
 * archive: each member that numpy's archives or the hostile fixture have is looked up, and each one found is
 * imported through the .npy importer (es_import_npy_stream) into a writer over a temporary directory. Oracles:
 * every call returns a status with a detail; a member is never read further than one byte past what its .npy
 * header announces; an import that succeeds read exactly that and gives a store that opens, verifies and holds
 * the table the header describes. Anything else aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "import.h"
#include "npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPY_PREFIX (12 + (1u << 20) + 12) /* more than the importer reads before the header parses */

/* What the member's .npy header says, read from a first opening of it: *parsed, and *info when it parses. */
static void npy_header(const uint8_t *data, size_t size, const char *name, int *parsed, embstore_npy_info *info)
{
	es_npz_member *m;
	require(es_npz_open_member_mem(data, size, name, &m) == EMBSTORE_OK);
	uint8_t *prefix = malloc(NPY_PREFIX);
	require(prefix != NULL);
	size_t got = 0;
	embstore_status st = es_stream_read(es_npz_stream(m), prefix, NPY_PREFIX, &got);
	*parsed = st == EMBSTORE_OK && embstore_npy_parse(prefix, got, info) == EMBSTORE_OK;
	free(prefix);
	es_npz_close(m);
}

static void import_member(const uint8_t *data, size_t size, const char *name)
{
	es_npz_member *m;
	embstore_status st = es_npz_open_member_mem(data, size, name, &m);
	require(st != EMBSTORE_INVALID_ARGUMENT && embstore_error_detail() != NULL);
	if (st != EMBSTORE_OK)
		return;
	int parsed;
	embstore_npy_info info;
	npy_header(data, size, name, &parsed, &info);
	/* The header, the data it announces (sizes are capped: this cannot wrap) and one byte to see the end. */
	uint64_t npy_size = parsed ? info.data_offset + info.rows * info.cols * info.item_size : 0;

	const char *path = fuzz_path("npz", "out.emb");
	embstore_writer *w;
	require(embstore_writer_create(path, &w) == EMBSTORE_OK);
	es_stream *s = es_npz_stream(m);
	st = es_import_npy_stream(w, "t", s, 0);
	require(st != EMBSTORE_INVALID_ARGUMENT && embstore_error_detail() != NULL);
	require(s->pos <= (parsed ? npy_size + 1 : NPY_PREFIX));
	if (st == EMBSTORE_OK) {
		require(parsed && s->pos == npy_size);
		require(embstore_writer_finish(w) == EMBSTORE_OK);
		embstore *store;
		require(embstore_open(path, EMBSTORE_OPEN_VERIFY, &store) == EMBSTORE_OK);
		embstore_table t;
		require(embstore_table_find(store, "t", &t) == EMBSTORE_OK);
		require(t.matrix.rows == info.rows && t.matrix.dim == info.cols && t.matrix.dtype == info.dtype);
		embstore_close(store);
		require(unlink(path) == 0);
	}
	embstore_writer_free(w);
	es_npz_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *names[] = {"a", "h", "d", "v", "i", "good", "short", "long", "badcrc", "notes.txt"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		import_member(data, size, names[i]);
	return 0;
}
