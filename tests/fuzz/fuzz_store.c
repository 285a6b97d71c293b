/* fuzz_store.c: a fuzz target over a whole store file, through the public API as a program that opens an
 * untrusted file uses it (only the resealing of the header checksum, at the end, knows the layout): open over
 * the input bytes and as a file (validation), every table and metadata entry by index and by name, verify, and
 * on each table a gather and a bag (sum, mean, max) of ids taken from the input, on every kernel set this CPU
 * runs. Besides "no crash, no sanitizer report", it checks what the header promises (both opens agree, verify's
 * status is its first problem's, found entries are the listed ones, a bad id's position, kernel sets agree
 * bitwise on gather); a broken promise aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embstore.h"
#include "format.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IDS 16
#define MAX_BAGS 4

/* The detail line is set, NUL-terminated and short enough to read. */
static void check_detail(void)
{
	const char *d = embstore_error_detail();
	require(d != NULL && strlen(d) < 4096);
}

typedef struct problems {
	const embstore_info *info;
	size_t count;
	embstore_status first;
} problems;

static int on_problem(void *ctx, const embstore_problem *p)
{
	problems *ps = ctx;
	require(p->table_index < ps->info->table_count);
	require(p->status == EMBSTORE_DATA_CHECKSUM || p->status == EMBSTORE_NON_FINITE ||
	        p->status == EMBSTORE_CORRUPT || p->status == EMBSTORE_BAD_STRING);
	if (ps->count++ == 0)
		ps->first = p->status;
	return 0;
}

/* Byte k of a table's data, cyclically: ids come from the input, and change when the fuzzer changes the rows. */
static uint8_t data_byte(const embstore_matrix *m, uint64_t k)
{
	return ((const uint8_t *)m->data)[k % (m->rows * m->row_stride)];
}

/* Up to MAX_IDS ids for table m, each a valid row, except that some inputs end with a raw 64-bit value (most
 * often out of range or negative). Returns the count; *first_bad is the position of the first bad id, or n. */
static size_t make_ids(const embstore_matrix *m, int64_t *ids, size_t *first_bad)
{
	uint8_t ctl = data_byte(m, 0);
	size_t n = 1 + ctl % MAX_IDS;
	*first_bad = n;
	for (size_t i = 0; i < n; i++) {
		uint64_t raw = 0;
		for (unsigned b = 0; b < 8; b++)
			raw |= (uint64_t)data_byte(m, 1 + 8 * i + b) << (8 * b);
		ids[i] = (i + 1 == n && (ctl & 0x80)) ? (int64_t)raw : (int64_t)(raw % m->rows);
		if ((ids[i] < 0 || (uint64_t)ids[i] >= m->rows) && *first_bad == n)
			*first_bad = i;
	}
	return n;
}

static void check_kernel_status(embstore_status st, size_t bad, size_t first_bad, size_t n)
{
	if (first_bad < n)
		require(st == EMBSTORE_ID_OUT_OF_RANGE && bad == first_bad);
	else
		require(st == EMBSTORE_OK);
}

/* Gather on every kernel set: the status and bad position the header promises, and bitwise the scalar rows
 * (the output is compared only when every id is good: rows after a bad one are unspecified). */
static void gather_everywhere(const embstore_matrix *m, const int64_t *ids, size_t n, size_t first_bad)
{
	size_t floats = n * m->dim;
	float *ref = malloc(floats * sizeof *ref), *out = malloc(floats * sizeof *out);
	require(ref && out);
	embstore_isa active;
	require(embstore_isa_active(&active) == EMBSTORE_OK);
	require(embstore_isa_set(EMBSTORE_ISA_SCALAR) == EMBSTORE_OK);
	size_t bad = SIZE_MAX;
	embstore_status st = embstore_gather(m, ids, EMBSTORE_ID64, n, ref, &bad);
	check_kernel_status(st, bad, first_bad, n);
	for (int isa = EMBSTORE_ISA_SCALAR + 1; isa < EMBSTORE_ISA_COUNT; isa++) {
		if (!embstore_isa_supported((embstore_isa)isa))
			continue;
		require(embstore_isa_set((embstore_isa)isa) == EMBSTORE_OK);
		bad = SIZE_MAX;
		st = embstore_gather(m, ids, EMBSTORE_ID64, n, out, &bad);
		check_kernel_status(st, bad, first_bad, n);
		if (first_bad == n)
			require(memcmp(ref, out, floats * sizeof *out) == 0);
	}
	require(embstore_isa_set(active) == EMBSTORE_OK);
	free(ref);
	free(out);
}

