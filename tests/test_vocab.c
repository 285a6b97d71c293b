/* test_vocab.c: table vocabularies (format 1.2): keys written with their rows come back by key and by row, from
 * the index in the mapping; the writer refuses bad and repeated keys; open checks the section's sizes, verify
 * every key; a damaged vocabulary makes lookups fail cleanly, never read outside it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "testutil.h"
#include "vocab.h"

#define DIM 4

static void key_of(uint64_t r, char *buf, size_t cap, size_t *len)
{
	/* ASCII, multi-byte UTF-8 and a key with a space, of varied lengths */
	int n = r % 7 == 3 ? snprintf(buf, cap, "m\xc3\xbcnchen %llu", (unsigned long long)r)
	        : r % 7 == 5 ? snprintf(buf, cap, "%llu\xe6\xbc\xa2", (unsigned long long)r)
	                     : snprintf(buf, cap, "w%llu", (unsigned long long)(r * 2654435761u % 1000003));
	*len = (size_t)n;
}

static float value(uint64_t r, uint32_t c)
{
	return (float)r + (float)c / 8.0f;
}

/* A store with a keyed table "v" of `rows` rows (appended in batches of `batch`) and a plain table "plain". */
static char *build(const char *name, uint64_t rows, uint64_t batch)
{
	char *path = tu_path(name);
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "v", EMBSTORE_F32, 0, DIM), EMBSTORE_OK);
	float *vals = malloc(batch * DIM * sizeof *vals);
	char (*bufs)[48] = malloc(batch * sizeof *bufs);
	const char **keys = malloc(batch * sizeof *keys);
	size_t *lens = malloc(batch * sizeof *lens);
	for (uint64_t r0 = 0; r0 < rows; r0 += batch) {
		uint64_t k = rows - r0 < batch ? rows - r0 : batch;
		for (uint64_t i = 0; i < k; i++) {
			key_of(r0 + i, bufs[i], sizeof bufs[i], &lens[i]);
			keys[i] = bufs[i];
			for (uint32_t c = 0; c < DIM; c++)
				vals[i * DIM + c] = value(r0 + i, c);
		}
		cr_assert_eq(embstore_writer_append_keyed(w, vals, EMBSTORE_F32, k, 0, keys, lens), EMBSTORE_OK, "%s",
		             embstore_error_detail());
	}
	cr_assert_eq(embstore_writer_begin_table(w, "plain", EMBSTORE_F32, 3, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, vals, EMBSTORE_F32, 3, 0), EMBSTORE_OK, "%s", embstore_error_detail());
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_writer_free(w);
	free(vals);
	free(bufs);
	free(keys);
	free(lens);
	return path;
}

static void check_all_keys(const embstore *s, uint64_t rows)
{
	char buf[48];
	size_t len;
	for (uint64_t r = 0; r < rows; r++) {
		key_of(r, buf, sizeof buf, &len);
		uint64_t row = UINT64_MAX;
		cr_assert_eq(embstore_table_find_key(s, 0, buf, len, &row), EMBSTORE_OK, "key of row %llu",
		             (unsigned long long)r);
		cr_assert_eq(row, r);
		const char *k;
		size_t n;
		cr_assert_eq(embstore_table_key(s, 0, r, &k, &n), EMBSTORE_OK);
		cr_assert(n == len && memcmp(k, buf, len) == 0, "row %llu's key", (unsigned long long)r);
	}
}

Test(vocab, keys_come_back_by_key_and_by_row)
{
	char *path = build("keys.emb", 1000, 97);
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_info info;
	embstore_get_info(s, &info);
	cr_expect_eq(info.format_minor, 2);
	embstore_table t;
	cr_assert_eq(embstore_table_at(s, 0, &t), EMBSTORE_OK);
	cr_expect_eq(t.has_vocab, 1);
	cr_assert_eq(embstore_table_at(s, 1, &t), EMBSTORE_OK);
	cr_expect_eq(t.has_vocab, 0);
	check_all_keys(s, 1000);

	/* gather by keys = gather by the rows they name */
	const char *keys[3] = {"w0", "m\xc3\xbcnchen 3", "5\xe6\xbc\xa2"};
	size_t lens[3] = {2, strlen(keys[1]), strlen(keys[2])};
	float out[3 * DIM];
	cr_assert_eq(embstore_gather_keys(s, 0, keys, lens, 3, out, NULL), EMBSTORE_OK);
	uint64_t rows[3] = {0, 3, 5};
	for (int i = 0; i < 3; i++)
		for (uint32_t c = 0; c < DIM; c++)
			cr_expect_eq(out[i * DIM + c], value(rows[i], c));

	/* an unknown key is named by position, like a bad id; the rows before it are written */
	const char *some[4] = {"w0", "w0", "nope", "w0"};
	size_t some_lens[4] = {2, 2, 4, 2}, bad = 99;
	memset(out, 0, sizeof out);
	cr_expect_eq(embstore_gather_keys(s, 0, some, some_lens, 4, out, &bad), EMBSTORE_UNKNOWN_KEY);
	cr_expect_eq(bad, 2);
	cr_expect_eq(out[DIM], value(0, 0));
	uint64_t row;
	cr_expect_eq(embstore_table_find_key(s, 0, "w", 1, &row), EMBSTORE_UNKNOWN_KEY);
	cr_expect_eq(embstore_table_find_key(s, 0, "w00", 2, &row), EMBSTORE_OK, "an explicit length: no NUL needed");
	cr_expect_eq(embstore_table_find_key(s, 1, "w0", 2, &row), EMBSTORE_NO_VOCAB);
	cr_expect_eq(embstore_table_find_key(s, 2, "w0", 2, &row), EMBSTORE_INVALID_ARGUMENT);
	const char *k;
	size_t n;
	cr_expect_eq(embstore_table_key(s, 0, 1000, &k, &n), EMBSTORE_INVALID_ARGUMENT);
	embstore_close(s);
	free(path);
}

