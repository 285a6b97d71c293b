/* test_shard_split.c: what embstore_shard_split guarantees beyond a correct set (test_shard_set.c): rows copied
 * bit for bit, signalling NaNs included, through a split and a merge; a set whose shard a trainer holds open for
 * writing is left whole (LOCKED, or a wait); a table name too long for its shard key is refused up front. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

TestSuite(shard_split, .fini = tu_free_kept);

static char *shard_path(const char *out, uint32_t index, uint32_t count)
{
	size_t len = embstore_shard_path(out, index, count, NULL, 0) + 1;
	char *p = malloc(len);
	cr_assert(p);
	embstore_shard_path(out, index, count, p, len);
	return tu_keep(p);
}

static embstore_status split_file(const char *whole, const char *out, uint32_t count, int wait)
{
	embstore *s;
	cr_assert_eq(embstore_open(whole, 0, &s), EMBSTORE_OK);
	embstore_status st = embstore_shard_split(s, out, count, EMBSTORE_SHARD_BY_ROWS, wait);
	embstore_close(s);
	return st;
}

/* A store of two f32 tables of 9 x 3, for the lock tests. */
static char *small_store(const char *dir)
{
	char *path = tu_keep(tu_join(dir, "whole.emb"));
	float v[27];
	for (int i = 0; i < 27; i++)
		v[i] = (float)i * 0.5f;
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "a", EMBSTORE_F32, 9, 3), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, 9, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "b", EMBSTORE_F32, 9, 3), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, 9, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	return path;
}

static void expect_same_file(const char *path, const uint8_t *bytes, size_t len)
{
	size_t now_len;
	uint8_t *now = tu_read_file(path, &now_len);
	cr_expect(now_len == len && memcmp(now, bytes, len) == 0, "%s changed", path);
	free(now);
}

/* Signalling NaNs of each float dtype (quiet bit clear, payload non-zero), of both signs, beside ordinary values:
 * a conversion through f32 would set the quiet bit; a copy keeps them. */
