/* test_safetensors.c: the safetensors header parser refuses every malformed or hostile header with a detail
 * naming the tensor and field; the reader streams 2-D tensors as rows from files (pread) and pipes (read, front to
 * back); the header writer's output parses back to what it was given. Fixtures: tests/data/make_safetensors.py. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "testutil.h"
#include "writer.h"

#define FIXTURE EMBSTORE_TEST_DATA_DIR "/tables.safetensors"

/* The value make_safetensors.py writes at row r, column c of a table made with `salt`. */
static float value(uint64_t r, uint64_t c, int salt)
{
	return (float)((int)((r * 7 + c * 3 + (uint64_t)salt) % 41) - 20) * 0.25f;
}

/* es_st_parse of a header given as text, over a data area of data_size bytes. */
static embstore_status parse(const char *json, uint64_t data_size, es_st_file *f)
{
	return es_st_parse((const uint8_t *)json, strlen(json), data_size, f);
}

static void expect_refused(const char *json, uint64_t data_size, embstore_status want, const char *detail)
{
	es_st_file f;
	embstore_status st = parse(json, data_size, &f);
	cr_expect_eq(st, want, "%s: %s, not %s (%s)", json, embstore_status_name(st), embstore_status_name(want),
	             embstore_error_detail());
	cr_expect(strstr(embstore_error_detail(), detail), "%s: detail '%s' lacks '%s'", json, embstore_error_detail(),
	          detail);
	cr_expect_null(f.tensors, "a failed parse leaves nothing to free");
	if (st == EMBSTORE_OK)
		es_st_file_free(&f);
}

#define T24(name, begin, end) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[" #begin "," #end "]}"

Test(safetensors, parses_a_valid_header)
{
	es_st_file f;
	const char *json = "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"\"}," T24("b", 24, 48) "," T24("a", 0, 24)
	                   ",\"e\":{\"dtype\":\"F4\",\"shape\":[0,7],\"data_offsets\":[48,48]}}   ";
	cr_assert_eq(parse(json, 48, &f), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(f.tensor_count, 3);
	cr_expect_str_eq(f.tensors[0].name, "a", "tensors come in data order");
	cr_expect_str_eq(f.tensors[1].name, "b");
	cr_expect_str_eq(f.tensors[2].name, "e");
	cr_expect_eq(f.tensors[1].rank, 2);
	cr_expect_eq(f.tensors[1].shape[0], 2);
	cr_expect_eq(f.tensors[1].shape[1], 3);
	cr_expect_eq(f.tensors[1].begin, 24);
	cr_expect_eq(f.tensors[1].end, 48);
	cr_expect_eq(f.tensors[2].dtype, ES_ST_F4);
	cr_expect_eq(f.data_size, 48);
	cr_assert_eq(f.meta_count, 2);
	cr_expect_str_eq(f.meta[0].key, "format");
	cr_expect_str_eq(f.meta[0].value, "pt");
	cr_expect_str_eq(f.meta[1].value, "");
	cr_expect_eq(es_st_find(&f, "b"), &f.tensors[1]);
	cr_expect_null(es_st_find(&f, "c"));
	es_st_file_free(&f);
}

Test(safetensors, an_empty_header_has_no_tensors)
{
	es_st_file f;
	cr_assert_eq(parse("{}", 0, &f), EMBSTORE_OK);
	cr_expect_eq(f.tensor_count, 0);
	es_st_file_free(&f);
	expect_refused("{}", 4, EMBSTORE_BAD_LAYOUT, "data bytes [0, 4) at the end of the data area belong to no tensor");
}

/* With the size unknown (a pipe), the tensors define the data area; it must still be tiled from 0. */
Test(safetensors, unknown_data_size_comes_from_the_tensors)
{
	es_st_file f;
	cr_assert_eq(parse("{" T24("a", 0, 24) "," T24("b", 24, 48) "}", ES_ST_SIZE_UNKNOWN, &f), EMBSTORE_OK);
	cr_expect_eq(f.data_size, 48);
	es_st_file_free(&f);
	expect_refused("{" T24("a", 8, 32) "}", ES_ST_SIZE_UNKNOWN, EMBSTORE_BAD_LAYOUT, "[0, 8) belong to no tensor");
}

Test(safetensors, refuses_what_is_not_json)
{
	expect_refused("{\"a\":", 0, EMBSTORE_BAD_INPUT, "safetensors header is not valid JSON");
	expect_refused("{\"a\":1} x", 0, EMBSTORE_BAD_INPUT, "at byte");
	expect_refused("", 0, EMBSTORE_BAD_INPUT, "not valid JSON");
	expect_refused("{\"\xff\":1}", 0, EMBSTORE_BAD_INPUT, "not valid JSON"); /* not UTF-8 */
}

Test(safetensors, refuses_json_that_is_not_an_object)
{
	expect_refused("[1, 2]", 0, EMBSTORE_BAD_INPUT, "safetensors header is an array, not a JSON object");
	expect_refused("\"x\"", 0, EMBSTORE_BAD_INPUT, "is a string, not a JSON object");
	expect_refused("{\"a\":[]}", 0, EMBSTORE_BAD_INPUT, "safetensors tensor 'a' is an array, not an object");
}

Test(safetensors, refuses_a_tensor_missing_a_field)
{
	expect_refused("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "safetensors tensor 't' has no 'dtype'");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "safetensors tensor 't' has no 'shape'");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, EMBSTORE_BAD_INPUT,
	               "safetensors tensor 't' has no 'data_offsets'");
}

Test(safetensors, refuses_fields_of_the_wrong_type)
{
	expect_refused("{\"t\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "tensor 't': dtype is an integer, not a string");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "tensor 't': shape is an integer, not an array");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,-3],\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "tensor 't': shape[1] is a negative integer, not a non-negative integer");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "shape[0] is a number with a fraction or exponent");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, EMBSTORE_BAD_INPUT,
	               "tensor 't': data_offsets is an array of another length, not an array of two integers");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4, EMBSTORE_BAD_INPUT,
	               "tensor 't': data_offsets[1] is a string");
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 4,
	               EMBSTORE_BAD_INPUT, "not valid JSON"); /* beyond 64 bits: jansson refuses the number */
}

