/* check_store.c: self-checking test of the store on AArch64 under qemu-user (tools/test-aarch64.sh), the part of
 * the library around the kernels: the writer (f32, f16, bf16 and int8 tables, metadata), open, every row read back
 * bit for bit against the library's conversions, verify (intact, then naming the table and rows of a flipped
 * byte), training in place (embstore_table_scatter_add) and sync; then the fixture stores written on x86-64
 * (tests/data, ../fixture.h), read bit for bit, and written again here byte for byte; and random initial tables
 * (embstore_writer_init_table) drawn here to the bytes drawn on x86-64 (../init_golden.h).
 * Plain C and static, for the reasons check_kernels.c gives. Usage: check_store DATA_DIR (tests/data).
 * Prints "N passed, M failed" last and exits non-zero on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "../fixture.h"
#include "../init_golden.h"
#include "../kernel_cases.h"
#include "../rng.h"

static unsigned failed;

void kc_failed(const char *file, int line, const char *msg)
{
	if (failed++ < 30)
		printf("FAIL %s:%d: %s\n", file, line, msg);
}

typedef struct table_spec {
	const char *name;
	embstore_dtype dtype;
	uint32_t rows, dim;
} table_spec;

/* Several checksum chunks each (CHUNK_BYTES), dims that leave SIMD tails. */
static const table_spec specs[] = {
	{"f32", EMBSTORE_F32, 300, 19},
	{"f16", EMBSTORE_F16, 300, 19},
	{"bf16", EMBSTORE_BF16, 257, 33},
	{"int8", EMBSTORE_INT8_ROWWISE, 200, 17},
};
#define N_TABLES 4
#define CHUNK_BYTES 1024
#define F32_TABLE 0
#define FLIPPED_TABLE 2
#define FLIPPED_ROW 100

/* The rows given to the writer, as f32: from 2^-20 to 2^10 in magnitude, so that f16 and bf16 round (f16 into its
 * subnormals and to zero too). */
static float *sources[N_TABLES];

static void make_sources(void)
{
	uint64_t s = 2024;
	for (int t = 0; t < N_TABLES; t++) {
		size_t n = (size_t)specs[t].rows * specs[t].dim;
		sources[t] = kc_alloc(sizeof(float) * n);
		for (size_t i = 0; i < n; i++)
			sources[t][i] = ldexpf(rng_unit(&s), (int)(rng_next(&s) % 31) - 20);
	}
}

static int write_store(const char *path)
{
	embstore_writer *w;
	embstore_status st = embstore_writer_create(path, &w);
	if (!KC_CHECK(st == EMBSTORE_OK, "writer_create %s: %s", path, embstore_status_name(st)))
		return 0;
	st = embstore_writer_set_chunk_bytes(w, CHUNK_BYTES);
	if (st == EMBSTORE_OK)
		st = embstore_writer_add_meta(w, "source", "tests/aarch64/check_store.c");
	if (st == EMBSTORE_OK)
		st = embstore_writer_add_meta(w, "empty", "");
	for (int t = 0; t < N_TABLES && st == EMBSTORE_OK; t++) {
		const table_spec *p = &specs[t];
		st = embstore_writer_begin_table(w, p->name, p->dtype, p->rows, p->dim);
		/* Two appends: rows may come in any batches. */
		if (st == EMBSTORE_OK)
			st = embstore_writer_append(w, sources[t], EMBSTORE_F32, 7, 0);
		if (st == EMBSTORE_OK)
			st = embstore_writer_append(w, sources[t] + 7 * p->dim, EMBSTORE_F32, p->rows - 7, 0);
	}
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	return KC_CHECK(st == EMBSTORE_OK, "writing %s: %s (%s)", path, embstore_status_name(st),
	                embstore_error_detail());
}

/* Row r of table t as the format stores it, by the library's conversions, and its values as gather returns
 * them: f16 / bf16 widened back, int8 as fmaf(q, scale, bias). */
