/* test_vecparse.c: the word-vector parsers (src/vecparse.h). Files gensim wrote, and files gensim loads, give
 * exactly gensim's keys and vector bits (tests/data/vectors/, from tests/data/make_vectors.py); every case real
 * files need (CRLF, trailing blanks, a word with a space in word2vec binary, invalid UTF-8, wrong counts and
 * widths, NaN and infinities, limits, empty and truncated inputs) has its result and its message; values are
 * strtof's bit for bit; any split of an input between the head, the buffer refills and the descriptor reads the
 * same rows, and so do short reads; a failed read or allocation is reported, wherever it comes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_shim.h"
#include "format.h"
#include "testutil.h"
#include "vecparse_impl.h"

/* A sink that keeps everything it is given. */
typedef struct collect {
	int begins;
	uint64_t hint;
	uint32_t dim;
	uint64_t rows;
	uint8_t keys[1 << 16];
	size_t keys_len;
	size_t key_end[256];
	float values[4096];
	es_vec_pos pos[256];
	uint64_t fail_at; /* row + 1 whose call fails; 0 never. parse_in clears only what comes before it */
} collect;

static embstore_status c_begin(void *ctx, uint64_t hint, uint32_t dim)
{
	collect *c = ctx;
	c->begins++;
	c->hint = hint;
	c->dim = dim;
	return EMBSTORE_OK;
}

static embstore_status c_row(void *ctx, const uint8_t *key, size_t len, const float *v, const es_vec_pos *pos)
{
	collect *c = ctx;
	cr_assert_eq(c->begins, 1);
	cr_assert_eq(pos->row, c->rows);
	if (c->fail_at == c->rows + 1)
		return EMBSTORE_DUPLICATE_NAME;
	cr_assert(c->rows < 256 && c->keys_len + len <= sizeof c->keys && (c->rows + 1) * c->dim <= 4096);
	memcpy(c->keys + c->keys_len, key, len);
	c->keys_len += len;
	c->key_end[c->rows] = c->keys_len;
	memcpy(c->values + c->rows * c->dim, v, c->dim * sizeof *v);
	c->pos[c->rows] = *pos;
	c->rows++;
	return EMBSTORE_OK;
}

typedef enum kind { W2V, TEXT, GLOVE } kind;

static embstore_status parse_in(kind k, const es_vec_input *in, const es_vec_options *o, collect *c)
{
	memset(c, 0, offsetof(collect, fail_at));
	es_vec_sink sink = {c, c_begin, c_row};
	return k == W2V ? es_parse_word2vec_binary(in, o, &sink) : es_parse_vectors_text(in, k == TEXT, o, &sink);
}

static embstore_status parse(kind k, const void *data, size_t len, const es_vec_options *o, collect *c)
{
	es_vec_input in = {.fd = -1, .head = data, .head_len = len};
	return parse_in(k, &in, o, c);
}

static embstore_status parse_str(kind k, const char *s, const es_vec_options *o, collect *c)
{
	return parse(k, s, strlen(s), o, c);
}

/* Checks that the parse failed with `st` and a detail that contains `part`. */
static void fails(embstore_status got, embstore_status st, const char *part)
{
	cr_assert_eq(got, st, "status %s, expected %s (%s)", embstore_status_name(got), embstore_status_name(st),
	             embstore_error_detail());
	cr_assert(strstr(embstore_error_detail(), part), "detail \"%s\" lacks \"%s\"", embstore_error_detail(), part);
}

static void ok(embstore_status got)
{
	cr_assert_eq(got, EMBSTORE_OK, "%s: %s", embstore_status_name(got), embstore_error_detail());
}