/* Up to MAX_BAGS bags over the same ids as 32-bit values (bad ones stay bad: they are clamped into the
 * negative), with and without weights, in every mode, on the active kernel set. */
static void bags(const embstore_matrix *m, const int64_t *ids64, size_t n, size_t first_bad)
{
	int32_t ids[MAX_IDS];
	float weights[MAX_IDS];
	int64_t offsets[MAX_BAGS + 1];
	for (size_t i = 0; i < n; i++) {
		ids[i] = ids64[i] >= 0 && ids64[i] <= INT32_MAX ? (int32_t)ids64[i] : -1;
		weights[i] = (float)((int)data_byte(m, 2 * i + 3) - 128) / 32.0f;
	}
	size_t n_bags = 1 + data_byte(m, 2) % MAX_BAGS;
	offsets[0] = 0;
	for (size_t b = 1; b < n_bags; b++) {
		int64_t step = data_byte(m, 4 + b) % (MAX_IDS / 2);
		offsets[b] = offsets[b - 1] + step < (int64_t)n ? offsets[b - 1] + step : (int64_t)n;
	}
	offsets[n_bags] = (int64_t)n;
	float *out = malloc(n_bags * m->dim * sizeof *out);
	require(out != NULL);
	for (int mode = EMBSTORE_BAG_SUM; mode <= EMBSTORE_BAG_MAX; mode++) {
		for (int weighted = 0; weighted < 2; weighted++) {
			size_t bad = SIZE_MAX;
			embstore_status st = embstore_gather_bag(m, ids, EMBSTORE_ID32, n, offsets, n_bags,
			                                         weighted ? weights : NULL, (embstore_bag_mode)mode, out, &bad);
			check_kernel_status(st, bad, first_bad, n);
		}
	}
	free(out);
}

static void check_table(const embstore *s, const embstore_info *info, uint32_t i)
{
	embstore_table t, by_name;
	require(embstore_table_at(s, i, &t) == EMBSTORE_OK);
	require(t.index == i && t.name && t.name[0] != '\0');
	require(embstore_table_find(s, t.name, &by_name) == EMBSTORE_OK && by_name.index == i);
	const embstore_matrix *m = &t.matrix;
	require(m->rows >= 1 && m->dim >= 1 && m->row_stride >= embstore_row_bytes(m->dtype, m->dim));
	require(m->flags & EMBSTORE_MATRIX_READ_ONLY);
	require(t.data_offset % info->data_alignment == 0 && t.data_offset + m->rows * m->row_stride <= info->file_size);

	/* A read-only matrix refuses writes before anything else is looked at. */
	int64_t zero = 0;
	float grad = 1.0f;
	require(embstore_scatter_add(m, &zero, EMBSTORE_ID64, 1, &grad, 1.0f, NULL) == EMBSTORE_READ_ONLY);

	int64_t ids[MAX_IDS];
	size_t first_bad, n = make_ids(m, ids, &first_bad);
	gather_everywhere(m, ids, n, first_bad);
	bags(m, ids, n, first_bad);
}

/* The same bytes opened as a file (a memfd, by its /proc path): fstat, the short-file path, mmap, and verify
 * reading with pread. Returns open's status; *verified is verify's when it opened. */
static embstore_status open_as_file(const uint8_t *data, size_t size, embstore_status *verified)
{
	int fd = fuzz_memfd("fuzz_store", data, size);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	embstore *s = NULL;
	embstore_status st = embstore_open(path, EMBSTORE_ADVISE_RANDOM, &s);
	check_detail();
	if (st == EMBSTORE_OK)
		*verified = embstore_verify(s, NULL, NULL);
	embstore_close(s);
	close(fd);
	return st;
}

/* A vocabulary's lookups, on its first rows: every status a damaged one may give, never a read outside it (the
 * sanitizers watch), and on a store that verifies, each key found at its own row. */
