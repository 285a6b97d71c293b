/* test_shard_meta.c: the shard key parser (src/shard.c) takes every well-formed value and refuses every hostile
 * one with BAD_SET and a detail naming the key. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shard.h"

#define SET_ID "0123456789abcdef0123456789abcdef"

/* A shard's keys: the five singular ones, then up to four table keys; tables "a" (5 rows) and "b" (3 rows). */
typedef struct input {
	const char *keys[16], *values[16];
	uint32_t n_meta;
	const char *names[4];
	uint64_t rows[4];
	uint32_t n_tables;
} input;

static input good(void)
{
	input in = {.keys = {"creator", "embstore.shard.set", "embstore.shard.index", "embstore.shard.count",
	                     "embstore.shard.by", "embstore.shard.tables", "embstore.shard.table.a",
	                     "embstore.shard.table.b"},
	            .values = {"x", SET_ID, "1", "4", "rows", "2", "0 5 20", "1 3 12"},
	            .n_meta = 8,
	            .names = {"a", "b"},
	            .rows = {5, 3},
	            .n_tables = 2};
	return in;
}

static embstore_status parse(const input *in, es_shard *out, bool *is_shard)
{
	es_shard_input si = {in->n_meta, in->keys, in->values, in->n_tables, in->names, in->rows};
	return es_shard_parse(&si, out, is_shard);
}

static void set_value(input *in, const char *key, const char *value)
{
	for (uint32_t i = 0; i < in->n_meta; i++) {
		if (strcmp(in->keys[i], key) == 0) {
			in->values[i] = value;
			return;
		}
	}
	cr_assert_fail("no key %s", key);
}

static void expect_refused(const input *in, const char *detail_part)
{
	es_shard s;
	bool is_shard = false;
	es_detail_clear();
	embstore_status st = parse(in, &s, &is_shard);
	cr_expect_eq(st, EMBSTORE_BAD_SET, "status %s for '%s'", embstore_status_name(st), detail_part);
	cr_expect(strstr(embstore_error_detail(), detail_part) != NULL, "detail '%s' lacks '%s'",
	          embstore_error_detail(), detail_part);
	if (st == EMBSTORE_OK)
		es_shard_free(&s);
}

Test(shard_meta, parses_a_good_shard)
{
	input in = good();
	es_shard s;
	bool is_shard = false;
	cr_assert_eq(parse(&in, &s, &is_shard), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_expect(is_shard);
	cr_expect_str_eq(s.info.set_id, SET_ID);
	cr_expect_eq(s.info.index, 1);
	cr_expect_eq(s.info.count, 4);
	cr_expect_eq(s.info.tables, 2);
	cr_expect_eq(s.info.by, EMBSTORE_SHARD_BY_ROWS);
	cr_expect_eq(s.parts[0].position, 0);
	cr_expect_eq(s.parts[0].first, 5);
	cr_expect_eq(s.parts[0].total, 20);
	cr_expect_eq(s.parts[1].position, 1);
	cr_expect_eq(s.parts[1].first, 3);
	es_shard_free(&s);
}

Test(shard_meta, a_store_without_keys_is_no_shard)
{
	input in = good();
	in.n_meta = 1;
	es_shard s;
	bool is_shard = true;
	cr_assert_eq(parse(&in, &s, &is_shard), EMBSTORE_OK);
	cr_expect(!is_shard);
}

Test(shard_meta, refuses_missing_keys)
{
	static const char *const keys[] = {"set", "index", "count", "by", "tables"};
	for (int k = 0; k < 5; k++) {
		input in = good();
		/* drop key k+1 by renaming it out of the namespace */
		in.keys[k + 1] = "other";
		char want[64];
		snprintf(want, sizeof want, "embstore.shard.%s' is missing", keys[k]);
		expect_refused(&in, want);
	}
	input in = good();
	in.keys[7] = "other";
	expect_refused(&in, "table 'b' has no shard key");
}

Test(shard_meta, refuses_hostile_numbers)
{
	static const char *const bad_counts[] = {"0", "65537", "+4", "04", " 4", "4 ", "", "-1", "4x",
	                                          "99999999999999999999999", "18446744073709551616"};
	for (size_t i = 0; i < sizeof bad_counts / sizeof *bad_counts; i++) {
		input in = good();
		set_value(&in, "embstore.shard.count", bad_counts[i]);
		expect_refused(&in, "embstore.shard.count");
	}
	input in = good();
	set_value(&in, "embstore.shard.index", "4");
	expect_refused(&in, "embstore.shard.index '4'");
	in = good();
	set_value(&in, "embstore.shard.tables", "0");
	expect_refused(&in, "embstore.shard.tables");
	in = good();
	set_value(&in, "embstore.shard.count", "65536");
	es_shard s;
	bool is_shard;
	cr_expect_eq(parse(&in, &s, &is_shard), EMBSTORE_OK, "the cap itself is allowed");
	es_shard_free(&s);
}

Test(shard_meta, refuses_bad_set_ids_and_splits)
{
	static const char *const ids[] = {"0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcde",
	                                  "0123456789abcdef0123456789abcdef0", "0123456789abcdeg0123456789abcdef", ""};
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		input in = good();
		set_value(&in, "embstore.shard.set", ids[i]);
		expect_refused(&in, "embstore.shard.set");
	}
	input in = good();
	set_value(&in, "embstore.shard.by", "Rows");
	expect_refused(&in, "embstore.shard.by 'Rows'");
}