Test(vocab, many_keys_grow_the_index, .timeout = 60)
{
	char *path = build("many.emb", 200000, 4096);
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK, "%s", embstore_error_detail());
	check_all_keys(s, 200000);
	embstore_close(s);
	free(path);
}

Test(vocab, writer_refuses_bad_keys)
{
	char *path = tu_path("bad-keys.emb");
	float v[2 * DIM] = {0};
	struct {
		const char *key;
		size_t len;
		embstore_status want;
	} cases[] = {
		{"", 0, EMBSTORE_BAD_STRING},
		{"a\0b", 3, EMBSTORE_BAD_STRING},
		{"\xff", 1, EMBSTORE_BAD_STRING},
		{"\xc0\x80", 2, EMBSTORE_BAD_STRING},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		embstore_writer *w;
		cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
		cr_assert_eq(embstore_writer_begin_table(w, "v", EMBSTORE_F32, 0, DIM), EMBSTORE_OK);
		cr_expect_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 1, 0, &cases[i].key, &cases[i].len),
		             cases[i].want, "case %zu", i);
		cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE, "a bad key fails the writer");
		embstore_writer_free(w);
	}
	char *long_key = malloc(ES_MAX_KEY_LEN + 1);
	memset(long_key, 'x', ES_MAX_KEY_LEN + 1);
	const char *lk = long_key;
	size_t lens[2] = {ES_MAX_KEY_LEN, ES_MAX_KEY_LEN + 1};
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "v", EMBSTORE_F32, 0, DIM), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 1, 0, &lk, &lens[0]), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 1, 0, &lk, &lens[1]), EMBSTORE_LIMIT);
	embstore_writer_free(w);
	free(long_key);

	/* repeats: found first, refused if appended anyway; keyed and plain rows do not mix */
	const char *keys[2] = {"a", "b"};
	size_t kl[2] = {1, 1};
	uint64_t row = 0;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "v", EMBSTORE_F32, 0, DIM), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_find_key(w, "a", 1, &row), EMBSTORE_UNKNOWN_KEY);
	cr_assert_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 2, 0, keys, kl), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_find_key(w, "b", 1, &row), EMBSTORE_OK);
	cr_expect_eq(row, 1);
	cr_expect_eq(embstore_writer_append(w, v, EMBSTORE_F32, 1, 0), EMBSTORE_STATE);
	embstore_writer_free(w);
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "v", EMBSTORE_F32, 0, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 2, 0, keys, kl), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 1, 0, &keys[1], &kl[1]), EMBSTORE_DUPLICATE_NAME);
	cr_expect(strstr(embstore_error_detail(), "key 'b' of row 2 repeats row 1"), "%s", embstore_error_detail());
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	embstore_writer_free(w);
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "v", EMBSTORE_F32, 0, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, v, EMBSTORE_F32, 1, 0), EMBSTORE_OK);
	cr_expect_eq(embstore_writer_append_keyed(w, v, EMBSTORE_F32, 1, 0, keys, kl), EMBSTORE_STATE);
	embstore_writer_free(w);
	free(path);
}

/* Offsets of the keyed table's entry and vocabulary in a file's bytes. */
static uint8_t *vocab_of(uint8_t *b, es_table *t)
{
	uint8_t *e = tu_table_entry(b, 0);
	t->rows = es_le64(e + ES_TE_ROWS);
	t->vocab_offset = es_le64(e + ES_TE_VOCAB_OFFSET);
	t->vocab_size = es_le64(e + ES_TE_VOCAB_SIZE);
	return b + t->vocab_offset;
}