static void expected_row(int t, uint32_t r, uint8_t *bytes, float *values)
{
	const table_spec *p = &specs[t];
	const float *src = sources[t] + (size_t)r * p->dim;
	if (p->dtype == EMBSTORE_INT8_ROWWISE) {
		float scale, bias;
		KC_CHECK(embstore_quantize_row_int8(src, p->dim, bytes) == EMBSTORE_OK, "quantize row %u", r);
		memcpy(&scale, bytes + p->dim, 4);
		memcpy(&bias, bytes + p->dim + 4, 4);
		for (uint32_t c = 0; c < p->dim; c++)
			values[c] = fmaf((float)bytes[c], scale, bias);
		return;
	}
	for (uint32_t c = 0; c < p->dim; c++) {
		if (p->dtype == EMBSTORE_F32) {
			memcpy(bytes + 4 * c, &src[c], 4);
			values[c] = src[c];
			continue;
		}
		uint16_t h = p->dtype == EMBSTORE_F16 ? embstore_f32_to_f16(src[c]) : embstore_f32_to_bf16(src[c]);
		memcpy(bytes + 2 * c, &h, 2);
		values[c] = p->dtype == EMBSTORE_F16 ? embstore_f16_to_f32(h) : embstore_bf16_to_f32(h);
	}
}

/* Gathers every row of `m` in a shuffled order and compares it bitwise with want (rows x dim, in row order). */
static void gather_all(const embstore_matrix *m, const float *want, const char *ctx)
{
	size_t n = (size_t)m->rows, dim = m->dim, bad;
	int64_t *ids = kc_alloc(sizeof(int64_t) * n);
	float *got = kc_alloc(sizeof(float) * n * dim), *w = kc_alloc(sizeof(float) * n * dim);
	uint64_t s = n;
	for (size_t i = 0; i < n; i++)
		ids[i] = (int64_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(rng_next(&s) % (i + 1));
		int64_t x = ids[i];
		ids[i] = ids[j];
		ids[j] = x;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(w + i * dim, want + (size_t)ids[i] * dim, sizeof(float) * dim);
	if (KC_CHECK(embstore_gather(m, ids, EMBSTORE_ID64, n, got, &bad) == EMBSTORE_OK, "%s: gather", ctx))
		kc_expect_bitwise(w, got, n * dim, ctx);
	free(ids);
	free(got);
	free(w);
}

/* Opens the store just written: info, metadata, tables, each row's bytes and gathered values, verify. */
static void check_written(const char *path)
{
	embstore *s;
	embstore_status st = embstore_open(path, 0, &s);
	if (!KC_CHECK(st == EMBSTORE_OK, "open %s: %s (%s)", path, embstore_status_name(st), embstore_error_detail()))
		return;
	embstore_info info;
	embstore_get_info(s, &info);
	KC_CHECK(info.format_major == EMBSTORE_FORMAT_MAJOR && info.format_minor == EMBSTORE_FORMAT_MINOR &&
	             info.table_count == N_TABLES && info.meta_count == 2,
	         "info: format %u.%u, %u tables, %u metadata entries", info.format_major, info.format_minor,
	         info.table_count, info.meta_count);
	const char *source = embstore_meta_get(s, "source"), *empty = embstore_meta_get(s, "empty");
	KC_CHECK(source && strcmp(source, "tests/aarch64/check_store.c") == 0 && empty && *empty == '\0' &&
	             embstore_meta_get(s, "absent") == NULL,
	         "metadata");
	for (int t = 0; t < N_TABLES; t++) {
		const table_spec *p = &specs[t];
		embstore_table tab;
		if (!KC_CHECK(embstore_table_find(s, p->name, &tab) == EMBSTORE_OK, "no table '%s'", p->name))
			continue;
		const embstore_matrix *m = &tab.matrix;
		if (!KC_CHECK(tab.index == (uint32_t)t && m->dtype == p->dtype && m->rows == p->rows && m->dim == p->dim &&
		                  tab.chunk_count > 1,
		              "table '%s': index %u, %s %lu x %u, %lu chunks", p->name, tab.index,
		              embstore_dtype_name(m->dtype), (unsigned long)m->rows, m->dim,
		              (unsigned long)tab.chunk_count))
			continue;
		size_t row_bytes = (size_t)embstore_row_bytes(p->dtype, p->dim);
		uint8_t *bytes = kc_alloc(row_bytes);
		float *want = kc_alloc(sizeof(float) * p->rows * p->dim);
		unsigned differ = 0;
		for (uint32_t r = 0; r < p->rows; r++) {
			expected_row(t, r, bytes, want + (size_t)r * p->dim);
			differ += memcmp((const uint8_t *)m->data + r * m->row_stride, bytes, row_bytes) != 0;
		}
		KC_CHECK(differ == 0, "table '%s': %u rows' bytes differ from the conversions'", p->name, differ);
		gather_all(m, want, p->name);
		free(bytes);
		free(want);
	}
	st = embstore_verify(s, NULL, NULL);
	KC_CHECK(st == EMBSTORE_OK, "verify: %s", embstore_status_name(st));
	embstore_close(s);
}

typedef struct problems {
	unsigned n;
	embstore_problem first;
} problems;

static int record(void *ctx, const embstore_problem *p)
{
	problems *ps = ctx;
	if (ps->n++ == 0)
		ps->first = *p;
	return 0;
}

static int copy_flipped(const char *from, const char *to, uint64_t offset)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	int ok = in && out;
	int c;
	for (uint64_t i = 0; ok && (c = getc(in)) != EOF; i++)
		ok = putc(i == offset ? c ^ 0x10 : c, out) != EOF;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ok = 0;
	return KC_CHECK(ok, "copying %s to %s", from, to);
}

