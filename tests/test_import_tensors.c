/* test_import_tensors.c: safetensors and .npz inputs through embstore_writer_import (several tables from one
 * input, the tensor choice, naming, __metadata__, detection) and the safetensors export read back. Values are
 * compared one by one with what the fixture generators wrote (tests/data/make_import_fixtures.py for
 * import.safetensors, make_safetensors.py for arrays.npz and arrays_deflated.npz). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define DATA EMBSTORE_TEST_DATA_DIR "/"
#define ST DATA "import.safetensors"

/* The value the generators write at row r, column c of an array made with `salt`. */
static double value(uint64_t r, uint64_t c, int salt)
{
	return (double)((int)((r * 7 + c * 3 + (uint64_t)salt) % 41) - 20) * 0.25;
}

typedef struct imported {
	embstore_status st;
	embstore_import o;
	char *path;
} imported;

/* Imports `input` into a new store, with `name` and the options in *o; finishes the store when that succeeds. */
static imported import_with(const char *input, const char *name, embstore_import o,
                            embstore_status (*before)(embstore_writer *w))
{
	static int serial;
	char file[32];
	snprintf(file, sizeof file, "t%d.emb", serial++);
	imported r = {.path = tu_path(file)};
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(r.path, &w), EMBSTORE_OK);
	if (before)
		cr_assert_eq(before(w), EMBSTORE_OK);
	r.st = embstore_writer_import(w, name, input, &o);
	r.o = o;
	if (r.st == EMBSTORE_OK)
		cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_writer_free(w);
	return r;
}

static void expect_refused(imported r, embstore_status want, const char *detail)
{
	cr_expect_eq(r.st, want, "%s, not %s (%s)", embstore_status_name(r.st), embstore_status_name(want),
	             embstore_error_detail());
	cr_expect(strstr(embstore_error_detail(), detail), "detail '%s' lacks '%s'", embstore_error_detail(), detail);
	cr_expect_eq(access(r.path, F_OK), -1, "a failed import left %s", r.path);
	free(r.path);
}

/* Table `name` is rows x cols of `dtype` and holds f(r, c) as f32, element by element. */
static void expect_table(const embstore *s, const char *name, embstore_dtype dtype, uint64_t rows, uint32_t cols,
                         float (*f)(uint64_t, uint64_t, int), int salt)
{
	embstore_table t;
	cr_assert_eq(embstore_table_find(s, name, &t), EMBSTORE_OK, "no table '%s'", name);
	cr_expect_eq(t.matrix.dtype, dtype, "table '%s': dtype %d", name, (int)t.matrix.dtype);
	cr_assert_eq(t.matrix.rows, rows, "table '%s': %llu rows", name, (unsigned long long)t.matrix.rows);
	cr_assert_eq(t.matrix.dim, cols, "table '%s': dim %u", name, t.matrix.dim);
	float row[16];
	for (uint64_t r = 0; r < rows; r++) {
		int64_t id = (int64_t)r;
		cr_assert_eq(embstore_gather(&t.matrix, &id, EMBSTORE_ID64, 1, row, NULL), EMBSTORE_OK);
		for (uint32_t c = 0; c < cols; c++)
			cr_expect_eq(row[c], f(r, c, salt), "'%s'[%llu][%u]: %.9g, not %.9g", name, (unsigned long long)r, c,
			             row[c], f(r, c, salt));
	}
}

static float plain(uint64_t r, uint64_t c, int salt)
{
	return (float)value(r, c, salt);
}

/* The F64 tensor holds value / 3: rounded to the nearest f32. */
static float third(uint64_t r, uint64_t c, int salt)
{
	return (float)(value(r, c, salt) / 3);
}

static embstore *open_store(const char *path)
{
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK, "%s", embstore_error_detail());
	return s;
}

