/* test_export.c: embstore_export writes what the importers read back exactly, refuses what a format cannot hold,
 * and leaves no file when it fails. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char *keyed_store(const char *name, const char *second_key)
{
	char *path = tu_path(name);
	float v[6] = {1.5f, -2.0f, 0.1f, 3.0f, 1e-30f, -0.0f};
	const char *keys[3] = {"a", second_key, "c"};
	size_t lens[3] = {1, strlen(second_key), 1};
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "k", EMBSTORE_F32, 0, 2), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 3, 0, keys, lens), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "q", EMBSTORE_INT8_ROWWISE, 3, 2), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, 3, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	return path;
}

Test(export, round_trip_through_every_format)
{
	char *path = keyed_store("ex.emb", "b");
	embstore *s;
	cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK);
	static const embstore_format formats[] = {EMBSTORE_FORMAT_NPY, EMBSTORE_FORMAT_WORD2VEC,
	                                          EMBSTORE_FORMAT_WORD2VEC_TEXT};
	float want[6], got[6];
	int64_t ids[3] = {0, 1, 2};
	embstore_table t;
	cr_assert_eq(embstore_table_at(s, 0, &t), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&t.matrix, ids, EMBSTORE_ID64, 3, want, NULL), EMBSTORE_OK);
	for (int f = 0; f < 3; f++) {
		char *out = tu_path("ex.out");
		cr_assert_eq(embstore_export(s, 0, formats[f], out), EMBSTORE_OK, "%s", embstore_error_detail());
		char *again = tu_path("ex-again.emb");
		embstore_writer *w;
		cr_assert_eq(embstore_writer_create(again, &w), EMBSTORE_OK);
		embstore_import o = {.format = formats[f]};
		cr_assert_eq(embstore_writer_import(w, "k", out, &o), EMBSTORE_OK, "%s", embstore_error_detail());
		cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
		embstore_writer_free(w);
		embstore *r;
		cr_assert_eq(embstore_open(again, EMBSTORE_OPEN_VERIFY, &r), EMBSTORE_OK);
		embstore_table rt;
		cr_assert_eq(embstore_table_at(r, 0, &rt), EMBSTORE_OK);
		cr_assert_eq(embstore_gather(&rt.matrix, ids, EMBSTORE_ID64, 3, got, NULL), EMBSTORE_OK);
		cr_expect_eq(memcmp(want, got, sizeof want), 0, "format %s: values", embstore_format_name(formats[f]));
		if (formats[f] != EMBSTORE_FORMAT_NPY) {
			uint64_t row;
			cr_expect_eq(embstore_table_find_key(r, 0, "b", 1, &row), EMBSTORE_OK);
			cr_expect_eq(row, 1);
		}
		embstore_close(r);
		free(again);
		free(out);
	}
	/* int8 widens exactly: the .npy holds what gather gives */
	char *out = tu_path("q.npy");
	cr_assert_eq(embstore_export(s, 1, EMBSTORE_FORMAT_NPY, out), EMBSTORE_OK);
	cr_assert_eq(embstore_table_at(s, 1, &t), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&t.matrix, ids, EMBSTORE_ID64, 3, want, NULL), EMBSTORE_OK);
	size_t len;
	uint8_t *b = tu_read_file(out, &len);
	cr_assert_eq(len, 128 + sizeof want);
	cr_expect_eq(memcmp(b + 128, want, sizeof want), 0);
	free(b);
	free(out);
	embstore_close(s);
	free(path);
}

Test(export, refusals_leave_no_file)
{
	char *path = keyed_store("blank.emb", "new york");
	embstore *s;
	cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK);
	char *out = tu_path("refused.out");
	cr_expect_eq(embstore_export(s, 0, EMBSTORE_FORMAT_WORD2VEC_TEXT, out), EMBSTORE_BAD_STRING);
	cr_expect(strstr(embstore_error_detail(), "key 'new york' holds a blank"), "%s", embstore_error_detail());
	cr_expect_eq(access(out, F_OK), -1, "a failed export left a file");
	cr_expect_eq(embstore_export(s, 1, EMBSTORE_FORMAT_WORD2VEC, out), EMBSTORE_NO_VOCAB);
	cr_expect_eq(embstore_export(s, 2, EMBSTORE_FORMAT_NPY, out), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_export(s, 0, EMBSTORE_FORMAT_GLOVE, out), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(access(out, F_OK), -1);
	cr_expect_eq(embstore_export(s, 0, EMBSTORE_FORMAT_NPY, out), EMBSTORE_OK, "npy holds any key");
	embstore_close(s);
	free(out);
	free(path);
}
