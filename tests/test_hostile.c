/* test_hostile.c: every public function called the way a careless or hostile caller would: NULL pointers, zero
 * counts, counts whose byte size overflows size_t, misaligned ids and outputs (the header: "Output buffers need
 * no alignment"; ids are read byte-wise), negative and out-of-range ids, bag offsets that do not start at 0 or go
 * backwards, 1000 threads. Each must give the status the header documents (or its documented result for a count
 * of zero) and write nothing outside its buffers: outputs sit between canaries, and the ASan/UBSan build
 * (tools/test-sanitizers.sh) turns any overread or undefined behaviour into a failure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ---- buffers between canaries ---- */

#define CANARY_BYTES 64
#define CANARY 0xA5

/* `size` bytes at `offset` bytes past a 16-byte boundary (offset 1 and 2 misalign any int64 or float), with
 * CANARY_BYTES of canary on each side. */
typedef struct guarded {
	unsigned char *block;
	size_t size;
	unsigned char *p;
} guarded;

static guarded guard_alloc(size_t size, size_t offset)
{
	guarded g = {malloc(size + 2 * CANARY_BYTES + 16), size, NULL};
	cr_assert_not_null(g.block);
	memset(g.block, CANARY, size + 2 * CANARY_BYTES + 16);
	g.p = g.block + CANARY_BYTES + offset;
	return g;
}

static int canaries_intact(const guarded *g)
{
	for (unsigned char *q = g->block; q < g->p; q++)
		if (*q != CANARY)
			return 0;
	for (unsigned char *q = g->p + g->size; q < g->p + g->size + CANARY_BYTES; q++)
		if (*q != CANARY)
			return 0;
	return 1;
}

static void guard_free(guarded *g)
{
	cr_expect(canaries_intact(g), "a write outside the buffer");
	free(g->block);
}

/* ---- a table in the caller's memory: rows x dim f32, row r all equal to r + 1 ---- */

#define ROWS 10
#define DIM 5

static float table_data[ROWS * DIM];

static embstore_matrix f32_table(void)
{
	for (int r = 0; r < ROWS; r++)
		for (int j = 0; j < DIM; j++)
			table_data[r * DIM + j] = (float)(r + 1);
	return (embstore_matrix){table_data, ROWS, DIM * sizeof(float), DIM, EMBSTORE_F32, 0};
}

/* Stores `n` int64 ids at a misaligned address inside g. */
static const void *put_ids64(guarded *g, const int64_t *ids, size_t n)
{
	memcpy(g->p, ids, n * sizeof *ids);
	return g->p;
}

/* ---- argument checks of the kernels ---- */

