/* test_npz.c: .npz members, stored (np.savez) or deflated (np.savez_compressed), import like the .npy files they
 * hold; hostile archives and members are refused with a detail naming the member, and a member is never read
 * beyond what its .npy header announces. Fixtures: tests/data/make_safetensors.py. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import.h"
#include "npz.h"
#include "testutil.h"

#define DATA EMBSTORE_TEST_DATA_DIR "/"

/* The value make_safetensors.py writes at row r, column c of an array made with `salt`. */
static float value(uint64_t r, uint64_t c, int salt)
{
	return (float)((int)((r * 7 + c * 3 + (uint64_t)salt) % 41) - 20) * 0.25f;
}

/* Imports member `member` of `archive` as table "t" of a new store at *out (malloc'd); the status. */
static embstore_status import_member(const char *archive, const char *member, char **out)
{
	*out = tu_path("npz.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(*out, &w), EMBSTORE_OK);
	es_npz_member *m;
	embstore_status st = es_npz_open_member(archive, member, &m);
	if (st == EMBSTORE_OK) {
		st = es_import_npy_stream(w, "t", es_npz_stream(m), 0);
		es_npz_close(m);
	}
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	return st;
}

static void expect_values(const char *path, uint64_t rows, uint64_t cols, int salt)
{
	embstore *s;
	embstore_table t;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	cr_assert_eq(embstore_table_find(s, "t", &t), EMBSTORE_OK);
	cr_assert_eq(t.matrix.rows, rows);
	cr_assert_eq(t.matrix.dim, cols);
	float row[16];
	for (uint64_t r = 0; r < rows; r++) {
		int64_t id = (int64_t)r;
		cr_assert_eq(embstore_gather(&t.matrix, &id, EMBSTORE_ID64, 1, row, NULL), EMBSTORE_OK);
		for (uint64_t c = 0; c < cols; c++)
			cr_expect_eq(row[c], value(r, c, salt), "[%llu][%llu]: %g, not %g", (unsigned long long)r,
			             (unsigned long long)c, row[c], value(r, c, salt));
	}
	embstore_close(s);
}

static void expect_member(const char *archive, const char *member, uint64_t rows, uint64_t cols, int salt)
{
	char *out;
	cr_assert_eq(import_member(archive, member, &out), EMBSTORE_OK, "%s:%s: %s", archive, member,
	             embstore_error_detail());
	expect_values(out, rows, cols, salt);
	free(out);
}

/* np.savez stores, np.savez_compressed deflates; f32, f16 and f64 members, by key or by full member name. */
Test(npz, numpy_archives)
{
	const char *archives[] = {DATA "arrays.npz", DATA "arrays_deflated.npz"};
	for (int i = 0; i < 2; i++) {
		expect_member(archives[i], "a", 6, 3, 1);
		expect_member(archives[i], "h", 4, 2, 2);
		expect_member(archives[i], "d", 3, 3, 3);
		expect_member(archives[i], "a.npy", 6, 3, 1);
	}
}

static void expect_refused(const char *archive, const char *member, embstore_status want, const char *detail)
{
	char *out;
	embstore_status st = import_member(archive, member, &out);
	cr_expect_eq(st, want, "%s:%s: %s, not %s (%s)", archive, member, embstore_status_name(st),
	             embstore_status_name(want), embstore_error_detail());
	cr_expect(strstr(embstore_error_detail(), detail), "%s:%s: detail '%s' lacks '%s'", archive, member,
	          embstore_error_detail(), detail);
	cr_expect_eq(access(out, F_OK), -1, "a failed import left %s", out);
	free(out);
}

/* Members that are arrays, but not tables: the .npy parser says why. */
Test(npz, members_that_are_not_tables)
{
	expect_refused(DATA "arrays.npz", "v", EMBSTORE_BAD_INPUT, ".npy array is 1-D, shape (5,)");
	expect_refused(DATA "arrays_deflated.npz", "i", EMBSTORE_BAD_INPUT, ".npy dtype '<i4' is not");
}

Test(npz, missing_member)
{
	expect_refused(DATA "arrays.npz", "zz", EMBSTORE_NOT_FOUND, "has no member 'zz' nor 'zz.npy'; it holds 'a.npy', "
	                                                            "'h.npy', 'd.npy', 'v.npy'");
	expect_refused(DATA "arrays.npz", "", EMBSTORE_NOT_FOUND, "has no member '' nor '.npy'");
}

Test(npz, member_that_is_not_npy)
{
	expect_refused(DATA "hostile.npz", "notes.txt", EMBSTORE_BAD_INPUT, "not a .npy file");
	expect_member(DATA "hostile.npz", "good", 2, 3, 1); /* beside the hostile ones, a sound member reads */
}

/* Its .npy header announces 4 rows; the member holds 2. */
Test(npz, truncated_member)
{
	expect_refused(DATA "hostile.npz", "short", EMBSTORE_BAD_INPUT, "input ends after 152 bytes; it should have 176");
}

/* Its .npy header announces 2 rows; the member inflates to 100000. Reading stops one byte past the 2 rows. */
Test(npz, member_larger_than_its_header_says)
{
	expect_refused(DATA "hostile.npz", "long", EMBSTORE_BAD_INPUT, "input is longer than the 152 bytes it should have");
}

/* The stream stops at what the header announces: reading a member of 1.2 MB for a 152-byte .npy takes one read
 * past it, not the whole member. */
Test(npz, a_lying_member_is_read_only_as_far_as_its_header)
{
	es_npz_member *m;
	cr_assert_eq(es_npz_open_member(DATA "hostile.npz", "long", &m), EMBSTORE_OK, "%s", embstore_error_detail());
	char *out = tu_path("long.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(out, &w), EMBSTORE_OK);
	es_stream *s = es_npz_stream(m);
	cr_expect_eq(es_import_npy_stream(w, "t", s, 0), EMBSTORE_BAD_INPUT);
	cr_expect_eq(s->pos, 152 + 1);
	embstore_writer_free(w);
	es_npz_close(m);
	free(out);
}

Test(npz, member_failing_its_crc)
{
	expect_refused(DATA "hostile.npz", "badcrc", EMBSTORE_BAD_INPUT, "member 'badcrc' does not match its CRC-32");
}

Test(npz, member_compressed_otherwise)
{
	expect_refused(DATA "hostile.npz", "bzip2", EMBSTORE_BAD_INPUT,
	               "member 'bzip2' is compressed with method 12; only stored (0) and deflated (8) are read");
}

Test(npz, encrypted_member)
{
	expect_refused(DATA "hostile.npz", "secret", EMBSTORE_BAD_INPUT, "member 'secret' is encrypted");
}

/* Two members of one name: which one a reader takes differs between zip readers, so neither is taken. */
Test(npz, member_present_twice)
{
	expect_refused(DATA "hostile.npz", "twice", EMBSTORE_BAD_INPUT, "member 'twice.npy' is in it 2 times");
}

Test(npz, archives_that_cannot_be_read, .timeout = 30)
{
	size_t len;
	uint8_t *bytes = tu_read_file(DATA "arrays.npz", &len);
	char *cut = tu_path("cut.npz");
	tu_write_file(cut, bytes, len - 30); /* into the end of central directory record */
	expect_refused(cut, "a", EMBSTORE_BAD_INPUT, "not a zip archive");
	expect_refused(DATA "tables.safetensors", "a", EMBSTORE_BAD_INPUT, "not a zip archive");
	expect_refused(tu_tmpdir(), "a", EMBSTORE_BAD_INPUT, "is not a regular file");
	char *fifo = tu_path("archive.fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	expect_refused(fifo, "a", EMBSTORE_BAD_INPUT, "is not a regular file; a .npz archive is read by seeking");
	free(fifo);
	char *missing = tu_path("missing.npz");
	expect_refused(missing, "a", EMBSTORE_IO, "reading '");
	free(missing);
	free(cut);
	free(bytes);
}

/* Its sizes run past the end of the archive: the member ends early. */
Test(npz, member_cut_by_the_end_of_the_archive)
{
	expect_refused(DATA "hostile.npz", "cut", EMBSTORE_BAD_INPUT, "member 'cut' ends early or its deflate data");
}

/* Deflate data that inflate refuses (a block of the reserved type 3), the directory intact. */
Test(npz, damaged_deflate_data)
{
	size_t len;
	uint8_t *bytes = tu_read_file(DATA "arrays_deflated.npz", &len);
	/* The first member's data starts after its 30-byte header, its 5-byte name "a.npy" and numpy's 20-byte zip64
	 * extra field. */
	cr_assert(memcmp(bytes + 30, "a.npy", 5) == 0 && bytes[28] == 20);
	bytes[55] = 0x07; /* final block, type 3 */
	char *out = tu_path("damaged.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(out, &w), EMBSTORE_OK);
	es_npz_member *m;
	cr_assert_eq(es_npz_open_member_mem(bytes, len, "a", &m), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect_eq(es_import_npy_stream(w, "t", es_npz_stream(m), 0), EMBSTORE_BAD_INPUT);
	cr_expect_str_eq(embstore_error_detail(),
	                 "'archive in memory': member 'a' ends early or its deflate data is damaged (minizip error -3)");
	es_npz_close(m);
	embstore_writer_free(w);
	free(out);
	free(bytes);
}

/* The memory variant reads what the file variant does. */
Test(npz, archive_in_memory)
{
	size_t len;
	uint8_t *bytes = tu_read_file(DATA "arrays_deflated.npz", &len);
	char *out = tu_path("mem.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(out, &w), EMBSTORE_OK);
	es_npz_member *m;
	cr_assert_eq(es_npz_open_member_mem(bytes, len, "d", &m), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(es_import_npy_stream(w, "t", es_npz_stream(m), 0), EMBSTORE_OK, "%s", embstore_error_detail());
	es_npz_close(m);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	expect_values(out, 3, 3, 3);
	cr_expect_eq(es_npz_open_member_mem(NULL, 0, "d", &m), EMBSTORE_BAD_INPUT);
	free(out);
	free(bytes);
}
