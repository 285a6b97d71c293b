/* test_fault_paths.c: the paths that came with the word-vector formats, under the fault shim (fault_shim.h):
 * embstore_export to each format, a word-vector import (text and binary) with a vocabulary big enough to spill its
 * keys to the temporary file and a repeated word that is looked up there, a .npy import through the front that
 * tells the format, a .npz member and safetensors tensors - each import followed by the store's finish - a
 * sharded set merged back into one store, and a store split into a set over a previous one. Every call of each
 * wrapped kind fails in turn, by the driver of fault_driver.h, which says what each run must leave. Leaks show
 * under the sanitizers. EMBSTORE_FAULT=KIND:N:ERR (as the failure messages print) runs one case. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_driver.h"
#include "import.h"
#include "npz.h"
#include "safetensors.h"
#include "testutil.h"
#include "writer.h"

#define DATA EMBSTORE_TEST_DATA_DIR "/"

/* The word-vector input: more key bytes than the vocabulary's 64 KiB spill buffer (12-byte entry header + 10
 * bytes a key), so that keys go to the spill file twice before the end, then word 0 again. */
#define WORDS 6000u
#define WORD_DIM 4u
/* The exported tables: more than the export's 1 MiB output buffer in their formats (text takes some 12 bytes a
 * value, and printing them is slow: that table is smaller). */
#define EXPORT_ROWS 2600u
#define EXPORT_DIM 128u
#define TEXT_ROWS 800u
#define SPLIT_SHARDS 3u

typedef struct path_case {
	fault_case fc;          /* out: the file written */
	char *in;               /* the input read (imports) */
	embstore *src;          /* export: the store exported */
	uint32_t table;         /* export: its table */
	embstore_format format; /* export: to; import: from (AUTO: told by the front) */
	embstore_set *set;      /* merge: the set merged */
	char *base;             /* split: the name the shards are named after */
	const char **outs;      /* split: the shards' paths, and the previous files there (SPLIT_SHARDS each) */
	uint8_t **olds;
	size_t *old_lens;
} path_case;

static fault_outcome run_export(const fault_case *fc)
{
	const path_case *pc = (const path_case *)fc;
	fault_outcome o = FAULT_OUTCOME_OK;
	fault_ok(&o, embstore_export(pc->src, pc->table, pc->format, fc->out));
	return o;
}

/* A set of three shards merged back into one store (embstore_set_merge, through the writer). */
static fault_outcome run_merge(const fault_case *fc)
{
	const path_case *pc = (const path_case *)fc;
	fault_outcome o = FAULT_OUTCOME_OK;
	fault_ok(&o, embstore_set_merge(pc->set, fc->out));
	return o;
}

/* The export source split by rows into three shards, over a previous set of three (embstore_shard_split). */
static fault_outcome run_split(const fault_case *fc)
{
	const path_case *pc = (const path_case *)fc;
	fault_outcome o = FAULT_OUTCOME_OK;
	fault_ok(&o, embstore_shard_split(pc->src, pc->base, SPLIT_SHARDS, EMBSTORE_SHARD_BY_ROWS, 0));
	return o;
}

/* Whether the shards are a whole set (every checksum checked) holding every row of every table of the source. */
static bool split_holds_new(const fault_case *fc)
{
	const path_case *pc = (const path_case *)fc;
	embstore_set *set;
	if (embstore_set_open(pc->outs, SPLIT_SHARDS, EMBSTORE_OPEN_VERIFY, &set) != EMBSTORE_OK)
		return false;
	embstore_info info;
	embstore_get_info(pc->src, &info);
	bool same = true;
	for (uint32_t t = 0; t < info.table_count && same; t++) {
		embstore_table table;
		embstore_table_at(pc->src, t, &table);
		size_t n = (size_t)table.matrix.rows, count = n * table.matrix.dim;
		int64_t *ids = malloc(n * sizeof *ids);
		float *want = malloc(count * sizeof *want), *got = malloc(count * sizeof *got);
		cr_assert(ids && want && got);
		for (size_t i = 0; i < n; i++)
			ids[i] = (int64_t)i;
		same = embstore_gather(&table.matrix, ids, EMBSTORE_ID64, n, want, NULL) == EMBSTORE_OK &&
		       embstore_set_gather(set, t, ids, EMBSTORE_ID64, n, got, NULL) == EMBSTORE_OK &&
		       memcmp(want, got, count * sizeof *got) == 0;
		free(ids);
		free(want);
		free(got);
	}
	embstore_set_close(set);
	return same;
}

