/* test_faults.c: every write, pwrite, fsync, link, rename, open, read, pread and allocation that building a store,
 * importing .npy files into one and verifying one make is made to fail in turn, by the driver of fault_driver.h:
 * each run must end cleanly - the error status (IO with the injected errno, or NO_MEMORY), a detail that names the
 * file, the target holding the whole old file or the whole new one, no temporary file left beside it, no
 * descriptor left open and nothing leaked (under the sanitizers). A short count or an interrupted call (EINTR)
 * from write, pwrite, read or pread must change nothing at all. EMBSTORE_FAULT=KIND:N:ERR ("write:3:ENOSPC", as
 * the failure messages print) runs only that case. Training in place (open writable, update, sync) gets its own
 * loop at the end: there the file must still open afterwards and verify name nothing but the chunk the update
 * touched. The paths of export and of the other importers: test_fault_paths.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_driver.h"
#include "testutil.h"

typedef struct scenario {
	fault_case fc;         /* out: the store written, or for verify the one read */
	const char *in[2];     /* the .npy files imported */
	const char *out_named; /* what the detail of a failure on `out` contains */
	char *in_named[2];     /* ... on in[i] */
} scenario;

static float values[10 * 4];

/* Two tables of a few checksum chunks each (f32, int8 with its own padding) and metadata. */
static fault_outcome build(const fault_case *fc)
{
	fault_outcome o = FAULT_OUTCOME_OK;
	embstore_writer *w = NULL;
	if (fault_ok(&o, embstore_writer_create(fc->out, &w)) && fault_ok(&o, embstore_writer_set_chunk_bytes(w, 48)) &&
	    fault_ok(&o, embstore_writer_add_meta(w, "k1", "v1")) &&
	    fault_ok(&o, embstore_writer_add_meta(w, "k2", "v2")) &&
	    fault_ok(&o, embstore_writer_begin_table(w, "a", EMBSTORE_F32, 10, 4)) &&
	    fault_ok(&o, embstore_writer_append(w, values, EMBSTORE_F32, 6, 0)) &&
	    fault_ok(&o, embstore_writer_append(w, values + 6 * 4, EMBSTORE_F32, 4, 0)) &&
	    fault_ok(&o, embstore_writer_begin_table(w, "b", EMBSTORE_INT8_ROWWISE, 0, 8)) &&
	    fault_ok(&o, embstore_writer_append(w, values, EMBSTORE_F32, 5, 0)))
		fault_ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	return o;
}

static fault_outcome import(const fault_case *fc)
{
	const scenario *sc = (const scenario *)fc;
	fault_outcome o = FAULT_OUTCOME_OK;
	embstore_writer *w = NULL;
	if (fault_ok(&o, embstore_writer_create(fc->out, &w)) && fault_ok(&o, embstore_writer_set_chunk_bytes(w, 48)) &&
	    fault_ok(&o, embstore_writer_import_npy(w, "a", sc->in[0], 0)) &&
	    fault_ok(&o, embstore_writer_import_npy(w, "b", sc->in[1], EMBSTORE_F16)) &&
	    fault_ok(&o, embstore_writer_add_meta(w, "k", "v")))
		fault_ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	return o;
}

static fault_outcome verify(const fault_case *fc)
{
	fault_outcome o = FAULT_OUTCOME_OK;
	embstore *s = NULL;
	if (fault_ok(&o, embstore_open(fc->out, 0, &s)))
		fault_ok(&o, embstore_verify(s, NULL, NULL));
	embstore_close(s);
	return o;
}

static bool contains(const char *detail, const char *s)
{
	return s && strstr(detail, s);
}

/* Whether the detail of an IO failure of `kind` names the file that failed. */
static bool names_file(const fault_case *fc, fault_kind kind, const char *detail)
{
	const scenario *sc = (const scenario *)fc;
	bool out = contains(detail, sc->out_named);
	bool in = contains(detail, sc->in_named[0]) || contains(detail, sc->in_named[1]);
	if (kind == FAULT_READ)
		return in;
	if (kind == FAULT_OPEN) /* an input, the temporary or the directory; embstore_open leaves it to its caller */
		return in || out || !fc->writes;
	return out;
}

static char *quoted(const char *s)
{
	char *q = malloc(strlen(s) + 3);
	cr_assert_not_null(q);
	sprintf(q, "'%s'", s);
	return q;
}

/* A .npy file of rows x cols elements of `descr` (item bytes each) from data. */
static void write_npy(const char *path, const char *descr, unsigned rows, unsigned cols, const void *data,
                      size_t item)
{
	uint8_t *b = malloc(256 + (size_t)rows * cols * item);
	cr_assert_not_null(b);
	tu_write_file(path, b, tu_make_npy(b, descr, rows, cols, data, item));
	free(b);
}

/* The scenario `name` in a directory of its own (so that a temporary left behind shows), its inputs in another;
 * the target starts as another store (old) and a clean run gives the bytes every successful run must. */