Test(shard_split, signalling_nans_survive_split_and_merge)
{
	char *dir = tu_keep(tu_fresh_dir("snan"));
	char *whole = tu_keep(tu_join(dir, "whole.emb"));
	enum { ROWS = 7, DIM = 5 };
	uint16_t h[ROWS * DIM], bf[ROWS * DIM];
	uint32_t f[ROWS * DIM];
	for (int i = 0; i < ROWS * DIM; i++) {
		h[i] = (uint16_t)(i % 3 == 0 ? 0x7c01 + i : i % 3 == 1 ? 0xfd00 + i : 0x3c00 + i);
		bf[i] = (uint16_t)(i % 2 == 0 ? 0x7f81 + i : 0xff8f - i);
		f[i] = i % 2 == 0 ? 0x7f800001u + (uint32_t)i : 0xffa00000u + (uint32_t)i;
	}
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(whole, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "h", EMBSTORE_F16, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, h, EMBSTORE_F16, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "bf", EMBSTORE_BF16, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, bf, EMBSTORE_BF16, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "f", EMBSTORE_F32, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, f, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);

	char *out = tu_keep(tu_join(dir, "s.emb"));
	cr_assert_eq(split_file(whole, out, 3, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	const void *source[3] = {h, bf, f};
	const size_t elem[3] = {2, 2, 4};
	const char *paths[3];
	for (uint32_t i = 0; i < 3; i++) {
		paths[i] = shard_path(out, i, 3);
		embstore *s;
		cr_assert_eq(embstore_open(paths[i], EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK);
		for (uint32_t t = 0; t < 3; t++) {
			embstore_table table;
			uint32_t position;
			uint64_t first, total;
			cr_assert_eq(embstore_table_at(s, t, &table), EMBSTORE_OK);
			cr_assert_eq(embstore_shard_table(s, t, &position, &first, &total), EMBSTORE_OK);
			for (uint64_t r = 0; r < table.matrix.rows; r++) {
				const uint8_t *want = (const uint8_t *)source[t] + (first + r) * DIM * elem[t];
				const uint8_t *got = (const uint8_t *)table.matrix.data + r * table.matrix.row_stride;
				cr_expect_eq(memcmp(got, want, DIM * elem[t]), 0, "shard %u, table %s: row %llu differs", i,
				             table.name, (unsigned long long)(first + r));
			}
		}
		embstore_close(s);
	}
	embstore_set *set;
	cr_assert_eq(embstore_set_open(paths, 3, EMBSTORE_OPEN_VERIFY, &set), EMBSTORE_OK, "%s", embstore_error_detail());
	char *merged = tu_keep(tu_join(dir, "merged.emb"));
	cr_assert_eq(embstore_set_merge(set, merged), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_set_close(set);
	size_t len;
	uint8_t *bytes = tu_read_file(whole, &len);
	expect_same_file(merged, bytes, len);
	free(bytes);
}

/* What a set's files hold before a split over the same names, to be compared after it. */
typedef struct old_set {
	uint8_t *bytes[3];
	size_t len[3];
	const char *path[3];
} old_set;

static void read_set(const char *out, old_set *o)
{
	for (uint32_t i = 0; i < 3; i++) {
		o->path[i] = shard_path(out, i, 3);
		o->bytes[i] = tu_read_file(o->path[i], &o->len[i]);
	}
}

static void expect_set_unchanged(old_set *o)
{
	for (uint32_t i = 0; i < 3; i++)
		expect_same_file(o->path[i], o->bytes[i], o->len[i]);
	embstore_set *set;
	cr_expect_eq(embstore_set_open(o->path, 3, EMBSTORE_OPEN_VERIFY, &set), EMBSTORE_OK, "%s",
	             embstore_error_detail());
	embstore_set_close(set);
}

static void free_set(old_set *o)
{
	for (uint32_t i = 0; i < 3; i++)
		free(o->bytes[i]);
}

Test(shard_split, a_shard_open_for_writing_is_refused_and_the_set_left_whole)
{
	char *dir = tu_keep(tu_fresh_dir("locked"));
	char *whole = small_store(dir);
	char *out = tu_keep(tu_join(dir, "s.emb"));
	cr_assert_eq(split_file(whole, out, 3, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	old_set old;
	read_set(out, &old);
	/* the last shard held: the first two would be renamed before a lock taken at each rename found it */
	embstore *trainer;
	cr_assert_eq(embstore_open(old.path[2], EMBSTORE_OPEN_WRITABLE, &trainer), EMBSTORE_OK);
	cr_expect_eq(split_file(whole, out, 3, 0), EMBSTORE_LOCKED);
	char pid[64];
	snprintf(pid, sizeof pid, "open for writing by process %ld", (long)getpid());
	cr_expect(strstr(embstore_error_detail(), pid) != NULL, "%s", embstore_error_detail());
	cr_expect(strstr(embstore_error_detail(), "s-00002-of-00003.emb") != NULL, "%s", embstore_error_detail());
	expect_set_unchanged(&old);
	cr_expect_eq(tu_count_entries(dir), 4, "the whole store and three shards, no temporary");
	embstore_close(trainer);
	cr_expect_eq(split_file(whole, out, 3, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	size_t len;
	uint8_t *now = tu_read_file(old.path[0], &len);
	cr_expect(len != old.len[0] || memcmp(now, old.bytes[0], len) != 0, "a new set (a new set id) is in place");
	free(now);
	free_set(&old);
}

typedef struct waiting_split {
	const char *whole, *out;
	embstore_status st;
} waiting_split;

static void *run_split(void *arg)
{
	waiting_split *ws = arg;
	ws->st = split_file(ws->whole, ws->out, 3, 1);
	return NULL;
}

/* Whether /proc/locks shows a process blocked on a flock of the file with inode `ino` ("N: -> FLOCK ..."). */
static int someone_waits_for(unsigned long long ino)
{
	FILE *f = fopen("/proc/locks", "re");
	cr_assert(f);
	char line[256];
	int found = 0;
	while (!found && fgets(line, sizeof line, f)) {
		unsigned long long i;
		found = sscanf(line, "%*d: -> FLOCK %*s %*s %*d %*x:%*x:%llu", &i) == 1 && i == ino;
	}
	fclose(f);
	return found;
}

Test(shard_split, with_wait_the_split_waits_for_the_trainer)
{
	char *dir = tu_keep(tu_fresh_dir("waits"));
	char *whole = small_store(dir);
	char *out = tu_keep(tu_join(dir, "s.emb"));
	cr_assert_eq(split_file(whole, out, 3, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	old_set old;
	read_set(out, &old);
	embstore *trainer;
	cr_assert_eq(embstore_open(old.path[1], EMBSTORE_OPEN_WRITABLE, &trainer), EMBSTORE_OK);
	struct stat sb;
	cr_assert_eq(stat(old.path[1], &sb), 0);
	waiting_split ws = {whole, out, EMBSTORE_STATE};
	pthread_t thread;
	cr_assert_eq(pthread_create(&thread, NULL, run_split, &ws), 0);
	/* No clock: the split is known to wait once the kernel lists it as blocked on the trainer's lock. */
	while (!someone_waits_for((unsigned long long)sb.st_ino))
		sched_yield();
	expect_set_unchanged(&old); /* shard 0 is locked by the split, not yet replaced */
	embstore_close(trainer);
	cr_assert_eq(pthread_join(thread, NULL), 0);
	cr_expect_eq(ws.st, EMBSTORE_OK, "%s", embstore_strerror(ws.st));
	for (uint32_t i = 0; i < 3; i++) {
		size_t len;
		uint8_t *now = tu_read_file(old.path[i], &len);
		cr_expect(len != old.len[i] || memcmp(now, old.bytes[i], len) != 0, "shard %u was not replaced", i);
		free(now);
	}
	free_set(&old);
}

Test(shard_split, a_table_name_too_long_for_its_shard_key_is_refused)
{
	char *dir = tu_keep(tu_fresh_dir("names"));
	static const size_t lens[] = {1003, 1004};
	for (int k = 0; k < 2; k++) {
		char name[1025];
		memset(name, 'n', lens[k]);
		name[lens[k]] = 0;
		char *whole = tu_keep(tu_join(dir, k == 0 ? "fits.emb" : "long.emb"));
		float v[4] = {1, 2, 3, 4};
		embstore_writer *w;
		cr_assert_eq(embstore_writer_create(whole, &w), EMBSTORE_OK);
		cr_assert_eq(embstore_writer_begin_table(w, name, EMBSTORE_F32, 2, 2), EMBSTORE_OK);
		cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, 2, 0), EMBSTORE_OK);
		cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
		embstore_writer_free(w);
		char *out = tu_keep(tu_join(dir, k == 0 ? "fits-set.emb" : "long-set.emb"));
		embstore_status st = split_file(whole, out, 2, 0);
		if (k == 0) {
			cr_expect_eq(st, EMBSTORE_OK, "1,003 bytes fit: %s", embstore_error_detail());
			continue;
		}
		cr_expect_eq(st, EMBSTORE_LIMIT);
		const char *detail = embstore_error_detail();
		cr_expect(strstr(detail, "has a name of 1004 bytes: its shard key 'embstore.shard.table.NAME' would be "
		                         "1025 bytes, over the cap of 1024 on metadata keys, so a table of a sharded set "
		                         "has a name of at most 1003 bytes") != NULL,
		          "%s", detail);
	}
	cr_expect_eq(tu_count_entries(dir), 4, "two stores and the two shards of the one that fits");
}
