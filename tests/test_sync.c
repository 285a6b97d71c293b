/* test_sync.c: training in place survives a crash at any instant of a sync (format 1.1 checksum slots), readers
 * opening meanwhile always succeed, one writer at a time holds the file, and reseal accepts rows as they are. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "testutil.h"

#define ROWS 4096
#define DIM 16
#define CHUNK_ROWS 64 /* 64 chunks */

static char *build(const char *name, uint64_t rows)
{
	char *path = tu_path(name);
	float *v = malloc(rows * DIM * sizeof *v);
	uint64_t s = 5;
	for (uint64_t i = 0; i < rows * DIM; i++)
		v[i] = tu_randf(&s);
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_chunk_bytes(w, CHUNK_ROWS * DIM * 4), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, rows, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, rows, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	free(v);
	return path;
}

/* One SGD-like step on `n` rows starting at `first` (every `step`-th row), then nothing else. */
static void train(embstore *s, int64_t first, int64_t step, size_t n, float alpha)
{
	int64_t *ids = malloc(n * sizeof *ids);
	float *g = malloc(n * DIM * sizeof *g);
	for (size_t i = 0; i < n; i++)
		ids[i] = first + (int64_t)i * step;
	for (size_t i = 0; i < n * DIM; i++)
		g[i] = (float)(i % 7) - 3.0f;
	cr_assert_eq(embstore_table_scatter_add(s, 0, ids, EMBSTORE_ID64, n, g, alpha, NULL, 1), EMBSTORE_OK);
	free(ids);
	free(g);
}

/* In a child process: the store at path, open for training; exit status 3 when it does not open. */
static embstore *open_in_child(const char *path)
{
	embstore *s;
	if (embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s) != EMBSTORE_OK)
		_exit(3);
	return s;
}

/* Which chunks verify names (a bit per chunk), and whether anything else came up. */
typedef struct named {
	uint64_t chunks;
	int other;
} named;

static int collect(void *ctx, const embstore_problem *p)
{
	named *n = ctx;
	if (p->status == EMBSTORE_DATA_CHECKSUM && p->row_count > 0 && p->first_row % CHUNK_ROWS == 0)
		n->chunks |= 1ull << (p->first_row / CHUNK_ROWS);
	else
		n->other = 1;
	return 0;
}

static named verify_file(const char *path)
{
	embstore *s;
	named n = {0, 0};
	embstore_status st = embstore_open(path, 0, &s);
	cr_assert_eq(st, EMBSTORE_OK, "the file must open: %s (%s)", embstore_status_name(st), embstore_error_detail());
	embstore_verify(s, collect, &n);
	embstore_close(s);
	return n;
}

Test(sync, each_sync_writes_the_other_slot)
{
	char *path = build("slots.emb", ROWS);
	size_t len;
	uint8_t *b = tu_read_file(path, &len);
	uint64_t count = es_le64(b + ES_SB_CHECKSUM_COUNT), size = es_slot_size(count), slot0 = len - 2 * size;
	cr_assert_eq(count, ROWS / CHUNK_ROWS);
	free(b);
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_OK);
	for (uint64_t gen = 2; gen < 6; gen++) {
		train(s, (int64_t)gen, 1, 3, -0.5f);
		cr_assert_eq(embstore_sync(s), EMBSTORE_OK);
		b = tu_read_file(path, &len);
		uint64_t now = slot0 + (gen % 2 ? 0 : size); /* generation 1 was slot 0: 2 goes to slot 1, 3 to 0 */
		cr_expect_eq(es_le64(b + now), gen);
		cr_expect_eq(es_le64(b + slot0 + size - (now - slot0)), gen - 1, "the other slot keeps the previous one");
		free(b);
		cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK);
		named n = verify_file(path);
		cr_expect(n.chunks == 0 && !n.other);
	}
	embstore_close(s);
	free(path);
}

/* The states a crash during sync can leave, built from the bytes before and after a real sync: the slot being
 * written torn at every 8 bytes (written from the front, or from the back), and the rows flushed in part before
 * the slot was begun. Each must open, and verify must name exactly the chunks whose rows differ from what the
 * intact slot describes. */