Test(shard_meta, refuses_hostile_table_values)
{
	static const char *const values[] = {"0 5", "0 5 20 1", "0  5 20", "0 5 020", "0 5 +20", "2 0 20", "0 16 20",
	                                     "0 5 0", "0 1099511627776 1099511627777", "0 0 1099511627777",
	                                     "0 18446744073709551615 20", "", "a b c", "0 5 20 "};
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		input in = good();
		set_value(&in, "embstore.shard.table.a", values[i]);
		expect_refused(&in, "embstore.shard.table.a");
	}
	/* exactly at the end of the total is fine */
	input in = good();
	set_value(&in, "embstore.shard.table.a", "0 15 20");
	es_shard s;
	bool is_shard;
	cr_expect_eq(parse(&in, &s, &is_shard), EMBSTORE_OK, "%s", embstore_error_detail());
	es_shard_free(&s);
}

Test(shard_meta, refuses_stray_repeated_and_clashing_table_keys)
{
	input in = good();
	in.keys[in.n_meta] = "embstore.shard.table.c";
	in.values[in.n_meta++] = "1 0 3";
	expect_refused(&in, "embstore.shard.table.c' names no table");
	in = good();
	set_value(&in, "embstore.shard.table.b", "0 3 12");
	expect_refused(&in, "two tables of the file have position 0");
	in = good();
	in.keys[in.n_meta] = "embstore.shard.index";
	in.values[in.n_meta++] = "1";
	expect_refused(&in, "appears twice");
	in = good();
	in.keys[in.n_meta] = "embstore.shard.table.a";
	in.values[in.n_meta++] = "0 5 20";
	expect_refused(&in, "appears twice");
}

Test(shard_meta, by_table_holds_whole_tables)
{
	input in = good();
	set_value(&in, "embstore.shard.by", "table");
	expect_refused(&in, "holds each table whole");
	set_value(&in, "embstore.shard.table.a", "0 0 5");
	set_value(&in, "embstore.shard.table.b", "1 0 3");
	es_shard s;
	bool is_shard;
	cr_expect_eq(parse(&in, &s, &is_shard), EMBSTORE_OK, "%s", embstore_error_detail());
	es_shard_free(&s);
}

Test(shard_meta, decimal_is_strict)
{
	uint64_t v;
	cr_expect(es_shard_decimal("0", 1, 10, &v) && v == 0);
	cr_expect(es_shard_decimal("18446744073709551615", 20, UINT64_MAX, &v) && v == UINT64_MAX);
	cr_expect(!es_shard_decimal("18446744073709551616", 20, UINT64_MAX, &v));
	cr_expect(!es_shard_decimal("11", 2, 10, &v));
	cr_expect(!es_shard_decimal("00", 2, 10, &v));
	cr_expect(!es_shard_decimal("", 0, 10, &v));
}

Test(shard_meta, shard_path_names)
{
	char buf[64];
	cr_expect_eq(embstore_shard_path("out.emb", 2, 4, buf, sizeof buf), strlen("out-00002-of-00004.emb"));
	cr_expect_str_eq(buf, "out-00002-of-00004.emb");
	embstore_shard_path("d.x/out", 0, 65536, buf, sizeof buf);
	cr_expect_str_eq(buf, "d.x/out-00000-of-65536");
	cr_expect_eq(embstore_shard_path("out.emb", 4, 4, buf, sizeof buf), 0);
	cr_expect_eq(embstore_shard_path("out.emb", 0, 65537, buf, sizeof buf), 0);
	cr_expect_eq(embstore_shard_path("out.emb", 0, 0, buf, sizeof buf), 0);
}