/* One byte of one row flipped in a copy: open still succeeds (it reads no data), verify names that table and
 * the rows of that byte's chunk, and open with EMBSTORE_OPEN_VERIFY refuses the file. */
static void check_flip(const char *path, const char *copy)
{
	embstore *s;
	embstore_table tab;
	if (!KC_CHECK(embstore_open(path, 0, &s) == EMBSTORE_OK, "open %s", path))
		return;
	int found = KC_CHECK(embstore_table_at(s, FLIPPED_TABLE, &tab) == EMBSTORE_OK, "table %d", FLIPPED_TABLE);
	embstore_close(s);
	if (!found || !copy_flipped(path, copy, tab.data_offset + FLIPPED_ROW * tab.matrix.row_stride + 5))
		return;
	embstore_status st = embstore_open(copy, 0, &s);
	if (!KC_CHECK(st == EMBSTORE_OK, "open flipped copy: %s", embstore_status_name(st)))
		return;
	problems ps = {0};
	st = embstore_verify(s, record, &ps);
	uint64_t first = FLIPPED_ROW / tab.chunk_rows * tab.chunk_rows;
	uint64_t count = tab.matrix.rows - first < tab.chunk_rows ? tab.matrix.rows - first : tab.chunk_rows;
	KC_CHECK(st == EMBSTORE_DATA_CHECKSUM && ps.n == 1 && ps.first.status == EMBSTORE_DATA_CHECKSUM &&
	             ps.first.table_index == FLIPPED_TABLE && ps.first.first_row == first && ps.first.row_count == count,
	         "flipped row %d of table %d: verify %s, %u problems, first: table %u, %s, rows %lu + %lu (want %lu + %lu)",
	         FLIPPED_ROW, FLIPPED_TABLE, embstore_status_name(st), ps.n, ps.first.table_index,
	         embstore_status_name(ps.first.status), (unsigned long)ps.first.first_row,
	         (unsigned long)ps.first.row_count, (unsigned long)first, (unsigned long)count);
	embstore_close(s);
	s = NULL;
	st = embstore_open(copy, EMBSTORE_OPEN_VERIFY, &s);
	KC_CHECK(st == EMBSTORE_DATA_CHECKSUM, "open with verify of the flipped copy: %s", embstore_status_name(st));
	embstore_close(s);
}

/* An SGD step in place with repeated ids on two threads: before sync verify reports the touched chunks, after it
 * verify passes, and the file holds exactly the sequential fmaf(alpha, grad, row) results. */