Test(hostile, gather_rejects_bad_matrices)
{
	embstore_matrix ok = f32_table();
	int64_t id = 0;
	float out[DIM];
	cr_expect_eq(embstore_gather(NULL, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	embstore_matrix m = ok;
	m.data = NULL;
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	m = ok;
	m.rows = 0;
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	m = ok;
	m.dim = 0;
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	m = ok;
	m.dtype = (embstore_dtype)99;
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_BAD_DTYPE);
	m = ok;
	m.row_stride = DIM * sizeof(float) - 4; /* shorter than a row */
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	m = ok;
	m.row_stride = DIM * sizeof(float) + 1; /* not a whole number of elements */
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	m = ok;
	m.rows = UINT64_MAX / 8; /* rows x row_stride beyond any address space */
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	m = ok;
	m.row_stride = UINT64_MAX - 3;
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather(&ok, &id, (embstore_id_type)0, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather(&ok, &id, (embstore_id_type)2, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
}

Test(hostile, null_buffers_with_a_count)
{
	embstore_matrix m = f32_table();
	int64_t id = 0, offsets[2] = {0, 1};
	float out[DIM];
	cr_expect_eq(embstore_gather(&m, NULL, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, 1, NULL, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather_mt(&m, NULL, EMBSTORE_ID64, 1, out, NULL, 4), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather_bag(&m, NULL, EMBSTORE_ID64, 1, offsets, 1, NULL, EMBSTORE_BAG_SUM, out, NULL),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather_bag(&m, &id, EMBSTORE_ID64, 1, NULL, 1, NULL, EMBSTORE_BAG_SUM, out, NULL),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather_bag(&m, &id, EMBSTORE_ID64, 1, offsets, 1, NULL, EMBSTORE_BAG_SUM, NULL, NULL),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather_bag_mt(&m, &id, EMBSTORE_ID64, 1, offsets, 1, NULL, EMBSTORE_BAG_SUM, NULL, NULL,
	                                    1000),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_scatter_add(&m, NULL, EMBSTORE_ID64, 1, out, 1.0f, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_scatter_add(&m, &id, EMBSTORE_ID64, 1, NULL, 1.0f, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_scatter_add_mt(&m, &id, EMBSTORE_ID64, 1, NULL, 1.0f, NULL, 1000),
	             EMBSTORE_INVALID_ARGUMENT);
}

/* The header allows NULL buffers when the count is 0: nothing is read or written, and the call succeeds. */
Test(hostile, zero_counts_with_null_buffers)
{
	embstore_matrix m = f32_table();
	int64_t no_bags[1] = {0};
	size_t bad = 77;
	for (unsigned threads = 0; threads <= 1000; threads = threads ? threads * 10 : 1) {
		cr_expect_eq(embstore_gather_mt(&m, NULL, EMBSTORE_ID64, 0, NULL, &bad, threads), EMBSTORE_OK);
		cr_expect_eq(embstore_gather_bag_mt(&m, NULL, EMBSTORE_ID32, 0, no_bags, 0, NULL, EMBSTORE_BAG_MEAN, NULL,
		                                    &bad, threads),
		             EMBSTORE_OK);
		cr_expect_eq(embstore_scatter_add_mt(&m, NULL, EMBSTORE_ID64, 0, NULL, 1.0f, &bad, threads), EMBSTORE_OK);
	}
	cr_expect_eq(embstore_gather(&m, NULL, EMBSTORE_ID32, 0, NULL, &bad), EMBSTORE_OK);
	cr_expect_eq(embstore_gather_bag(&m, NULL, EMBSTORE_ID64, 0, no_bags, 0, NULL, EMBSTORE_BAG_MAX, NULL, &bad),
	             EMBSTORE_OK);
	cr_expect_eq(embstore_scatter_add(&m, NULL, EMBSTORE_ID32, 0, NULL, 1.0f, &bad), EMBSTORE_OK);
	cr_expect_eq(bad, 77, "bad_index is written only with ID_OUT_OF_RANGE");
	for (int i = 0; i < ROWS * DIM; i++)
		cr_assert_eq(table_data[i], (float)(i / DIM + 1));
}

/* Empty bags (n_ids = 0, n_bags > 0) are zeros, on every thread count. */
Test(hostile, empty_bags_are_zeros)
{
	embstore_matrix m = f32_table();
	int64_t offsets[4] = {0, 0, 0, 0};
	for (unsigned threads = 0; threads <= 1000; threads = threads ? threads * 10 : 1) {
		guarded out = guard_alloc(3 * DIM * sizeof(float), 0);
		cr_expect_eq(embstore_gather_bag_mt(&m, NULL, EMBSTORE_ID64, 0, offsets, 3, NULL, EMBSTORE_BAG_MAX,
		                                    (float *)(void *)out.p, NULL, threads),
		             EMBSTORE_OK);
		for (size_t i = 0; i < 3 * DIM; i++) {
			float v;
			memcpy(&v, out.p + i * sizeof v, sizeof v);
			cr_expect_eq(v, 0.0f);
		}
		guard_free(&out);
	}
}

/* n x dim x 4 bytes of output (or gradients) that do not fit a size_t are refused before anything is read. */
Test(hostile, counts_whose_bytes_overflow)
{
	embstore_matrix m = f32_table();
	int64_t id = 0, offsets[2] = {0, 0};
	float out[DIM];
	size_t huge[] = {SIZE_MAX, SIZE_MAX / 4, SIZE_MAX / sizeof(float) / DIM + 1};
	for (size_t k = 0; k < sizeof huge / sizeof *huge; k++) {
		size_t n = huge[k];
		cr_expect_eq(embstore_gather(&m, &id, EMBSTORE_ID64, n, out, NULL), EMBSTORE_INVALID_ARGUMENT, "n %zu", n);
		cr_expect_eq(embstore_gather_mt(&m, &id, EMBSTORE_ID64, n, out, NULL, 1000), EMBSTORE_INVALID_ARGUMENT);
		cr_expect_eq(embstore_scatter_add(&m, &id, EMBSTORE_ID64, n, out, 1.0f, NULL), EMBSTORE_INVALID_ARGUMENT);
		cr_expect_eq(embstore_scatter_add_mt(&m, &id, EMBSTORE_ID64, n, out, 1.0f, NULL, 1000),
		             EMBSTORE_INVALID_ARGUMENT);
		/* n_bags whose output overflows, and n_ids beyond INT64_MAX: refused before offsets[n_bags] is read. */
		cr_expect_eq(embstore_gather_bag(&m, &id, EMBSTORE_ID64, 0, offsets, n, NULL, EMBSTORE_BAG_SUM, out, NULL),
		             EMBSTORE_INVALID_ARGUMENT);
		cr_expect_eq(embstore_gather_bag_mt(&m, &id, EMBSTORE_ID64, 0, offsets, n, NULL, EMBSTORE_BAG_SUM, out,
		                                    NULL, 1000),
		             EMBSTORE_INVALID_ARGUMENT);
	}
	cr_expect_eq(embstore_gather_bag(&m, &id, EMBSTORE_ID64, (size_t)INT64_MAX + 1, offsets, 1, NULL,
	                                 EMBSTORE_BAG_SUM, out, NULL),
	             EMBSTORE_INVALID_ARGUMENT);
}

Test(hostile, bag_offsets_must_be_csr)
{
	embstore_matrix m = f32_table();
	int64_t ids[4] = {1, 2, 3, 4};
	float out[3 * DIM];
	int64_t not_from_zero[4] = {1, 2, 3, 4}, backwards[4] = {0, 3, 2, 4}, short_end[4] = {0, 1, 2, 3},
	        long_end[4] = {0, 1, 2, 5}, negative[4] = {0, -1, 2, 4}, huge[4] = {0, INT64_MAX, INT64_MAX, 4},
	        wrapped[4] = {0, INT64_MIN, 0, 4};
	const int64_t *bad[] = {not_from_zero, backwards, short_end, long_end, negative, huge, wrapped};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		cr_expect_eq(embstore_gather_bag(&m, ids, EMBSTORE_ID64, 4, bad[k], 3, NULL, EMBSTORE_BAG_SUM, out, NULL),
		             EMBSTORE_INVALID_ARGUMENT, "offsets #%zu", k);
		cr_expect_eq(embstore_gather_bag_mt(&m, ids, EMBSTORE_ID64, 4, bad[k], 3, NULL, EMBSTORE_BAG_SUM, out,
		                                    NULL, 1000),
		             EMBSTORE_INVALID_ARGUMENT, "offsets #%zu", k);
	}
	int64_t good[4] = {0, 1, 1, 4};
	cr_expect_eq(embstore_gather_bag(&m, ids, EMBSTORE_ID64, 4, good, 3, NULL, (embstore_bag_mode)3, out, NULL),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather_bag(&m, ids, EMBSTORE_ID64, 4, good, 3, NULL, (embstore_bag_mode)-1, out, NULL),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_gather_bag(&m, ids, EMBSTORE_ID64, 4, good, 3, NULL, EMBSTORE_BAG_SUM, out, NULL),
	             EMBSTORE_OK);
}

/* Ids at misaligned addresses, outputs at misaligned addresses, both between canaries; then negative, too
 * large and extreme ids stop the kernel at their position, with the rows before them written. */
static void gather_hostile_ids(embstore_id_type id_type, unsigned threads)
{
	embstore_matrix m = f32_table();
	int64_t cases[] = {-1, ROWS, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, (int64_t)1 << 32};
	size_t width = (size_t)id_type;
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		if (id_type == EMBSTORE_ID32 && (cases[k] < INT32_MIN || cases[k] > INT32_MAX))
			continue;
		int64_t wanted[4] = {3, 0, cases[k], 9};
		guarded ids = guard_alloc(4 * width, 1), out = guard_alloc(4 * DIM * sizeof(float), 2);
		for (size_t i = 0; i < 4; i++) {
			int32_t v32 = (int32_t)wanted[i];
			memcpy(ids.p + i * width, id_type == EMBSTORE_ID64 ? (const void *)&wanted[i] : (const void *)&v32,
			       width);
		}
		size_t bad = 99;
		embstore_status st = threads ? embstore_gather_mt(&m, ids.p, id_type, 4, (float *)(void *)out.p, &bad,
		                                                  threads)
		                             : embstore_gather(&m, ids.p, id_type, 4, (float *)(void *)out.p, &bad);
		cr_expect_eq(st, EMBSTORE_ID_OUT_OF_RANGE, "id %lld", (long long)cases[k]);
		cr_expect_eq(bad, 2, "id %lld", (long long)cases[k]);
		for (size_t i = 0; i < 2 * DIM && !threads; i++) {
			float v;
			memcpy(&v, out.p + i * sizeof v, sizeof v);
			cr_expect_eq(v, (float)(wanted[i / DIM] + 1), "rows before the bad id are written");
		}
		guard_free(&ids);
		guard_free(&out);
	}
}

Test(hostile, gather_misaligned_bad_ids)
{
	gather_hostile_ids(EMBSTORE_ID64, 0);
	gather_hostile_ids(EMBSTORE_ID32, 0);
	gather_hostile_ids(EMBSTORE_ID64, 1000);
	gather_hostile_ids(EMBSTORE_ID32, 1000);
}

/* A ROWS x DIM table of `dtype` holding f32_table's values, in memory of its own (free it). */
static embstore_matrix table_of(embstore_dtype dtype)
{
	embstore_matrix f = f32_table();
	uint64_t stride = embstore_row_bytes(dtype, DIM);
	unsigned char *p = malloc(ROWS * stride);
	cr_assert_not_null(p);
	for (int r = 0; r < ROWS; r++) {
		const float *src = &table_data[r * DIM];
		unsigned char *row = p + r * stride;
		if (dtype == EMBSTORE_INT8_ROWWISE) {
			cr_assert_eq(embstore_quantize_row_int8(src, DIM, row), EMBSTORE_OK);
			continue;
		}
		for (int j = 0; j < DIM; j++) {
			uint16_t h = dtype == EMBSTORE_F16 ? embstore_f32_to_f16(src[j]) : embstore_f32_to_bf16(src[j]);
			if (dtype == EMBSTORE_F32)
				memcpy(row + 4 * j, &src[j], 4);
			else
				memcpy(row + 2 * j, &h, 2);
		}
	}
	f.data = p;
	f.row_stride = stride;
	f.dtype = dtype;
	return f;
}

/* Good ids and outputs at misaligned addresses, on every dtype, every bag mode and every kernel set this CPU
 * has: the results of aligned buffers. */
Test(hostile, misaligned_ids_and_outputs_give_aligned_results)
{
	embstore_isa before;
	cr_assert_eq(embstore_isa_active(&before), EMBSTORE_OK);
	int64_t wanted[5] = {9, 0, 4, 4, 7}, offsets[3] = {0, 2, 5};
	float weights[5] = {1.0f, -2.0f, 0.5f, 0.25f, 3.0f};
	guarded ids = guard_alloc(sizeof wanted, 3);
	const void *p = put_ids64(&ids, wanted, 5);
	embstore_dtype dtypes[] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE};
	for (int isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		if (embstore_isa_set((embstore_isa)isa) != EMBSTORE_OK)
			continue;
		for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
			embstore_matrix m = table_of(dtypes[d]);
			float aligned[5 * DIM];
			cr_assert_eq(embstore_gather(&m, wanted, EMBSTORE_ID64, 5, aligned, NULL), EMBSTORE_OK);
			guarded out = guard_alloc(sizeof aligned, 1);
			cr_expect_eq(embstore_gather(&m, p, EMBSTORE_ID64, 5, (float *)(void *)out.p, NULL), EMBSTORE_OK);
			cr_expect_eq(memcmp(out.p, aligned, sizeof aligned), 0, "%s, dtype %d", embstore_isa_name(isa), dtypes[d]);
			guard_free(&out);
			for (int mode = EMBSTORE_BAG_SUM; mode <= EMBSTORE_BAG_MAX; mode++) {
				float bag_aligned[2 * DIM];
				cr_assert_eq(embstore_gather_bag(&m, wanted, EMBSTORE_ID64, 5, offsets, 2, weights,
				                                 (embstore_bag_mode)mode, bag_aligned, NULL),
				             EMBSTORE_OK);
				guarded bag = guard_alloc(sizeof bag_aligned, 2);
				cr_expect_eq(embstore_gather_bag(&m, p, EMBSTORE_ID64, 5, offsets, 2, weights, (embstore_bag_mode)mode,
				                                 (float *)(void *)bag.p, NULL),
				             EMBSTORE_OK);
				cr_expect_eq(memcmp(bag.p, bag_aligned, sizeof bag_aligned), 0, "%s, dtype %d, mode %d",
				             embstore_isa_name(isa), dtypes[d], mode);
				guard_free(&bag);
			}
			free(m.data);
		}
	}
	cr_assert_eq(embstore_isa_set(before), EMBSTORE_OK);
	guard_free(&ids);
}

/* A bad id inside a bag stops the bag kernel at that id's position; with 1000 threads too. */
Test(hostile, bag_bad_ids)
{
	embstore_matrix m = f32_table();
	int64_t offsets[3] = {0, 2, 4};
	int64_t cases[] = {-1, ROWS, INT64_MIN, INT64_MAX};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		int64_t ids[4] = {1, 2, 3, cases[k]};
		float out[2 * DIM];
		size_t bad = 0;
		cr_expect_eq(embstore_gather_bag(&m, ids, EMBSTORE_ID64, 4, offsets, 2, NULL, EMBSTORE_BAG_MEAN, out, &bad),
		             EMBSTORE_ID_OUT_OF_RANGE);
		cr_expect_eq(bad, 3);
		bad = 0;
		cr_expect_eq(embstore_gather_bag_mt(&m, ids, EMBSTORE_ID64, 4, offsets, 2, NULL, EMBSTORE_BAG_MAX, out, &bad,
		                                    1000),
		             EMBSTORE_ID_OUT_OF_RANGE);
		cr_expect_eq(bad, 3);
	}
}

/* Scatter-add: a bad id stops it with the rows before updated and none written after; the memory around the
 * table stays untouched; read-only and non-f32 tables are refused. */
Test(hostile, scatter_add_bad_ids_and_canaries)
{
	int64_t cases[] = {-1, ROWS, INT64_MIN, INT64_MAX};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		for (unsigned threads = 0; threads <= 1000; threads += 1000) {
			guarded rows = guard_alloc(ROWS * DIM * sizeof(float), 0);
			memset(rows.p, 0, ROWS * DIM * sizeof(float));
			embstore_matrix m = {rows.p, ROWS, DIM * sizeof(float), DIM, EMBSTORE_F32, 0};
			int64_t ids[3] = {2, cases[k], 5};
			float grads[3 * DIM];
			for (int i = 0; i < 3 * DIM; i++)
				grads[i] = 1.0f;
			size_t bad = 0;
			cr_expect_eq(embstore_scatter_add_mt(&m, ids, EMBSTORE_ID64, 3, grads, 2.0f, &bad, threads),
			             EMBSTORE_ID_OUT_OF_RANGE);
			cr_expect_eq(bad, 1);
			float *t = (float *)(void *)rows.p;
			for (int j = 0; j < DIM; j++) {
				cr_expect_eq(t[2 * DIM + j], 2.0f, "the row before the bad id is updated");
				cr_expect_eq(t[5 * DIM + j], 0.0f, "no row after the bad id is written");
			}
			guard_free(&rows);
		}
	}
	embstore_matrix m = f32_table();
	int64_t id = 1;
	float grad[DIM] = {0};
	m.flags = EMBSTORE_MATRIX_READ_ONLY;
	cr_expect_eq(embstore_scatter_add(&m, &id, EMBSTORE_ID64, 1, grad, 1.0f, NULL), EMBSTORE_READ_ONLY);
	m.flags = 0;
	m.dtype = EMBSTORE_F16;
	cr_expect_eq(embstore_scatter_add_mt(&m, &id, EMBSTORE_ID64, 1, grad, 1.0f, NULL, 1000), EMBSTORE_BAD_DTYPE);
}

