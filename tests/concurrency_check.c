/* concurrency_check.c: the library's own threads, and its promises to threaded callers, in one plain-C program so
 * that it runs under ThreadSanitizer (tools/test-sanitizers.sh), where Criterion cannot start: its runner maps a
 * shared arena at random addresses in a range TSan reserves for itself, and aborts ("Could not initialize
 * inheritable arena"). It runs the parallel kernel cases of the Criterion programs (kernel_cases.h, as the
 * AArch64 checker does), then what only threads show:
 *  - the kernel table resolved by several threads' first kernel calls at once;
 *  - several application threads in parallel calls at once, sharing the thread pool;
 *  - embstore_isa_set switching sets while other threads run parallel kernels, whose results stay bitwise;
 *  - one read-only store used by several threads at once, each with its own error detail;
 *  - training in place: a parallel scatter-add on a writable store, bitwise one thread's, then sync and verify.
 * Worker threads only record what they saw; the main thread checks it (the check counters are not atomic).
 * Prints "N passed, M failed" last and exits 1 on any failure. Also a test of the ordinary suite. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel_cases.h"
#include "rng.h"

static unsigned failed;

void kc_failed(const char *file, int line, const char *msg)
{
	if (failed++ < 30)
		printf("FAIL %s:%d: %s\n", file, line, msg);
}

#define N_WORKERS 4

static void run_threads(void *(*fn)(void *), void *args, size_t arg_size, unsigned n)
{
	pthread_t tid[N_WORKERS];
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, fn, (char *)args + i * arg_size) != 0)
			abort();
	for (unsigned i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
}

/* rows x dim random f32 values. */
static float *random_rows(size_t rows, size_t dim, uint64_t seed)
{
	float *p = kc_alloc(rows * dim * sizeof *p);
	for (size_t i = 0; i < rows * dim; i++)
		p[i] = rng_unit(&seed);
	return p;
}