static scenario setup(const char *name, fault_outcome (*run)(const fault_case *))
{
	for (int i = 0; i < 10 * 4; i++)
		values[i] = (float)i * 0.25f - 3.0f;
	char dir_name[64];
	snprintf(dir_name, sizeof dir_name, "%s-out", name);
	char *dir = tu_fresh_dir(dir_name);
	scenario sc = {.fc = {.name = name, .run = run, .out = tu_join(dir, "out.emb"), .writes = run != verify,
	                      .names_file = names_file, .expected_kinds = FAULT_WRITER_KINDS}};
	free(dir);
	if (run == import) {
		snprintf(dir_name, sizeof dir_name, "%s-in", name);
		char *in_dir = tu_fresh_dir(dir_name);
		double d[6 * 3];
		for (int i = 0; i < 6 * 3; i++)
			d[i] = i * 0.5 - 1.0;
		sc.in[0] = tu_join(in_dir, "a.npy");
		sc.in[1] = tu_join(in_dir, "b.npy");
		write_npy(sc.in[0], "<f4", 10, 4, values, 4);
		write_npy(sc.in[1], "<f8", 6, 3, d, 8);
		for (int i = 0; i < 2; i++)
			sc.in_named[i] = quoted(sc.in[i]);
		sc.fc.expected_kinds |= FAULT_BIT(FAULT_READ);
		free(in_dir);
	}
	if (run == verify) {
		fault_outcome o = build(&sc.fc);
		cr_assert_eq(o.st, EMBSTORE_OK, "%s", o.detail);
		sc.out_named = "reading table '"; /* a store does not know its path; its opener does */
		sc.fc.expected_kinds = FAULT_BIT(FAULT_PREAD) | FAULT_BIT(FAULT_OPEN) | FAULT_BIT(FAULT_ALLOC);
	} else {
		sc.out_named = quoted(sc.fc.out);
		sc.fc.old = tu_sample_store(&sc.fc.old_len);
		fault_record_new(&sc.fc);
		embstore *s;
		cr_assert_eq(embstore_open(sc.fc.out, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
		embstore_close(s);
	}
	return sc;
}

static void teardown(scenario *sc)
{
	for (int i = 0; i < 2; i++) {
		free((char *)sc->in[i]);
		free(sc->in_named[i]);
	}
	if (sc->fc.writes)
		free((char *)sc->out_named);
	free((char *)sc->fc.out);
	free(sc->fc.old);
	free(sc->fc.new_);
	fault_check_leaks();
}

/* With the unnamed temporaries of O_TMPFILE, which a build names with linkat, or (named) the named ones. */
static void check(const char *name, fault_outcome (*run)(const fault_case *), bool named)
{
	fault_refuse_tmpfile(named);
	scenario sc = setup(name, run);
	if (!named && sc.fc.writes)
		sc.fc.expected_kinds |= FAULT_BIT(FAULT_LINKAT);
	fault_run_all(&sc.fc);
	teardown(&sc);
}

Test(faults, build)
{
	check("build", build, false);
}

Test(faults, build_with_named_temporary)
{
	check("named", build, true);
}

Test(faults, import_npy)
{
	check("import", import, false);
}

Test(faults, import_npy_with_named_temporary)
{
	check("import-named", import, true);
}

Test(faults, verify)
{
	check("verify", verify, false);
}

/* Training in place, with every msync, open and allocation of an open + update + sync + close failing in turn.
 * Whatever fails, the file must still open, and verify may name no chunk but the one the update touched: a failed
 * sync leaves the previous checksum slot current (or, failing after the new slot's flush, the new one). */
static embstore_status train_once(const char *path, int step)
{
	embstore *s;
	embstore_status st = embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s);
	if (st != EMBSTORE_OK)
		return st;
	int64_t id = 7; /* table "aa", chunk 3 of 5 (two rows per chunk) */
	float g[3] = {1.0f, 2.0f, (float)step};
	st = embstore_table_scatter_add(s, 0, &id, EMBSTORE_ID64, 1, g, 0.5f, NULL, 1);
	if (st == EMBSTORE_OK)
		st = embstore_sync(s);
	embstore_close(s);
	return st;
}

static int only_chunk_3(void *ctx, const embstore_problem *p)
{
	*(int *)ctx |= !(p->table_index == 0 && p->status == EMBSTORE_DATA_CHECKSUM && p->first_row == 6 &&
	                 p->row_count == 2);
	return 0;
}

Test(faults, sync)
{
	char *path = tu_path("sync-faults.emb");
	size_t len;
	uint8_t *b = tu_sample_store(&len);
	tu_write_file(path, b, len);
	free(b);
	static const fault_kind kinds[] = {FAULT_MSYNC, FAULT_OPEN, FAULT_ALLOC};
	unsigned long reached[3] = {0, 0, 0};
	for (int k = 0; k < 3; k++) {
		for (unsigned long n = 1;; n++) {
			fault_arm(kinds[k], n, EIO);
			embstore_status st = train_once(path, (int)n);
			int err = errno;
			bool hit = fault_hit();
			fault_disarm();
			const char *spec = fault_kind_name(kinds[k]);
			if (!hit) {
				cr_assert_eq(st, EMBSTORE_OK, "%s:%lu: %s", spec, n, embstore_status_name(st));
				break;
			}
			reached[k]++;
			cr_assert(st == (kinds[k] == FAULT_ALLOC ? EMBSTORE_NO_MEMORY : EMBSTORE_IO), "%s:%lu:EIO: %s", spec, n,
			          embstore_status_name(st));
			if (st == EMBSTORE_IO)
				cr_assert_eq(err, EIO, "%s:%lu:EIO: errno %d", spec, n, err);
			embstore *s;
			cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK, "%s:%lu:EIO: the file no longer opens (%s)", spec,
			             n, embstore_error_detail());
			int other = 0;
			embstore_verify(s, only_chunk_3, &other);
			embstore_close(s);
			cr_assert(!other, "%s:%lu:EIO: verify names more than the updated chunk", spec, n);
			cr_assert_eq(embstore_reseal(path), EMBSTORE_OK); /* start the next run from a clean file */
		}
	}
	cr_expect_gt(reached[0], 1, "sync flushes rows and then the slot: at least two msyncs");
	cr_expect_gt(reached[2], 0);
	fault_check_leaks();
	free(path);
}
