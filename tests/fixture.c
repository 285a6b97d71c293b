/* fixture.c: see fixture.h. */
#include "fixture.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_cases.h"

typedef struct fx_table {
	const char *name;
	embstore_dtype dtype;
	uint32_t rows, dim;
} fx_table;

/* Odd dims and rows that are not whole chunks, so that kernel tails and short last chunks are read too. */
static const fx_table tables[] = {
	{"f32", EMBSTORE_F32, 13, 5},
	{"f16", EMBSTORE_F16, 17, 12},
	{"bf16", EMBSTORE_BF16, 10, 9},
	{"int8", EMBSTORE_INT8_ROWWISE, 16, 20},
};
#define N_TABLES (sizeof tables / sizeof tables[0])

/* "\xcf\x80" is U+03C0: strings are checked as UTF-8, not only ASCII. */
static const char *const meta[][2] = {
	{"fixture", "tests/data/make_fixture.c"},
	{"values", "tests/fixture.c, \xcf\x80 = 3.14159..."},
};
#define N_META (sizeof meta / sizeof meta[0])

/* 64 bytes per checksum chunk: two or three rows, so every table has several chunks. */
#define CHUNK_BYTES 64

static uint32_t mix(uint32_t t, uint32_t r, uint32_t c)
{
	uint32_t h = r * 2654435761u ^ c * 2246822519u ^ t * 3266489917u;
	h ^= h >> 15;
	h *= 2246822519u;
	return h ^ (h >> 13);
}

/* An int8 row r holds (int8_low(r) + q) * 2^int8_exp(r), q = 0 .. 255. */
static int int8_exp(uint32_t r)
{
	return (int)(r % 5) - 6;
}

static int32_t int8_low(uint32_t r)
{
	return (int32_t)(r * 13 % 41) - 20;
}

/* Every value is m * 2^e with m and e chosen so that the table's dtype holds it exactly: f32 24-bit mantissas over
 * a wide range of exponents; f16 11-bit ones down to its subnormals; bf16 8-bit ones down to f32 subnormals; int8
 * rows (L + q) * 2^k whose minimum (q = 0) and maximum (q = 255) are both present, so the quantiser finds
 * scale 2^k and bias L * 2^k, and q back, exactly. */
static void value_row(uint32_t t, uint32_t r, float *row)
{
	uint32_t dim = tables[t].dim;
	for (uint32_t c = 0; c < dim; c++) {
		uint32_t h = mix(t, r, c);
		switch (tables[t].dtype) {
		case EMBSTORE_F32:
			row[c] = ldexpf((float)((int32_t)(h & 0xFFFFFF) - 0x800000), (int)((h >> 24) % 64) - 32);
			break;
		case EMBSTORE_F16:
			row[c] = ldexpf((float)((int32_t)(h % 2049) - 1024), (int)((h >> 16) % 29) - 24);
			break;
		case EMBSTORE_BF16:
			row[c] = ldexpf((float)((int32_t)(h % 257) - 128), (int)((h >> 16) % 234) - 133);
			break;
		default: {
			uint32_t q = c == r % dim ? 0 : c == (r + 1) % dim ? 255 : h % 256;
			row[c] = ldexpf((float)(int8_low(r) + (int32_t)q), int8_exp(r));
			break;
		}
		}
	}
}

/* The row's bytes as the format stores them. int8 is built from the formula's own q, scale and bias rather than
 * by the quantiser, so that the shipped files also pin the quantiser's results. */
static void encode_row(uint32_t t, uint32_t r, const float *row, uint8_t *out)
{
	uint32_t dim = tables[t].dim;
	if (tables[t].dtype == EMBSTORE_INT8_ROWWISE) {
		float scale = ldexpf(1.0f, int8_exp(r)), bias = ldexpf((float)int8_low(r), int8_exp(r));
		for (uint32_t c = 0; c < dim; c++)
			out[c] = (uint8_t)((row[c] - bias) / scale); /* exact: an integer 0 .. 255 */
		memcpy(out + dim, &scale, 4);
		memcpy(out + dim + 4, &bias, 4);
		return;
	}
	for (uint32_t c = 0; c < dim; c++) {
		if (tables[t].dtype == EMBSTORE_F32) {
			memcpy(out + 4 * c, &row[c], 4);
		} else {
			uint16_t h = tables[t].dtype == EMBSTORE_F16 ? embstore_f32_to_f16(row[c]) : embstore_f32_to_bf16(row[c]);
			memcpy(out + 2 * c, &h, 2);
		}
	}
}

embstore_status fx_write(const char *path)
{
	embstore_writer *w;
	embstore_status st = embstore_writer_create(path, &w);
	if (st != EMBSTORE_OK)
		return st;
	float row[32];
	st = embstore_writer_set_chunk_bytes(w, CHUNK_BYTES);
	for (uint32_t i = 0; i < N_META && st == EMBSTORE_OK; i++)
		st = embstore_writer_add_meta(w, meta[i][0], meta[i][1]);
	for (uint32_t t = 0; t < N_TABLES && st == EMBSTORE_OK; t++) {
		st = embstore_writer_begin_table(w, tables[t].name, tables[t].dtype, tables[t].rows, tables[t].dim);
		for (uint32_t r = 0; r < tables[t].rows && st == EMBSTORE_OK; r++) {
			value_row(t, r, row);
			st = embstore_writer_append(w, row, EMBSTORE_F32, 1, 0);
		}
	}
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	return st;
}

