/* test_fault_paths.c: the paths that came with the word-vector formats, under the fault shim (fault_shim.h):
 * embstore_export to each format, a word-vector import (text and binary) with a vocabulary big enough to spill its
 * keys to the temporary file and a repeated word that is looked up there, a .npy import through the front that
 * tells the format, a .npz member and safetensors tensors - each import followed by the store's finish. Every call
 * of each wrapped kind fails in turn (ENOSPC, then EIO; an allocation with ENOMEM), then, for the calls that move
 * bytes, comes short and is interrupted (EINTR). A run must end with IO and the injected errno (NO_MEMORY for an
 * allocation) and a detail, or, for a short or interrupted call, succeed; the target must hold the previous file
 * or the whole new one, byte for byte (the new one after a failure only when the final directory open or fsync,
 * after the rename, failed); nothing else may be left in the target's directory and no descriptor left open.
 * Leaks show under the sanitizers. EMBSTORE_FAULT=KIND:N:ERR (as the failure messages print) runs one case. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault_shim.h"
#include "import.h"
#include "npz.h"
#include "safetensors.h"
#include "testutil.h"
#include "writer.h"

/* LeakSanitizer's, when the program has it (see test_faults.c). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

#define DATA EMBSTORE_TEST_DATA_DIR "/"
#define KIND_BIT(k) (1u << (k))
#define COMMIT_KINDS                                                                                   \
	(KIND_BIT(FAULT_ALLOC) | KIND_BIT(FAULT_OPEN) | KIND_BIT(FAULT_WRITE) | KIND_BIT(FAULT_FSYNC) |        \
	 KIND_BIT(FAULT_RENAME))
#define WRITER_KINDS (COMMIT_KINDS | KIND_BIT(FAULT_PWRITE))

/* The word-vector input: more key bytes than the vocabulary's 64 KiB spill buffer (12-byte entry header + 10
 * bytes a key), so that keys go to the spill file twice before the end, then word 0 again. */
#define WORDS 6000u
#define WORD_DIM 4u
/* The exported tables: more than the export's 1 MiB output buffer in their formats (text takes some 12 bytes a
 * value, and printing them is slow: that table is smaller). */
#define EXPORT_ROWS 2600u
#define EXPORT_DIM 128u
#define TEXT_ROWS 800u

typedef struct outcome {
	embstore_status st;
	int err; /* errno right after the failing call */
	char detail[320];
} outcome;