static void key_is(const collect *c, uint64_t r, const char *want)
{
	size_t start = r ? c->key_end[r - 1] : 0, len = c->key_end[r] - start;
	cr_assert(len == strlen(want) && memcmp(c->keys + start, want, len) == 0, "row %llu: key \"%.*s\", not \"%s\"",
	          (unsigned long long)r, (int)len, (const char *)c->keys + start, want);
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static uint8_t *fixture(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/vectors/%s", EMBSTORE_TEST_DATA_DIR, name);
	return tu_read_file(path, len);
}

/* The rows must be what gensim loaded from the same file: FILE.expect (make_vectors.py). */
static void same_as_gensim(const collect *c, const char *name)
{
	char ename[256];
	snprintf(ename, sizeof ename, "%s.expect", name);
	size_t len, at = 8;
	uint8_t *e = fixture(ename, &len);
	cr_assert_eq(c->rows, es_le32(e), "%s: %llu rows, gensim has %u", name, (unsigned long long)c->rows, es_le32(e));
	cr_assert_eq(c->dim, es_le32(e + 4));
	for (uint64_t r = 0; r < c->rows; r++) {
		uint32_t klen = es_le32(e + at);
		size_t start = r ? c->key_end[r - 1] : 0;
		cr_assert(c->key_end[r] - start == klen && memcmp(c->keys + start, e + at + 4, klen) == 0,
		          "%s row %llu: key differs from gensim's", name, (unsigned long long)r);
		at += 4 + klen;
		for (uint32_t j = 0; j < c->dim; j++, at += 4)
			cr_assert_eq(bits(c->values[r * c->dim + j]), es_le32(e + at), "%s row %llu value %u: %08x, gensim %08x",
			             name, (unsigned long long)r, j, bits(c->values[r * c->dim + j]), es_le32(e + at));
	}
	cr_assert_eq(at, len);
	free(e);
}

static void parses_like_gensim(kind k, const char *name, const es_vec_options *o)
{
	size_t len;
	uint8_t *b = fixture(name, &len);
	collect c = {0};
	ok(parse(k, b, len, o, &c));
	same_as_gensim(&c, name);
	free(b);
}

Test(gensim, files_gensim_wrote_give_gensims_vectors)
{
	parses_like_gensim(W2V, "gensim.bin", NULL);
	parses_like_gensim(TEXT, "gensim.txt", NULL);
}

Test(gensim, newline_after_each_binary_vector)
{
	parses_like_gensim(W2V, "newlines.bin", NULL);
	size_t len;
	uint8_t *b = fixture("newlines.bin", &len);
	collect c = {0};
	ok(parse(W2V, b, len, NULL, &c));
	/* Rows are where their words start, after the newline: "3 2\n", "a " + 8 bytes + "\n", then "b\xc3\xa9 ". */
	cr_assert_eq(c.pos[1].offset, 15);
	cr_assert_eq(c.pos[1].line, 0);
	cr_assert_eq(c.hint, 3);
	free(b);
}

Test(gensim, binary_word_with_a_space_ends_there_as_in_gensim)
{
	parses_like_gensim(W2V, "space.bin", NULL);
	collect c = {0};
	size_t len;
	uint8_t *b = fixture("space.bin", &len);
	ok(parse(W2V, b, len, NULL, &c));
	key_is(&c, 1, "New");
	cr_assert_eq(bits(c.values[2]), es_le32((const uint8_t *)"York"));
	free(b);
}

Test(gensim, invalid_utf8_replaced_as_gensim_replaces_it)
{
	parses_like_gensim(W2V, "replace.bin", &(es_vec_options){.unicode_replace = true});
	size_t len;
	uint8_t *b = fixture("replace.bin", &len);
	collect c = {0};
	fails(parse(W2V, b, len, NULL, &c), EMBSTORE_BAD_INPUT, "byte offset 4: the word \"caf\\xc3\" is not valid UTF-8");
	free(b);
}

Test(gensim, fasttext_trailing_blanks_crlf_and_glove)
{
	parses_like_gensim(TEXT, "fasttext.vec", NULL);
	parses_like_gensim(TEXT, "crlf.txt", NULL);
	parses_like_gensim(GLOVE, "glove.txt", NULL);
}

/* Every fixture through a descriptor, with the smallest buffer and every split between the head and the file: the
 * same rows as in one piece. */
Test(stream, any_split_and_buffer_reads_the_same_rows)
{
	static const struct {
		kind k;
		const char *name;
	} files[] = {{W2V, "gensim.bin"}, {TEXT, "gensim.txt"}, {W2V, "newlines.bin"}, {W2V, "space.bin"},
	             {TEXT, "fasttext.vec"}, {TEXT, "crlf.txt"}, {GLOVE, "glove.txt"}};
	char *path = tu_path("split");
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		uint8_t *b = fixture(files[f].name, &len);
		for (size_t head = 0; head <= len; head++) {
			tu_write_file(path, b + head, len - head);
			int fd = open(path, O_RDONLY);
			cr_assert(fd >= 0);
			collect c = {0};
			es_vec_input in = {.fd = fd, .head = b, .head_len = head};
			ok(parse_in(files[f].k, &in, &(es_vec_options){.buffer_bytes = 1}, &c));
			close(fd);
			same_as_gensim(&c, files[f].name);
		}
		free(b);
	}
	free(path);
}

/* Every read and every allocation of a parse failing in turn, and every read coming short: a failure is reported
 * as such, a short read changes nothing. (Leaks show in sanitizer builds.) */