static void check_table(const embstore *s, uint32_t t, const char *file)
{
	const fx_table *ft = &tables[t];
	embstore_table tab;
	if (!KC_CHECK(embstore_table_at(s, t, &tab) == EMBSTORE_OK, "%s: no table %u", file, t))
		return;
	const embstore_matrix *m = &tab.matrix;
	if (!KC_CHECK(strcmp(tab.name, ft->name) == 0 && m->dtype == ft->dtype && m->rows == ft->rows &&
	                  m->dim == ft->dim,
	              "%s: table %u is '%s' %s %lu x %u, not '%s' %s %u x %u", file, t, tab.name,
	              embstore_dtype_name(m->dtype), (unsigned long)m->rows, m->dim, ft->name,
	              embstore_dtype_name(ft->dtype), ft->rows, ft->dim))
		return;
	size_t row_bytes = (size_t)embstore_row_bytes(ft->dtype, ft->dim);
	float *want = kc_alloc(sizeof(float) * ft->rows * ft->dim);
	float *got = kc_alloc(sizeof(float) * ft->rows * ft->dim);
	uint8_t *bytes = kc_alloc(row_bytes);
	int32_t *ids = kc_alloc(sizeof(int32_t) * ft->rows);
	for (uint32_t r = 0; r < ft->rows; r++) {
		uint32_t back = ft->rows - 1 - r; /* gathered last row first */
		value_row(t, back, want + (size_t)r * ft->dim);
		encode_row(t, back, want + (size_t)r * ft->dim, bytes);
		ids[r] = (int32_t)back;
		KC_CHECK(memcmp((const uint8_t *)m->data + back * m->row_stride, bytes, row_bytes) == 0,
		         "%s: table '%s' row %u: stored bytes differ from the formula's", file, ft->name, back);
	}
	char ctx[300];
	snprintf(ctx, sizeof ctx, "%s: table '%s' gathered", file, ft->name);
	size_t bad;
	if (KC_CHECK(embstore_gather(m, ids, EMBSTORE_ID32, ft->rows, got, &bad) == EMBSTORE_OK, "%s", ctx))
		kc_expect_bitwise(want, got, (size_t)ft->rows * ft->dim, ctx);
	free(want);
	free(got);
	free(bytes);
	free(ids);
}

static void check_file(const char *path, const char *file, unsigned major, unsigned minor)
{
	embstore *s;
	embstore_status st = embstore_open(path, EMBSTORE_OPEN_VERIFY, &s);
	if (!KC_CHECK(st == EMBSTORE_OK, "%s: open: %s (%s)", file, embstore_status_name(st), embstore_error_detail()))
		return;
	embstore_info info;
	embstore_get_info(s, &info);
	KC_CHECK(info.format_major == major && info.format_minor == minor, "%s: says format %u.%u", file,
	         info.format_major, info.format_minor);
	if (KC_CHECK(info.table_count == N_TABLES && info.meta_count == N_META, "%s: %u tables, %u metadata entries",
	             file, info.table_count, info.meta_count)) {
		for (uint32_t i = 0; i < N_META; i++) {
			const char *k = "", *v = "";
			embstore_meta_at(s, i, &k, &v);
			KC_CHECK(strcmp(k, meta[i][0]) == 0 && strcmp(v, meta[i][1]) == 0, "%s: metadata %u is '%s'='%s'",
			         file, i, k, v);
		}
		for (uint32_t t = 0; t < N_TABLES; t++)
			check_table(s, t, file);
	}
	st = embstore_verify(s, NULL, NULL);
	KC_CHECK(st == EMBSTORE_OK, "%s: verify: %s", file, embstore_status_name(st));
	embstore_close(s);
}

unsigned fx_check_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!KC_CHECK(d != NULL, "cannot list %s", dir))
		return 0;
	unsigned files = 0, have_1_0 = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned major, minor;
		int end = 0;
		if (sscanf(e->d_name, "store-%u.%u.emb%n", &major, &minor, &end) != 2 || e->d_name[end] != '\0' ||
		    end == 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		check_file(path, e->d_name, major, minor);
		files++;
		have_1_0 |= major == 1 && minor == 0;
	}
	closedir(d);
	KC_CHECK(have_1_0, "%s/store-1.0.emb is missing: format 1.0 files must stay readable", dir);
	return files;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0, got;
	uint8_t *b = kc_alloc(cap);
	while ((got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap);
			if (!b)
				abort();
		}
	}
	fclose(f);
	*len = n;
	return b;
}

void fx_check_writer(const char *dir, const char *scratch)
{
	char shipped[4096];
	snprintf(shipped, sizeof shipped, "%s/store-%d.%d.emb", dir, EMBSTORE_FORMAT_MAJOR, EMBSTORE_FORMAT_MINOR);
	embstore_status st = fx_write(scratch);
	if (!KC_CHECK(st == EMBSTORE_OK, "writing %s: %s (%s)", scratch, embstore_status_name(st),
	              embstore_error_detail()))
		return;
	size_t want_len = 0, got_len = 0;
	uint8_t *want = read_all(shipped, &want_len), *got = read_all(scratch, &got_len);
	if (KC_CHECK(want != NULL,
	             "no %s for the format this library writes: if the format version changed on purpose, make it "
	             "with make_fixture (tests/data/README.md) and keep the older files",
	             shipped) &&
	    KC_CHECK(got != NULL, "cannot read %s", scratch)) {
		size_t i = 0;
		while (i < want_len && i < got_len && want[i] == got[i])
			i++;
		KC_CHECK(want_len == got_len && i == want_len,
		         "the writer's bytes differ from %s from offset %zu on (%zu bytes, shipped %zu): a writer change "
		         "alters files of a released format; if the format version changed on purpose, bump "
		         "EMBSTORE_FORMAT_MINOR and make a new fixture (tests/data/README.md), never rewrite this one",
		         shipped, i, got_len, want_len);
	}
	free(want);
	free(got);
}