static embstore_status open_bytes(const uint8_t *b, size_t len)
{
	return tu_open_status(b, len, 0);
}

/* Open checks the section's place and sizes (each rule with its status); the header checksum is resealed so
 * that the rule itself is reached. */
Test(vocab, open_checks_the_section)
{
	char *path = build("rules.emb", 50, 50);
	size_t len;
	uint8_t *orig = tu_read_file(path, &len), *b = malloc(len);
	es_table t;
	struct {
		const char *what;
		unsigned field; /* 0: the entry's vocab_offset, 1: vocab_size, 2-5: header fields */
		int64_t delta;
		embstore_status want;
	} rules[] = {
		{"vocab_offset", 0, 8, EMBSTORE_BAD_LAYOUT},       {"vocab_offset", 0, -8, EMBSTORE_BAD_LAYOUT},
		{"vocab_size", 1, 8, EMBSTORE_CORRUPT},            {"key_count", 2, 1, EMBSTORE_CORRUPT},
		{"bucket_count", 3, 128, EMBSTORE_CORRUPT},        {"blob_size", 4, 1, EMBSTORE_CORRUPT},
		{"reserved", 5, 1, EMBSTORE_CORRUPT},
	};
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		memcpy(b, orig, len);
		uint8_t *v = vocab_of(b, &t), *e = tu_table_entry(b, 0);
		uint8_t *at = rules[i].field == 0 ? e + ES_TE_VOCAB_OFFSET
		              : rules[i].field == 1 ? e + ES_TE_VOCAB_SIZE
		                                    : v + 8 * (rules[i].field - 2);
		es_put64(at, es_le64(at) + (uint64_t)rules[i].delta);
		tu_reseal(b, len);
		embstore_status st = open_bytes(b, len);
		cr_expect_eq(st, rules[i].want, "%s: %s", rules[i].what, embstore_status_name(st));
	}
	memcpy(b, orig, len);
	es_put32(tu_table_entry(b, 1) + ES_TE_VOCAB_CHECKSUM, 5); /* a plain table with a vocabulary field */
	tu_reseal(b, len);
	cr_expect_eq(open_bytes(b, len), EMBSTORE_CORRUPT);
	free(b);
	free(orig);
	free(path);
}

typedef struct seen {
	int bad_string;
	int other;
} seen;

static int note(void *ctx, const embstore_problem *p)
{
	seen *s = ctx;
	if (p->status == EMBSTORE_BAD_STRING)
		s->bad_string++;
	else
		s->other++;
	return 0;
}

/* Every byte of the vocabulary flipped in turn: verify names the vocabulary, and lookups of every key return a
 * status (OK, UNKNOWN_KEY or CORRUPT) without reading outside it (sanitizer builds check that). */
Test(vocab, damaged_vocabulary_is_named_and_never_overread, .timeout = 120)
{
	char *path = build("damaged.emb", 40, 40);
	size_t len;
	uint8_t *orig = tu_read_file(path, &len);
	es_table t;
	vocab_of(orig, &t);
	for (uint64_t i = t.vocab_offset + ES_VOCAB_HEADER; i < t.vocab_offset + t.vocab_size; i++) {
		uint8_t *b = malloc(len);
		memcpy(b, orig, len);
		b[i] ^= 0x41;
		embstore *s;
		cr_assert_eq(embstore_open_memory(b, len, 0, &s), EMBSTORE_OK, "byte %llu", (unsigned long long)i);
		seen n = {0, 0};
		cr_expect_neq(embstore_verify(s, note, &n), EMBSTORE_OK, "byte %llu", (unsigned long long)i);
		cr_expect(n.bad_string > 0 && n.other == 0, "byte %llu", (unsigned long long)i);
		char buf[48];
		size_t kl;
		for (uint64_t r = 0; r < 40; r++) {
			uint64_t row;
			key_of(r, buf, sizeof buf, &kl);
			embstore_status st = embstore_table_find_key(s, 0, buf, kl, &row);
			cr_expect(st == EMBSTORE_OK || st == EMBSTORE_UNKNOWN_KEY || st == EMBSTORE_CORRUPT, "%s",
			          embstore_status_name(st));
			cr_expect(st != EMBSTORE_OK || row < 40);
			const char *k;
			size_t n2;
			st = embstore_table_key(s, 0, r, &k, &n2);
			cr_expect(st == EMBSTORE_OK || st == EMBSTORE_CORRUPT, "%s", embstore_status_name(st));
		}
		embstore_close(s);
		free(b);
	}
	free(orig);
	free(path);
}