Test(stream, failing_and_short_reads_and_allocations)
{
	static const struct {
		kind k;
		const char *name;
	} files[] = {{W2V, "gensim.bin"}, {TEXT, "gensim.txt"}, {GLOVE, "glove.txt"}};
	static const struct {
		fault_kind kind;
		int err;
		embstore_status st;
	} faults[] = {{FAULT_READ, EIO, EMBSTORE_IO}, {FAULT_READ, FAULT_SHORT, EMBSTORE_OK},
	              {FAULT_ALLOC, ENOMEM, EMBSTORE_NO_MEMORY}};
	char *path = tu_path("faults");
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		uint8_t *b = fixture(files[f].name, &len);
		tu_write_file(path, b, len);
		free(b);
		for (size_t k = 0; k < sizeof faults / sizeof faults[0]; k++) {
			for (unsigned long n = 1;; n++) {
				int fd = open(path, O_RDONLY);
				cr_assert(fd >= 0);
				collect c = {0};
				fault_arm(faults[k].kind, n, faults[k].err);
				embstore_status st = parse_in(files[f].k, &(es_vec_input){.fd = fd},
				                              &(es_vec_options){.buffer_bytes = 64}, &c);
				bool hit = fault_hit();
				fault_disarm();
				close(fd);
				if (!hit || faults[k].st == EMBSTORE_OK) {
					ok(st);
					same_as_gensim(&c, files[f].name);
				} else {
					cr_assert_eq(st, faults[k].st, "%s, %s %lu: %s", files[f].name, fault_kind_name(faults[k].kind),
					             n, embstore_status_name(st));
				}
				if (!hit)
					break;
			}
		}
	}
	free(path);
}