Test(sync, torn_sync_opens_and_names_exactly_the_changed_chunks)
{
	char *path = build("torn.emb", ROWS);
	size_t len, len2;
	uint8_t *before = tu_read_file(path, &len);
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_OK);
	train(s, 100, CHUNK_ROWS, 5, 0.25f); /* chunks 1..5 */
	const uint64_t changed = 0x3e;
	cr_assert_eq(embstore_sync(s), EMBSTORE_OK);
	embstore_close(s);
	uint8_t *after = tu_read_file(path, &len2);
	cr_assert_eq(len, len2);
	uint64_t size = es_slot_size(ROWS / CHUNK_ROWS), slot1 = len - size; /* the first sync writes slot 1 */
	char *torn = tu_path("torn-copy.emb");
	uint8_t *img = malloc(len);
	int torn_states = 0;
	for (uint64_t m = 0; m <= size; m += 8) {
		for (int from_back = 0; from_back < 2; from_back++) {
			memcpy(img, after, len);
			if (from_back)
				memcpy(img + slot1, before + slot1, (size_t)(size - m)); /* only the last m bytes written */
			else
				memcpy(img + slot1 + m, before + slot1 + m, (size_t)(size - m)); /* the first m bytes */
			tu_write_file(torn, img, len);
			named n = verify_file(torn);
			/* Only a complete slot completes the sync. (Bytes the sync rewrote with the same value, the checksums
			 * of unchanged chunks, make some torn slots complete already.) */
			bool complete = memcmp(img + slot1, after + slot1, (size_t)size) == 0;
			uint64_t want = complete ? 0 : changed;
			torn_states += !complete;
			cr_expect_eq(n.chunks, want, "slot torn at %llu (%s): named %#llx, want %#llx", (unsigned long long)m,
			             from_back ? "back" : "front", (unsigned long long)n.chunks, (unsigned long long)want);
			cr_expect(!n.other);
		}
	}
	cr_expect_gt(torn_states, 20);
	/* Crashed while flushing rows: some changed chunks reached the disk, the slot not at all. */
	uint64_t data = es_le64(after + es_le64(after + ES_SB_DIR_OFFSET) + ES_TE_DATA_OFFSET);
	for (uint64_t subset = 0; subset < 32; subset++) {
		memcpy(img, before, len);
		uint64_t want = 0;
		for (unsigned c = 1; c <= 5; c++) {
			if (subset >> (c - 1) & 1) {
				size_t off = (size_t)(data + c * CHUNK_ROWS * DIM * 4);
				memcpy(img + off, after + off, CHUNK_ROWS * DIM * 4);
				want |= 1ull << c;
			}
		}
		tu_write_file(torn, img, len);
		named n = verify_file(torn);
		cr_expect_eq(n.chunks, want, "rows of chunks %#llx flushed: named %#llx", (unsigned long long)want,
		             (unsigned long long)n.chunks);
	}
	free(img);
	free(before);
	free(after);
	free(torn);
	free(path);
}

/* A real crash: a trainer killed at random instants while it updates and syncs in a loop. The file always opens,
 * and verify names no chunk beyond those the trainer writes. */
Test(sync, killed_trainer_leaves_an_openable_file, .timeout = 120)
{
	char *path = build("killed.emb", ROWS * 8); /* 2 MB: a sync takes a while */
	uint64_t seed = 11;
	for (int round = 0; round < 40; round++) {
		pid_t child = fork();
		cr_assert(child >= 0);
		if (child == 0) {
			embstore *s = open_in_child(path);
			for (float a = 0.001f;; a = -a) {
				train(s, 0, 7, 64 * 8, a); /* rows 0..3577 step 7: chunks 0..55 */
				if (embstore_sync(s) != EMBSTORE_OK)
					_exit(4);
			}
		}
		struct timespec t = {0, (long)(tu_rand(&seed) % 30000000)};
		nanosleep(&t, NULL);
		kill(child, SIGKILL);
		int status;
		cr_assert_eq(waitpid(child, &status, 0), child);
		cr_assert(WIFSIGNALED(status), "the trainer failed on its own (exit %d)", WEXITSTATUS(status));
		named n = verify_file(path);
		cr_expect_eq(n.chunks & ~((1ull << 56) - 1), 0, "round %d: chunks %#llx", round, (unsigned long long)n.chunks);
		cr_expect(!n.other);
	}
	free(path);
}

/* While one process syncs over and over, others open the store: every open succeeds. (Before checksum slots, an
 * open that met a half-rewritten directory failed with HEADER_CHECKSUM.) */
Test(sync, opens_during_syncs_always_succeed, .timeout = 120)
{
	char *path = build("busy.emb", ROWS);
	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		close(go[0]);
		embstore *s = open_in_child(path);
		if (write(go[1], "x", 1) != 1)
			_exit(5);
		for (float a = 0.5f;; a = -a) {
			train(s, 0, 1, ROWS, a);
			if (embstore_sync(s) != EMBSTORE_OK)
				_exit(4);
		}
	}
	close(go[1]);
	char c;
	cr_assert_eq(read(go[0], &c, 1), 1);
	int failed = 0;
	embstore_status first = EMBSTORE_OK;
	for (int i = 0; i < 20000; i++) {
		embstore *s;
		embstore_status st = embstore_open(path, 0, &s);
		if (st == EMBSTORE_OK)
			embstore_close(s);
		else if (!failed++)
			first = st;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	cr_expect_eq(failed, 0, "%d of 20000 opens failed, the first with %s", failed, embstore_status_name(first));
	free(path);
}