/* Every 2-D float tensor, in data order, named after itself; the others skipped; __metadata__ kept. */
Test(safetensors_import, every_table)
{
	imported r = import_with(ST, NULL, (embstore_import){0}, NULL);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(r.o.format, EMBSTORE_FORMAT_SAFETENSORS);
	cr_expect_eq(r.o.tables, 4);
	cr_expect_eq(r.o.skipped, 4); /* vec (1-D), cube (3-D), ids (I32), none (0 rows) */
	cr_expect_eq(r.o.rows, 6 + 3 + 4 + 2);
	embstore *s = open_store(r.path);
	embstore_info info;
	embstore_get_info(s, &info);
	cr_assert_eq(info.table_count, 4);
	const char *order[] = {"emb", "half", "brain", "wide"};
	for (uint32_t i = 0; i < 4; i++) {
		embstore_table t;
		cr_assert_eq(embstore_table_at(s, i, &t), EMBSTORE_OK);
		cr_expect_str_eq(t.name, order[i]);
	}
	expect_table(s, "emb", EMBSTORE_F32, 6, 4, plain, 1);
	expect_table(s, "half", EMBSTORE_F16, 3, 5, plain, 2);
	expect_table(s, "brain", EMBSTORE_BF16, 4, 3, plain, 3);
	expect_table(s, "wide", EMBSTORE_F32, 2, 6, third, 4);
	cr_expect_str_eq(embstore_meta_get(s, "format"), "pt");
	cr_expect_str_eq(embstore_meta_get(s, "licence"), "CC0");
	embstore_close(s);
	free(r.path);
}

/* A name makes one table: with several candidates the caller must pick. */
Test(safetensors_import, a_name_needs_one_tensor)
{
	expect_refused(import_with(ST, "t", (embstore_import){0}, NULL), EMBSTORE_INVALID_ARGUMENT,
	               "holds 4 tensors that can be tables ('emb', 'half', 'brain', 'wide'): pick one");
	imported r = import_with(ST, "t", (embstore_import){.tensor = "half"}, NULL);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(r.o.tables, 1);
	cr_expect_eq(r.o.skipped, 0);
	embstore *s = open_store(r.path);
	expect_table(s, "t", EMBSTORE_F16, 3, 5, plain, 2);
	embstore_close(s);
	free(r.path);
	/* without a name, the tensor's */
	r = import_with(ST, NULL, (embstore_import){.tensor = "wide", .dtype = EMBSTORE_F32}, NULL);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	s = open_store(r.path);
	expect_table(s, "wide", EMBSTORE_F32, 2, 6, third, 4);
	embstore_close(s);
	free(r.path);
}

/* EMBSTORE_IMPORT_NAME_DEFAULT: the name is for inputs of one table only. */
Test(safetensors_import, a_default_name_gives_way)
{
	imported r = import_with(ST, "import", (embstore_import){.flags = EMBSTORE_IMPORT_NAME_DEFAULT}, NULL);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(r.o.tables, 4);
	embstore *s = open_store(r.path);
	embstore_table t;
	cr_expect_eq(embstore_table_find(s, "import", &t), EMBSTORE_NOT_FOUND);
	cr_expect_eq(embstore_table_find(s, "emb", &t), EMBSTORE_OK);
	embstore_close(s);
	free(r.path);
}

/* A tensor asked for by name that cannot be a table, or that is not there. */
Test(safetensors_import, named_tensors_refused)
{
	expect_refused(import_with(ST, NULL, (embstore_import){.tensor = "cube"}, NULL), EMBSTORE_BAD_INPUT,
	               "tensor 'cube' is 3-D");
	expect_refused(import_with(ST, NULL, (embstore_import){.tensor = "vec"}, NULL), EMBSTORE_BAD_INPUT,
	               "tensor 'vec' is 1-D");
	expect_refused(import_with(ST, NULL, (embstore_import){.tensor = "ids"}, NULL), EMBSTORE_BAD_INPUT,
	               "tensor 'ids' is I32");
	expect_refused(import_with(ST, NULL, (embstore_import){.tensor = "none"}, NULL), EMBSTORE_BAD_INPUT,
	               "tensor 'none' has 0 rows");
	expect_refused(import_with(ST, NULL, (embstore_import){.tensor = "nope"}, NULL), EMBSTORE_NOT_FOUND,
	               "has no tensor 'nope'; it holds 'emb', 'vec', 'half', 'cube', ...");
}

/* --limit applies to each table, --dtype converts each. */
Test(safetensors_import, limit_and_dtype)
{
	imported r = import_with(ST, NULL, (embstore_import){.limit = 2, .dtype = EMBSTORE_F32}, NULL);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(r.o.rows, 8);
	embstore *s = open_store(r.path);
	expect_table(s, "emb", EMBSTORE_F32, 2, 4, plain, 1);
	expect_table(s, "half", EMBSTORE_F32, 2, 5, plain, 2);
	expect_table(s, "brain", EMBSTORE_F32, 2, 3, plain, 3);
	expect_table(s, "wide", EMBSTORE_F32, 2, 6, third, 4);
	embstore_close(s);
	free(r.path);
}

static embstore_status licence_mit(embstore_writer *w)
{
	embstore_status st = embstore_writer_add_meta(w, "licence", "MIT");
	return st == EMBSTORE_OK ? embstore_writer_add_meta(w, "format", "pt") : st;
}