Test(stream, reads_a_pipe)
{
	size_t len;
	uint8_t *b = fixture("gensim.txt", &len);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (size_t i = 0; i < len; i++) /* a byte at a time: every read() returns little */
			if (write(p[1], b + i, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	collect c = {0};
	ok(parse_in(TEXT, &(es_vec_input){.fd = p[0]}, &(es_vec_options){.buffer_bytes = 100}, &c));
	close(p[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	same_as_gensim(&c, "gensim.txt");
	free(b);
}

Test(stream, read_error_names_the_offset)
{
	collect c = {0};
	char *path = tu_path("dir");
	cr_assert_eq(mkdir(path, 0700), 0);
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	fails(parse_in(TEXT, &(es_vec_input){.fd = fd, .head = (const uint8_t *)"2 3\n", .head_len = 4}, NULL, &c),
	      EMBSTORE_IO, "reading the input at byte offset 4");
	close(fd);
	free(path);
}

Test(text, positions_of_rows)
{
	collect c = {0};
	ok(parse_str(TEXT, "2 1\r\na 1\r\nb 2 \t \r\n", NULL, &c));
	cr_assert_eq(c.hint, 2);
	key_is(&c, 1, "b");
	cr_assert_eq(c.pos[0].line, 2);
	cr_assert_eq(c.pos[0].offset, 5);
	cr_assert_eq(c.pos[1].line, 3);
	cr_assert_eq(c.pos[1].offset, 10);
}

/* A UTF-8 byte order mark before the first line is skipped, in every text format and however the input is split
 * between the head and reads (a byte at a time at most); anywhere else it is a character of a word. */
Test(text, byte_order_mark_skipped)
{
	static const struct {
		kind k;
		const char *data;
	} cases[] = {{TEXT, "\xEF\xBB\xBF" "2 2\nthe 1 2\nof 3 4\n"},
	             {TEXT, "\xEF\xBB\xBF" "2 2\r\nthe 1 2 \r\nof 3 4\r\n"}, /* fastText .vec, Windows line ends */
	             {GLOVE, "\xEF\xBB\xBF" "the 1 2\nof 3 4\n"}};
	char *path = tu_path("bom");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = strlen(cases[i].data);
		for (size_t head = 0; head <= len; head++) {
			tu_write_file(path, cases[i].data + head, len - head);
			int fd = open(path, O_RDONLY);
			cr_assert(fd >= 0);
			collect c = {0};
			ok(parse_in(cases[i].k, &(es_vec_input){.fd = fd, .head = (const uint8_t *)cases[i].data,
			                                         .head_len = head},
			            &(es_vec_options){.buffer_bytes = 1}, &c));
			close(fd);
			cr_assert_eq(c.rows, 2, "case %zu, head %zu", i, head);
			cr_assert_eq(c.dim, 2);
			key_is(&c, 0, "the");
			key_is(&c, 1, "of");
			cr_assert_eq(c.values[3], 4.0f);
			cr_assert_eq(c.pos[0].line, cases[i].k == GLOVE ? 1 : 2);
		}
		cr_assert_eq(es_detect_vector_format((const uint8_t *)cases[i].data, len, true),
		             cases[i].k == GLOVE ? ES_VEC_GLOVE : ES_VEC_TEXT_HEADER);
	}
	free(path);
	collect c = {0};
	/* Offsets still count every byte of the input. */
	ok(parse_str(GLOVE, "\xEF\xBB\xBF" "a 1\n", NULL, &c));
	cr_assert_eq(c.pos[0].offset, 3);
	/* Only the first one: a later mark is part of its word (U+FEFF), as in any other line. */
	ok(parse_str(GLOVE, "a 1\n\xEF\xBB\xBF" "b 2\n", NULL, &c));
	key_is(&c, 1, "\xEF\xBB\xBF" "b");
	ok(parse_str(GLOVE, "\xEF\xBB\xBF" "\xEF\xBB\xBF" "a 1\n", NULL, &c));
	key_is(&c, 0, "\xEF\xBB\xBF" "a");
	fails(parse_str(TEXT, "\xEF\xBB\xBF", NULL, &c), EMBSTORE_BAD_INPUT, "the input is empty");
	fails(parse_str(GLOVE, "\xEF\xBB\xBF", NULL, &c), EMBSTORE_BAD_INPUT, "the input is empty");
	/* A mark is no text in word2vec binary: its header is refused as it stands. */
	fails(parse(W2V, "\xEF\xBB\xBF" "1 1\na \0\0\x80\x3f", 13, NULL, &c), EMBSTORE_BAD_INPUT,
	      "the header should be");
}

Test(text, header_count_mismatch_both_ways)
{
	collect c = {0};
	fails(parse_str(TEXT, "3 2\na 1 2\nb 3 4\n", NULL, &c), EMBSTORE_BAD_INPUT,
	      "line 1: the header says 3 rows, the file has 2");
	fails(parse_str(TEXT, "2 2\na 1 2\nb 3 4\nc 5 6\n\nd 7 8", NULL, &c), EMBSTORE_BAD_INPUT,
	      "line 1: the header says 2 rows, the file has 4");
	/* The limit stops before the extra rows are seen. */
	ok(parse_str(TEXT, "2 2\na 1 2\nb 3 4\nc 5 6\n", &(es_vec_options){.limit = 2}, &c));
	cr_assert_eq(c.rows, 2);
}

Test(binary, header_count_mismatch_both_ways)
{
	collect c = {0};
	uint8_t b[64];
	memcpy(b, "3 1\na \0\0\x80\x3f" "b \0\0\0\x40\n", 17);
	fails(parse(W2V, b, 17, NULL, &c), EMBSTORE_BAD_INPUT, "byte offset 17: the header says 3 rows, the file has 2");
	memcpy(b, "1 1\na \0\0\x80\x3f" "b \0\0\0\x40\n", 17);
	fails(parse(W2V, b, 17, NULL, &c), EMBSTORE_BAD_INPUT, "line 1: the header says 1 rows, the file has 2");
	memcpy(b, "1 1\na \0\0\x80\x3f" "b", 11);
	fails(parse(W2V, b, 11, NULL, &c), EMBSTORE_BAD_INPUT,
	      "byte offset 10: the header says 1 rows, and the file goes on after them");
	memcpy(b, "1 1\na \0\0\x80\x3f\n\n\n", 13);
	ok(parse(W2V, b, 13, NULL, &c));
	cr_assert_eq(c.values[0], 1.0f);
}

Test(text, wrong_number_of_values_names_the_line)
{
	collect c = {0};
	fails(parse_str(TEXT, "3 3\na 1 2 3\nb 1 2\nc 1 2 3\n", NULL, &c), EMBSTORE_BAD_INPUT,
	      "line 3 has 2 values; the header says 3");
	fails(parse_str(TEXT, "2 3\na 1 2 3\nb 1 2 3 4 5\n", NULL, &c), EMBSTORE_BAD_INPUT,
	      "line 3 has 5 values; the header says 3");
	fails(parse_str(GLOVE, "a 1 2\nb 3 4\nc 5\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 3 has 1 values; line 1 has 2");
	fails(parse_str(GLOVE, "a\nb 1\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 1: a word without values");
	fails(parse_str(TEXT, "1 2\na\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 2 has 0 values; the header says 2");
}

Test(text, glove_dim_and_count_from_the_data)
{
	collect c = {0};
	ok(parse_str(GLOVE, "a 1 2 3\nb 4 5 6\n\n\n", NULL, &c));
	cr_assert_eq(c.begins, 1);
	cr_assert_eq(c.hint, 0);
	cr_assert_eq(c.dim, 3);
	cr_assert_eq(c.rows, 2);
	cr_assert_eq(c.values[5], 6.0f);
}

Test(text, non_finite_refused_unless_allowed)
{
	static const char *const bad[] = {"nan", "-inf", "Infinity", "1e39", "NAN(123)"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char s[64];
		snprintf(s, sizeof s, "2 2\na 1 2\nb 0 %s\n", bad[i]);
		collect c = {0};
		char want[64];
		snprintf(want, sizeof want, "line 3, value 2: \"%s\" is not a finite f32", bad[i]);
		fails(parse_str(TEXT, s, NULL, &c), EMBSTORE_NON_FINITE, want);
		ok(parse_str(TEXT, s, &(es_vec_options){.allow_nonfinite = true}, &c));
		cr_assert_eq(bits(c.values[3]), bits(strtof(bad[i], NULL)));
	}
}

Test(binary, non_finite_refused_unless_allowed)
{
	uint8_t b[32];
	memcpy(b, "1 2\nab \0\0\x80\x3f\x01\0\xc0\x7f", 15); /* 1.0 and a NaN with a payload */
	collect c = {0};
	fails(parse(W2V, b, 15, NULL, &c), EMBSTORE_NON_FINITE,
	      "byte offset 11: value 2 of row 1 (\"ab\") is NaN, not a finite f32");
	ok(parse(W2V, b, 15, &(es_vec_options){.allow_nonfinite = true}, &c));
	cr_assert_eq(bits(c.values[1]), 0x7fc00001u);
	memcpy(b + 11, "\0\0\x80\xff", 4);
	fails(parse(W2V, b, 15, NULL, &c), EMBSTORE_NON_FINITE, "is infinite");
}

Test(options, limit_keeps_the_first_rows_and_reads_no_further)
{
	collect c = {0};
	ok(parse_str(TEXT, "4 1\na 1\nb 2\nthis line is broken\n", &(es_vec_options){.limit = 2}, &c));
	cr_assert_eq(c.rows, 2);
	cr_assert_eq(c.hint, 2);
	ok(parse_str(GLOVE, "a 1\nb 2\nc\n", &(es_vec_options){.limit = 2}, &c));
	cr_assert_eq(c.rows, 2);
	uint8_t b[32];
	memcpy(b, "3 1\na \0\0\x80\x3f" "b \0\0", 14);
	ok(parse(W2V, b, 14, &(es_vec_options){.limit = 1}, &c));
	cr_assert_eq(c.rows, 1);
	cr_assert_eq(c.hint, 1);
	/* A limit above the count changes nothing. */
	ok(parse_str(TEXT, "1 1\na 1\n", &(es_vec_options){.limit = 5}, &c));
	cr_assert_eq(c.hint, 1);
}

Test(options, empty_inputs)
{
	collect c = {0};
	fails(parse_str(TEXT, "", NULL, &c), EMBSTORE_BAD_INPUT, "the input is empty");
	fails(parse_str(W2V, "", NULL, &c), EMBSTORE_BAD_INPUT, "the input is empty");
	fails(parse_str(GLOVE, "", NULL, &c), EMBSTORE_BAD_INPUT, "the input is empty");
	fails(parse_str(GLOVE, "\n \r\n", NULL, &c), EMBSTORE_BAD_INPUT, "the input has only blank lines");
	fails(parse_in(TEXT, &(es_vec_input){.fd = -1}, NULL, &c), EMBSTORE_BAD_INPUT, "the input is empty");
	/* A header of no rows is a valid, empty file. */
	ok(parse_str(TEXT, "0 300\n", NULL, &c));
	cr_assert_eq(c.begins, 1);
	cr_assert_eq(c.dim, 300);
	cr_assert_eq(c.rows, 0);
}

Test(binary, truncated_vector_and_word)
{
	uint8_t b[32];
	memcpy(b, "2 2\na \0\0\x80\x3f\0\0\0\x40" "bc \0\0\x80", 20);
	collect c = {0};
	fails(parse(W2V, b, 20, NULL, &c), EMBSTORE_BAD_INPUT,
	      "byte offset 17: the file ends in the vector of row 2 (\"bc\") after 3 of its 8 bytes");
	cr_assert_eq(c.rows, 1);
	fails(parse(W2V, b, 16, NULL, &c), EMBSTORE_BAD_INPUT,
	      "byte offset 14: the file ends in row 2's word \"bc\"; the header says 2 rows");
}

Test(binary, empty_word_refused)
{
	collect c = {0};
	fails(parse(W2V, "1 1\n\n \0\0\x80\x3f", 10, NULL, &c), EMBSTORE_BAD_INPUT, "byte offset 5: empty word");
}

Test(text, invalid_utf8_refused_naming_the_line_or_replaced)
{
	collect c = {0};
	const char *s = "2 1\nok 1\nna\xefve 2\n";
	fails(parse_str(TEXT, s, NULL, &c), EMBSTORE_BAD_INPUT,
	      "line 3: the word \"na\\xefve\" is not valid UTF-8 (its byte 3, 0xef)");
	ok(parse_str(TEXT, s, &(es_vec_options){.unicode_replace = true}, &c));
	key_is(&c, 1, "na\xef\xbf\xbdve");
	/* Zero bytes never make a key; replaced like invalid UTF-8. */
	fails(parse(TEXT, "1 1\na\0b 1\n", 10, NULL, &c), EMBSTORE_BAD_INPUT, "line 2: the word \"a\\x00b\"");
	ok(parse(TEXT, "1 1\na\0b 1\n", 10, &(es_vec_options){.unicode_replace = true}, &c));
	key_is(&c, 0, "a\xef\xbf\xbd" "b");
}

/* The replacement is Python's: one U+FFFD per maximal subpart (Unicode 3.9), checked on the standard's examples. */
Test(text, replacement_follows_the_maximal_subparts)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},          /* overlong lead bytes: each alone */
		{"\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* E0 needs A0..BF next */
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* above U+10FFFF */
		{"\xe1\x80", "\xef\xbf\xbd"},                       /* a cut sequence: one */
		{"\xf1\x80\x80\x41", "\xef\xbf\xbd\x41"},
		{"a\xed\xa0\x80z", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz"}, /* surrogates */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t out[64];
		size_t n = es_utf8_replace((const uint8_t *)cases[i].in, strlen(cases[i].in), out);
		cr_assert(n == strlen(cases[i].out) && memcmp(out, cases[i].out, n) == 0, "case %zu", i);
		cr_assert_lt(es_utf8_first_invalid((const uint8_t *)cases[i].in, strlen(cases[i].in)),
		             strlen(cases[i].in));
	}
	const char *good = "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe6\x97\xa5";
	cr_assert_eq(es_utf8_first_invalid((const uint8_t *)good, strlen(good)), strlen(good));
}

Test(stream, word_longer_than_the_buffer)
{
	char s[200];
	snprintf(s, sizeof s, "1 1\n%0100d 1\n", 7);
	collect c = {0};
	fails(parse_str(TEXT, s, &(es_vec_options){.buffer_bytes = 64}, &c), EMBSTORE_LIMIT,
	      "line 2: the word is longer than 64 bytes");
	snprintf(s, sizeof s, "1 1\n%0100d ", 7);
	size_t n = strlen(s);
	memcpy(s + n, "\0\0\x80\x3f", 4);
	fails(parse(W2V, s, n + 4, &(es_vec_options){.buffer_bytes = 64}, &c), EMBSTORE_LIMIT,
	      "byte offset 4: the word is longer than 64 bytes");
	ok(parse(W2V, s, n + 4, &(es_vec_options){.buffer_bytes = 128}, &c));
}

Test(text, malformed_values_and_lines)
{
	collect c = {0};
	fails(parse_str(TEXT, "1 2\na 1 2x\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 2, value 2: \"2x\" is not a number");
	fails(parse_str(TEXT, "1 2\na 1,5 2\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 2, value 1: \"1,5\" is not a number");
	fails(parse_str(TEXT, "1 2\na 1 \"\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 2, value 2: \"\\x22\" is not");
	fails(parse_str(TEXT, "2 1\na 1\n\nb 2\n", NULL, &c), EMBSTORE_BAD_INPUT,
	      "line 3 is blank; only the last lines of the input may be");
	fails(parse_str(TEXT, "1 1\n a 1\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 2 starts with a blank");
	char s[5000];
	snprintf(s, sizeof s, "1 1\na 0.%04093d1\n", 0);
	fails(parse_str(TEXT, s, NULL, &c), EMBSTORE_LIMIT, "line 2, value 1: longer than 4095 bytes");
	snprintf(s, sizeof s, "1 1\na 0.%04092d1\n", 0);
	ok(parse_str(TEXT, s, NULL, &c));
	cr_assert_eq(c.values[0], 0.0f);
}

Test(header, malformed_headers)
{
	collect c = {0};
	fails(parse_str(TEXT, "3\na 1\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 1: the header should be \"count dim\"");
	fails(parse_str(W2V, "3 x\n", NULL, &c), EMBSTORE_BAD_INPUT, "not \"3 x\"");
	fails(parse_str(TEXT, "3 2 1\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 1: the header should be");
	fails(parse_str(TEXT, "-3 2\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 1: the header should be");
	fails(parse_str(TEXT, "3 0\n", NULL, &c), EMBSTORE_BAD_INPUT, "line 1: the header says dim 0");
	fails(parse_str(TEXT, "3 1048577\n", NULL, &c), EMBSTORE_LIMIT, "dim 1048577; the most a table has is 1048576");
	fails(parse_str(W2V, "1099511627777 2\n", NULL, &c), EMBSTORE_LIMIT, "1099511627777 rows");
	fails(parse_str(TEXT, "99999999999999999999999 2\n", NULL, &c), EMBSTORE_BAD_INPUT, "header should be");
	ok(parse_str(TEXT, "  1\t1 \r\na 1", NULL, &c));
	cr_assert_eq(c.rows, 1);
}

Test(sink, a_sink_error_stops_the_parse)
{
	collect c = {.fail_at = 2};
	es_vec_sink sink = {&c, c_begin, c_row};
	es_vec_input in = {.fd = -1, .head = (const uint8_t *)"3 1\na 1\nb 2\nc 3\n", .head_len = 16};
	cr_assert_eq(es_parse_vectors_text(&in, true, NULL, &sink), EMBSTORE_DUPLICATE_NAME);
	cr_assert_eq(c.rows, 1);
	cr_assert_eq(es_parse_vectors_text(&in, true, NULL, &(es_vec_sink){&c, c_begin, NULL}),
	             EMBSTORE_INVALID_ARGUMENT);
}

static embstore_status begin_any(void *ctx, uint64_t hint, uint32_t dim)
{
	(void)ctx, (void)hint;
	cr_assert_eq(dim, 4000);
	return EMBSTORE_OK;
}

static embstore_status copy_row(void *ctx, const uint8_t *key, size_t len, const float *v, const es_vec_pos *pos)
{
	(void)key, (void)len, (void)pos;
	memcpy(ctx, v, 4000 * sizeof *v);
	return EMBSTORE_OK;
}

/* strtof's value, bit for bit, whatever the field: random decimal strings of up to 30 digits and any exponent
 * (subnormals, overflow, the halfway cases), hexadecimal floats and special names, parsed in one file. */
Test(values, bit_identical_to_strtof)
{
	enum { N = 4000 };
	static char text[N * 48 + 64], fields[N][40];
	uint64_t s = 9;
	size_t n = (size_t)sprintf(text, "1 %d\nw", N);
	for (int i = 0; i < N; i++) {
		char *f = fields[i];
		int len = 0;
		if (tu_rand(&s) % 2)
			f[len++] = '-';
		int digits = 1 + (int)(tu_rand(&s) % 30), point = (int)(tu_rand(&s) % (uint64_t)(digits + 1));
		for (int d = 0; d < digits; d++) {
			if (d == point && d > 0)
				f[len++] = '.';
			f[len++] = (char)('0' + tu_rand(&s) % 10);
		}
		if (tu_rand(&s) % 2)
			len += sprintf(f + len, "e%d", (int)(tu_rand(&s) % 90) - 55);
		f[len] = 0;
		if (i % 97 == 0)
			sprintf(f, "%a", tu_randf(&s) * 1e-3f);
		n += (size_t)sprintf(text + n, " %s", f);
	}
	/* Halfway between 1 and the next f32, plus a little: strtof rounds up; a double in between (what gensim's
	 * np.float32(str) does) would land on the halfway point and round to even, 1.0. */
	strcpy(fields[1], "1.0000000596046447753906251");
	n = (size_t)sprintf(text, "1 %d\nw", N);
	for (int i = 0; i < N; i++)
		n += (size_t)sprintf(text + n, " %s", fields[i]);
	static float values[N];
	es_vec_input in = {.fd = -1, .head = (const uint8_t *)text, .head_len = n};
	embstore_status st = es_parse_vectors_text(&in, true, &(es_vec_options){.allow_nonfinite = true,
	                                                                         .buffer_bytes = 4096},
	                                           &(es_vec_sink){values, begin_any, copy_row});
	ok(st);
	for (int i = 0; i < N; i++)
		cr_assert_eq(bits(values[i]), bits(strtof(fields[i], NULL)), "\"%s\": %08x, strtof %08x", fields[i],
		             bits(values[i]), bits(strtof(fields[i], NULL)));
	cr_assert_eq(bits(values[1]), 0x3f800001u);
}

static es_vec_format detect_str(const char *s)
{
	return es_detect_vector_format((const uint8_t *)s, strlen(s), true);
}

/* Values mean the same in a program whose LC_NUMERIC has a decimal comma. The locale is made here from a
 * four-line source with localedef (libc-bin), into the test's directory. */
Test(values, independent_of_the_programs_locale)
{
	char *src = tu_path("comma.src"), *dir = tu_path("locales"), cmd[1024], probe[1024];
	const char *def = "LC_NUMERIC\ndecimal_point \",\"\nthousands_sep \".\"\ngrouping 3;3\nEND LC_NUMERIC\n";
	tu_write_file(src, def, strlen(def));
	cr_assert_eq(mkdir(dir, 0700), 0);
	/* -c: the other categories are missing on purpose, so localedef warns and exits 1 but writes the locale. */
	snprintf(cmd, sizeof cmd, "localedef -c -i '%s' '%s/comma' >/dev/null 2>&1", src, dir);
	(void)system(cmd);
	snprintf(probe, sizeof probe, "%s/comma/LC_NUMERIC", dir);
	if (access(probe, R_OK) != 0)
		cr_skip_test("localedef could not make a locale with a decimal comma");
	cr_assert_eq(setenv("LOCPATH", dir, 1), 0);
	cr_assert_not_null(setlocale(LC_NUMERIC, "comma"));
	cr_assert_eq(strtof("0.5", NULL), 0.0f, "the comma locale is not in force");
	collect c = {0};
	ok(parse_str(TEXT, "1 2\na 0.5 -1.25e1\n", NULL, &c));
	cr_assert_eq(c.values[0], 0.5f);
	cr_assert_eq(c.values[1], -12.5f);
	fails(parse_str(TEXT, "1 2\na 0,5 1\n", NULL, &c), EMBSTORE_BAD_INPUT, "\"0,5\" is not a number");
	cr_assert_eq(detect_str("1 2\na 0.5 -1.25e1\n"), ES_VEC_TEXT_HEADER);
	free(src);
	free(dir);
}

static es_vec_format detect_fixture(const char *name, size_t keep)
{
	size_t len;
	uint8_t *b = fixture(name, &len);
	es_vec_format f = es_detect_vector_format(b, keep < len ? keep : len, keep >= len);
	free(b);
	return f;
}


Test(detect, formats_from_their_first_bytes)
{
	for (size_t keep = 24; keep <= 4096; keep *= 2) {
		cr_assert_eq(detect_fixture("gensim.bin", keep), ES_VEC_WORD2VEC, "%zu bytes", keep);
		cr_assert_eq(detect_fixture("newlines.bin", keep), ES_VEC_WORD2VEC, "%zu bytes", keep);
		cr_assert_eq(detect_fixture("gensim.txt", keep), ES_VEC_TEXT_HEADER, "%zu bytes", keep);
		cr_assert_eq(detect_fixture("fasttext.vec", keep), ES_VEC_TEXT_HEADER);
		cr_assert_eq(detect_fixture("crlf.txt", keep), ES_VEC_TEXT_HEADER);
		cr_assert_eq(detect_fixture("glove.txt", keep), ES_VEC_GLOVE);
	}
	/* A text row of the wrong width is still text (its parse names the line), not binary. */
	cr_assert_eq(detect_str("2 3\nthe 0.1 0.2\n"), ES_VEC_TEXT_HEADER);
	cr_assert_eq(detect_str("the 0.1 -2e-3 7\nof 1 2 3"), ES_VEC_GLOVE);
	cr_assert_eq(detect_str("the 0.1 -2e-3 7"), ES_VEC_GLOVE);
	cr_assert_eq(detect_str(""), ES_VEC_UNKNOWN);
	cr_assert_eq(detect_str("3 300\n"), ES_VEC_UNKNOWN);
	cr_assert_eq(detect_str("id,name,value\n1,a,2\n"), ES_VEC_UNKNOWN);
	cr_assert_eq(detect_str("hello world\n"), ES_VEC_UNKNOWN);
	cr_assert_eq(detect_str("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
	             ES_VEC_UNKNOWN);
	static const char safetensors[] = "\x08\0\0\0\0\0\0\0{\"a\":{}}";
	cr_assert_eq(es_detect_vector_format((const uint8_t *)safetensors, sizeof safetensors - 1, true), ES_VEC_UNKNOWN);
	cr_assert_eq(es_detect_vector_format(NULL, 0, true), ES_VEC_UNKNOWN);
}