static void check_training(const char *path)
{
	enum { N = 96 };
	const table_spec *p = &specs[F32_TABLE];
	size_t dim = p->dim, bad = 0;
	int64_t ids[N];
	float *grads = kc_alloc(sizeof(float) * N * dim), *want = kc_alloc(sizeof(float) * p->rows * dim);
	const float alpha = -0.375f;
	uint64_t seed = 77;
	memcpy(want, sources[F32_TABLE], sizeof(float) * p->rows * dim);
	for (size_t i = 0; i < N; i++) {
		ids[i] = (int64_t)(rng_next(&seed) % 40) * 7; /* rows 0 .. 273: repeats, several chunks, not all */
		for (size_t j = 0; j < dim; j++) {
			grads[i * dim + j] = rng_unit(&seed);
			float *x = &want[(size_t)ids[i] * dim + j];
			*x = fmaf(alpha, grads[i * dim + j], *x);
		}
	}
	embstore *s;
	embstore_status st = embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s);
	if (KC_CHECK(st == EMBSTORE_OK, "open writable: %s", embstore_status_name(st))) {
		st = embstore_table_scatter_add(s, F32_TABLE, ids, EMBSTORE_ID64, N, grads, alpha, &bad, 2);
		KC_CHECK(st == EMBSTORE_OK, "table_scatter_add: %s", embstore_status_name(st));
		problems ps = {0};
		st = embstore_verify(s, record, &ps);
		KC_CHECK(st == EMBSTORE_DATA_CHECKSUM && ps.n > 1 && ps.first.table_index == F32_TABLE,
		         "verify before sync: %s, %u problems", embstore_status_name(st), ps.n);
		st = embstore_sync(s);
		KC_CHECK(st == EMBSTORE_OK, "sync: %s", embstore_status_name(st));
		st = embstore_verify(s, NULL, NULL);
		KC_CHECK(st == EMBSTORE_OK, "verify after sync: %s", embstore_status_name(st));
		embstore_close(s);
	}
	st = embstore_open(path, EMBSTORE_OPEN_VERIFY, &s);
	if (KC_CHECK(st == EMBSTORE_OK, "reopen with verify after training: %s", embstore_status_name(st))) {
		embstore_table tab;
		if (KC_CHECK(embstore_table_at(s, F32_TABLE, &tab) == EMBSTORE_OK, "trained table"))
			gather_all(&tab.matrix, want, "trained rows");
		embstore_close(s);
	}
	free(grads);
	free(want);
}

/* Random initial tables: the same bytes as on every other machine. */
static void check_init(const char *path)
{
	for (size_t g = 0; g < sizeof init_golden / sizeof init_golden[0]; g++) {
		const struct init_golden_case *c = &init_golden[g];
		embstore_writer *w;
		embstore_init init = {c->kind, c->scale, c->seed};
		if (!KC_CHECK(embstore_writer_create(path, &w) == EMBSTORE_OK, "init %zu: create", g))
			continue;
		embstore_status st = embstore_writer_init_table(w, "t", EMBSTORE_F32, c->rows, c->dim, &init);
		if (st == EMBSTORE_OK)
			st = embstore_writer_finish(w);
		embstore_writer_free(w);
		embstore *s;
		if (!KC_CHECK(st == EMBSTORE_OK && embstore_open(path, 0, &s) == EMBSTORE_OK, "init %zu: build", g))
			continue;
		embstore_table t;
		if (KC_CHECK(embstore_table_at(s, 0, &t) == EMBSTORE_OK, "init %zu: table", g)) {
			size_t row = c->dim * sizeof(float);
			unsigned char *packed = kc_alloc(c->rows * row);
			for (uint64_t r = 0; r < c->rows; r++)
				memcpy(packed + r * row, (const unsigned char *)t.matrix.data + r * t.matrix.row_stride, row);
			uint64_t h = XXH3_64bits(packed, c->rows * row);
			free(packed);
			KC_CHECK(h == c->xxh3, "init %zu: XXH3 %016llx, expected %016llx", g, (unsigned long long)h,
			         (unsigned long long)c->xxh3);
		}
		embstore_close(s);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: check_store DATA_DIR\n");
		return 2;
	}
	const char *base = getenv("TMPDIR");
	char dir[512], store[600], flipped[600], fixture[600];
	snprintf(dir, sizeof dir, "%s/embstore-check-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	snprintf(store, sizeof store, "%s/store.emb", dir);
	snprintf(flipped, sizeof flipped, "%s/flipped.emb", dir);
	snprintf(fixture, sizeof fixture, "%s/fixture.emb", dir);
	const char *env = getenv("EMBSTORE_ISA");
	printf("EMBSTORE_ISA=%s\n", env ? env : "unset");

	make_sources();
	if (write_store(store)) {
		check_written(store);
		check_flip(store, flipped);
		check_training(store);
	}
	unsigned files = fx_check_dir(argv[1]);
	printf("fixture stores read: %u\n", files);
	fx_check_writer(argv[1], fixture);
	check_init(store);

	unlink(store);
	unlink(flipped);
	unlink(fixture);
	rmdir(dir);
	for (int t = 0; t < N_TABLES; t++)
		free(sources[t]);
	printf("%lu passed, %u failed\n", kc_passed, failed);
	return failed ? 1 : 0;
}