Test(safetensors, refuses_an_unknown_dtype)
{
	expect_refused("{\"t\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "safetensors tensor 't': dtype 'F33' is not a safetensors dtype");
	expect_refused("{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, EMBSTORE_BAD_INPUT,
	               "dtype 'f32' is not"); /* names are case-sensitive */
}

Test(safetensors, every_dtype_has_its_size)
{
	static const struct {
		const char *name;
		unsigned bits;
	} want[] = {{"BOOL", 8},     {"U8", 8},       {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8},
	            {"I16", 16},     {"U16", 16},     {"F16", 16}, {"BF16", 16},   {"I32", 32},    {"U32", 32},
	            {"F32", 32},     {"I64", 64},     {"U64", 64}, {"F64", 64},    {"C64", 64},    {"F4", 4},
	            {"F6_E2M3", 6},  {"F6_E3M2", 6},  {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}};
	cr_assert_eq(sizeof want / sizeof want[0], ES_ST_DTYPE_COUNT);
	for (size_t i = 0; i < ES_ST_DTYPE_COUNT; i++) {
		es_st_dtype d;
		cr_assert(es_st_dtype_parse(want[i].name, &d), "%s", want[i].name);
		cr_expect_eq(es_st_dtype_bits(d), want[i].bits, "%s", want[i].name);
		cr_expect_str_eq(es_st_dtype_name(d), want[i].name);
	}
	cr_expect_null(es_st_dtype_name(ES_ST_DTYPE_COUNT));
}

/* Sub-byte dtypes: the element count must fill whole bytes. */
Test(safetensors, sub_byte_dtypes_fill_whole_bytes)
{
	es_st_file f;
	cr_assert_eq(parse("{\"t\":{\"dtype\":\"F4\",\"shape\":[2,2],\"data_offsets\":[0,2]}}", 2, &f), EMBSTORE_OK);
	es_st_file_free(&f);
	cr_assert_eq(parse("{\"t\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}", 3, &f), EMBSTORE_OK);
	es_st_file_free(&f);
	expect_refused("{\"t\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, EMBSTORE_BAD_INPUT,
	               "tensor 't': 3 elements of F4 (4 bits each) are not a whole number of bytes");
}

Test(safetensors, refuses_a_shape_whose_size_overflows)
{
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
	               EMBSTORE_LIMIT, "tensor 't': shape [4294967296, 4294967296] has more elements than 64 bits count");
	/* 2^62 elements are countable; their 2^64 bytes are not. */
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4,
	               EMBSTORE_LIMIT, "4611686018427387904 elements of F32 take more bytes than 64 bits count");
	/* A zero dimension makes it empty, however large the others. */
	es_st_file f;
	cr_expect_eq(parse("{\"t\":{\"dtype\":\"F64\",\"shape\":[0,9223372036854775807,9223372036854775807],"
	                   "\"data_offsets\":[0,0]}}",
	                   0, &f),
	             EMBSTORE_OK, "%s", embstore_error_detail());
	es_st_file_free(&f);
}

