/* test_npy.c: the .npy header parser and importer: what numpy writes is read, anything else refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Builds a version-1 .npy with the given header dict (padded as numpy pads) and `data_len` data bytes. */
static size_t make_npy(uint8_t *out, const char *dict, size_t data_len)
{
	size_t dlen = strlen(dict), total = 10 + dlen + 1;
	size_t pad = (64 - total % 64) % 64;
	size_t hlen = dlen + pad + 1;
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (uint8_t)hlen;
	out[9] = (uint8_t)(hlen >> 8);
	memcpy(out + 10, dict, dlen);
	memset(out + 10 + dlen, ' ', pad);
	out[10 + dlen + pad] = '\n';
	for (size_t i = 0; i < data_len; i++)
		out[10 + hlen + i] = (uint8_t)i;
	return 10 + hlen + data_len;
}

static embstore_status parse(const char *dict, embstore_npy_info *info)
{
	uint8_t buf[1024];
	size_t n = make_npy(buf, dict, 0);
	return embstore_npy_parse(buf, n, info);
}

Test(npy, accepts_what_numpy_writes)
{
	embstore_npy_info info;
	cr_assert_eq(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 16), }", &info), EMBSTORE_OK);
	cr_expect_eq(info.dtype, EMBSTORE_F32);
	cr_expect_eq(info.rows, 1000);
	cr_expect_eq(info.cols, 16);
	cr_expect_eq(info.data_offset, 128);
	cr_assert_eq(parse("{'shape': (3, 5), 'fortran_order': False, 'descr': '<f2'}", &info), EMBSTORE_OK);
	cr_expect_eq(info.dtype, EMBSTORE_F16);
	cr_expect_eq(info.item_size, 2);
	cr_expect_eq(info.rows, 3);
	/* f64, what numpy makes by default: read as f32 */
	cr_assert_eq(parse("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", &info), EMBSTORE_OK);
	cr_expect_eq(info.dtype, EMBSTORE_F32);
	cr_expect_eq(info.item_size, 8);
	cr_expect_eq(info.cols, 3);
}

/* Each refusal says what it found, in embstore_error_detail. */
Test(npy, refuses_everything_else)
{
	static const struct {
		const char *dict, *detail;
	} bad[] = {
		{"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", "'>f4' is big-endian"},
		{"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", "dtype '<i4' is not"},
		{"{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }", "dtype '<c8' is not"},
		{"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "fortran_order True"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "1-D, shape (2,)"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", "3-D, shape (2, 3, 4)"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "0-D, shape ()"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", "malformed"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2), }", "0 rows"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", "0 columns"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 2), }", "malformed"},
		{"{'descr': '<f4', 'fortran_order': False}", "lacks 'shape'"},
		{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}", "'descr' is unknown or repeated"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}", "'extra' is unknown"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} trailing", "malformed"},
		{"{'descr': '<f4\\x', 'fortran_order': False, 'shape': (2, 2)}", "malformed"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)", "malformed"},
		{"", "malformed"},
		{"{", "malformed"},
		{"[1, 2]", "malformed at byte 0"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		embstore_npy_info info;
		embstore_status st = parse(bad[i].dict, &info);
		cr_expect_eq(st, EMBSTORE_BAD_INPUT, "case %zu: %s", i, embstore_status_name(st));
		cr_expect(strstr(embstore_error_detail(), bad[i].detail) != NULL, "case %zu: detail '%s', expected '%s'", i,
		          embstore_error_detail(), bad[i].detail);
	}
	embstore_npy_info info;
	cr_expect_eq(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1048577), }", &info), EMBSTORE_LIMIT);
	cr_expect(strstr(embstore_error_detail(), "over the caps") != NULL, "%s", embstore_error_detail());
	/* a success clears what the last failure said */
	cr_assert_eq(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", &info), EMBSTORE_OK);
	cr_expect_str_eq(embstore_error_detail(), "");
}

Test(npy, header_bounds)
{
	uint8_t buf[1024];
	size_t n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 0);
	embstore_npy_info info;
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(embstore_npy_parse(buf, k, &info), EMBSTORE_BAD_INPUT, "length %zu", k);
	buf[6] = 4; /* unknown version */
	cr_expect_eq(embstore_npy_parse(buf, n, &info), EMBSTORE_BAD_INPUT);
	buf[6] = 2; /* version 2 has a 4-byte length: here a huge one */
	buf[8] = buf[9] = buf[10] = buf[11] = 0xFF;
	cr_expect_eq(embstore_npy_parse(buf, n, &info), EMBSTORE_LIMIT);
}

Test(npy, import_checks_data_length)
{
	uint8_t buf[1024];
	size_t n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 24);
	char *good = tu_path("good.npy"), *shortf = tu_path("short.npy"), *longf = tu_path("long.npy");
	char *out = tu_path("npy.emb");
	tu_write_file(good, buf, n);
	tu_write_file(shortf, buf, n - 1);
	buf[n] = 0;
	tu_write_file(longf, buf, n + 1);

	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(out, &w), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_import_npy(w, "s", shortf, 0), EMBSTORE_BAD_INPUT);
	cr_expect_eq(embstore_writer_import_npy(w, "l", longf, 0), EMBSTORE_BAD_INPUT);
	cr_expect_eq(embstore_writer_import_npy(w, "m", "/nonexistent.npy", 0), EMBSTORE_IO);
	cr_assert_eq(embstore_writer_import_npy(w, "g", good, EMBSTORE_BF16), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_import_raw(w, "r", good, 1, 1, 0), EMBSTORE_BAD_INPUT); /* wrong size */
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);

	embstore *s;
	embstore_table t;
	cr_assert_eq(embstore_open(out, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(s, "g", &t), EMBSTORE_OK);
	cr_expect_eq(t.matrix.dtype, EMBSTORE_BF16);
	cr_expect_eq(t.matrix.rows, 3);
	cr_expect_eq(t.matrix.dim, 2);
	embstore_close(s);
	free(good);
	free(shortf);
	free(longf);
	free(out);
}