/* A key already set keeps its value; a different value from the file is counted, the same one is not. */
Test(safetensors_import, metadata_already_set)
{
	imported r = import_with(ST, NULL, (embstore_import){.tensor = "emb"}, licence_mit);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(r.o.meta_dropped, 1);
	embstore *s = open_store(r.path);
	cr_expect_str_eq(embstore_meta_get(s, "licence"), "MIT");
	cr_expect_str_eq(embstore_meta_get(s, "format"), "pt");
	embstore_info info;
	embstore_get_info(s, &info);
	cr_expect_eq(info.meta_count, 2);
	embstore_close(s);
	free(r.path);
}

/* A file with no tensor that can be a table says so, with the first reason. */
Test(safetensors_import, nothing_to_import)
{
	static const char header[] = "{\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
	uint8_t file[8 + sizeof header - 1 + 8] = {0};
	file[0] = (uint8_t)(sizeof header - 1);
	memcpy(file + 8, header, sizeof header - 1);
	char *in = tu_path("flat.safetensors");
	tu_write_file(in, file, sizeof file);
	expect_refused(import_with(in, NULL, (embstore_import){0}, NULL), EMBSTORE_BAD_INPUT,
	               "has no tensor that can be a table (2-D F32, F16, BF16 or F64 with rows and columns): safetensors "
	               "tensor 'v' is 1-D");
	free(in);
}

/* A pipe is read front to back; its first bytes, read to tell the format, are given back. */
Test(safetensors_import, from_a_pipe)
{
	size_t len;
	uint8_t *bytes = tu_read_file(ST, &len);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert(len < 65536, "the fixture fits a pipe's buffer");
	cr_assert_eq(write(p[1], bytes, len), (ssize_t)len);
	close(p[1]);
	char *out = tu_path("pipe.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(out, &w), EMBSTORE_OK);
	embstore_import o = {0};
	cr_assert_eq(embstore_writer_import_fd(w, NULL, p[0], &o), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(o.format, EMBSTORE_FORMAT_SAFETENSORS);
	cr_expect_eq(o.tables, 4);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	close(p[0]);
	embstore *s = open_store(out);
	expect_table(s, "brain", EMBSTORE_BF16, 4, 3, plain, 3);
	expect_table(s, "wide", EMBSTORE_F32, 2, 6, third, 4);
	embstore_close(s);
	free(bytes);
	free(out);
}

/* A format of one table needs a name, and has no tensors: refused before the input is read. */
Test(import_front, one_table_formats)
{
	expect_refused(import_with(ST, NULL, (embstore_import){.format = EMBSTORE_FORMAT_NPY}, NULL),
	               EMBSTORE_INVALID_ARGUMENT, "npy input is one table, which needs a name");
	expect_refused(import_with(ST, "t",
	                           (embstore_import){.format = EMBSTORE_FORMAT_NPY, .tensor = "x"}, NULL),
	               EMBSTORE_INVALID_ARGUMENT, "npy input has no tensors to pick 'x' from");
	cr_expect_str_eq(embstore_format_name(EMBSTORE_FORMAT_SAFETENSORS), "safetensors");
	cr_expect_str_eq(embstore_format_name(EMBSTORE_FORMAT_NPZ), "npz");
	embstore_format f;
	cr_expect_eq(embstore_format_parse("npz", &f), EMBSTORE_OK);
	cr_expect_eq(f, EMBSTORE_FORMAT_NPZ);
}

/* ---- .npz ---- */

static const char *const archives[] = {DATA "arrays.npz", DATA "arrays_deflated.npz"};

/* Stored (np.savez) and deflated (np.savez_compressed): every 2-D float member, named without ".npy". */
Test(npz_import, every_member)
{
	for (int i = 0; i < 2; i++) {
		imported r = import_with(archives[i], NULL, (embstore_import){0}, NULL);
		cr_assert_eq(r.st, EMBSTORE_OK, "%s: %s", archives[i], embstore_error_detail());
		cr_expect_eq(r.o.format, EMBSTORE_FORMAT_NPZ);
		cr_expect_eq(r.o.tables, 3);
		cr_expect_eq(r.o.skipped, 2); /* v (1-D), i (int32) */
		embstore *s = open_store(r.path);
		expect_table(s, "a", EMBSTORE_F32, 6, 3, plain, 1);
		expect_table(s, "h", EMBSTORE_F16, 4, 2, plain, 2);
		expect_table(s, "d", EMBSTORE_F32, 3, 3, plain, 3);
		embstore_close(s);
		free(r.path);
	}
}

/* One member by its key or its full name; the name the caller gives, or the key. */
Test(npz_import, one_member)
{
	const char *asked[] = {"h", "h.npy"};
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 2; k++) {
			imported r = import_with(archives[i], NULL, (embstore_import){.tensor = asked[k], .limit = 3}, NULL);
			cr_assert_eq(r.st, EMBSTORE_OK, "%s:%s: %s", archives[i], asked[k], embstore_error_detail());
			embstore *s = open_store(r.path);
			expect_table(s, "h", EMBSTORE_F16, 3, 2, plain, 2);
			embstore_close(s);
			free(r.path);
		}
		imported r = import_with(archives[i], "t", (embstore_import){.tensor = "d.npy"}, NULL);
		cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
		embstore *s = open_store(r.path);
		expect_table(s, "t", EMBSTORE_F32, 3, 3, plain, 3);
		embstore_close(s);
		free(r.path);
	}
}