static int64_t *random_ids(size_t n, uint64_t rows, uint64_t seed)
{
	int64_t *ids = kc_alloc(n * sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = (int64_t)(rng_next(&seed) % rows);
	return ids;
}

/* ---- the kernel table, resolved by several first calls at once ---- */

typedef struct first_call {
	const embstore_matrix *m;
	int64_t id;
	float row[8];
	embstore_status status;
} first_call;

static void *first_call_fn(void *arg)
{
	first_call *c = arg;
	c->status = embstore_gather(c->m, &c->id, EMBSTORE_ID64, 1, c->row, NULL);
	return NULL;
}

static void check_first_calls(void)
{
	float *data = random_rows(16, 8, 1);
	embstore_matrix m = {data, 16, 8 * sizeof(float), 8, EMBSTORE_F32, 0};
	first_call calls[N_WORKERS];
	for (unsigned i = 0; i < N_WORKERS; i++)
		calls[i] = (first_call){.m = &m, .id = 3 + i};
	run_threads(first_call_fn, calls, sizeof *calls, N_WORKERS);
	for (unsigned i = 0; i < N_WORKERS; i++) {
		KC_CHECK(calls[i].status == EMBSTORE_OK, "first call %u: status %d", i, calls[i].status);
		KC_CHECK(memcmp(calls[i].row, data + (3 + i) * 8, sizeof calls[i].row) == 0, "first call %u: row", i);
	}
	free(data);
}

/* ---- embstore_isa_set while parallel kernels run ---- */

#define SWITCH_ROWS 2000
#define SWITCH_DIM 64
#define SWITCH_IDS 4096 /* 256 Ki floats out: the parallel calls use 2 threads each */
#define SWITCH_ROUNDS 8

typedef struct switch_job {
	const embstore_matrix *m;
	const int64_t *ids;
	const float *want;
	unsigned mismatches;
	embstore_status status;
} switch_job;

static atomic_int switching_done;

static void *switch_gather_fn(void *arg)
{
	switch_job *j = arg;
	float *out = kc_alloc(SWITCH_IDS * SWITCH_DIM * sizeof *out);
	for (int r = 0; r < SWITCH_ROUNDS; r++) {
		embstore_status st = embstore_gather_mt(j->m, j->ids, EMBSTORE_ID64, SWITCH_IDS, out, NULL, 2);
		if (st != EMBSTORE_OK)
			j->status = st;
		else if (memcmp(out, j->want, SWITCH_IDS * SWITCH_DIM * sizeof *out) != 0)
			j->mismatches++;
	}
	free(out);
	return NULL;
}

static void *switcher_fn(void *arg)
{
	unsigned *switches = arg;
	while (!atomic_load(&switching_done)) {
		for (int isa = 0; isa < EMBSTORE_ISA_COUNT; isa++)
			if (embstore_isa_set((embstore_isa)isa) == EMBSTORE_OK)
				++*switches;
	}
	return NULL;
}

static void check_isa_switching(void)
{
	embstore_isa before;
	KC_CHECK(embstore_isa_active(&before) == EMBSTORE_OK, "no active set");
	float *data = random_rows(SWITCH_ROWS, SWITCH_DIM, 2), *want = kc_alloc(SWITCH_IDS * SWITCH_DIM * sizeof *want);
	int64_t *ids = random_ids(SWITCH_IDS, SWITCH_ROWS, 3);
	embstore_matrix m = {data, SWITCH_ROWS, SWITCH_DIM * sizeof(float), SWITCH_DIM, EMBSTORE_F32, 0};
	KC_CHECK(embstore_gather(&m, ids, EMBSTORE_ID64, SWITCH_IDS, want, NULL) == EMBSTORE_OK, "reference gather");

	pthread_t switcher;
	unsigned switches = 0;
	atomic_store(&switching_done, 0);
	if (pthread_create(&switcher, NULL, switcher_fn, &switches) != 0)
		abort();
	switch_job jobs[2];
	for (unsigned i = 0; i < 2; i++)
		jobs[i] = (switch_job){.m = &m, .ids = ids, .want = want, .status = EMBSTORE_OK};
	run_threads(switch_gather_fn, jobs, sizeof *jobs, 2);
	atomic_store(&switching_done, 1);
	pthread_join(switcher, NULL);
	KC_CHECK(switches > 0, "the kernel set was never switched");
	for (unsigned i = 0; i < 2; i++) {
		KC_CHECK(jobs[i].status == EMBSTORE_OK, "gather_mt during switches: status %d", jobs[i].status);
		KC_CHECK(jobs[i].mismatches == 0, "gather_mt during switches: %u results differ", jobs[i].mismatches);
	}
	KC_CHECK(embstore_isa_set(before) == EMBSTORE_OK, "restoring the kernel set");
	free(data);
	free(want);
	free(ids);
}

/* ---- a store shared by readers, then trained in place ---- */

#define EMB_ROWS 4096
#define EMB_DIM 64
#define READ_IDS 512

static char dir[256], path[300];

static void write_store(const float *emb)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/embstore-concurrency-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/shared.emb", dir);
	embstore_writer *w;
	KC_CHECK(embstore_writer_create(path, &w) == EMBSTORE_OK, "writer");
	KC_CHECK(embstore_writer_add_meta(w, "k", "v") == EMBSTORE_OK, "meta");
	KC_CHECK(embstore_writer_begin_table(w, "half", EMBSTORE_F16, EMB_ROWS, EMB_DIM) == EMBSTORE_OK, "half");
	KC_CHECK(embstore_writer_append(w, emb, EMBSTORE_F32, EMB_ROWS, 0) == EMBSTORE_OK, "half rows");
	KC_CHECK(embstore_writer_begin_table(w, "emb", EMBSTORE_F32, EMB_ROWS, EMB_DIM) == EMBSTORE_OK, "emb");
	KC_CHECK(embstore_writer_append(w, emb, EMBSTORE_F32, EMB_ROWS, 0) == EMBSTORE_OK, "emb rows");
	KC_CHECK(embstore_writer_finish(w) == EMBSTORE_OK, "finish");
	embstore_writer_free(w);
}

typedef struct reader {
	const embstore *s;
	const int64_t *ids;
	const float *want;            /* gather of "half" */
	const uint8_t *bad_file;      /* a store cut short... */
	size_t bad_len;               /* ...at a length of its own, so its detail is its own */
	const char *want_detail;
	int ok_find, ok_gather, ok_verify, ok_detail, ok_meta;
} reader;

static void *reader_fn(void *arg)
{
	reader *r = arg;
	embstore_table t;
	r->ok_find = embstore_table_find(r->s, "half", &t) == EMBSTORE_OK;
	float *out = kc_alloc(READ_IDS * EMB_DIM * sizeof *out);
	r->ok_gather = r->ok_find && embstore_gather_mt(&t.matrix, r->ids, EMBSTORE_ID64, READ_IDS, out, NULL, 2) ==
	                                 EMBSTORE_OK &&
	               memcmp(out, r->want, READ_IDS * EMB_DIM * sizeof *out) == 0;
	free(out);
	r->ok_verify = embstore_verify(r->s, NULL, NULL) == EMBSTORE_OK;
	const char *v = embstore_meta_get(r->s, "k");
	r->ok_meta = v && strcmp(v, "v") == 0;
	embstore *bad = NULL;
	embstore_status st = embstore_open_memory(r->bad_file, r->bad_len, 0, &bad);
	r->ok_detail = st != EMBSTORE_OK && strcmp(embstore_error_detail(), r->want_detail) == 0;
	embstore_close(bad);
	return NULL;
}