Test(safetensors, refuses_offsets_that_do_not_match_the_shape)
{
	expect_refused("{" T24("t", 0, 20) "}", 20, EMBSTORE_BAD_LAYOUT,
	               "safetensors tensor 't': data_offsets [0, 20] hold 20 bytes; shape [2, 3] of F32 needs 24");
}

Test(safetensors, refuses_offsets_out_of_bounds)
{
	expect_refused("{" T24("t", 0, 24) "}", 10, EMBSTORE_BAD_LAYOUT,
	               "safetensors tensor 't': data_offsets [0, 24] run past the data area (10 bytes)");
	expect_refused("{" T24("t", 9223372036854775000, 9223372036854775024) "}", 24, EMBSTORE_BAD_LAYOUT,
	               "run past the data area");
}

Test(safetensors, refuses_reversed_offsets)
{
	expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[24,0]}}", 24, EMBSTORE_BAD_LAYOUT,
	               "safetensors tensor 't': data_offsets [24, 0] are reversed");
}

Test(safetensors, refuses_overlapping_tensors)
{
	expect_refused("{" T24("a", 0, 24) "," T24("b", 16, 40) "}", 40, EMBSTORE_BAD_LAYOUT,
	               "safetensors tensors 'a' and 'b' overlap: 'b' begins at 16, before the other ends at 24");
	/* The same bytes twice: the aliasing a reader of either name would not see. */
	expect_refused("{" T24("a", 0, 24) "," T24("b", 0, 24) "}", 24, EMBSTORE_BAD_LAYOUT, "overlap");
	/* An empty tensor inside another one overlaps it too. */
	expect_refused("{" T24("a", 0, 24) ",\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}", 24,
	               EMBSTORE_BAD_LAYOUT, "overlap");
}

Test(safetensors, refuses_a_hole_between_tensors)
{
	expect_refused("{" T24("a", 0, 24) "," T24("b", 32, 56) "}", 56, EMBSTORE_BAD_LAYOUT,
	               "safetensors data bytes [24, 32) belong to no tensor (a hole before tensor 'b')");
	expect_refused("{" T24("a", 0, 24) "}", 32, EMBSTORE_BAD_LAYOUT,
	               "safetensors data bytes [24, 32) at the end of the data area belong to no tensor");
}