Test(npz_import, refusals_name_the_member)
{
	expect_refused(import_with(archives[1], NULL, (embstore_import){.tensor = "zz"}, NULL), EMBSTORE_NOT_FOUND,
	               "has no member 'zz' nor 'zz.npy'; it holds 'a.npy', 'h.npy', 'd.npy', 'v.npy'");
	expect_refused(import_with(archives[0], "t", (embstore_import){0}, NULL), EMBSTORE_INVALID_ARGUMENT,
	               "holds 3 members that can be tables ('a.npy', 'h.npy', 'd.npy'): pick one");
	expect_refused(import_with(archives[0], NULL, (embstore_import){.tensor = "v"}, NULL), EMBSTORE_BAD_INPUT,
	               "member 'v': .npy array is 1-D, shape (5,)");
	expect_refused(import_with(DATA "hostile.npz", NULL, (embstore_import){.tensor = "short"}, NULL),
	               EMBSTORE_BAD_INPUT, "member 'short': input ends after 152 bytes; it should have 176");
	expect_refused(import_with(DATA "hostile.npz", NULL, (embstore_import){.tensor = "badcrc"}, NULL),
	               EMBSTORE_BAD_INPUT, "member 'badcrc' does not match its CRC-32");
	/* Every member: the first damaged one stops the import, named. */
	expect_refused(import_with(DATA "hostile.npz", NULL, (embstore_import){0}, NULL), EMBSTORE_BAD_INPUT,
	               "member 'bzip2.npy'");
}

/* A zip is read by seeking: a pipe is refused, a file descriptor of a regular file is read whole. */
Test(npz_import, descriptors)
{
	char *out = tu_path("fd.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(out, &w), EMBSTORE_OK);
	int fd = open(archives[1], O_RDONLY);
	cr_assert_geq(fd, 0);
	embstore_import o = {.tensor = "a"};
	cr_assert_eq(embstore_writer_import_fd(w, "a", fd, &o), EMBSTORE_OK, "%s", embstore_error_detail());
	close(fd);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	embstore *s = open_store(out);
	expect_table(s, "a", EMBSTORE_F32, 6, 3, plain, 1);
	embstore_close(s);

	size_t len;
	uint8_t *bytes = tu_read_file(archives[1], &len);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], bytes, len), (ssize_t)len);
	close(p[1]);
	cr_assert_eq(embstore_writer_create(out, &w), EMBSTORE_OK);
	o = (embstore_import){0};
	cr_expect_eq(embstore_writer_import_fd(w, NULL, p[0], &o), EMBSTORE_BAD_INPUT);
	cr_expect(strstr(embstore_error_detail(), "is not a regular file; a .npz archive is read by seeking"), "%s",
	          embstore_error_detail());
	cr_expect_eq(o.format, EMBSTORE_FORMAT_NPZ);
	embstore_writer_free(w);
	close(p[0]);
	free(bytes);
	free(out);
}

/* ---- export ---- */

static void put_rows(embstore_writer *w, const char *name, embstore_dtype dtype, uint64_t rows, uint32_t dim,
                     int salt)
{
	float *v = malloc(rows * dim * sizeof *v);
	for (uint64_t r = 0; r < rows; r++)
		for (uint32_t c = 0; c < dim; c++)
			v[r * dim + c] = (float)(value(r, c, salt) / 7);
	cr_assert_eq(embstore_writer_begin_table(w, name, dtype, rows, dim), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, rows, 0), EMBSTORE_OK);
	free(v);
}

