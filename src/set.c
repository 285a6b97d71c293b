/* set.c: opens the files of a shard set and checks that they make one complete, consistent set (docs/FORMAT.md,
 * "Sharded sets"): the same checks `embstore verify` reports, done at every open since they cost O(tables x
 * shards), never a read of table data. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "set_impl.h"
#include "shard.h"

void embstore_set_close(embstore_set *set)
{
	if (set == NULL)
		return;
	for (uint32_t i = 0; i < set->n; i++) {
		embstore_close(set->stores[i]);
		free(set->paths[i]);
	}
	free(set->stores);
	free(set->paths);
	free(set->tables);
	free(set->by_name);
	free(set->pieces);
	free(set);
}

/* The file name shard `index` would have, when `path` (shard `have` of `count`) is named as the builder names
 * shards; else "". */
static void expected_name(const char *path, uint32_t have, uint32_t index, uint32_t count, char *buf, size_t cap)
{
	char suffix[32];
	snprintf(suffix, sizeof suffix, "-%05u-of-%05u", have, count);
	const char *at = strstr(path, suffix);
	buf[0] = 0;
	if (at != NULL && strstr(at + 1, suffix) == NULL)
		snprintf(buf, cap, " (expected '%.*s-%05u-of-%05u%s')", (int)(at - path), path, index, count,
		         at + strlen(suffix));
}

/* The hidden second name that a split interrupted between its renames left beside `path` (".NAME.PID.N.old",
 * src/commit.c: the file that was there before), as " (...)" into buf; "" when there is none. */
static void replaced_leftover(const char *path, char *buf, size_t cap)
{
	int saved = errno;
	buf[0] = 0;
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, !slash ? "." : slash == path ? "/" : path);
	size_t n = strlen(name);
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		const char *s = e->d_name;
		size_t len = strlen(s);
		if (s[0] == '.' && len > n + 6 && strncmp(s + 1, name, n) == 0 && s[n + 1] == '.' &&
		    strcmp(s + len - 4, ".old") == 0) {
			snprintf(buf, cap, " (a split interrupted between its renames left '%.100s' beside it: the file it "
			         "replaced)", s);
			break;
		}
	}
	if (d)
		closedir(d);
	errno = saved;
}

typedef struct opened {
	embstore *store;
	es_shard shard;
	bool is_shard;
	const char *path;
} opened;

static embstore_status open_all(const char *const *paths, size_t n, unsigned flags, opened *o)
{
	for (size_t i = 0; i < n; i++) {
		o[i].path = paths[i];
		ES_CHECK(paths[i], EMBSTORE_INVALID_ARGUMENT);
		embstore_status st = embstore_open(paths[i], flags, &o[i].store);
		if (st == EMBSTORE_OK)
			st = es_shard_read(o[i].store, &o[i].shard, &o[i].is_shard);
		if (st != EMBSTORE_OK) {
			int saved = errno;
			char detail[320];
			snprintf(detail, sizeof detail, "%s", embstore_error_detail());
			es_detail("'%.200s'%s%s", paths[i], detail[0] ? ": " : "", detail);
			errno = saved;
			return st;
		}
	}
	return EMBSTORE_OK;
}