static void check_keys(const embstore *s, uint32_t index, bool intact)
{
	embstore_table t;
	require(embstore_table_at(s, index, &t) == EMBSTORE_OK);
	const char *key;
	size_t len;
	uint64_t row;
	if (!t.has_vocab) {
		require(embstore_table_key(s, index, 0, &key, &len) == EMBSTORE_NO_VOCAB);
		return;
	}
	for (uint64_t r = 0; r < t.matrix.rows && r < 8; r++) {
		embstore_status st = embstore_table_key(s, index, r, &key, &len);
		require(st == EMBSTORE_OK || (!intact && st == EMBSTORE_CORRUPT));
		if (st != EMBSTORE_OK)
			continue;
		st = embstore_table_find_key(s, index, key, len, &row);
		require(st == EMBSTORE_OK || (!intact && (st == EMBSTORE_UNKNOWN_KEY || st == EMBSTORE_CORRUPT)));
		require(st != EMBSTORE_OK || row < t.matrix.rows);
		require(!intact || row == r);
	}
	embstore_status st = embstore_table_find_key(s, index, "\x01no such key", 13, &row);
	require(st == EMBSTORE_UNKNOWN_KEY || st == EMBSTORE_CORRUPT || (!intact && st == EMBSTORE_OK));
}

/* Everything above, on the bytes as given. */
static void check_store(const uint8_t *data, size_t size)
{
	embstore *s = NULL;
	embstore_status st = embstore_open_memory(data, size, 0, &s);
	check_detail();
	embstore *verified = NULL;
	embstore_status st_verified = embstore_open_memory(data, size, EMBSTORE_OPEN_VERIFY, &verified);
	check_detail();
	/* The file path parses with the same code and adds the read of a short file, the mapping and verify's pread:
	 * worth its system calls (a third of the speed) only on short inputs and on those that open. */
	embstore_status file_verified = EMBSTORE_OK;
	if (size < ES_SUPERBLOCK_SIZE || st == EMBSTORE_OK)
		require(open_as_file(data, size, &file_verified) == st);
	if (st != EMBSTORE_OK) {
		require(st_verified == st && verified == NULL && s == NULL);
		return;
	}

	embstore_info info;
	embstore_get_info(s, &info);
	require(info.format_major == EMBSTORE_FORMAT_MAJOR && info.file_size == size);

	/* Verify reports each problem; its status is the first one's, and open with VERIFY returns the same. */
	problems ps = {&info, 0, EMBSTORE_OK};
	embstore_status vst = embstore_verify(s, on_problem, &ps);
	check_detail();
	require(ps.count == 0 ? vst == EMBSTORE_OK : vst == ps.first);
	require(st_verified == vst && (vst == EMBSTORE_OK) == (verified != NULL) && file_verified == vst);
	embstore_close(verified);

	for (uint32_t i = 0; i < info.table_count; i++) {
		check_table(s, &info, i);
		check_keys(s, i, vst == EMBSTORE_OK);
	}
	embstore_table t;
	require(embstore_table_at(s, info.table_count, &t) == EMBSTORE_INVALID_ARGUMENT);

	for (uint32_t i = 0; i < info.meta_count; i++) {
		const char *key, *value;
		require(embstore_meta_at(s, i, &key, &value) == EMBSTORE_OK);
		require(key[0] != '\0' && embstore_meta_get(s, key) == value);
	}
	const char *key, *value;
	require(embstore_meta_at(s, info.meta_count, &key, &value) == EMBSTORE_INVALID_ARGUMENT);
	embstore_close(s);
}

/* The input, and when its header checksum does not match, the input with the checksum made to match: a random
 * change to the directory would otherwise never get past the checksum to the rules behind it. (This is the
 * one place the target knows the layout, from src/format.h: whatever the format, it must reseal as the writer
 * seals.) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_store(data, size);
	if (size < ES_SUPERBLOCK_SIZE)
		return 0;
	uint64_t off = es_le64(data + ES_SB_DIR_OFFSET), dir_size = es_le64(data + ES_SB_DIR_SIZE), end;
	if (!es_add_u64(off, dir_size, &end) || end > size)
		return 0;
	uint64_t sum = es_header_checksum(data, data + off, dir_size);
	if (sum == es_le64(data + ES_SB_CHECKSUM))
		return 0;
	uint8_t *sealed = malloc(size);
	require(sealed != NULL);
	memcpy(sealed, data, size);
	es_put64(sealed + ES_SB_CHECKSUM, sum);
	check_store(sealed, size);
	free(sealed);
	return 0;
}