Test(safetensors, refuses_metadata_that_is_not_strings)
{
	expect_refused("{\"__metadata__\":{\"k\":1}}", 0, EMBSTORE_BAD_INPUT,
	               "safetensors __metadata__ entry 'k' is an integer, not a string");
	expect_refused("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, EMBSTORE_BAD_INPUT, "entry 'k' is an object");
	expect_refused("{\"__metadata__\":[\"k\"]}", 0, EMBSTORE_BAD_INPUT,
	               "safetensors __metadata__ is an array, not an object");
	es_st_file f;
	cr_expect_eq(parse("{\"__metadata__\":null}", 0, &f), EMBSTORE_OK);
	cr_expect_eq(f.meta_count, 0);
	es_st_file_free(&f);
}

/* Two entries of one name are refused, not resolved to one of them. */
Test(safetensors, refuses_duplicate_names)
{
	expect_refused("{" T24("a", 0, 24) "," T24("a", 24, 48) "}", 48, EMBSTORE_BAD_INPUT, "duplicate");
	expect_refused("{\"__metadata__\":{},\"__metadata__\":{}}", 0, EMBSTORE_BAD_INPUT, "duplicate");
}

/* A name in a message is cut to 60 bytes on a character boundary, its control characters shown as '?'. */
Test(safetensors, messages_quote_names_safely)
{
	char buf[ES_ST_NAME_TEXT];
	cr_expect_str_eq(es_st_name_text("a\nb\x7f", buf), "a?b?");
	char longname[100], want[100];
	memset(longname, 'x', 59);
	strcpy(longname + 59, "\xc3\xa9yyyy"); /* the cut at 60 falls inside the 2-byte \xc3\xa9 */
	memset(want, 'x', 59);
	strcpy(want + 59, "...");
	cr_expect_str_eq(es_st_name_text(longname, buf), want);
	expect_refused("{\"t\\u0001\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, EMBSTORE_BAD_INPUT,
	               "tensor 't?': dtype 'X'");
}

/* Which tensors can become tables, and why the others cannot. */
Test(safetensors, table_shapes)
{
	es_st_file f;
	cr_assert_eq(parse("{\"m\":{\"dtype\":\"BF16\",\"shape\":[3,2],\"data_offsets\":[0,12]},"
	                   "\"v\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[12,32]},"
	                   "\"i\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[32,48]},"
	                   "\"z\":{\"dtype\":\"F64\",\"shape\":[0,2],\"data_offsets\":[48,48]},"
	                   "\"c\":{\"dtype\":\"F16\",\"shape\":[2,3,4],\"data_offsets\":[48,96]}}",
	                   96, &f),
	          EMBSTORE_OK, "%s", embstore_error_detail());
	uint64_t rows, cols;
	embstore_dtype src;
	cr_expect_eq(es_st_table_shape(es_st_find(&f, "m"), &rows, &cols, &src), EMBSTORE_OK);
	cr_expect(rows == 3 && cols == 2 && src == EMBSTORE_BF16);
	cr_expect_eq(es_st_table_shape(es_st_find(&f, "v"), &rows, &cols, &src), EMBSTORE_BAD_INPUT);
	cr_expect_str_eq(embstore_error_detail(), "safetensors tensor 'v' is 1-D, shape [5]; a table needs 2-D (rows, dim)");
	cr_expect_eq(es_st_table_shape(es_st_find(&f, "i"), &rows, &cols, &src), EMBSTORE_BAD_INPUT);
	cr_expect_str_eq(embstore_error_detail(), "safetensors tensor 'i' is I32; a table is read from F32, F16, BF16 or F64");
	cr_expect_eq(es_st_table_shape(es_st_find(&f, "z"), &rows, &cols, &src), EMBSTORE_BAD_INPUT);
	cr_expect_str_eq(embstore_error_detail(), "safetensors tensor 'z' has 0 rows");
	cr_expect_eq(es_st_table_shape(es_st_find(&f, "c"), &rows, &cols, &src), EMBSTORE_BAD_INPUT);
	cr_expect(strstr(embstore_error_detail(), "is 3-D, shape [2, 3, 4]"), "%s", embstore_error_detail());
	es_st_file_free(&f);
}

/* --- the reader --- */

/* A sink that writes each table into an embstore writer as f32. */
typedef struct store_sink {
	embstore_writer *w;
	embstore_dtype src;
	uint64_t rows_seen;
} store_sink;

static embstore_status sink_begin(void *ctx, const char *name, uint64_t rows, uint64_t cols, embstore_dtype src)
{
	store_sink *s = ctx;
	s->src = src;
	return embstore_writer_begin_table(s->w, name, EMBSTORE_F32, rows, (uint32_t)cols);
}

static embstore_status sink_rows(void *ctx, const void *data, uint64_t n)
{
	store_sink *s = ctx;
	s->rows_seen += n;
	return es_writer_append(s->w, data, s->src, n, 0);
}

/* The 2-D float tables of the fixture, in data order, with their salts. */
static const struct {
	const char *name;
	uint64_t rows, cols;
	int salt;
} tables[] = {{"z.f64", 2, 5, 4}, {"a.f32", 5, 4, 1}, {"m.f16", 3, 8, 2}, {"m.bf16", 4, 3, 3}};

static void expect_table(const embstore *s, const char *name, uint64_t rows, uint64_t cols, int salt)
{
	embstore_table t;
	cr_assert_eq(embstore_table_find(s, name, &t), EMBSTORE_OK, "table '%s'", name);
	cr_assert_eq(t.matrix.rows, rows, "%s", name);
	cr_assert_eq(t.matrix.dim, cols, "%s", name);
	float *row = malloc(cols * sizeof *row);
	for (uint64_t r = 0; r < rows; r++) {
		int64_t id = (int64_t)r;
		cr_assert_eq(embstore_gather(&t.matrix, &id, EMBSTORE_ID64, 1, row, NULL), EMBSTORE_OK);
		for (uint64_t c = 0; c < cols; c++)
			cr_expect_eq(row[c], value(r, c, salt), "%s[%llu][%llu]: %g, not %g", name, (unsigned long long)r,
			             (unsigned long long)c, row[c], value(r, c, salt));
	}
	free(row);
}

/* A reader of a safetensors input (a file, or a pipe a child feeds) whose tables go, through `sink`, into a store
 * being written at `out`. */
typedef struct reading {
	int fd;
	pid_t child; /* feeding the pipe; 0 for a file */
	es_st_reader *r;
	const es_st_file *f;
	char *out;
	embstore_writer *w;
	store_sink ss;
	es_rows_sink sink;
} reading;

/* Opens the reader of fd (`in` names it in details) and a writer at tu_path(out). */
static void start(reading *rd, int fd, pid_t child, const char *in, const char *out)
{
	cr_assert_geq(fd, 0);
	*rd = (reading){.fd = fd, .child = child, .out = tu_path(out)};
	cr_assert_eq(es_st_open(fd, in, &rd->r), EMBSTORE_OK, "%s", embstore_error_detail());
	rd->f = es_st_reader_file(rd->r);
	cr_assert_eq(embstore_writer_create(rd->out, &rd->w), EMBSTORE_OK);
	rd->ss.w = rd->w;
	rd->sink = (es_rows_sink){&rd->ss, sink_begin, sink_rows};
}

static void read_file(reading *rd, const char *in, const char *out)
{
	start(rd, open(in, O_RDONLY), 0, in, out);
}

static void read_pipe(reading *rd, const void *bytes, size_t len, const char *out)
{
	pid_t child;
	int fd = tu_piped(bytes, len, &child);
	start(rd, fd, child, NULL, out);
}

/* Reads the first `rows` rows (0: all) of tensor `name` into the store. */
static embstore_status read_table(reading *rd, const char *name, uint64_t rows)
{
	const es_st_tensor *t = es_st_find(rd->f, name);
	cr_assert_not_null(t, "no tensor '%s'", name);
	return es_st_read_table(rd->r, t, rows, &rd->sink);
}

/* Drops the store unfinished, closes the reader and its input. */
static void stop(reading *rd)
{
	embstore_writer_free(rd->w);
	es_st_close(rd->r);
	if (rd->child)
		tu_reap(rd->fd, rd->child);
	else
		close(rd->fd);
	free(rd->out);
}

/* Finishes the store, then stops; returns the store, opened and verified. */
static embstore *finish(reading *rd)
{
	cr_assert_eq(embstore_writer_finish(rd->w), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore *s;
	cr_assert_eq(embstore_open(rd->out, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK, "%s", embstore_error_detail());
	stop(rd);
	return s;
}

/* Reads every table of the input into the store, finishes it, then checks its values. */
static void import_all(reading *rd)
{
	size_t imported = 0;
	for (size_t i = 0; i < rd->f->tensor_count; i++) {
		uint64_t rows, cols;
		embstore_dtype src;
		if (es_st_table_shape(&rd->f->tensors[i], &rows, &cols, &src) != EMBSTORE_OK)
			continue;
		cr_assert_eq(es_st_read_table(rd->r, &rd->f->tensors[i], 0, &rd->sink), EMBSTORE_OK, "%s",
		             embstore_error_detail());
		imported++;
	}
	cr_assert_eq(es_st_finish(rd->r), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(imported, 4);
	embstore *s = finish(rd);
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
		expect_table(s, tables[i].name, tables[i].rows, tables[i].cols, tables[i].salt);
	embstore_close(s);
}

Test(safetensors, reads_the_fixture_from_a_file)
{
	reading rd;
	read_file(&rd, FIXTURE, "file.emb");
	const char *order[] = {"z.f64", "a.f32", "bias", "m.f16", "m.bf16", "ids", "none"};
	cr_assert_eq(rd.f->tensor_count, 7);
	for (size_t i = 0; i < 7; i++)
		cr_expect_str_eq(rd.f->tensors[i].name, order[i]);
	cr_assert_eq(rd.f->meta_count, 2);
	cr_expect_str_eq(rd.f->meta[0].key, "format");
	cr_expect_str_eq(rd.f->meta[1].value, "tests/data/make_safetensors.py");
	import_all(&rd);
}

/* A regular file is read with pread: any tensor, in any order, and the first rows only when asked. */
Test(safetensors, a_file_is_read_in_any_order)
{
	reading rd;
	read_file(&rd, FIXTURE, "order.emb");
	cr_assert_eq(read_table(&rd, "m.bf16", 0), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(read_table(&rd, "a.f32", 2), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(rd.ss.rows_seen, 4 + 2);
	cr_expect_eq(read_table(&rd, "bias", 0), EMBSTORE_BAD_INPUT);
	cr_expect(strstr(embstore_error_detail(), "'bias' is 1-D"), "%s", embstore_error_detail());
	cr_assert_eq(es_st_finish(rd.r), EMBSTORE_OK);
	embstore *s = finish(&rd);
	expect_table(s, "m.bf16", 4, 3, 3);
	expect_table(s, "a.f32", 2, 4, 1);
	embstore_close(s);
}

/* The file need not start at offset 0 of the descriptor. */
Test(safetensors, a_file_is_read_from_the_descriptor_position)
{
	size_t len;
	uint8_t *bytes = tu_read_file(FIXTURE, &len);
	uint8_t *shifted = malloc(len + 5);
	memcpy(shifted, "junk!", 5);
	memcpy(shifted + 5, bytes, len);
	char *in = tu_path("shifted.safetensors");
	tu_write_file(in, shifted, len + 5);
	int fd = open(in, O_RDONLY);
	cr_assert_eq(lseek(fd, 5, SEEK_SET), 5);
	reading rd;
	start(&rd, fd, 0, in, "shifted.emb");
	import_all(&rd);
	free(bytes);
	free(shifted);
	free(in);
}

Test(safetensors, reads_the_fixture_from_a_pipe, .timeout = 30)
{
	size_t len;
	uint8_t *bytes = tu_read_file(FIXTURE, &len);
	reading rd;
	read_pipe(&rd, bytes, len, "pipe.emb");
	cr_expect_eq(rd.f->data_size, len - 8 - es_le64(bytes));
	import_all(&rd);
	free(bytes);
}

/* A stream cannot go back: a tensor before what was read is refused, not silently misread. */
Test(safetensors, a_pipe_is_read_in_file_order, .timeout = 30)
{
	size_t len;
	uint8_t *bytes = tu_read_file(FIXTURE, &len);
	reading rd;
	read_pipe(&rd, bytes, len, "back.emb");
	cr_assert_eq(read_table(&rd, "m.f16", 0), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(read_table(&rd, "a.f32", 0), EMBSTORE_STATE);
	cr_expect(strstr(embstore_error_detail(), "tensor 'a.f32' lies before what was already read of a stream"), "%s",
	          embstore_error_detail());
	stop(&rd);
	free(bytes);
}

/* A stream must end where the tensors do, and may not end before. */
Test(safetensors, a_pipe_must_match_its_header, .timeout = 30)
{
	size_t len;
	uint8_t *bytes = tu_read_file(FIXTURE, &len);
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, bytes, len);
	longer[len] = 0;
	for (int extra = -1; extra <= 1; extra += 2) {
		reading rd;
		read_pipe(&rd, longer, len + (size_t)extra, "mismatch.emb");
		cr_assert_eq(read_table(&rd, "a.f32", 0), EMBSTORE_OK);
		embstore_status st = es_st_finish(rd.r);
		cr_expect_eq(st, EMBSTORE_BAD_INPUT);
		const char *want = extra < 0 ? "safetensors file ends after 815 bytes; its header says 816"
		                             : "safetensors stream goes on after the 816 bytes its header accounts for";
		cr_expect_str_eq(embstore_error_detail(), want);
		stop(&rd);
	}
	/* Cut inside the tensor being read. */
	reading rd;
	read_pipe(&rd, bytes, len - 196, "mismatch.emb"); /* 100 bytes of data: inside a.f32, [80, 160) */
	cr_expect_eq(read_table(&rd, "a.f32", 0), EMBSTORE_BAD_INPUT);
	cr_expect(strstr(embstore_error_detail(), "inside tensor 'a.f32'"), "%s", embstore_error_detail());
	stop(&rd);
	free(bytes);
	free(longer);
}

static embstore_status open_bytes(const void *bytes, size_t len)
{
	char *in = tu_path("bytes.safetensors");
	tu_write_file(in, bytes, len);
	int fd = open(in, O_RDONLY);
	cr_assert_geq(fd, 0);
	es_st_reader *r = NULL;
	embstore_status st = es_st_open(fd, in, &r);
	es_st_close(r);
	close(fd);
	free(in);
	return st;
}

Test(safetensors, refuses_a_header_length_beyond_the_file)
{
	uint8_t b[8 + 10] = {0};
	es_put64(b, 1000);
	memcpy(b + 8, "{}        ", 10);
	cr_expect_eq(open_bytes(b, sizeof b), EMBSTORE_BAD_INPUT);
	cr_expect_str_eq(embstore_error_detail(), "safetensors header length 1000 runs past the end of the file (18 bytes)");
	es_put64(b, UINT64_MAX);
	cr_expect_eq(open_bytes(b, sizeof b), EMBSTORE_LIMIT);
	cr_expect_eq(open_bytes(b, 5), EMBSTORE_BAD_INPUT);
	cr_expect_str_eq(embstore_error_detail(), "safetensors file of 5 bytes ends inside its 8-byte header length");
}

Test(safetensors, refuses_a_header_length_beyond_the_cap)
{
	uint8_t b[8 + 2];
	es_put64(b, ES_ST_MAX_HEADER + 1ull);
	memcpy(b + 8, "{}", 2);
	cr_expect_eq(open_bytes(b, sizeof b), EMBSTORE_LIMIT);
	cr_expect_str_eq(embstore_error_detail(), "safetensors header length 100000001 is over the cap of 100000000 bytes");
}

/* A file cut short or with bytes after its last tensor does not match its header. */
Test(safetensors, a_file_must_match_its_header)
{
	size_t len;
	uint8_t *bytes = tu_read_file(FIXTURE, &len);
	cr_expect_eq(open_bytes(bytes, len - 1), EMBSTORE_BAD_LAYOUT);
	cr_expect(strstr(embstore_error_detail(), "run past the data area"), "%s", embstore_error_detail());
	uint8_t *longer = malloc(len + 8);
	memcpy(longer, bytes, len);
	memset(longer + len, 0, 8);
	cr_expect_eq(open_bytes(longer, len + 8), EMBSTORE_BAD_LAYOUT);
	cr_expect(strstr(embstore_error_detail(), "at the end of the data area belong to no tensor"), "%s",
	          embstore_error_detail());
	free(longer);
	free(bytes);
}

/* --- the writer --- */

Test(safetensors, written_headers_parse_back)
{
	uint64_t s1[] = {2, 3}, s2[] = {4, 2}, s3[] = {7};
	es_st_desc t[] = {{"b", ES_ST_F32, 2, s1}, {"a\xc3\xa9", ES_ST_F16, 2, s2}, {"c", ES_ST_BF16, 1, s3}};
	es_meta meta[] = {{"source", "tests"}, {"empty", ""}}; /* 217 bytes of JSON: 7 spaces of padding */
	uint8_t *out;
	size_t len;
	uint64_t data_size;
	cr_assert_eq(es_st_write_header(t, 3, meta, 2, &out, &len, &data_size), EMBSTORE_OK, "%s",
	             embstore_error_detail());
	cr_expect_eq(len % 8, 0, "the data starts 8-byte aligned");
	cr_expect_eq(es_le64(out), len - 8);
	cr_expect_eq(data_size, 24 + 16 + 14);
	char *json = calloc(1, len - 8 + 1); /* the header text, terminated */
	memcpy(json, out + 8, len - 8);
	cr_expect_str_eq(json, "{\"__metadata__\":{\"empty\":\"\",\"source\":\"tests\"},"
	                       "\"a\xc3\xa9\":{\"data_offsets\":[24,40],\"dtype\":\"F16\",\"shape\":[4,2]},"
	                       "\"b\":{\"data_offsets\":[0,24],\"dtype\":\"F32\",\"shape\":[2,3]},"
	                       "\"c\":{\"data_offsets\":[40,54],\"dtype\":\"BF16\",\"shape\":[7]}}       ");
	es_st_file f;
	cr_assert_eq(es_st_parse(out + 8, len - 8, data_size, &f), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(f.tensor_count, 3);
	cr_expect_str_eq(f.tensors[0].name, "b");
	cr_expect_str_eq(f.tensors[1].name, "a\xc3\xa9");
	cr_expect_eq(f.tensors[1].dtype, ES_ST_F16);
	cr_expect_eq(f.tensors[2].shape[0], 7);
	cr_expect_eq(f.meta_count, 2);
	es_st_file_free(&f);
	free(json);
	free(out);
}

/* Header and data written as an export would, then read back as tables: the values are the same. */
Test(safetensors, written_files_read_back)
{
	uint64_t shape[] = {3, 5};
	es_st_desc t[] = {{"t", ES_ST_F32, 2, shape}};
	uint8_t *head;
	size_t len;
	uint64_t data_size;
	cr_assert_eq(es_st_write_header(t, 1, NULL, 0, &head, &len, &data_size), EMBSTORE_OK);
	cr_assert_eq(data_size, 3 * 5 * 4);
	uint8_t *file = malloc(len + data_size);
	memcpy(file, head, len);
	for (uint64_t r = 0; r < 3; r++)
		for (uint64_t c = 0; c < 5; c++) {
			float v = value(r, c, 9);
			memcpy(file + len + (r * 5 + c) * 4, &v, 4);
		}
	char *in = tu_path("written.safetensors");
	tu_write_file(in, file, len + data_size);
	reading rd;
	read_file(&rd, in, "written.emb");
	cr_assert_eq(read_table(&rd, "t", 0), EMBSTORE_OK);
	embstore *s = finish(&rd);
	expect_table(s, "t", 3, 5, 9);
	embstore_close(s);
	free(head);
	free(file);
	free(in);
}

/* A tensor of more than one read batch (4 MiB), after one that a stream skips: the rows arrive whole and in order
 * from a file and from a pipe. */
Test(safetensors, large_tensors_arrive_in_batches, .timeout = 60)
{
	uint64_t skipped[] = {1000, 300}, large[] = {1100, 1000};
	es_st_desc t[] = {{"skipped", ES_ST_F32, 2, skipped}, {"large", ES_ST_F32, 2, large}};
	uint8_t *head;
	size_t len;
	uint64_t data_size;
	cr_assert_eq(es_st_write_header(t, 2, NULL, 0, &head, &len, &data_size), EMBSTORE_OK);
	size_t total = len + (size_t)data_size;
	uint8_t *file = malloc(total);
	memcpy(file, head, len);
	float *at = (float *)(file + len);
	for (uint64_t i = 0; i < 1000 * 300; i++)
		*at++ = -1.0f;
	for (uint64_t r = 0; r < 1100; r++)
		for (uint64_t c = 0; c < 1000; c++)
			*at++ = value(r, c, 5);
	char *in = tu_path("large.safetensors");
	tu_write_file(in, file, total);
	for (int from_pipe = 0; from_pipe <= 1; from_pipe++) {
		reading rd;
		if (from_pipe)
			read_pipe(&rd, file, total, "large.emb");
		else
			read_file(&rd, in, "large.emb");
		cr_assert_eq(read_table(&rd, "large", 0), EMBSTORE_OK, "%s", embstore_error_detail());
		cr_assert_eq(es_st_finish(rd.r), EMBSTORE_OK, "%s", embstore_error_detail());
		embstore *s = finish(&rd);
		expect_table(s, "large", 1100, 1000, 5);
		embstore_close(s);
	}
	free(head);
	free(file);
	free(in);
}

Test(safetensors, the_writer_refuses_bad_tensors)
{
	uint64_t shape[] = {2, 2}, huge[] = {1ull << 62, 2};
	uint8_t *out = NULL;
	size_t len;
	uint64_t size;
	es_st_desc twice[] = {{"a", ES_ST_F32, 2, shape}, {"a", ES_ST_F16, 2, shape}};
	cr_expect_eq(es_st_write_header(twice, 2, NULL, 0, &out, &len, &size), EMBSTORE_DUPLICATE_NAME);
	cr_expect_str_eq(embstore_error_detail(), "tensor name 'a' is given twice");
	es_st_desc reserved[] = {{"__metadata__", ES_ST_F32, 2, shape}};
	cr_expect_eq(es_st_write_header(reserved, 1, NULL, 0, &out, &len, &size), EMBSTORE_DUPLICATE_NAME);
	cr_expect_str_eq(embstore_error_detail(), "tensor name '__metadata__' is reserved for the metadata");
	es_st_desc bad_utf8[] = {{"a\xff", ES_ST_F32, 2, shape}};
	cr_expect_eq(es_st_write_header(bad_utf8, 1, NULL, 0, &out, &len, &size), EMBSTORE_BAD_STRING);
	es_st_desc bad_dtype[] = {{"a", ES_ST_DTYPE_COUNT, 2, shape}};
	cr_expect_eq(es_st_write_header(bad_dtype, 1, NULL, 0, &out, &len, &size), EMBSTORE_BAD_DTYPE);
	es_st_desc too_big[] = {{"a", ES_ST_F64, 2, huge}};
	cr_expect_eq(es_st_write_header(too_big, 1, NULL, 0, &out, &len, &size), EMBSTORE_LIMIT);
	es_meta meta[] = {{"k", "1"}, {"k", "2"}};
	cr_expect_eq(es_st_write_header(NULL, 0, meta, 2, &out, &len, &size), EMBSTORE_DUPLICATE_NAME);
	cr_expect_str_eq(embstore_error_detail(), "metadata key 'k' is given twice");
	cr_expect_null(out, "nothing is returned on failure");
}