typedef struct path_case path_case;
struct path_case {
	const char *name;
	outcome (*run)(const path_case *pc);
	char *out;               /* the file written */
	char *in;                /* the input read (imports) */
	embstore *src;           /* export: the store exported */
	uint32_t table;          /* export: its table */
	embstore_format format;  /* export: to; import: from (AUTO: told by the front) */
	unsigned expected_kinds; /* a run makes at least one call of each */
	uint8_t *old, *new_;     /* the target before, and after any run that succeeds */
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

static outcome run_export(const path_case *pc)
{
	outcome o = {EMBSTORE_OK, 0, ""};
	ok(&o, embstore_export(pc->src, pc->table, pc->format, pc->out));
	return o;
}

/* Table "v" from the input, through embstore_writer_import, and the store's finish. */
static outcome run_import(const path_case *pc)
{
	outcome o = {EMBSTORE_OK, 0, ""};
	embstore_writer *w = NULL;
	embstore_import im = {.format = pc->format};
	if (ok(&o, embstore_writer_create(pc->out, &w)) && ok(&o, embstore_writer_import(w, "v", pc->in, &im)))
		ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	if (o.st == EMBSTORE_OK) /* the repeated word was found, in the spill */
		cr_assert_eq(im.duplicates, im.format == EMBSTORE_FORMAT_NPY ? 0u : 1u);
	return o;
}

/* Member "a" of the archive, deflated, through es_npz_open_member and the .npy importer. (minizip reads the
 * directory's fields a byte at a time: some 600 reads, each of which fails in turn.) */
static outcome run_npz(const path_case *pc)
{
	outcome o = {EMBSTORE_OK, 0, ""};
	embstore_writer *w = NULL;
	es_npz_member *m = NULL;
	if (ok(&o, embstore_writer_create(pc->out, &w)) && ok(&o, es_npz_open_member(pc->in, "a", &m)) &&
	    ok(&o, es_import_npy_stream(w, "a", es_npz_stream(m), 0)))
		ok(&o, embstore_writer_finish(w));
	es_npz_close(m);
	embstore_writer_free(w);
	return o;
}

/* The importer's side of es_st_read_table, as the front will have it: a table of the tensor's type (f64: f32). */
typedef struct st_sink {
	embstore_writer *w;
	embstore_dtype src;
} st_sink;

static embstore_status st_begin(void *ctx, const char *name, uint64_t rows, uint64_t cols, embstore_dtype src)
{
	st_sink *s = ctx;
	s->src = src;
	return embstore_writer_begin_table(s->w, name, src == ES_SRC_F64 ? EMBSTORE_F32 : src, rows, (uint32_t)cols);
}

static embstore_status st_rows(void *ctx, const void *data, uint64_t n)
{
	st_sink *s = ctx;
	return es_writer_append(s->w, data, s->src, n, 0);
}

/* Tensors "a.f32", "m.f16" and "z.f64" of the file, through es_st_open and es_st_read_table. */
static outcome run_safetensors(const path_case *pc)
{
	static const char *const tensors[] = {"a.f32", "m.f16", "z.f64"};
	outcome o = {EMBSTORE_OK, 0, ""};
	embstore_writer *w = NULL;
	es_st_reader *r = NULL;
	int fd = -1;
	bool good = ok(&o, embstore_writer_create(pc->out, &w));
	if (good) {
		fd = open(pc->in, O_RDONLY | O_CLOEXEC);
		good = ok(&o, fd >= 0 ? EMBSTORE_OK : es_stream_io_error(-1, pc->in)) && ok(&o, es_st_open(fd, pc->in, &r));
	}
	for (int i = 0; i < 3 && good; i++) {
		const es_st_tensor *t = es_st_find(es_st_reader_file(r), tensors[i]);
		cr_assert_not_null(t);
		st_sink sink = {w, 0};
		good = ok(&o, es_st_read_table(r, t, 0, &(es_rows_sink){&sink, st_begin, st_rows}));
	}
	if (good)
		good = ok(&o, es_st_finish(r));
	es_st_close(r);
	if (fd >= 0)
		close(fd);
	if (good)
		ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	return o;
}

static char *join(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	cr_assert_not_null(p);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static char *fresh_dir(const char *name)
{
	char *d = tu_path(name);
	cr_assert_eq(mkdir(d, 0755), 0);
	return d;
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

/* Descriptors open in this process (the one that lists them counts both times). */
static int open_fds(void)
{
	return count_entries("/proc/self/fd");
}

static char *word(unsigned i)
{
	static char w[16];
	snprintf(w, sizeof w, "word%06u", i);
	return w;
}

/* Values that print exactly in %g, so text and binary inputs hold the same vectors. */
static float word_value(unsigned i, unsigned j)
{
	return (float)((int)((i * 7 + j * 3) % 97) - 48) * 0.25f;
}

/* WORDS words and then word 0 again, as word2vec text or binary. */
static void write_vectors(const char *path, bool binary)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	fprintf(f, "%u %u\n", WORDS + 1, WORD_DIM);
	for (unsigned r = 0; r <= WORDS; r++) {
		unsigned i = r == WORDS ? 0 : r;
		fprintf(f, "%s%s", word(i), binary ? " " : "");
		for (unsigned j = 0; j < WORD_DIM; j++) {
			float v = word_value(i, j) + (r == WORDS ? 1.0f : 0.0f); /* the repeat's row is dropped */
			if (binary)
				cr_assert_eq(fwrite(&v, 4, 1, f), 1u);
			else
				fprintf(f, " %g", (double)v);
		}
		fputc('\n', f);
	}
	cr_assert_eq(fclose(f), 0);
}

/* The store exported: tables "w" and "t" (f32, with a key per row; "t" for text) and "h" (f16, no vocabulary). */
static embstore *export_source(const char *dir)
{
	char *path = join(dir, "source.emb");
	uint64_t rng = 9;
	float *rows = malloc((size_t)EXPORT_ROWS * EXPORT_DIM * sizeof(float));
	char(*keys)[16] = malloc(EXPORT_ROWS * sizeof *keys);
	const char **kp = malloc(EXPORT_ROWS * sizeof *kp);
	size_t *kl = malloc(EXPORT_ROWS * sizeof *kl);
	cr_assert(rows && keys && kp && kl);
	for (size_t i = 0; i < (size_t)EXPORT_ROWS * EXPORT_DIM; i++)
		rows[i] = tu_randf(&rng) * 100.0f;
	for (unsigned r = 0; r < EXPORT_ROWS; r++) {
		snprintf(keys[r], sizeof keys[r], "key%u", r);
		kp[r] = keys[r];
		kl[r] = strlen(keys[r]);
	}
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "w", EMBSTORE_F32, EXPORT_ROWS, EXPORT_DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append_keyed(w, rows, EMBSTORE_F32, EXPORT_ROWS, 0, kp, kl), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, TEXT_ROWS, EXPORT_DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append_keyed(w, rows, EMBSTORE_F32, TEXT_ROWS, 0, kp, kl), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "h", EMBSTORE_F16, 40, 8), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 40, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_writer_free(w);
	embstore *s;
	cr_assert_eq(embstore_open(path, 0, &s), EMBSTORE_OK);
	free(rows);
	free(keys);
	free(kp);
	free(kl);
	free(path);
	return s;
}

/* The case `name`: its target alone in a directory of its own (so a temporary left behind shows), holding a
 * previous file; its input in another. A clean run gives the bytes every successful run must. */
static path_case setup(const char *name, outcome (*run)(const path_case *), embstore_format format)
{
	path_case pc = {.name = name, .run = run, .format = format, .expected_kinds = WRITER_KINDS};
	char dir_name[64];
	snprintf(dir_name, sizeof dir_name, "%s-out", name);
	char *dir = fresh_dir(dir_name);
	snprintf(dir_name, sizeof dir_name, "%s-in", name);
	char *in_dir = fresh_dir(dir_name);
	pc.out = join(dir, "out");
	if (run == run_export) {
		pc.src = export_source(in_dir);
		pc.table = strstr(name, "f16") ? 2 : format == EMBSTORE_FORMAT_WORD2VEC_TEXT ? 1 : 0;
		pc.expected_kinds = COMMIT_KINDS;
		static const char previous[] = "a previous export, to be kept whole when this one fails\n";
		pc.old_len = sizeof previous - 1;
		pc.old = malloc(pc.old_len);
		cr_assert_not_null(pc.old);
		memcpy(pc.old, previous, pc.old_len);
	} else {
		pc.old = tu_sample_store(&pc.old_len);
		pc.expected_kinds |= KIND_BIT(FAULT_OPEN);
	}
	if (run == run_import && format != EMBSTORE_FORMAT_NPY) {
		pc.in = join(in_dir, "vectors");
		write_vectors(pc.in, format == EMBSTORE_FORMAT_WORD2VEC);
		pc.expected_kinds |= KIND_BIT(FAULT_READ) | KIND_BIT(FAULT_PREAD); /* the input; the spill */
	} else if (run == run_import) {
		pc.in = join(in_dir, "d.npy");
		double d[300 * 5];
		for (int i = 0; i < 300 * 5; i++)
			d[i] = i * 0.5 - 7.0;
		uint8_t *b = malloc(256 + sizeof d);
		cr_assert_not_null(b);
		tu_write_file(pc.in, b, tu_make_npy(b, "<f8", 300, 5, d, 8));
		free(b);
		pc.format = EMBSTORE_FORMAT_AUTO;
		pc.expected_kinds |= KIND_BIT(FAULT_READ);
	} else if (run == run_npz) {
		pc.in = strdup(DATA "arrays_deflated.npz");
		pc.expected_kinds |= KIND_BIT(FAULT_PREAD);
	} else if (run == run_safetensors) {
		pc.in = strdup(DATA "tables.safetensors");
		pc.expected_kinds |= KIND_BIT(FAULT_PREAD);
	}
	free(dir);
	free(in_dir);

	tu_write_file(pc.out, pc.old, pc.old_len);
	outcome o = run(&pc);
	cr_assert_eq(o.st, EMBSTORE_OK, "%s: %s", name, o.detail);
	pc.new_ = tu_read_file(pc.out, &pc.new_len);
	cr_assert(pc.new_len != pc.old_len || memcmp(pc.new_, pc.old, pc.old_len) != 0);
	if (run != run_export) {
		embstore *s;
		cr_assert_eq(embstore_open(pc.out, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
		embstore_close(s);
	}
	return pc;
}

static void teardown(path_case *pc)
{
	embstore_close(pc->src);
	free(pc->out);
	free(pc->in);
	free(pc->old);
	free(pc->new_);
	if (__lsan_do_recoverable_leak_check)
		cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer's report above)");
}

static const char *err_name(int err)
{
	switch (err) {
	case FAULT_SHORT:
		return "short";
	case ENOSPC:
		return "ENOSPC";
	case EIO:
		return "EIO";
	case EINTR:
		return "EINTR";
	default:
		return "?";
	}
}

/* One run with the nth call of `kind` armed; returns whether it was reached. */
static bool run_one(const path_case *pc, fault_kind kind, unsigned long n, int err)
{
	char spec[80];
	snprintf(spec, sizeof spec, "%s: EMBSTORE_FAULT=%s:%lu:%s", pc->name, fault_kind_name(kind), n, err_name(err));
	tu_write_file(pc->out, pc->old, pc->old_len);
	int fds = open_fds();
	fault_arm(kind, n, err);
	outcome o = pc->run(pc);
	bool hit = fault_hit();
	fault_disarm();

	const char *got = embstore_status_name(o.st);
	if (!hit || err == FAULT_SHORT || err == EINTR) {
		cr_assert_eq(o.st, EMBSTORE_OK, "%s: %s (%s)", spec, got, o.detail);
	} else if (kind == FAULT_ALLOC) {
		cr_assert_eq(o.st, EMBSTORE_NO_MEMORY, "%s: %s (%s)", spec, got, o.detail);
	} else {
		cr_assert_eq(o.st, EMBSTORE_IO, "%s: %s (%s)", spec, got, o.detail);
		cr_assert_eq(o.err, err, "%s: errno %d (%s), detail '%s'", spec, o.err, strerror(o.err), o.detail);
		cr_assert_neq(o.detail[0], 0, "%s: no detail", spec);
	}
	cr_assert_eq(open_fds(), fds, "%s: %d descriptors open before, %d after", spec, fds, open_fds());

	size_t len;
	uint8_t *b = tu_read_file(pc->out, &len);
	bool is_old = len == pc->old_len && memcmp(b, pc->old, len) == 0;
	bool is_new = len == pc->new_len && memcmp(b, pc->new_, len) == 0;
	free(b);
	bool after_rename = kind == FAULT_OPEN || kind == FAULT_FSYNC; /* the directory's, once the file is in place */
	cr_assert(o.st == EMBSTORE_OK ? is_new : is_old || (is_new && after_rename), "%s (%s): the target holds %s",
	          spec, got, is_old ? "the old file" : is_new ? "the new file" : "neither the old file nor the new one");
	char *dir = strdup(pc->out);
	*strrchr(dir, '/') = 0;
	cr_assert_eq(count_entries(dir), 1, "%s: a temporary file was left behind", spec);
	free(dir);
	return hit;
}

/* Every call of `kind` in turn; returns how many the operation makes. */
static unsigned long each_call(const path_case *pc, fault_kind kind, int err)
{
	unsigned long n = 1;
	while (run_one(pc, kind, n, err))
		n++;
	return n - 1;
}

/* Prints the calls of each kind (docs/SECURITY.md lists them). */
static void run_all(const path_case *pc)
{
	const char *spec = getenv("EMBSTORE_FAULT");
	if (spec) {
		fault_kind kind;
		unsigned long n;
		int err;
		cr_assert(fault_parse(spec, &kind, &n, &err), "EMBSTORE_FAULT=%s is not KIND:N:ERR", spec);
		run_one(pc, kind, n, err);
		return;
	}
	char line[400];
	int used = snprintf(line, sizeof line, "%s:", pc->name);
	unsigned long total = 0;
	for (int k = 0; k < FAULT_KIND_COUNT; k++) {
		fault_kind kind = (fault_kind)k;
		bool transfers = kind == FAULT_WRITE || kind == FAULT_PWRITE || kind == FAULT_READ || kind == FAULT_PREAD;
		unsigned long calls = each_call(pc, kind, ENOSPC);
		if (kind != FAULT_ALLOC)
			cr_assert_eq(each_call(pc, kind, EIO), calls, "%s: the %s calls differ", pc->name, fault_kind_name(kind));
		if (transfers) {
			each_call(pc, kind, FAULT_SHORT);
			each_call(pc, kind, EINTR);
		}
		if (pc->expected_kinds & KIND_BIT(kind))
			cr_assert_gt(calls, 0, "%s: no %s call was seen: is it still wrapped?", pc->name, fault_kind_name(kind));
		if (calls && used < (int)sizeof line)
			used += snprintf(line + used, sizeof line - (size_t)used, " %s %lu", fault_kind_name(kind), calls);
		total += calls;
	}
	fprintf(stderr, "%s (%lu in all)\n", line, total);
}

static void check(const char *name, outcome (*run)(const path_case *), embstore_format format, bool named)
{
	fault_refuse_tmpfile(named);
	path_case pc = setup(name, run, format);
	if (!named)
		pc.expected_kinds |= KIND_BIT(FAULT_LINKAT); /* naming the unnamed temporary */
	run_all(&pc);
	teardown(&pc);
}

Test(fault_paths, export_npy)
{
	check("export-npy", run_export, EMBSTORE_FORMAT_NPY, false);
}

Test(fault_paths, export_npy_f16)
{
	check("export-npy-f16", run_export, EMBSTORE_FORMAT_NPY, false);
}

Test(fault_paths, export_word2vec)
{
	check("export-word2vec", run_export, EMBSTORE_FORMAT_WORD2VEC, false);
}

Test(fault_paths, export_word2vec_text)
{
	check("export-word2vec-text", run_export, EMBSTORE_FORMAT_WORD2VEC_TEXT, false);
}

Test(fault_paths, export_with_named_temporary)
{
	check("export-named", run_export, EMBSTORE_FORMAT_WORD2VEC, true);
}

Test(fault_paths, import_word2vec_text)
{
	check("import-word2vec-text", run_import, EMBSTORE_FORMAT_WORD2VEC_TEXT, false);
}

Test(fault_paths, import_word2vec)
{
	check("import-word2vec", run_import, EMBSTORE_FORMAT_WORD2VEC, false);
}

/* Without O_TMPFILE the key spill is a named file, removed as soon as it is open. */
Test(fault_paths, import_word2vec_with_named_temporaries)
{
	check("import-word2vec-named", run_import, EMBSTORE_FORMAT_WORD2VEC, true);
}

Test(fault_paths, import_npy_through_the_front)
{
	check("import-npy-front", run_import, EMBSTORE_FORMAT_NPY, false);
}

Test(fault_paths, import_npz_members)
{
	check("import-npz", run_npz, EMBSTORE_FORMAT_NPY, false);
}

Test(fault_paths, import_safetensors)
{
	check("import-safetensors", run_safetensors, EMBSTORE_FORMAT_AUTO, false);
}