Test(sync, one_writer_at_a_time)
{
	char *path = build("locked.emb", 64);
	embstore *w1, *w2, *r;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &w1), EMBSTORE_OK);
	cr_expect_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &w2), EMBSTORE_LOCKED);
	char pid[32];
	snprintf(pid, sizeof pid, "process %ld", (long)getpid());
	cr_expect(strstr(embstore_error_detail(), pid), "'%s' should name %s", embstore_error_detail(), pid);
	cr_expect_eq(embstore_reseal(path), EMBSTORE_LOCKED);
	cr_assert_eq(embstore_open(path, 0, &r), EMBSTORE_OK, "readers take no lock");
	embstore_close(r);

	/* A build over the file refuses while the trainer has it, and leaves it as it was. */
	size_t len, len2;
	uint8_t *old = tu_read_file(path, &len);
	embstore_writer *b;
	cr_assert_eq(embstore_writer_create(path, &b), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_finish(b), EMBSTORE_LOCKED);
	embstore_writer_free(b);
	uint8_t *now = tu_read_file(path, &len2);
	cr_expect(len == len2 && memcmp(old, now, len) == 0, "a refused build changed the file");
	free(old);
	free(now);
	embstore_close(w1);

	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &w2), EMBSTORE_OK, "closing releases the lock");
	/* With set_wait, the build waits for the trainer (a child that closes the store after a moment). */
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		struct timespec t = {0, 200000000};
		nanosleep(&t, NULL);
		_exit(0); /* the child shares w2's open file description: the lock goes when both have let go */
	}
	embstore_close(w2); /* the parent lets go; the child, which inherited the descriptor, holds it until exit */
	cr_assert_eq(embstore_writer_create(path, &b), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_wait(b, 1), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_finish(b), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_writer_free(b);
	waitpid(child, NULL, 0);
	free(path);
}

/* A file that no reader opens (HEADER_CHECKSUM): reseal makes it open and verify again. */
static void expect_resealed(const char *path)
{
	embstore *s;
	cr_expect_eq(embstore_open(path, 0, &s), EMBSTORE_HEADER_CHECKSUM);
	cr_assert_eq(embstore_reseal(path), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	embstore_close(s);
}

/* Rows changed and never synced (the trainer died): verify names them; reseal accepts them; verify passes. */
Test(sync, reseal_accepts_the_rows)
{
	char *path = build("reseal.emb", ROWS);
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		train(open_in_child(path), 3 * CHUNK_ROWS, 1, 2, 1.0f);
		_exit(0); /* no sync */
	}
	waitpid(child, NULL, 0);
	named n = verify_file(path);
	cr_expect_eq(n.chunks, 1ull << 3);
	cr_assert_eq(embstore_reseal(path), EMBSTORE_OK, "%s", embstore_error_detail());
	n = verify_file(path);
	cr_expect_eq(n.chunks, 0);

	/* Both slots damaged: no reader opens it, reseal rebuilds them. */
	size_t len;
	uint8_t *b = tu_read_file(path, &len);
	uint64_t size = es_slot_size(ROWS / CHUNK_ROWS);
	b[len - size + 40] ^= 1;
	b[len - 2 * size + 40] ^= 1;
	tu_write_file(path, b, len);
	expect_resealed(path);
	/* reseal still refuses what is not a crash's doing */
	b[8] = 9; /* version major */
	tu_write_file(path, b, len);
	cr_expect_eq(embstore_reseal(path), EMBSTORE_UNSUPPORTED_VERSION);
	free(b);
	free(path);
}

/* A format 1.0 file (written by embstore 0.1; no checksum slots) trains and syncs the old way, in place; a crash
 * between its checksums and its header checksum leaves a header checksum mismatch, which reseal repairs. */
Test(sync, format_1_0_file_trains_and_reseals)
{
	size_t len;
	uint8_t *b = tu_read_file(EMBSTORE_TEST_DATA_DIR "/store-1.0.emb", &len);
	char *path = tu_path("old.emb");
	tu_write_file(path, b, len);
	embstore *s;
	embstore_table t;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s), EMBSTORE_OK);
	embstore_info info;
	embstore_get_info(s, &info);
	cr_assert_eq(info.format_minor, 0);
	cr_assert_eq(embstore_table_find(s, "f32", &t), EMBSTORE_OK);
	int64_t id = 4;
	float g[5] = {1, 2, 3, 4, 5};
	cr_assert_eq(embstore_table_scatter_add(s, t.index, &id, EMBSTORE_ID64, 1, g, 0.5f, NULL, 1), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_DATA_CHECKSUM);
	cr_assert_eq(embstore_sync(s), EMBSTORE_OK);
	cr_expect_eq(embstore_verify(s, NULL, NULL), EMBSTORE_OK);
	embstore_close(s);
	free(b);
	b = tu_read_file(path, &len);
	cr_assert_eq(len, 17676, "a 1.0 file stays 1.0: same size");
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
	embstore_close(s);
	b[ES_SB_CHECKSUM] ^= 1; /* killed between the directory's checksums and the header checksum */
	tu_write_file(path, b, len);
	expect_resealed(path);
	free(b);
	free(path);
}
