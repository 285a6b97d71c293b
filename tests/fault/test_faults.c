/* test_faults.c: every write, pwrite, fsync, link, rename, open, read, pread and allocation that building a store,
 * importing .npy files into one and verifying one make is made to fail in turn (fault_shim.h), and each run must
 * end cleanly: the error status (IO with the injected errno, or NO_MEMORY), a detail that names the file, the
 * target holding the whole old file or the whole new one, no temporary file left beside it, and nothing leaked
 * (under the sanitizers). A short count or an interrupted call (EINTR) from write, pwrite, read or pread must
 * change nothing at all. Each loop goes on to the next call until a run reaches no armed call, that is, until it
 * made every call of that kind. EMBSTORE_FAULT=KIND:N:ERR ("write:3:ENOSPC", as the failure messages print) runs
 * only that case. Training in place (open writable, update, sync) gets its own loop at the end: there the file
 * must still open afterwards and verify name nothing but the chunk the update touched. The paths of export and
 * of the other importers: test_fault_paths.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault_shim.h"
#include "testutil.h"

/* LeakSanitizer's, when the program has it. Criterion does not look at the exit status of a worker whose test
 * passed, which is where LeakSanitizer reports at exit, so each test asks for the check itself. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

#define KIND_BIT(k) (1u << (k))
#define WRITER_KINDS                                                                                   \
	(KIND_BIT(FAULT_WRITE) | KIND_BIT(FAULT_PWRITE) | KIND_BIT(FAULT_FSYNC) | KIND_BIT(FAULT_RENAME) |      \
	 KIND_BIT(FAULT_OPEN) | KIND_BIT(FAULT_ALLOC))

typedef struct outcome {
	embstore_status st;
	int err; /* errno right after the failing call */
	char detail[320];
} outcome;

typedef struct scenario scenario;
struct scenario {
	outcome (*run)(const scenario *sc);
	const char *out;         /* the store written, or for verify the one read */
	const char *in[2];       /* the .npy files imported */
	bool writes;             /* run replaces `out` */
	const char *out_named;   /* what the detail of a failure on `out` contains */
	char *in_named[2];       /* ... on in[i] */
	unsigned expected_kinds; /* run makes at least one call of each */
	uint8_t *old, *new_;     /* writes: the file before, and what a run that succeeds leaves */
	size_t old_len, new_len;
};

/* Records the first failure of a run: status, errno and detail as the failing call left them. */
static bool ok(outcome *o, embstore_status st)
{
	if (st == EMBSTORE_OK)
		return true;
	o->st = st;
	o->err = errno;
	snprintf(o->detail, sizeof o->detail, "%s", embstore_error_detail());
	return false;
}

static float values[10 * 4];

/* Two tables of a few checksum chunks each (f32, int8 with its own padding) and metadata. */
static outcome build(const scenario *sc)
{
	outcome o = {EMBSTORE_OK, 0, ""};
	embstore_writer *w = NULL;
	if (ok(&o, embstore_writer_create(sc->out, &w)) && ok(&o, embstore_writer_set_chunk_bytes(w, 48)) &&
	    ok(&o, embstore_writer_add_meta(w, "k1", "v1")) && ok(&o, embstore_writer_add_meta(w, "k2", "v2")) &&
	    ok(&o, embstore_writer_begin_table(w, "a", EMBSTORE_F32, 10, 4)) &&
	    ok(&o, embstore_writer_append(w, values, EMBSTORE_F32, 6, 0)) &&
	    ok(&o, embstore_writer_append(w, values + 6 * 4, EMBSTORE_F32, 4, 0)) &&
	    ok(&o, embstore_writer_begin_table(w, "b", EMBSTORE_INT8_ROWWISE, 0, 8)) &&
	    ok(&o, embstore_writer_append(w, values, EMBSTORE_F32, 5, 0)))
		ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	return o;
}

static outcome import(const scenario *sc)
{
	outcome o = {EMBSTORE_OK, 0, ""};
	embstore_writer *w = NULL;
	if (ok(&o, embstore_writer_create(sc->out, &w)) && ok(&o, embstore_writer_set_chunk_bytes(w, 48)) &&
	    ok(&o, embstore_writer_import_npy(w, "a", sc->in[0], 0)) &&
	    ok(&o, embstore_writer_import_npy(w, "b", sc->in[1], EMBSTORE_F16)) &&
	    ok(&o, embstore_writer_add_meta(w, "k", "v")))
		ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	return o;
}

