/* test_shard_set.c: a store split into a set (embstore_shard_split) serves gather, bags and scatter-add over
 * global ids bit for bit as the unsharded store does, refuses incomplete or mixed sets naming what is wrong, and
 * merges back into the very bytes it was split from. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

TestSuite(shard_set, .fini = tu_free_kept);

/* Tables: "f" f32 10 x 5 (uneven over 4 shards), "h" f16 3 x 4 (one shard of 4 holds none of it), "q" int8
 * 7 x 6, "k" f32 6 x 3 with a vocabulary. */
static char *whole_store(const char *name)
{
	char *path = tu_keep(tu_path(name));
	uint64_t rng = 42;
	float v[64];
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_add_meta(w, "creator", "test"), EMBSTORE_OK);
	static const struct {
		const char *name;
		embstore_dtype dtype;
		uint64_t rows;
		uint32_t dim;
	} tables[] = {{"f", EMBSTORE_F32, 10, 5}, {"h", EMBSTORE_F16, 3, 4}, {"q", EMBSTORE_INT8_ROWWISE, 7, 6}};
	for (int t = 0; t < 3; t++) {
		cr_assert_eq(embstore_writer_begin_table(w, tables[t].name, tables[t].dtype, tables[t].rows, tables[t].dim),
		             EMBSTORE_OK);
		for (uint64_t r = 0; r < tables[t].rows; r++) {
			for (uint32_t j = 0; j < tables[t].dim; j++)
				v[j] = tu_randf(&rng) * 3.0f;
			cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, 1, 0), EMBSTORE_OK);
		}
	}
	const char *keys[6] = {"zero", "one", "two", "three", "four", "five"};
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(keys[i]);
	for (int i = 0; i < 18; i++)
		v[i] = tu_randf(&rng);
	cr_assert_eq(embstore_writer_begin_table(w, "k", EMBSTORE_F32, 6, 3), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 6, 0, keys, lens), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	return path;
}