static char *store_of_every_dtype(void)
{
	char *path = tu_path("every.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_add_meta(w, "licence", "CC0"), EMBSTORE_OK);
	put_rows(w, "f32", EMBSTORE_F32, 7, 5, 1);
	put_rows(w, "f16", EMBSTORE_F16, 3, 4, 2);
	put_rows(w, "bf16", EMBSTORE_BF16, 4, 6, 3);
	put_rows(w, "int8", EMBSTORE_INT8_ROWWISE, 5, 3, 4);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	return path;
}

/* Table i of a and table `name` of b hold the same f32 values, bit for bit (and the same dtype unless int8). */
static void expect_same(const embstore *a, uint32_t i, const embstore *b, const char *name)
{
	embstore_table x, y;
	cr_assert_eq(embstore_table_at(a, i, &x), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(b, name, &y), EMBSTORE_OK, "no table '%s'", name);
	cr_expect_eq(y.matrix.dtype, x.matrix.dtype == EMBSTORE_INT8_ROWWISE ? EMBSTORE_F32 : x.matrix.dtype);
	cr_assert_eq(x.matrix.rows, y.matrix.rows);
	cr_assert_eq(x.matrix.dim, y.matrix.dim);
	float rx[16], ry[16];
	for (uint64_t r = 0; r < x.matrix.rows; r++) {
		int64_t id = (int64_t)r;
		cr_assert_eq(embstore_gather(&x.matrix, &id, EMBSTORE_ID64, 1, rx, NULL), EMBSTORE_OK);
		cr_assert_eq(embstore_gather(&y.matrix, &id, EMBSTORE_ID64, 1, ry, NULL), EMBSTORE_OK);
		cr_expect_eq(memcmp(rx, ry, x.matrix.dim * sizeof(float)), 0, "table '%s' row %llu differs", name,
		             (unsigned long long)r);
	}
}

/* Every table out and back in: value-exact, the same names, dtypes and metadata. */
Test(safetensors_export, round_trip)
{
	char *path = store_of_every_dtype();
	char *st = tu_path("every.safetensors");
	embstore *s = open_store(path);
	cr_assert_eq(embstore_export(s, EMBSTORE_ALL_TABLES, EMBSTORE_FORMAT_SAFETENSORS, st), EMBSTORE_OK, "%s",
	             embstore_error_detail());
	imported r = import_with(st, NULL, (embstore_import){0}, NULL);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(r.o.tables, 4);
	embstore *back = open_store(r.path);
	const char *names[] = {"f32", "f16", "bf16", "int8"};
	for (uint32_t i = 0; i < 4; i++)
		expect_same(s, i, back, names[i]);
	cr_expect_str_eq(embstore_meta_get(back, "licence"), "CC0");
	embstore_close(back);
	free(r.path);

	/* one table: only it */
	cr_assert_eq(embstore_export(s, 2, EMBSTORE_FORMAT_SAFETENSORS, st), EMBSTORE_OK, "%s", embstore_error_detail());
	r = import_with(st, "again", (embstore_import){0}, NULL);
	cr_assert_eq(r.st, EMBSTORE_OK, "%s", embstore_error_detail());
	back = open_store(r.path);
	expect_same(s, 2, back, "again");
	embstore_info info;
	embstore_get_info(back, &info);
	cr_expect_eq(info.table_count, 1);
	embstore_close(back);
	free(r.path);
	embstore_close(s);
	free(st);
	free(path);
}

Test(safetensors_export, refusals)
{
	char *path = store_of_every_dtype();
	char *out = tu_path("refused.out");
	embstore *s = open_store(path);
	cr_expect_eq(embstore_export(s, EMBSTORE_ALL_TABLES, EMBSTORE_FORMAT_NPY, out), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_export(s, 4, EMBSTORE_FORMAT_SAFETENSORS, out), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(access(out, F_OK), -1);
	embstore_close(s);

	/* A table called __metadata__ cannot be a tensor: the format reserves the name. */
	char *odd = tu_path("odd.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(odd, &w), EMBSTORE_OK);
	put_rows(w, "__metadata__", EMBSTORE_F32, 2, 2, 1);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	s = open_store(odd);
	cr_expect_eq(embstore_export(s, 0, EMBSTORE_FORMAT_SAFETENSORS, out), EMBSTORE_DUPLICATE_NAME);
	cr_expect(strstr(embstore_error_detail(), "tensor name '__metadata__' is reserved for the metadata"), "%s",
	          embstore_error_detail());
	cr_expect_eq(access(out, F_OK), -1, "a failed export left %s", out);
	embstore_close(s);
	free(odd);
	free(out);
	free(path);
}