/* 1000 threads on a call large enough to be split: the result of one thread. */
Test(hostile, a_thousand_threads)
{
	enum { N = 8192, D = 32, R = 1000 };
	float *table = malloc(sizeof(float) * R * D), *one = malloc(sizeof(float) * N * D);
	int32_t *ids = malloc(sizeof(int32_t) * N);
	cr_assert(table && one && ids);
	uint64_t s = 5;
	for (int i = 0; i < R * D; i++)
		table[i] = tu_randf(&s);
	for (int i = 0; i < N; i++)
		ids[i] = (int32_t)(tu_rand(&s) % R);
	embstore_matrix m = {table, R, D * sizeof(float), D, EMBSTORE_F32, 0};
	cr_assert_eq(embstore_gather(&m, ids, EMBSTORE_ID32, N, one, NULL), EMBSTORE_OK);
	guarded many = guard_alloc(sizeof(float) * N * D, 0);
	cr_expect_eq(embstore_gather_mt(&m, ids, EMBSTORE_ID32, N, (float *)(void *)many.p, NULL, 1000), EMBSTORE_OK);
	cr_expect_eq(memcmp(many.p, one, sizeof(float) * N * D), 0);
	guard_free(&many);
	free(table);
	free(one);
	free(ids);
}

/* ---- stores ---- */