static void check_shared_readers(const uint8_t *file, size_t len)
{
	embstore *s;
	KC_CHECK(embstore_open(path, 0, &s) == EMBSTORE_OK, "open read-only");
	embstore_table t;
	KC_CHECK(embstore_table_find(s, "half", &t) == EMBSTORE_OK, "find");
	int64_t *ids = random_ids(READ_IDS, EMB_ROWS, 4);
	float *want = kc_alloc(READ_IDS * EMB_DIM * sizeof *want);
	KC_CHECK(embstore_gather(&t.matrix, ids, EMBSTORE_ID64, READ_IDS, want, NULL) == EMBSTORE_OK, "gather");
	/* Each reader's broken file: the real one cut at a different length, with its detail worked out here. */
	reader readers[N_WORKERS];
	char details[N_WORKERS][320];
	for (unsigned i = 0; i < N_WORKERS; i++) {
		size_t cut = len - 1 - 977 * i;
		embstore *bad = NULL;
		KC_CHECK(embstore_open_memory(file, cut, 0, &bad) != EMBSTORE_OK, "a cut store opened");
		snprintf(details[i], sizeof details[i], "%s", embstore_error_detail());
		readers[i] = (reader){.s = s, .ids = ids, .want = want, .bad_file = file, .bad_len = cut,
		                      .want_detail = details[i]};
	}
	KC_CHECK(strcmp(details[0], details[1]) != 0, "the readers' details should differ: '%s'", details[0]);
	run_threads(reader_fn, readers, sizeof *readers, N_WORKERS);
	for (unsigned i = 0; i < N_WORKERS; i++) {
		reader *r = &readers[i];
		KC_CHECK(r->ok_find && r->ok_gather && r->ok_verify && r->ok_meta,
		         "reader %u: find %d gather %d verify %d meta %d", i, r->ok_find, r->ok_gather, r->ok_verify,
		         r->ok_meta);
		KC_CHECK(r->ok_detail, "reader %u did not see its own error detail ('%s')", i, r->want_detail);
	}
	embstore_close(s);
	free(ids);
	free(want);
}

/* embstore_table_scatter_add with 4 threads on the writable store: the rows of one thread's scatter-add on a
 * copy, and after sync the file verifies. */
static void check_training(const float *emb)
{
	enum { N = 4096 }; /* 256 Ki floats of gradients: 4 threads */
	int64_t *ids = random_ids(N, EMB_ROWS / 3, 5); /* duplicates, and chunks left untouched */
	float *grads = random_rows(N, EMB_DIM, 6), *want = kc_alloc(EMB_ROWS * EMB_DIM * sizeof *want);
	memcpy(want, emb, EMB_ROWS * EMB_DIM * sizeof *want);
	embstore_matrix plain = {want, EMB_ROWS, EMB_DIM * sizeof(float), EMB_DIM, EMBSTORE_F32, 0};
	KC_CHECK(embstore_scatter_add(&plain, ids, EMBSTORE_ID64, N, grads, -0.25f, NULL) == EMBSTORE_OK, "one thread");

	embstore *s;
	KC_CHECK(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s) == EMBSTORE_OK, "open writable");
	embstore_table t;
	KC_CHECK(embstore_table_find(s, "emb", &t) == EMBSTORE_OK, "find emb");
	KC_CHECK(embstore_table_scatter_add(s, t.index, ids, EMBSTORE_ID64, N, grads, -0.25f, NULL, 4) == EMBSTORE_OK,
	         "table_scatter_add, 4 threads");
	KC_CHECK(memcmp(t.matrix.data, want, EMB_ROWS * EMB_DIM * sizeof *want) == 0, "4 threads differ from one");
	KC_CHECK(embstore_sync(s) == EMBSTORE_OK, "sync");
	KC_CHECK(embstore_verify(s, NULL, NULL) == EMBSTORE_OK, "verify after sync");
	embstore_close(s);
	free(ids);
	free(grads);
	free(want);
}

static uint8_t *read_whole(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0)
		abort();
	*len = (size_t)ftell(f);
	uint8_t *b = kc_alloc(*len);
	rewind(f);
	if (fread(b, 1, *len, f) != *len)
		abort();
	fclose(f);
	return b;
}

int main(void)
{
	check_first_calls(); /* first: nothing may have resolved the kernel table yet */
	kc_threads_gather_and_bag();
	kc_threads_scatter_add();
	kc_threads_many_callers();
	check_isa_switching();

	float *emb = random_rows(EMB_ROWS, EMB_DIM, 7);
	write_store(emb);
	size_t len;
	uint8_t *file = read_whole(path, &len);
	check_shared_readers(file, len);
	check_training(emb);
	free(file);
	free(emb);
	unlink(path);
	rmdir(dir);

	printf("%lu passed, %u failed\n", kc_passed, failed);
	return failed ? 1 : 0;
}