/* One set id, count, by and tables; every index once, none missing. Fills slot[index] (n entries). */
static embstore_status check_members(opened *o, size_t n, opened **slot)
{
	const embstore_shard_info *ref = &o[0].shard.info;
	for (size_t i = 0; i < n; i++) {
		const embstore_shard_info *s = &o[i].shard.info;
		ES_CHECKF(o[i].is_shard, EMBSTORE_BAD_SET, "'%.200s' is an ordinary store, not a shard", o[i].path);
		if (strcmp(s->set_id, ref->set_id) != 0) {
			char hint[200];
			replaced_leftover(o[i].path, hint, sizeof hint);
			if (!hint[0])
				replaced_leftover(o[0].path, hint, sizeof hint);
			ES_CHECKF(0, EMBSTORE_BAD_SET, "'%.120s' is of set %s, '%.120s' of set %s%s", o[i].path, s->set_id,
			          o[0].path, ref->set_id, hint);
		}
		ES_CHECKF(s->count == ref->count && s->by == ref->by && s->tables == ref->tables, EMBSTORE_BAD_SET,
		          "'%.120s' and '%.120s' disagree on the set's count, split or tables", o[i].path, o[0].path);
	}
	ES_CHECKF(n <= ref->count, EMBSTORE_BAD_SET, "%zu files given for a set of %u shards", n, ref->count);
	for (size_t i = 0; i < n; i++) {
		uint32_t index = o[i].shard.info.index;
		if (index >= n) { /* then some index below n is missing: found below */
			continue;
		}
		ES_CHECKF(slot[index] == NULL, EMBSTORE_BAD_SET, "'%.120s' and '%.120s' are both shard %u of %u",
		          slot[index] ? slot[index]->path : "", o[i].path, index, ref->count);
		slot[index] = &o[i];
	}
	for (uint32_t i = 0; i < ref->count; i++) {
		if (i < n && slot[i] != NULL)
			continue;
		char name[300];
		expected_name(o[0].path, o[0].shard.info.index, i, ref->count, name, sizeof name);
		ES_CHECKF(0, EMBSTORE_BAD_SET, "shard %u of %u is missing%s; %zu of %u given", i, ref->count, name, n,
		          ref->count);
	}
	return EMBSTORE_OK;
}