static char *sample_path(void)
{
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	char *path = tu_path("hostile.emb");
	tu_write_file(path, b, len);
	free(b);
	return path;
}

Test(hostile, open_arguments)
{
	char *path = sample_path();
	embstore *s = NULL;
	cr_expect_eq(embstore_open(NULL, 0, &s), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open(path, 0, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open(path, 1u << 20, &s), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open(path, EMBSTORE_ADVISE_RANDOM | EMBSTORE_ADVISE_WILLNEED, &s),
	             EMBSTORE_INVALID_ARGUMENT);
	errno = 0;
	cr_expect_eq(embstore_open("", 0, &s), EMBSTORE_IO);
	cr_expect_eq(errno, ENOENT);
	cr_expect_eq(embstore_open(tu_tmpdir(), 0, &s), EMBSTORE_IO);
	cr_expect_eq(errno, EISDIR);
	cr_expect_null(s, "out-parameters are written only on success");

	uint8_t byte = 0;
	cr_expect_eq(embstore_open_memory(NULL, 10, 0, &s), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open_memory(&byte, 1, 0, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open_memory(&byte, 1, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_open_memory(&byte, 1, EMBSTORE_ADVISE_HUGEPAGE, &s), EMBSTORE_INVALID_ARGUMENT);
	/* NULL with length 0 is an empty file: too short, not an invalid argument. */
	cr_expect_eq(embstore_open_memory(NULL, 0, 0, &s), EMBSTORE_TRUNCATED);
	cr_expect_null(s);
	embstore_close(NULL);
	free(path);
}

Test(hostile, accessors_on_null_and_out_of_range)
{
	char *path = sample_path();
	embstore *s;
	cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK);
	embstore_info info;
	memset(&info, CANARY, sizeof info);
	embstore_get_info(NULL, &info);
	embstore_get_info(s, NULL);
	unsigned char untouched[sizeof info];
	memset(untouched, CANARY, sizeof untouched);
	cr_expect_eq(memcmp(&info, untouched, sizeof info), 0);
	embstore_get_info(s, &info);
	cr_assert_eq(info.table_count, 2);

	embstore_table t;
	cr_expect_eq(embstore_table_at(NULL, 0, &t), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_at(s, 0, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_at(s, info.table_count, &t), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_at(s, UINT32_MAX, &t), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_find(NULL, "aa", &t), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_find(s, NULL, &t), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_find(s, "aa", NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_find(s, "", &t), EMBSTORE_NOT_FOUND);
	cr_expect_eq(embstore_table_find(s, "a", &t), EMBSTORE_NOT_FOUND, "a prefix is not a name");

	const char *key = "untouched", *value = "untouched";
	cr_expect_eq(embstore_meta_at(NULL, 0, &key, &value), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_meta_at(s, 0, NULL, &value), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_meta_at(s, 0, &key, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_meta_at(s, info.meta_count, &key, &value), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_str_eq(key, "untouched");
	cr_expect_str_eq(value, "untouched");
	cr_expect_null(embstore_meta_get(NULL, "k1"));
	cr_expect_null(embstore_meta_get(s, NULL));
	cr_expect_null(embstore_meta_get(s, ""));
	cr_expect_str_eq(embstore_meta_get(s, "k1"), "v1");

	cr_expect_eq(embstore_verify(NULL, NULL, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK);
	embstore_close(s);
	free(path);
}

Test(hostile, training_calls)
{
	char *path = sample_path();
	int64_t id = 1;
	float grad[3] = {1.0f, 1.0f, 1.0f};
	cr_expect_eq(embstore_table_scatter_add(NULL, 0, &id, EMBSTORE_ID64, 1, grad, 1.0f, NULL, 1),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_mark_rows(NULL, 0, 0, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_sync(NULL), EMBSTORE_INVALID_ARGUMENT);

	embstore *ro;
	cr_assert_eq(embstore_open(path, 0, &ro), EMBSTORE_OK);
	cr_expect_eq(embstore_table_scatter_add(ro, 0, &id, EMBSTORE_ID64, 1, grad, 1.0f, NULL, 1), EMBSTORE_READ_ONLY);
	cr_expect_eq(embstore_table_mark_rows(ro, 0, 0, 1), EMBSTORE_READ_ONLY);
	cr_expect_eq(embstore_sync(ro), EMBSTORE_READ_ONLY);
	embstore_close(ro);

	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_OK);
	embstore_table t;
	cr_assert_eq(embstore_table_find(s, "aa", &t), EMBSTORE_OK); /* f32, 10 x 3 */
	cr_expect_eq(embstore_table_scatter_add(s, 2, &id, EMBSTORE_ID64, 1, grad, 1.0f, NULL, 1),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_scatter_add(s, UINT32_MAX, &id, EMBSTORE_ID64, 1, grad, 1.0f, NULL, 1),
	             EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_scatter_add(s, t.index, NULL, EMBSTORE_ID64, 0, NULL, 1.0f, NULL, 1000),
	             EMBSTORE_OK);
	cr_expect_eq(embstore_table_scatter_add(s, t.index, NULL, EMBSTORE_ID64, 1, grad, 1.0f, NULL, 1000),
	             EMBSTORE_INVALID_ARGUMENT);
	/* Misaligned ids, a bad one among them: the good one before it is applied, and marked for sync. */
	int64_t two[2] = {4, -5};
	guarded ids = guard_alloc(sizeof two, 1);
	float grads[6] = {1, 1, 1, 1, 1, 1};
	size_t bad = 0;
	cr_expect_eq(embstore_table_scatter_add(s, t.index, put_ids64(&ids, two, 2), EMBSTORE_ID64, 2, grads, 1.0f,
	                                        &bad, 1000),
	             EMBSTORE_ID_OUT_OF_RANGE);
	cr_expect_eq(bad, 1);
	guard_free(&ids);
	cr_expect_eq(embstore_table_mark_rows(s, t.index, 0, t.matrix.rows + 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_mark_rows(s, t.index, t.matrix.rows, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_mark_rows(s, t.index, UINT64_MAX, 2), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_mark_rows(s, t.index, 2, UINT64_MAX), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_table_mark_rows(s, t.index, t.matrix.rows, 0), EMBSTORE_OK);
	cr_expect_eq(embstore_table_mark_rows(s, 7, 0, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_sync(s), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK, "the row updated before the bad id was synced");
	embstore_close(s);
	free(path);
}

/* ---- the writer and importers ---- */

static embstore_writer *new_writer(void)
{
	embstore_writer *w;
	char *path = tu_path("hostile-out.emb");
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	free(path);
	return w;
}

Test(hostile, writer_arguments)
{
	embstore_writer *w = NULL;
	char *path = tu_path("never.emb");
	cr_expect_eq(embstore_writer_create(NULL, &w), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_create("", &w), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_create(path, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_null(w);
	free(path);
	embstore_writer_free(NULL);

	cr_expect_eq(embstore_writer_set_alignment(NULL, 4096), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_set_chunk_bytes(NULL, 4096), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_set_saturate(NULL, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_add_meta(NULL, "k", "v"), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_begin_table(NULL, "t", EMBSTORE_F32, 1, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_append(NULL, "", EMBSTORE_F32, 0, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_npy(NULL, "t", "x.npy", 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_npy_fd(NULL, "t", 0, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_raw(NULL, "t", "x.f32", 1, 1, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_raw_fd(NULL, "t", 0, 1, 1, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_finish(NULL), EMBSTORE_INVALID_ARGUMENT);

	w = new_writer();
	uint32_t bad_alignments[] = {0, 1, 2048, 4097, 3 << 12, 4u << 20, UINT32_MAX, 1u << 31};
	for (size_t k = 0; k < sizeof bad_alignments / sizeof *bad_alignments; k++)
		cr_expect_eq(embstore_writer_set_alignment(w, bad_alignments[k]), EMBSTORE_INVALID_ARGUMENT, "%u",
		             bad_alignments[k]);
	cr_expect_eq(embstore_writer_set_chunk_bytes(w, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_set_chunk_bytes(w, UINT64_MAX), EMBSTORE_OK, "rounded to whole rows");

	/* Metadata: empty keys are invalid, empty values are fine, bytes that are not UTF-8 are BAD_STRING. */
	cr_expect_eq(embstore_writer_add_meta(w, NULL, "v"), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_add_meta(w, "k", NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_add_meta(w, "", "v"), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_add_meta(w, "\xff", "v"), EMBSTORE_BAD_STRING);
	cr_expect_eq(embstore_writer_add_meta(w, "k", "\xc3"), EMBSTORE_BAD_STRING);
	char long_key[1026];
	memset(long_key, 'k', 1025);
	long_key[1025] = '\0';
	cr_expect_eq(embstore_writer_add_meta(w, long_key, "v"), EMBSTORE_LIMIT);
	cr_expect_eq(embstore_writer_add_meta(w, "k", ""), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_add_meta(w, "k", "again"), EMBSTORE_DUPLICATE_NAME);

	/* Tables: empty names are invalid; unknown dtypes, dim 0 and counts over the caps are refused. */
	cr_expect_eq(embstore_writer_begin_table(w, NULL, EMBSTORE_F32, 1, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_begin_table(w, "", EMBSTORE_F32, 1, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_begin_table(w, "t", (embstore_dtype)0, 1, 1), EMBSTORE_BAD_DTYPE);
	cr_expect_eq(embstore_writer_begin_table(w, "t", (embstore_dtype)99, 1, 1), EMBSTORE_BAD_DTYPE);
	cr_expect_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, 1, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, 1, UINT32_MAX), EMBSTORE_LIMIT);
	cr_expect_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, UINT64_MAX, 1), EMBSTORE_LIMIT);
	cr_expect_eq(embstore_writer_append(w, "", EMBSTORE_F32, 0, 0), EMBSTORE_STATE, "no table yet");

	cr_assert_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, 2, 2), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_set_alignment(w, 8192), EMBSTORE_STATE, "only before the first table");
	cr_expect_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, 1, 1), EMBSTORE_DUPLICATE_NAME);
	float rows[6] = {1, 2, 3, 4, 5, 6};
	cr_expect_eq(embstore_writer_append(w, NULL, EMBSTORE_F32, 1, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_append(w, rows, (embstore_dtype)99, 1, 0), EMBSTORE_BAD_DTYPE);
	cr_expect_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 1, 4), EMBSTORE_INVALID_ARGUMENT, "stride < row");
	cr_expect_eq(embstore_writer_append(w, rows, EMBSTORE_INT8_ROWWISE, 1, 0), EMBSTORE_BAD_DTYPE);
	/* More rows than the caps, or than declared, are refused without reading src. */
	cr_expect_eq(embstore_writer_append(w, rows, EMBSTORE_F32, UINT64_MAX, 0), EMBSTORE_LIMIT);
	cr_expect_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 3, 0), EMBSTORE_STATE);
	embstore_writer_free(w);
	char *out = tu_path("hostile-out.emb");
	cr_expect_neq(access(out, F_OK), 0, "a writer freed unfinished leaves no file");

	/* A failed append fails the writer: every later call says so, and finish writes nothing. */
	w = new_writer();
	cr_assert_eq(embstore_writer_begin_table(w, "h", EMBSTORE_F16, 2, 2), EMBSTORE_OK);
	float too_big[4] = {1.0f, 1e6f, 2.0f, 3.0f};
	cr_expect_eq(embstore_writer_append(w, too_big, EMBSTORE_F32, 2, 0), EMBSTORE_RANGE);
	cr_expect_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 2, 0), EMBSTORE_STATE);
	cr_expect_eq(embstore_writer_add_meta(w, "k2", "v"), EMBSTORE_STATE);
	cr_expect_eq(embstore_writer_set_saturate(w, 1), EMBSTORE_STATE);
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	embstore_writer_free(w);
	cr_expect_neq(access(out, F_OK), 0, "a failed writer leaves no file");

	/* After finish, only free is valid. */
	w = new_writer();
	cr_assert_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, 3, 2), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 3, 0), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	cr_expect_eq(embstore_writer_begin_table(w, "u", EMBSTORE_F32, 1, 1), EMBSTORE_STATE);
	embstore_writer_free(w);
	cr_expect_eq(access(out, F_OK), 0);
	unlink(out);
	free(out);
}

Test(hostile, importer_arguments)
{
	embstore_writer *w = new_writer();
	char *raw = tu_path("hostile.f32");
	float v[2] = {1.0f, 2.0f};
	tu_write_file(raw, v, sizeof v);
	cr_expect_eq(embstore_writer_import_npy(w, NULL, raw, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_npy(w, "t", NULL, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_npy(w, "t", raw, (embstore_dtype)99), EMBSTORE_BAD_DTYPE);
	cr_expect_eq(embstore_writer_import_npy_fd(w, "t", -1, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_npy_fd(w, NULL, 0, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_raw(w, "t", raw, 0, 2, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_raw(w, "t", raw, 1, 0, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_raw_fd(w, "t", -1, 1, 2, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_writer_import_raw_fd(w, "t", 0, 0, 2, 0), EMBSTORE_INVALID_ARGUMENT);
	/* rows x dim x 4 beyond 64 bits, and a size that is not the file's. */
	cr_expect_eq(embstore_writer_import_raw(w, "t", raw, UINT64_MAX, 1u << 20, 0), EMBSTORE_LIMIT);
	cr_expect_eq(embstore_writer_import_raw(w, "t", raw, 3, 1, 0), EMBSTORE_BAD_INPUT);
	/* A directory as input. */
	int dirfd = open(tu_tmpdir(), O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dirfd, 0);
	errno = 0;
	cr_expect_eq(embstore_writer_import_npy_fd(w, "u", dirfd, 0), EMBSTORE_IO);
	cr_expect_eq(errno, EISDIR);
	close(dirfd);
	embstore_writer_free(w);
	free(raw);
}

/* ---- parsers, conversions, names ---- */

Test(hostile, npy_parse_arguments)
{
	/* A version 1.0 .npy header, padded with spaces to 128 bytes as numpy does. */
	char good[128];
	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	memcpy(good, "\x93NUMPY\x01\x00\x76\x00", 10);
	memset(good + 10, ' ', sizeof good - 10);
	memcpy(good + 10, dict, strlen(dict));
	good[sizeof good - 1] = '\n';
	embstore_npy_info info;
	memset(&info, CANARY, sizeof info);
	cr_expect_eq(embstore_npy_parse(NULL, 10, &info), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_npy_parse(good, sizeof good, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_npy_parse(good, 0, &info), EMBSTORE_BAD_INPUT);
	for (size_t len = 0; len < sizeof good; len++) {
		/* Every prefix is refused, read only within its length (exact buffers for ASan). */
		char *p = malloc(len ? len : 1);
		cr_assert_not_null(p);
		memcpy(p, good, len);
		cr_expect_eq(embstore_npy_parse(p, len, &info), EMBSTORE_BAD_INPUT, "prefix of %zu bytes", len);
		free(p);
	}
	unsigned char untouched[sizeof info];
	memset(untouched, CANARY, sizeof untouched);
	cr_expect_eq(memcmp(&info, untouched, sizeof info), 0, "out-parameters are written only on success");
	cr_expect_eq(embstore_npy_parse(good, sizeof good, &info), EMBSTORE_OK);
	cr_expect_eq(info.rows, 2);
	cr_expect_eq(info.data_offset, sizeof good);
}

Test(hostile, conversions_names_and_isas)
{
	float src[4] = {1, 2, 3, 4};
	guarded dst = guard_alloc(4 + 8, 1);
	cr_expect_eq(embstore_quantize_row_int8(NULL, 4, dst.p), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_quantize_row_int8(src, 0, dst.p), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_quantize_row_int8(src, 4, NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_quantize_row_int8(src, 4, dst.p), EMBSTORE_OK, "misaligned output");
	src[2] = INFINITY;
	cr_expect_eq(embstore_quantize_row_int8(src, 4, dst.p), EMBSTORE_NON_FINITE);
	guard_free(&dst);

	embstore_dtype d = EMBSTORE_F16;
	cr_expect_eq(embstore_dtype_parse(NULL, &d), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_dtype_parse("f32", NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_dtype_parse("", &d), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(d, EMBSTORE_F16);
	cr_expect_null(embstore_dtype_name((embstore_dtype)0));
	cr_expect_null(embstore_dtype_name((embstore_dtype)-1));
	cr_expect_null(embstore_dtype_name((embstore_dtype)5));
	cr_expect_eq(embstore_row_bytes((embstore_dtype)99, 4), 0);
	cr_expect_eq(embstore_row_bytes(EMBSTORE_F32, UINT64_MAX), 0, "overflow");
	cr_expect_eq(embstore_row_bytes(EMBSTORE_INT8_ROWWISE, UINT64_MAX - 3), 0, "overflow");

	cr_expect_str_eq(embstore_strerror((embstore_status)-1), "unknown status");
	cr_expect_str_eq(embstore_strerror((embstore_status)1000), "unknown status");
	cr_expect_str_eq(embstore_status_name((embstore_status)-1), "UNKNOWN");
	cr_expect_not_null(embstore_error_detail());

	embstore_isa isa = EMBSTORE_ISA_NEON;
	cr_expect_eq(embstore_isa_parse(NULL, &isa), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_isa_parse("avx2", NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_isa_parse("", &isa), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(isa, EMBSTORE_ISA_NEON);
	cr_expect_null(embstore_isa_name((embstore_isa)-1));
	cr_expect_null(embstore_isa_name(EMBSTORE_ISA_COUNT));
	cr_expect_eq(embstore_isa_supported((embstore_isa)-1), 0);
	cr_expect_eq(embstore_isa_supported(EMBSTORE_ISA_COUNT), 0);
	cr_expect_eq(embstore_isa_active(NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_isa_set((embstore_isa)-1), EMBSTORE_UNSUPPORTED_ISA);
	cr_expect_eq(embstore_isa_set(EMBSTORE_ISA_COUNT), EMBSTORE_UNSUPPORTED_ISA);
	cr_expect_null(embstore_cpu_feature_name(64));
	cr_expect_null(embstore_cpu_feature_name(UINT32_MAX));
}