/* Splits `whole` into `count` shards of `out` and returns their paths (malloc'd array of malloc'd strings). */
static char **split(const char *whole, const char *out_name, uint32_t count, embstore_shard_by by)
{
	embstore *s;
	cr_assert_eq(embstore_open(whole, 0, &s), EMBSTORE_OK);
	char *out = tu_path(out_name);
	cr_assert_eq(embstore_shard_split(s, out, count, by, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_close(s);
	char **paths = tu_keep(calloc(count, sizeof *paths));
	for (uint32_t i = 0; i < count; i++) {
		size_t len = embstore_shard_path(out, i, count, NULL, 0) + 1;
		paths[i] = tu_keep(malloc(len));
		embstore_shard_path(out, i, count, paths[i], len);
		embstore *shard;
		cr_assert_eq(embstore_open(paths[i], EMBSTORE_OPEN_VERIFY, &shard), EMBSTORE_OK, "%s", paths[i]);
		embstore_shard_info info;
		cr_assert_eq(embstore_shard_get(shard, &info), EMBSTORE_OK, "%s", embstore_error_detail());
		cr_expect_eq(info.index, i);
		cr_expect_eq(info.count, count);
		cr_expect_eq(info.tables, 4);
		cr_expect_eq(info.by, by);
		embstore_close(shard);
	}
	free(out);
	return paths;
}

static embstore_set *open_set(char **paths, uint32_t count, unsigned flags)
{
	/* the paths in reverse order: a set's order is its shard indices, not the caller's */
	const char **reversed = calloc(count, sizeof *reversed);
	for (uint32_t i = 0; i < count; i++)
		reversed[i] = paths[count - 1 - i];
	embstore_set *set;
	cr_assert_eq(embstore_set_open(reversed, count, flags, &set), EMBSTORE_OK, "%s", embstore_error_detail());
	free(reversed);
	return set;
}

/* Every id of every table, in a scrambled order with repeats, gathered and bagged from the set and the store. */
static void expect_same_lookups(const embstore *store, const embstore_set *set)
{
	for (uint32_t t = 0; t < 4; t++) {
		embstore_table st;
		embstore_set_table tt;
		cr_assert_eq(embstore_table_at(store, t, &st), EMBSTORE_OK);
		cr_assert_eq(embstore_set_table_find(set, st.name, &tt), EMBSTORE_OK);
		cr_assert_eq(tt.index, t);
		cr_assert_eq(tt.rows, st.matrix.rows);
		uint64_t rows = st.matrix.rows;
		size_t n = (size_t)rows * 3;
		int64_t ids[64];
		int32_t ids32[64];
		for (size_t i = 0; i < n; i++) {
			ids[i] = (int64_t)((i * 7 + 3) % rows);
			ids32[i] = (int32_t)ids[i];
		}
		float want[1024], got[1024];
		memset(got, 0, sizeof got);
		cr_assert_eq(embstore_gather(&st.matrix, ids, EMBSTORE_ID64, n, want, NULL), EMBSTORE_OK);
		cr_assert_eq(embstore_set_gather(set, t, ids32, EMBSTORE_ID32, n, got, NULL), EMBSTORE_OK);
		cr_expect_eq(memcmp(want, got, n * st.matrix.dim * 4), 0, "gather of table %s", st.name);
		int64_t offsets[] = {0, 1, 1, (int64_t)n / 2, (int64_t)n};
		float weights[64];
		for (size_t i = 0; i < n; i++)
			weights[i] = 0.25f * (float)(i % 5) - 0.3f;
		for (int mode = 0; mode < 3; mode++) {
			for (int weighted = 0; weighted < 2; weighted++) {
				const float *wt = weighted ? weights : NULL;
				memset(got, 0, sizeof got);
				cr_assert_eq(embstore_gather_bag(&st.matrix, ids, EMBSTORE_ID64, n, offsets, 4, wt,
				                                 (embstore_bag_mode)mode, want, NULL), EMBSTORE_OK);
				cr_assert_eq(embstore_set_gather_bag(set, t, ids, EMBSTORE_ID64, n, offsets, 4, wt,
				                                     (embstore_bag_mode)mode, got, NULL), EMBSTORE_OK);
				cr_expect_eq(memcmp(want, got, 4 * st.matrix.dim * 4), 0, "bag mode %d weighted %d of table %s",
				             mode, weighted, st.name);
			}
		}
	}
}

Test(shard_set, by_rows_serves_lookups_bitwise)
{
	char *whole = whole_store("w.emb");
	char **paths = split(whole, "rows.emb", 4, EMBSTORE_SHARD_BY_ROWS);
	embstore *store;
	cr_assert_eq(embstore_open(whole, 0, &store), EMBSTORE_OK);
	embstore_set *set = open_set(paths, 4, EMBSTORE_OPEN_VERIFY);
	embstore_set_info info;
	embstore_set_get_info(set, &info);
	cr_expect_eq(info.shard_count, 4);
	cr_expect_eq(info.table_count, 4);
	embstore_set_table h;
	cr_assert_eq(embstore_set_table_find(set, "h", &h), EMBSTORE_OK);
	cr_expect_eq(h.parts, 3, "a table of 3 rows over 4 shards has 3 parts");
	embstore_set_table f;
	cr_assert_eq(embstore_set_table_find(set, "f", &f), EMBSTORE_OK);
	cr_expect_eq(f.parts, 4);
	/* 10 rows over 4: 3, 3, 2, 2 */
	uint32_t position;
	uint64_t first, total;
	cr_assert_eq(embstore_shard_table(embstore_set_shard(set, 2), 0, &position, &first, &total), EMBSTORE_OK);
	cr_expect(position == 0 && first == 6 && total == 10);
	expect_same_lookups(store, set);
	/* keys across shards */
	uint64_t row;
	cr_expect_eq(embstore_set_find_key(set, 3, "four", 4, &row), EMBSTORE_OK);
	cr_expect_eq(row, 4);
	cr_expect_eq(embstore_set_find_key(set, 3, "six", 3, &row), EMBSTORE_UNKNOWN_KEY);
	const char *key;
	size_t len;
	cr_expect_eq(embstore_set_key(set, 3, 5, &key, &len), EMBSTORE_OK);
	cr_expect(len == 4 && memcmp(key, "five", 4) == 0);
	cr_expect_eq(embstore_set_find_key(set, 0, "x", 1, &row), EMBSTORE_NO_VOCAB);
	embstore_set_close(set);
	embstore_close(store);
}

Test(shard_set, by_table_serves_lookups_bitwise)
{
	char *whole = whole_store("w.emb");
	char **paths = split(whole, "tables.emb", 3, EMBSTORE_SHARD_BY_TABLE);
	embstore *store;
	cr_assert_eq(embstore_open(whole, 0, &store), EMBSTORE_OK);
	embstore_set *set = open_set(paths, 3, 0);
	for (uint32_t t = 0; t < 4; t++) {
		embstore_set_table tt;
		cr_assert_eq(embstore_set_table_at(set, t, &tt), EMBSTORE_OK);
		cr_expect_eq(tt.parts, 1);
	}
	/* the largest table (q: 7 x 16 bytes... f: 10 x 20) goes to shard 0 */
	embstore_table first;
	cr_assert_eq(embstore_table_at(embstore_set_shard(set, 0), 0, &first), EMBSTORE_OK);
	cr_expect_str_eq(first.name, "f");
	expect_same_lookups(store, set);
	embstore_set_close(set);
	embstore_close(store);
}

Test(shard_set, bad_ids_write_nothing)
{
	char *whole = whole_store("w.emb");
	char **paths = split(whole, "bad.emb", 4, EMBSTORE_SHARD_BY_ROWS);
	embstore_set *set = open_set(paths, 4, EMBSTORE_OPEN_WRITABLE);
	int64_t ids[] = {1, 9, 10, 2};
	float out[20], grads[20] = {1};
	memset(out, 0x7f, sizeof out);
	size_t bad = 99;
	cr_expect_eq(embstore_set_gather(set, 0, ids, EMBSTORE_ID64, 4, out, &bad), EMBSTORE_ID_OUT_OF_RANGE);
	cr_expect_eq(bad, 2);
	for (size_t i = 0; i < 20; i++)
		cr_expect_eq(((uint32_t *)out)[i], 0x7f7f7f7fu, "nothing written");
	int64_t neg[] = {0, -1};
	bad = 99;
	int64_t offsets[] = {0, 1, 2};
	cr_expect_eq(embstore_set_gather_bag(set, 0, neg, EMBSTORE_ID64, 2, offsets, 2, NULL, EMBSTORE_BAG_SUM, out, &bad),
	             EMBSTORE_ID_OUT_OF_RANGE);
	cr_expect_eq(bad, 1);
	float before[50], after[50];
	int64_t all[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	cr_assert_eq(embstore_set_gather(set, 0, all, EMBSTORE_ID64, 10, before, NULL), EMBSTORE_OK);
	bad = 99;
	cr_expect_eq(embstore_set_scatter_add(set, 0, ids, EMBSTORE_ID64, 4, grads, 1.0f, &bad), EMBSTORE_ID_OUT_OF_RANGE);
	cr_expect_eq(bad, 2);
	cr_assert_eq(embstore_set_gather(set, 0, all, EMBSTORE_ID64, 10, after, NULL), EMBSTORE_OK);
	cr_expect_eq(memcmp(before, after, sizeof before), 0, "no row updated");
	cr_expect_eq(embstore_set_gather(set, 4, all, EMBSTORE_ID64, 1, out, NULL), EMBSTORE_INVALID_ARGUMENT);
	embstore_set_close(set);
	embstore_set *ro = open_set(paths, 4, 0);
	cr_expect_eq(embstore_set_scatter_add(ro, 0, all, EMBSTORE_ID64, 1, grads, 1.0f, NULL), EMBSTORE_READ_ONLY);
	embstore_set_close(ro);
}

Test(shard_set, scatter_add_matches_the_store)
{
	char *whole = whole_store("w.emb");
	char **paths = split(whole, "train.emb", 4, EMBSTORE_SHARD_BY_ROWS);
	embstore *store;
	cr_assert_eq(embstore_open(whole, EMBSTORE_OPEN_WRITABLE, &store), EMBSTORE_OK);
	embstore_set *set = open_set(paths, 4, EMBSTORE_OPEN_WRITABLE);
	int64_t ids[] = {9, 0, 3, 3, 9, 5, 2, 3, 8, 0, 0};
	float grads[55];
	uint64_t rng = 7;
	for (int i = 0; i < 55; i++)
		grads[i] = tu_randf(&rng);
	cr_assert_eq(embstore_table_scatter_add(store, 0, ids, EMBSTORE_ID64, 11, grads, -0.37f, NULL, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_set_scatter_add(set, 0, ids, EMBSTORE_ID64, 11, grads, -0.37f, NULL), EMBSTORE_OK);
	cr_assert_eq(embstore_set_sync(set), EMBSTORE_OK);
	int64_t all[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	float want[50], got[50];
	embstore_table t;
	cr_assert_eq(embstore_table_at(store, 0, &t), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&t.matrix, all, EMBSTORE_ID64, 10, want, NULL), EMBSTORE_OK);
	cr_assert_eq(embstore_set_gather(set, 0, all, EMBSTORE_ID64, 10, got, NULL), EMBSTORE_OK);
	cr_expect_eq(memcmp(want, got, sizeof want), 0);
	embstore_set_close(set);
	embstore_close(store);
	set = open_set(paths, 4, EMBSTORE_OPEN_VERIFY);
	embstore_set_close(set);
}

Test(shard_set, incomplete_and_mixed_sets_are_refused)
{
	char *whole = whole_store("w.emb");
	char **a = split(whole, "a.emb", 4, EMBSTORE_SHARD_BY_ROWS);
	char **b = split(whole, "b.emb", 4, EMBSTORE_SHARD_BY_ROWS);
	embstore_set *set;
	const char *three[] = {a[0], a[1], a[3]};
	cr_expect_eq(embstore_set_open(three, 3, 0, &set), EMBSTORE_BAD_SET);
	cr_expect(strstr(embstore_error_detail(), "shard 2 of 4 is missing") != NULL, "%s", embstore_error_detail());
	cr_expect(strstr(embstore_error_detail(), "a-00002-of-00004.emb") != NULL, "%s", embstore_error_detail());
	const char *mixed[] = {a[0], a[1], b[2], a[3]};
	cr_expect_eq(embstore_set_open(mixed, 4, 0, &set), EMBSTORE_BAD_SET);
	cr_expect(strstr(embstore_error_detail(), "of set") != NULL, "%s", embstore_error_detail());
	cr_expect(strstr(embstore_error_detail(), "interrupted") == NULL, "%s", embstore_error_detail());
	/* as a split killed between its renames leaves it: the replaced shard under a hidden name, which is named */
	char *old = tu_keep(tu_path(".b-00002-of-00004.emb.4242.0.old"));
	tu_write_file(old, (const uint8_t *)"x", 1);
	cr_expect_eq(embstore_set_open(mixed, 4, 0, &set), EMBSTORE_BAD_SET);
	cr_expect(strstr(embstore_error_detail(), ".b-00002-of-00004.emb.4242.0.old") != NULL, "%s",
	          embstore_error_detail());
	unlink(old);
	const char *twice[] = {a[0], a[1], a[1], a[3]};
	cr_expect_eq(embstore_set_open(twice, 4, 0, &set), EMBSTORE_BAD_SET);
	cr_expect(strstr(embstore_error_detail(), "both shard 1 of 4") != NULL, "%s", embstore_error_detail());
	const char *plain[] = {a[0], whole};
	cr_expect_eq(embstore_set_open(plain, 2, 0, &set), EMBSTORE_BAD_SET);
	cr_expect(strstr(embstore_error_detail(), "ordinary store") != NULL, "%s", embstore_error_detail());
	char *nothing = tu_keep(tu_path("nothing.emb"));
	const char *absent[] = {a[0], nothing};
	cr_expect_eq(embstore_set_open(absent, 2, 0, &set), EMBSTORE_IO);
	cr_expect(strstr(embstore_error_detail(), "nothing.emb") != NULL, "%s", embstore_error_detail());
	/* one shard alone is an incomplete set; one plain store is a set of one */
	cr_expect_eq(embstore_set_open((const char *const *)a, 1, 0, &set), EMBSTORE_BAD_SET);
	const char *one[] = {whole};
	cr_assert_eq(embstore_set_open(one, 1, 0, &set), EMBSTORE_OK);
	embstore_set_info info;
	embstore_set_get_info(set, &info);
	cr_expect_eq(info.shard.by, EMBSTORE_SHARD_NONE);
	cr_expect_eq(info.table_count, 4);
	embstore_set_close(set);
}

Test(shard_set, split_refusals)
{
	char *whole = whole_store("w.emb");
	embstore *s;
	cr_assert_eq(embstore_open(whole, 0, &s), EMBSTORE_OK);
	char *out = tu_keep(tu_path("r.emb"));
	cr_expect_eq(embstore_shard_split(s, out, 11, EMBSTORE_SHARD_BY_ROWS, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect(strstr(embstore_error_detail(), "largest table has 10") != NULL, "%s", embstore_error_detail());
	cr_expect_eq(embstore_shard_split(s, out, 5, EMBSTORE_SHARD_BY_TABLE, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(embstore_shard_split(s, out, 0, EMBSTORE_SHARD_BY_ROWS, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect_eq(access(tu_keep(tu_path("r-00000-of-00011.emb")), F_OK), -1, "no shard left behind");
	embstore_close(s);
	char **paths = split(whole, "again.emb", 2, EMBSTORE_SHARD_BY_ROWS);
	cr_assert_eq(embstore_open(paths[0], 0, &s), EMBSTORE_OK);
	cr_expect_eq(embstore_shard_split(s, out, 2, EMBSTORE_SHARD_BY_ROWS, 0), EMBSTORE_INVALID_ARGUMENT);
	cr_expect(strstr(embstore_error_detail(), "shard already") != NULL, "%s", embstore_error_detail());
	embstore_close(s);
}

Test(shard_set, merge_gives_back_the_same_bytes)
{
	char *whole = whole_store("w.emb");
	static const embstore_shard_by by[] = {EMBSTORE_SHARD_BY_ROWS, EMBSTORE_SHARD_BY_TABLE};
	for (int k = 0; k < 2; k++) {
		char **paths = split(whole, k == 0 ? "m1.emb" : "m2.emb", k == 0 ? 4 : 2, by[k]);
		embstore_set *set = open_set(paths, k == 0 ? 4 : 2, 0);
		char *merged = tu_keep(tu_path("merged.emb"));
		cr_assert_eq(embstore_set_merge(set, merged), EMBSTORE_OK, "%s", embstore_error_detail());
		embstore_set_close(set);
		size_t a_len, b_len;
		uint8_t *a = tu_read_file(whole, &a_len);
		uint8_t *b = tu_read_file(merged, &b_len);
		cr_expect(a_len == b_len && memcmp(a, b, a_len) == 0, "merge by %d differs from the original", k);
		free(a);
		free(b);
	}
}
