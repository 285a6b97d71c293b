/* shard.c: reads the shard keys of one store's metadata (docs/FORMAT.md, "Sharded sets"). Every value is
 * untrusted: numbers are parsed strictly, every bound is checked, and any breach is BAD_SET with a detail naming
 * the key. Work is O(k log k) in the keys and tables, so a file of 65,536 tables costs milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

bool es_shard_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	if (len == 0 || (len > 1 && s[0] == '0'))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The singular keys, in the order they are checked. */
enum { K_SET, K_INDEX, K_COUNT, K_BY, K_TABLES, K_SINGLE };
static const char *const single_names[K_SINGLE] = {"set", "index", "count", "by", "tables"};

/* A table key (its name after the prefix) or a table name, with where it came from, for sorting by name. */
typedef struct named {
	const char *name;
	uint32_t at;
} named;

static int by_name(const void *a, const void *b)
{
	return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static embstore_status number(const char *key, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	ES_CHECKF(es_shard_decimal(v, strlen(v), max, out) && *out >= min, EMBSTORE_BAD_SET,
	          "%s%s '%.40s' is not a decimal number from %llu to %llu", ES_SHARD_PREFIX, key, v,
	          (unsigned long long)min, (unsigned long long)max);
	return EMBSTORE_OK;
}

static embstore_status parse_single(const char *const *v, embstore_shard_info *info)
{
	for (int k = 0; k < K_SINGLE; k++)
		ES_CHECKF(v[k] != NULL, EMBSTORE_BAD_SET, "shard key '%s%s' is missing", ES_SHARD_PREFIX, single_names[k]);
	size_t len = strlen(v[K_SET]);
	bool hex = len == 32;
	for (size_t i = 0; hex && i < len; i++)
		hex = (v[K_SET][i] >= '0' && v[K_SET][i] <= '9') || (v[K_SET][i] >= 'a' && v[K_SET][i] <= 'f');
	ES_CHECKF(hex, EMBSTORE_BAD_SET, "%sset '%.40s' is not 32 lowercase hexadecimal digits", ES_SHARD_PREFIX,
	          v[K_SET]);
	memcpy(info->set_id, v[K_SET], 33);
	uint64_t count, index, tables;
	ES_TRY(number("count", v[K_COUNT], 1, EMBSTORE_SHARD_MAX, &count));
	ES_TRY(number("index", v[K_INDEX], 0, count - 1, &index));
	ES_TRY(number("tables", v[K_TABLES], 1, ES_SHARD_MAX_TABLES, &tables));
	if (strcmp(v[K_BY], "rows") == 0)
		info->by = EMBSTORE_SHARD_BY_ROWS;
	else if (strcmp(v[K_BY], "table") == 0)
		info->by = EMBSTORE_SHARD_BY_TABLE;
	else
		ES_CHECKF(0, EMBSTORE_BAD_SET, "%sby '%.40s' is neither 'rows' nor 'table'", ES_SHARD_PREFIX, v[K_BY]);
	info->count = (uint32_t)count;
	info->index = (uint32_t)index;
	info->tables = (uint32_t)tables;
	return EMBSTORE_OK;
}

/* "POSITION FIRST TOTAL" of table `name` holding `rows` rows. */
static embstore_status parse_part(const char *name, const char *v, uint64_t rows, const embstore_shard_info *info,
                                  es_shard_part *out)
{
	uint64_t f[3];
	static const uint64_t max[3] = {ES_SHARD_MAX_TABLES - 1, ES_SHARD_MAX_ROWS - 1, ES_SHARD_MAX_ROWS};
	const char *p = v;
	for (int i = 0; i < 3; i++) {
		const char *end = i < 2 ? strchr(p, ' ') : p + strlen(p);
		ES_CHECKF(end != NULL && es_shard_decimal(p, (size_t)(end - p), max[i], &f[i]), EMBSTORE_BAD_SET,
		          "%s%.200s '%.60s' is not 'POSITION FIRST TOTAL' (three decimal numbers, one space apart)",
		          ES_SHARD_TABLE_PREFIX, name, v);
		p = end + 1;
	}
	ES_CHECKF(f[0] < info->tables, EMBSTORE_BAD_SET, "%s%.200s: position %llu is not below %stables %u",
	          ES_SHARD_TABLE_PREFIX, name, (unsigned long long)f[0], ES_SHARD_PREFIX, info->tables);
	ES_CHECKF(f[2] >= 1 && f[1] <= f[2] && rows <= f[2] - f[1], EMBSTORE_BAD_SET,
	          "%s%.200s: rows %llu to %llu (the file's %llu from %llu) exceed its total %llu", ES_SHARD_TABLE_PREFIX,
	          name, (unsigned long long)f[1], (unsigned long long)(f[1] + rows), (unsigned long long)rows,
	          (unsigned long long)f[1], (unsigned long long)f[2]);
	ES_CHECKF(info->by != EMBSTORE_SHARD_BY_TABLE || (f[1] == 0 && rows == f[2]), EMBSTORE_BAD_SET,
	          "%s%.200s: a set by table holds each table whole, not rows %llu to %llu of %llu", ES_SHARD_TABLE_PREFIX,
	          name, (unsigned long long)f[1], (unsigned long long)(f[1] + rows), (unsigned long long)f[2]);
	*out = (es_shard_part){(uint32_t)f[0], f[1], f[2]};
	return EMBSTORE_OK;
}

/* Every table has its key, no key names a table the file lacks, no position twice. keys and tables are sorted
 * by name. */
static embstore_status parse_parts(const es_shard_input *in, const named *keys, uint32_t n_keys, const named *tables,
                                   es_shard *out)
{
	uint32_t k = 0;
	for (uint32_t t = 0; t < in->n_tables; t++) {
		while (k < n_keys && strcmp(keys[k].name, tables[t].name) < 0)
			ES_CHECKF(0, EMBSTORE_BAD_SET, "shard key '%s%.200s' names no table of the file", ES_SHARD_TABLE_PREFIX,
			          keys[k].name);
		ES_CHECKF(k < n_keys && strcmp(keys[k].name, tables[t].name) == 0, EMBSTORE_BAD_SET,
		          "table '%.200s' has no shard key '%s%.200s'", tables[t].name, ES_SHARD_TABLE_PREFIX,
		          tables[t].name);
		uint32_t at = tables[t].at;
		ES_TRY(parse_part(tables[t].name, in->meta_values[keys[k].at], in->table_rows[at], &out->info,
		                  &out->parts[at]));
		/* a repeated table name (only in hostile input) takes the same key again; the positions then clash */
		if (t + 1 == in->n_tables || strcmp(tables[t + 1].name, tables[t].name) != 0)
			k++;
	}
	ES_CHECKF(k == n_keys, EMBSTORE_BAD_SET, "shard key '%s%.200s' names no table of the file", ES_SHARD_TABLE_PREFIX,
	          keys[k].name);
	uint8_t *seen = calloc(out->info.tables / 8 + 1, 1);
	ES_CHECK(seen, EMBSTORE_NO_MEMORY);
	for (uint32_t t = 0; t < in->n_tables; t++) {
		uint32_t p = out->parts[t].position;
		if (seen[p / 8] & (1u << (p % 8))) {
			free(seen);
			ES_CHECKF(0, EMBSTORE_BAD_SET, "two tables of the file have position %u (table '%.200s')", p,
			          in->table_names[t]);
		}
		seen[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	free(seen);
	return EMBSTORE_OK;
}

embstore_status es_shard_parse(const es_shard_input *in, es_shard *out, bool *is_shard)
{
	const char *single[K_SINGLE] = {NULL};
	size_t prefix = strlen(ES_SHARD_PREFIX), table_prefix = strlen(ES_SHARD_TABLE_PREFIX);
	named *keys = malloc(((size_t)in->n_meta + 1) * sizeof *keys);
	named *tables = malloc(((size_t)in->n_tables + 1) * sizeof *tables);
	es_shard shard = {.parts = calloc((size_t)in->n_tables + 1, sizeof *shard.parts), .n_parts = in->n_tables};
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (keys == NULL || tables == NULL || shard.parts == NULL)
		goto out;
	uint32_t n_keys = 0;
	bool any = false;
	st = EMBSTORE_BAD_SET;
	for (uint32_t i = 0; i < in->n_meta; i++) {
		const char *key = in->meta_keys[i];
		if (strncmp(key, ES_SHARD_PREFIX, prefix) != 0)
			continue;
		if (strncmp(key, ES_SHARD_TABLE_PREFIX, table_prefix) == 0) {
			keys[n_keys++] = (named){key + table_prefix, i};
			any = true;
			continue;
		}
		for (int k = 0; k < K_SINGLE; k++) {
			if (strcmp(key + prefix, single_names[k]) != 0)
				continue;
			if (single[k] != NULL) {
				es_detail("shard key '%s' appears twice", key);
				goto out;
			}
			single[k] = in->meta_values[i];
			any = true;
		}
	}
	*is_shard = any;
	st = EMBSTORE_OK;
	if (!any)
		goto out;
	if ((st = parse_single(single, &shard.info)) != EMBSTORE_OK)
		goto out;
	for (uint32_t t = 0; t < in->n_tables; t++)
		tables[t] = (named){in->table_names[t], t};
	qsort(keys, n_keys, sizeof *keys, by_name);
	qsort(tables, in->n_tables, sizeof *tables, by_name);
	for (uint32_t k = 1; k < n_keys; k++) {
		if (strcmp(keys[k].name, keys[k - 1].name) == 0) {
			es_detail("shard key '%s%.200s' appears twice", ES_SHARD_TABLE_PREFIX, keys[k].name);
			st = EMBSTORE_BAD_SET;
			goto out;
		}
	}
	if ((st = parse_parts(in, keys, n_keys, tables, &shard)) != EMBSTORE_OK)
		goto out;
	*out = shard;
	shard.parts = NULL;
out:
	free(keys);
	free(tables);
	free(shard.parts);
	return st;
}

embstore_status es_shard_read(const embstore *store, es_shard *out, bool *is_shard)
{
	embstore_info info;
	embstore_get_info(store, &info);
	const char **strings = malloc(((size_t)info.meta_count * 2 + info.table_count + 1) * sizeof *strings);
	uint64_t *rows = malloc(((size_t)info.table_count + 1) * sizeof *rows);
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (strings != NULL && rows != NULL) {
		const char **keys = strings, **values = strings + info.meta_count, **names = values + info.meta_count;
		for (uint32_t i = 0; i < info.meta_count; i++)
			embstore_meta_at(store, i, &keys[i], &values[i]);
		for (uint32_t t = 0; t < info.table_count; t++) {
			embstore_table table;
			embstore_table_at(store, t, &table);
			names[t] = table.name;
			rows[t] = table.matrix.rows;
		}
		es_shard_input in = {info.meta_count, keys, values, info.table_count, names, rows};
		st = es_shard_parse(&in, out, is_shard);
	}
	free(strings);
	free(rows);
	return st;
}

void es_shard_free(es_shard *shard)
{
	if (shard != NULL) {
		free(shard->parts);
		shard->parts = NULL;
	}
}

embstore_status embstore_shard_get(const embstore *store, embstore_shard_info *out)
{
	es_detail_clear();
	ES_CHECK(store && out, EMBSTORE_INVALID_ARGUMENT);
	es_shard shard;
	bool is_shard;
	ES_TRY(es_shard_read(store, &shard, &is_shard));
	ES_CHECK(is_shard, EMBSTORE_NOT_FOUND);
	*out = shard.info;
	es_shard_free(&shard);
	return EMBSTORE_OK;
}

embstore_status embstore_shard_table(const embstore *store, uint32_t index, uint32_t *position, uint64_t *first,
                                     uint64_t *total)
{
	es_detail_clear();
	ES_CHECK(store && position && first && total, EMBSTORE_INVALID_ARGUMENT);
	es_shard shard;
	bool is_shard;
	ES_TRY(es_shard_read(store, &shard, &is_shard));
	ES_CHECK(is_shard, EMBSTORE_NOT_FOUND);
	embstore_status st = EMBSTORE_INVALID_ARGUMENT;
	if (index < shard.n_parts) {
		*position = shard.parts[index].position;
		*first = shard.parts[index].first;
		*total = shard.parts[index].total;
		st = EMBSTORE_OK;
	}
	es_shard_free(&shard);
	return st;
}

size_t embstore_shard_path(const char *out, uint32_t index, uint32_t count, char *buf, size_t cap)
{
	if (out == NULL || (buf == NULL && cap > 0) || count == 0 || count > EMBSTORE_SHARD_MAX || index >= count)
		return 0;
	size_t len = strlen(out);
	size_t stem = len >= 4 && strcmp(out + len - 4, ".emb") == 0 ? len - 4 : len;
	int n = snprintf(buf, cap, "%.*s-%05u-of-%05u%s", (int)stem, out, index, count, out + stem);
	return n < 0 ? 0 : (size_t)n;
}