/* Table "v" from the input, through embstore_writer_import, and the store's finish. */
static fault_outcome run_import(const fault_case *fc)
{
	const path_case *pc = (const path_case *)fc;
	fault_outcome o = FAULT_OUTCOME_OK;
	embstore_writer *w = NULL;
	embstore_import im = {.format = pc->format};
	if (fault_ok(&o, embstore_writer_create(fc->out, &w)) && fault_ok(&o, embstore_writer_import(w, "v", pc->in, &im)))
		fault_ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	if (o.st == EMBSTORE_OK) /* the repeated word was found, in the spill */
		cr_assert_eq(im.duplicates, im.format == EMBSTORE_FORMAT_NPY ? 0u : 1u);
	return o;
}

/* Member "a" of the archive, deflated, through es_npz_open_member and the .npy importer. (minizip reads the
 * directory's fields a byte at a time: some 600 reads, each of which fails in turn.) */
static fault_outcome run_npz(const fault_case *fc)
{
	const path_case *pc = (const path_case *)fc;
	fault_outcome o = FAULT_OUTCOME_OK;
	embstore_writer *w = NULL;
	es_npz_member *m = NULL;
	if (fault_ok(&o, embstore_writer_create(fc->out, &w)) && fault_ok(&o, es_npz_open_member(pc->in, "a", &m)) &&
	    fault_ok(&o, es_import_npy_stream(w, "a", es_npz_stream(m), 0)))
		fault_ok(&o, embstore_writer_finish(w));
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
static fault_outcome run_safetensors(const fault_case *fc)
{
	static const char *const tensors[] = {"a.f32", "m.f16", "z.f64"};
	const path_case *pc = (const path_case *)fc;
	fault_outcome o = FAULT_OUTCOME_OK;
	embstore_writer *w = NULL;
	es_st_reader *r = NULL;
	int fd = -1;
	bool good = fault_ok(&o, embstore_writer_create(fc->out, &w));
	if (good) {
		fd = open(pc->in, O_RDONLY | O_CLOEXEC);
		good = fault_ok(&o, fd >= 0 ? EMBSTORE_OK : es_stream_io_error(-1, pc->in)) &&
		       fault_ok(&o, es_st_open(fd, pc->in, &r));
	}
	for (int i = 0; i < 3 && good; i++) {
		const es_st_tensor *t = es_st_find(es_st_reader_file(r), tensors[i]);
		cr_assert_not_null(t);
		st_sink sink = {w, 0};
		good = fault_ok(&o, es_st_read_table(r, t, 0, &(es_rows_sink){&sink, st_begin, st_rows}));
	}
	if (good)
		good = fault_ok(&o, es_st_finish(r));
	es_st_close(r);
	if (fd >= 0)
		close(fd);
	if (good)
		fault_ok(&o, embstore_writer_finish(w));
	embstore_writer_free(w);
	return o;
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
	char *path = tu_join(dir, "source.emb");
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
static path_case setup(const char *name, fault_outcome (*run)(const fault_case *), embstore_format format)
{
	char dir_name[64];
	snprintf(dir_name, sizeof dir_name, "%s-out", name);
	char *dir = tu_fresh_dir(dir_name);
	snprintf(dir_name, sizeof dir_name, "%s-in", name);
	char *in_dir = tu_fresh_dir(dir_name);
	path_case pc = {.fc = {.name = name, .run = run, .out = tu_join(dir, "out"), .writes = true,
	                       .expected_kinds = FAULT_WRITER_KINDS},
	                .format = format};
	if (run == run_export || run == run_merge || run == run_split) {
		pc.src = export_source(in_dir);
		pc.table = strstr(name, "f16") ? 2 : format == EMBSTORE_FORMAT_WORD2VEC_TEXT ? 1 : 0;
		pc.fc.expected_kinds = FAULT_COMMIT_KINDS;
		static const char previous[] = "a previous export, to be kept whole when this one fails\n";
		pc.fc.old_len = sizeof previous - 1;
		pc.fc.old = malloc(pc.fc.old_len);
		cr_assert_not_null(pc.fc.old);
		memcpy(pc.fc.old, previous, pc.fc.old_len);
	} else {
		pc.fc.old = tu_sample_store(&pc.fc.old_len);
		pc.fc.expected_kinds |= FAULT_BIT(FAULT_OPEN);
	}
	if (run == run_split) { /* three shards in the target's directory, over three previous files */
		pc.base = tu_join(dir, "set.emb");
		pc.outs = calloc(SPLIT_SHARDS, sizeof *pc.outs);
		pc.olds = calloc(SPLIT_SHARDS, sizeof *pc.olds);
		pc.old_lens = calloc(SPLIT_SHARDS, sizeof *pc.old_lens);
		cr_assert(pc.outs && pc.olds && pc.old_lens);
		for (uint32_t i = 0; i < SPLIT_SHARDS; i++) {
			char path[512];
			cr_assert_lt(embstore_shard_path(pc.base, i, SPLIT_SHARDS, path, sizeof path), sizeof path);
			pc.outs[i] = strdup(path);
			char previous[64];
			pc.old_lens[i] = (size_t)snprintf(previous, sizeof previous, "previous shard %u, to be kept\n", i);
			pc.olds[i] = malloc(pc.old_lens[i]);
			cr_assert(pc.outs[i] && pc.olds[i]);
			memcpy(pc.olds[i], previous, pc.old_lens[i]);
		}
		free((char *)pc.fc.out);
		pc.fc.out = strdup(pc.outs[0]);
		pc.fc.outs = (const char *const *)pc.outs;
		pc.fc.n_outs = SPLIT_SHARDS;
		pc.fc.olds = pc.olds;
		pc.fc.old_lens = pc.old_lens;
		pc.fc.holds_new = split_holds_new;
		pc.fc.expected_kinds |= FAULT_BIT(FAULT_PWRITE);
	}
	if (run == run_merge) { /* the export source split by rows into three shards, opened as a set */
		char *base = tu_join(in_dir, "shards.emb");
		char paths[3][512];
		const char *pp[3];
		cr_assert_eq(embstore_shard_split(pc.src, base, 3, EMBSTORE_SHARD_BY_ROWS, 0), EMBSTORE_OK, "%s",
		             embstore_error_detail());
		for (uint32_t i = 0; i < 3; i++) {
			cr_assert_lt(embstore_shard_path(base, i, 3, paths[i], sizeof paths[i]), sizeof paths[i]);
			pp[i] = paths[i];
		}
		cr_assert_eq(embstore_set_open(pp, 3, 0, &pc.set), EMBSTORE_OK, "%s", embstore_error_detail());
		free(base);
	}
	if (run == run_import && format != EMBSTORE_FORMAT_NPY) {
		pc.in = tu_join(in_dir, "vectors");
		write_vectors(pc.in, format == EMBSTORE_FORMAT_WORD2VEC);
		pc.fc.expected_kinds |= FAULT_BIT(FAULT_READ) | FAULT_BIT(FAULT_PREAD); /* the input; the spill */
	} else if (run == run_import) {
		pc.in = tu_join(in_dir, "d.npy");
		double d[300 * 5];
		for (int i = 0; i < 300 * 5; i++)
			d[i] = i * 0.5 - 7.0;
		uint8_t *b = malloc(256 + sizeof d);
		cr_assert_not_null(b);
		tu_write_file(pc.in, b, tu_make_npy(b, "<f8", 300, 5, d, 8));
		free(b);
		pc.format = EMBSTORE_FORMAT_AUTO;
		pc.fc.expected_kinds |= FAULT_BIT(FAULT_READ);
	} else if (run == run_npz) {
		pc.in = strdup(DATA "arrays_deflated.npz");
		pc.fc.expected_kinds |= FAULT_BIT(FAULT_PREAD);
	} else if (run == run_safetensors) {
		pc.in = strdup(DATA "tables.safetensors");
		pc.fc.expected_kinds |= FAULT_BIT(FAULT_PREAD);
	}
	free(dir);
	free(in_dir);

	fault_record_new(&pc.fc);
	if (run != run_export && run != run_split) {
		embstore *s;
		cr_assert_eq(embstore_open(pc.fc.out, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
		embstore_close(s);
	}
	return pc;
}

static void teardown(path_case *pc)
{
	embstore_set_close(pc->set);
	embstore_close(pc->src);
	free((char *)pc->fc.out);
	free(pc->base);
	for (uint32_t i = 0; pc->outs && i < SPLIT_SHARDS; i++) {
		free((char *)pc->outs[i]);
		free(pc->olds[i]);
	}
	free(pc->outs);
	free(pc->olds);
	free(pc->old_lens);
	free(pc->in);
	free(pc->fc.old);
	free(pc->fc.new_);
	fault_check_leaks();
}

/* With the unnamed temporaries of O_TMPFILE, which a commit names with linkat, or (named) the named ones. */
static void check(const char *name, fault_outcome (*run)(const fault_case *), embstore_format format, bool named)
{
	fault_refuse_tmpfile(named);
	path_case pc = setup(name, run, format);
	if (!named)
		pc.fc.expected_kinds |= FAULT_BIT(FAULT_LINKAT);
	fault_run_all(&pc.fc);
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

Test(fault_paths, merge_a_set)
{
	check("merge-set", run_merge, EMBSTORE_FORMAT_AUTO, false);
}

/* Three files replaced together: each failure leaves the three previous files (the ones renamed so far put back)
 * or, after the last rename, the whole new set. */
Test(fault_paths, split_into_a_set)
{
	check("split-set", run_split, EMBSTORE_FORMAT_AUTO, false);
}