static int piece_by_first(const void *a, const void *b)
{
	const es_piece *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

typedef struct name_pos {
	const char *name;
	uint32_t position;
} name_pos;

static int by_name(const void *a, const void *b)
{
	return strcmp(((const name_pos *)a)->name, ((const name_pos *)b)->name);
}

/* A table's parts agree with its first part, and cover its rows exactly once. */
static embstore_status check_table(const embstore_set *set, const es_set_table *t)
{
	const embstore_set_table *i = &t->info;
	ES_CHECKF(i->parts > 0, EMBSTORE_BAD_SET, "no shard holds table position %u", i->index);
	uint64_t end = 0;
	for (uint32_t k = 0; k < i->parts; k++) {
		const es_piece *p = &t->pieces[k];
		const embstore_matrix *m = &p->table.matrix;
		ES_CHECKF(strcmp(p->table.name, i->name) == 0, EMBSTORE_BAD_SET,
		          "table position %u is '%.100s' in '%.100s' and '%.100s' in '%.100s'", i->index, i->name,
		          set->paths[t->pieces[0].shard], p->table.name, set->paths[p->shard]);
		ES_CHECKF(m->dim == i->dim && m->dtype == i->dtype && p->table.has_vocab == i->has_vocab, EMBSTORE_BAD_SET,
		          "table '%.100s' differs in dim, dtype or vocabulary between '%.100s' and '%.100s'", i->name,
		          set->paths[t->pieces[0].shard], set->paths[p->shard]);
		ES_CHECKF(p->first <= end, EMBSTORE_BAD_SET, "table '%.100s': rows %llu to %llu are in no shard", i->name,
		          (unsigned long long)end, (unsigned long long)p->first);
		ES_CHECKF(p->first == end, EMBSTORE_BAD_SET, "table '%.100s': rows %llu to %llu are in two shards "
		          "('%.100s' and '%.100s')", i->name, (unsigned long long)p->first,
		          (unsigned long long)(end < p->first + m->rows ? end : p->first + m->rows),
		          set->paths[t->pieces[k - 1].shard], set->paths[p->shard]);
		end = p->first + m->rows;
	}
	ES_CHECKF(end == i->rows, EMBSTORE_BAD_SET, "table '%.100s': rows %llu to %llu are in no shard", i->name,
	          (unsigned long long)end, (unsigned long long)i->rows);
	return EMBSTORE_OK;
}

/* The set's tables from its shards (in index order), each with its pieces sorted and checked. */
static embstore_status build_tables(embstore_set *set, const es_shard *shards)
{
	uint32_t T = set->info.table_count;
	size_t n_pieces = 0;
	set->tables = calloc(T, sizeof *set->tables);
	set->by_name = malloc(T * sizeof *set->by_name);
	ES_CHECK(set->tables && set->by_name, EMBSTORE_NO_MEMORY);
	for (uint32_t s = 0; s < set->n; s++) {
		n_pieces += shards[s].n_parts;
		for (uint32_t k = 0; k < shards[s].n_parts; k++)
			set->tables[shards[s].parts[k].position].info.parts++;
	}
	set->pieces = malloc((n_pieces + 1) * sizeof *set->pieces);
	ES_CHECK(set->pieces, EMBSTORE_NO_MEMORY);
	es_piece *next = set->pieces;
	for (uint32_t p = 0; p < T; p++) {
		set->tables[p].pieces = next;
		next += set->tables[p].info.parts;
		set->tables[p].info.parts = 0;
	}
	for (uint32_t s = 0; s < set->n; s++) {
		for (uint32_t k = 0; k < shards[s].n_parts; k++) {
			const es_shard_part *part = &shards[s].parts[k];
			es_set_table *t = &set->tables[part->position];
			es_piece *piece = &t->pieces[t->info.parts++];
			piece->shard = s;
			piece->first = part->first;
			embstore_table_at(set->stores[s], k, &piece->table);
			if (t->info.parts == 1) {
				const embstore_matrix *m = &piece->table.matrix;
				t->info = (embstore_set_table){piece->table.name, part->total, m->dim, m->dtype,
				                                piece->table.has_vocab, part->position, 1};
			}
			ES_CHECKF(part->total == t->info.rows, EMBSTORE_BAD_SET, "table '%.100s' has %llu rows in '%.100s' "
			          "and %llu in '%.100s'", t->info.name, (unsigned long long)t->info.rows,
			          set->paths[t->pieces[0].shard], (unsigned long long)part->total, set->paths[s]);
		}
	}
	for (uint32_t p = 0; p < T; p++) {
		es_set_table *t = &set->tables[p];
		t->info.index = p;
		qsort(t->pieces, t->info.parts, sizeof *t->pieces, piece_by_first);
		ES_TRY(check_table(set, t));
	}
	name_pos *names = malloc(((size_t)T + 1) * sizeof *names);
	ES_CHECK(names, EMBSTORE_NO_MEMORY);
	for (uint32_t p = 0; p < T; p++)
		names[p] = (name_pos){set->tables[p].info.name, p};
	qsort(names, T, sizeof *names, by_name);
	for (uint32_t k = 0; k < T; k++) {
		set->by_name[k] = names[k].position;
		if (k > 0 && strcmp(names[k].name, names[k - 1].name) == 0) {
			es_detail("two tables of the set are named '%.100s'", names[k].name);
			free(names);
			return EMBSTORE_BAD_SET;
		}
	}
	free(names);
	return EMBSTORE_OK;
}

/* A plain store as a set of one: each table one piece. */
static void one_store_shard(const embstore *store, es_shard *shard)
{
	embstore_info info;
	embstore_get_info(store, &info);
	shard->info = (embstore_shard_info){"", 0, 1, info.table_count, EMBSTORE_SHARD_NONE};
	for (uint32_t t = 0; t < info.table_count; t++) {
		embstore_table table;
		embstore_table_at(store, t, &table);
		shard->parts[t] = (es_shard_part){t, 0, table.matrix.rows};
	}
}

static embstore_status assemble(embstore_set *set, opened *o, size_t n)
{
	opened **slot = calloc(n, sizeof *slot);
	es_shard *shards = calloc(n, sizeof *shards);
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (slot == NULL || shards == NULL)
		goto out;
	if (n == 1 && !o[0].is_shard) {
		embstore_info info;
		embstore_get_info(o[0].store, &info);
		shards[0].parts = calloc((size_t)info.table_count + 1, sizeof *shards[0].parts);
		if (shards[0].parts == NULL)
			goto out;
		shards[0].n_parts = info.table_count;
		one_store_shard(o[0].store, &shards[0]);
		slot[0] = &o[0];
	} else if ((st = check_members(o, n, slot)) != EMBSTORE_OK) {
		goto out;
	} else {
		for (size_t i = 0; i < n; i++)
			shards[i] = slot[i]->shard;
	}
	for (size_t i = 0; i < n; i++) {
		set->stores[i] = slot[i]->store;
		set->paths[i] = strdup(slot[i]->path);
		slot[i]->store = NULL; /* the set owns it now */
		st = EMBSTORE_NO_MEMORY;
		if (set->paths[i] == NULL)
			goto out;
	}
	set->info.shard = shards[0].info;
	set->info.shard.index = 0;
	set->info.shard_count = (uint32_t)n;
	set->info.table_count = shards[0].info.tables;
	st = build_tables(set, shards);
out:
	if (n == 1 && shards != NULL && !o[0].is_shard)
		free(shards[0].parts);
	free(slot);
	free(shards);
	return st;
}

embstore_status embstore_set_open(const char *const *paths, size_t n, unsigned flags, embstore_set **out)
{
	es_detail_clear();
	ES_CHECK(paths && out && n > 0, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(n <= EMBSTORE_SHARD_MAX, EMBSTORE_BAD_SET, "%zu files: a set has at most %u shards", n,
	          EMBSTORE_SHARD_MAX);
	opened *o = calloc(n, sizeof *o);
	embstore_set *set = calloc(1, sizeof *set);
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (o == NULL || set == NULL)
		goto fail;
	set->stores = calloc(n, sizeof *set->stores);
	set->paths = calloc(n, sizeof *set->paths);
	set->n = (uint32_t)n;
	set->writable = (flags & EMBSTORE_OPEN_WRITABLE) != 0;
	if (set->stores == NULL || set->paths == NULL)
		goto fail;
	if ((st = open_all(paths, n, flags, o)) != EMBSTORE_OK || (st = assemble(set, o, n)) != EMBSTORE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++)
		es_shard_free(&o[i].shard);
	free(o);
	*out = set;
	return EMBSTORE_OK;
fail:
	for (size_t i = 0; o != NULL && i < n; i++) {
		int saved = errno;
		embstore_close(o[i].store);
		es_shard_free(&o[i].shard);
		errno = saved;
	}
	free(o);
	embstore_set_close(set);
	return st;
}

void embstore_set_get_info(const embstore_set *set, embstore_set_info *out)
{
	if (set != NULL && out != NULL)
		*out = set->info;
}

const embstore *embstore_set_shard(const embstore_set *set, uint32_t index)
{
	return set != NULL && index < set->n ? set->stores[index] : NULL;
}

const char *embstore_set_path(const embstore_set *set, uint32_t index)
{
	return set != NULL && index < set->n ? set->paths[index] : NULL;
}

embstore_status embstore_set_table_at(const embstore_set *set, uint32_t index, embstore_set_table *out)
{
	ES_CHECK(set && out && index < set->info.table_count, EMBSTORE_INVALID_ARGUMENT);
	*out = set->tables[index].info;
	return EMBSTORE_OK;
}

embstore_status embstore_set_table_find(const embstore_set *set, const char *name, embstore_set_table *out)
{
	ES_CHECK(set && name && out, EMBSTORE_INVALID_ARGUMENT);
	uint32_t lo = 0, hi = set->info.table_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(set->tables[set->by_name[mid]].info.name, name);
		if (c == 0) {
			*out = set->tables[set->by_name[mid]].info;
			return EMBSTORE_OK;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return EMBSTORE_NOT_FOUND;
}

const es_piece *es_set_owner(const es_set_table *t, uint64_t row)
{
	uint32_t lo = 0, hi = t->info.parts;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->pieces[mid].first <= row)
			lo = mid;
		else
			hi = mid;
	}
	return &t->pieces[lo];
}