static outcome verify(const scenario *sc)
{
	outcome o = {EMBSTORE_OK, 0, ""};
	embstore *s = NULL;
	if (ok(&o, embstore_open(sc->out, 0, &s)))
		ok(&o, embstore_verify(s, NULL, NULL));
	embstore_close(s);
	return o;
}

static char *quoted(const char *s)
{
	char *q = malloc(strlen(s) + 3);
	cr_assert_not_null(q);
	sprintf(q, "'%s'", s);
	return q;
}

static char *fresh_dir(const char *name)
{
	char *d = tu_path(name);
	cr_assert_eq(mkdir(d, 0755), 0);
	return d;
}

static char *join(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	cr_assert_not_null(p);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
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
static scenario setup(const char *name, outcome (*run)(const scenario *))
{
	for (int i = 0; i < 10 * 4; i++)
		values[i] = (float)i * 0.25f - 3.0f;
	char dir_name[64];
	snprintf(dir_name, sizeof dir_name, "%s-out", name);
	char *dir = fresh_dir(dir_name);
	scenario sc = {.run = run, .out = join(dir, "out.emb"), .writes = run != verify};
	free(dir);
	sc.expected_kinds = WRITER_KINDS;
	if (run == import) {
		snprintf(dir_name, sizeof dir_name, "%s-in", name);
		char *in_dir = fresh_dir(dir_name);
		double d[6 * 3];
		for (int i = 0; i < 6 * 3; i++)
			d[i] = i * 0.5 - 1.0;
		sc.in[0] = join(in_dir, "a.npy");
		sc.in[1] = join(in_dir, "b.npy");
		write_npy(sc.in[0], "<f4", 10, 4, values, 4);
		write_npy(sc.in[1], "<f8", 6, 3, d, 8);
		for (int i = 0; i < 2; i++)
			sc.in_named[i] = quoted(sc.in[i]);
		sc.expected_kinds |= KIND_BIT(FAULT_READ);
		free(in_dir);
	}
	if (run == verify) {
		scenario b = {.run = build, .out = sc.out};
		outcome o = build(&b);
		cr_assert_eq(o.st, EMBSTORE_OK, "%s", o.detail);
		sc.out_named = "reading table '"; /* a store does not know its path; its opener does */
		sc.expected_kinds = KIND_BIT(FAULT_PREAD) | KIND_BIT(FAULT_OPEN) | KIND_BIT(FAULT_ALLOC);
	} else {
		sc.out_named = quoted(sc.out);
		sc.old = tu_sample_store(&sc.old_len);
		tu_write_file(sc.out, sc.old, sc.old_len);
		outcome o = run(&sc);
		cr_assert_eq(o.st, EMBSTORE_OK, "%s", o.detail);
		sc.new_ = tu_read_file(sc.out, &sc.new_len);
		embstore *s;
		cr_assert_eq(embstore_open(sc.out, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
		embstore_close(s);
		cr_assert(sc.new_len != sc.old_len || memcmp(sc.new_, sc.old, sc.old_len) != 0);
	}
	return sc;
}

static void teardown(scenario *sc)
{
	for (int i = 0; i < 2; i++) {
		free((char *)sc->in[i]);
		free(sc->in_named[i]);
	}
	if (sc->writes)
		free((char *)sc->out_named);
	free((char *)sc->out);
	free(sc->old);
	free(sc->new_);
	if (__lsan_do_recoverable_leak_check)
		cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer's report above)");
}

static bool contains(const char *detail, const char *s)
{
	return s && strstr(detail, s);
}

/* Whether the detail of an IO failure of `kind` names the file that failed. */
static bool names_file(const scenario *sc, fault_kind kind, const char *detail)
{
	bool out = contains(detail, sc->out_named);
	bool in = contains(detail, sc->in_named[0]) || contains(detail, sc->in_named[1]);
	if (kind == FAULT_READ)
		return in;
	if (kind == FAULT_OPEN) /* an input, the temporary or the directory; embstore_open leaves it to its caller */
		return in || out || !sc->writes;
	return out;
}

static const char *err_name(int err)
{
	return err == FAULT_SHORT ? "short"
	       : err == ENOSPC    ? "ENOSPC"
	       : err == EIO       ? "EIO"
	       : err == EINTR     ? "EINTR"
	                          : "?";
}

/* One run with the nth call of `kind` armed; returns whether it was reached. */
static bool run_one(const scenario *sc, fault_kind kind, unsigned long n, int err)
{
	char spec[64];
	snprintf(spec, sizeof spec, "EMBSTORE_FAULT=%s:%lu:%s", fault_kind_name(kind), n, err_name(err));
	if (sc->writes)
		tu_write_file(sc->out, sc->old, sc->old_len);
	fault_arm(kind, n, err);
	outcome o = sc->run(sc);
	bool hit = fault_hit();
	fault_disarm();

	const char *got = embstore_status_name(o.st);
	if (!hit || err == FAULT_SHORT || err == EINTR) {
		cr_assert_eq(o.st, EMBSTORE_OK, "%s: %s (%s)", spec, got, o.detail);
	} else if (kind == FAULT_ALLOC) {
		cr_assert_eq(o.st, EMBSTORE_NO_MEMORY, "%s: %s (%s)", spec, got, o.detail);
	} else {
		cr_assert_eq(o.st, EMBSTORE_IO, "%s: %s (%s)", spec, got, o.detail);
		cr_assert_eq(o.err, err, "%s: errno %d (%s)", spec, o.err, strerror(o.err));
		cr_assert(names_file(sc, kind, o.detail), "%s: the detail '%s' does not name the file", spec, o.detail);
	}
	if (sc->writes) {
		size_t len;
		uint8_t *b = tu_read_file(sc->out, &len);
		bool is_old = len == sc->old_len && memcmp(b, sc->old, len) == 0;
		bool is_new = len == sc->new_len && memcmp(b, sc->new_, len) == 0;
		free(b);
		cr_assert(is_new || (is_old && o.st != EMBSTORE_OK), "%s (%s): the target holds %s", spec, got,
		          is_old ? "the old file" : "neither the old file nor the new one");
		char *dir = strdup(sc->out);
		*strrchr(dir, '/') = 0;
		cr_assert_eq(count_entries(dir), 1, "%s: a temporary file was left behind", spec);
		free(dir);
	}
	return hit;
}

/* Every call of `kind` in turn; returns how many the operation makes. */
static unsigned long each_call(const scenario *sc, fault_kind kind, int err)
{
	unsigned long n = 1;
	while (run_one(sc, kind, n, err))
		n++;
	return n - 1;
}

static void run_all(const scenario *sc)
{
	const char *spec = getenv("EMBSTORE_FAULT");
	if (spec) {
		fault_kind kind;
		unsigned long n;
		int err;
		cr_assert(fault_parse(spec, &kind, &n, &err), "EMBSTORE_FAULT=%s is not KIND:N:ERR", spec);
		run_one(sc, kind, n, err);
		return;
	}
	for (int k = 0; k < FAULT_KIND_COUNT; k++) {
		fault_kind kind = (fault_kind)k;
		bool transfers = kind == FAULT_WRITE || kind == FAULT_PWRITE || kind == FAULT_READ || kind == FAULT_PREAD;
		unsigned long calls = each_call(sc, kind, ENOSPC);
		if (kind != FAULT_ALLOC)
			cr_assert_eq(each_call(sc, kind, EIO), calls);
		if (transfers) {
			each_call(sc, kind, FAULT_SHORT);
			each_call(sc, kind, EINTR);
		}
		if (sc->expected_kinds & KIND_BIT(kind))
			cr_assert_gt(calls, 0, "no %s call was seen: is it still wrapped?", fault_kind_name(kind));
	}
}

Test(faults, build)
{
	scenario sc = setup("build", build);
	sc.expected_kinds |= KIND_BIT(FAULT_LINKAT); /* naming the unnamed temporary */
	run_all(&sc);
	teardown(&sc);
}

Test(faults, build_with_named_temporary)
{
	fault_refuse_tmpfile(true);
	scenario sc = setup("named", build);
	run_all(&sc);
	teardown(&sc);
}

Test(faults, import_npy)
{
	scenario sc = setup("import", import);
	run_all(&sc);
	teardown(&sc);
}

Test(faults, import_npy_with_named_temporary)
{
	fault_refuse_tmpfile(true);
	scenario sc = setup("import-named", import);
	run_all(&sc);
	teardown(&sc);
}

Test(faults, verify)
{
	scenario sc = setup("verify", verify);
	run_all(&sc);
	teardown(&sc);
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
	if (__lsan_do_recoverable_leak_check)
		cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer's report above)");
	free(path);
}
