/* mpi_layout.c: from every rank's description of its files, the set as each rank sees it: the same checks as
 * embstore_set_open (docs/FORMAT.md, "Sharded sets"), run on the same bytes on every rank, so every rank comes to
 * the same verdict and the same detail without another message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_layout.h"

#define FAIL(status, ...)                                                                                       \
	do {                                                                                                        \
		em_detail(__VA_ARGS__);                                                                                 \
		return status;                                                                                          \
	} while (0)

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

/* One set id, count, split and tables; every index once, none missing. slot[index] for index < count. */
static embstore_status check_members(em_file *const *f, size_t n, em_file **slot)
{
	const embstore_shard_info *ref = &f[0]->shard;
	for (size_t i = 0; i < n; i++) {
		const embstore_shard_info *s = &f[i]->shard;
		if (!f[i]->is_shard)
			FAIL(EMBSTORE_BAD_SET, "'%.200s' (rank %d) is an ordinary store, not a shard", f[i]->path, f[i]->rank);
		if (strcmp(s->set_id, ref->set_id) != 0)
			FAIL(EMBSTORE_BAD_SET, "'%.120s' (rank %d) is of set %s, '%.120s' (rank %d) of set %s", f[i]->path,
			     f[i]->rank, s->set_id, f[0]->path, f[0]->rank, ref->set_id);
		if (s->count != ref->count || s->by != ref->by || s->tables != ref->tables)
			FAIL(EMBSTORE_BAD_SET, "'%.120s' (rank %d) and '%.120s' (rank %d) disagree on the set's count, split "
			     "or tables", f[i]->path, f[i]->rank, f[0]->path, f[0]->rank);
		if (s->index >= ref->count)
			FAIL(EMBSTORE_BAD_SET, "'%.200s' (rank %d) is shard %u of %u", f[i]->path, f[i]->rank, s->index,
			     ref->count);
		em_file *other = slot[s->index];
		if (other != NULL)
			FAIL(EMBSTORE_BAD_SET, "'%.120s' (rank %d) and '%.120s' (rank %d) are both shard %u of %u", other->path,
			     other->rank, f[i]->path, f[i]->rank, s->index, ref->count);
		slot[s->index] = f[i];
	}
	for (uint32_t i = 0; i < ref->count; i++) {
		if (slot[i] != NULL)
			continue;
		char name[300];
		expected_name(f[0]->path, ref->index, i, ref->count, name, sizeof name);
		FAIL(EMBSTORE_BAD_SET, "shard %u of %u is missing%s; %zu of %u given", i, ref->count, name, n, ref->count);
	}
	return EMBSTORE_OK;
}

typedef struct placed {
	const em_file *file;
	const em_part *part;
} placed;

static int by_position_first(const void *a, const void *b)
{
	const em_part *x = ((const placed *)a)->part, *y = ((const placed *)b)->part;
	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* A table's parts (sorted by first) agree with its first one and cover its rows exactly once. */
static embstore_status check_table(const placed *p, uint32_t n, uint32_t position)
{
	if (n == 0)
		FAIL(EMBSTORE_BAD_SET, "no shard holds table position %u", position);
	const em_part *ref = p[0].part;
	uint64_t end = 0;
	for (uint32_t k = 0; k < n; k++) {
		const em_part *x = p[k].part;
		const char *a = p[0].file->path, *b = p[k].file->path;
		if (strcmp(x->name, ref->name) != 0)
			FAIL(EMBSTORE_BAD_SET, "table position %u is '%.100s' in '%.100s' and '%.100s' in '%.100s'", position,
			     ref->name, a, x->name, b);
		if (x->dim != ref->dim || x->dtype != ref->dtype || x->has_vocab != ref->has_vocab || x->total != ref->total)
			FAIL(EMBSTORE_BAD_SET, "table '%.100s' differs in dim, dtype, rows or vocabulary between '%.100s' and "
			     "'%.100s'", ref->name, a, b);
		if (x->first > end)
			FAIL(EMBSTORE_BAD_SET, "table '%.100s': rows %llu to %llu are in no shard", ref->name,
			     (unsigned long long)end, (unsigned long long)x->first);
		if (x->first < end)
			FAIL(EMBSTORE_BAD_SET, "table '%.100s': rows from %llu are in two shards ('%.100s' and '%.100s')",
			     ref->name, (unsigned long long)x->first, p[k - 1].file->path, b);
		if (x->rows > ref->total - x->first)
			FAIL(EMBSTORE_BAD_SET, "table '%.100s': '%.100s' holds rows beyond its %llu", ref->name, b,
			     (unsigned long long)ref->total);
		end = x->first + x->rows;
	}
	if (end != ref->total)
		FAIL(EMBSTORE_BAD_SET, "table '%.100s': rows %llu to %llu are in no shard", ref->name,
		     (unsigned long long)end, (unsigned long long)ref->total);
	if (embstore_row_bytes((embstore_dtype)ref->dtype, ref->dim) == 0)
		FAIL(EMBSTORE_BAD_SET, "table '%.100s' has an unknown dtype", ref->name);
	return EMBSTORE_OK;
}

typedef struct name_pos {
	const char *name;
	uint32_t position;
} name_pos;

static int by_name(const void *a, const void *b)
{
	return strcmp(((const name_pos *)a)->name, ((const name_pos *)b)->name);
}

/* The handle's tables from the placed parts (sorted by position, then first). */
static embstore_status build_tables(embstore_mpi *h, const placed *p, size_t n_parts, uint32_t tables)
{
	size_t names_len = 0;
	for (size_t k = 0; k < n_parts; k++)
		names_len += strlen(p[k].part->name) + 1;
	h->tables = calloc(tables, sizeof *h->tables);
	h->by_name = calloc(tables, sizeof *h->by_name);
	h->pieces = calloc(n_parts + 1, sizeof *h->pieces);
	h->mine = calloc(n_parts + 1, sizeof *h->mine);
	h->names = malloc(names_len + 1);
	name_pos *names = calloc((size_t)tables + 1, sizeof *names);
	embstore_status st = EMBSTORE_NO_MEMORY;
	if (!h->tables || !h->by_name || !h->pieces || !h->mine || !h->names || !names)
		goto out;
	char *name_at = h->names;
	uint32_t *mine_at = h->mine;
	size_t k = 0;
	for (uint32_t t = 0; t < tables; t++) {
		size_t start = k;
		while (k < n_parts && p[k].part->position == t)
			k++;
		if ((st = check_table(p + start, (uint32_t)(k - start), t)) != EMBSTORE_OK)
			goto out;
		em_table *table = &h->tables[t];
		const em_part *ref = p[start].part;
		strcpy(name_at, ref->name);
		table->info = (embstore_set_table){name_at, ref->total, ref->dim, (embstore_dtype)ref->dtype,
		                                   (int)ref->has_vocab, t, (uint32_t)(k - start)};
		name_at += strlen(name_at) + 1;
		table->row_bytes = embstore_row_bytes((embstore_dtype)ref->dtype, ref->dim);
		table->pieces = h->pieces + start;
		table->n_pieces = (uint32_t)(k - start);
		table->mine = mine_at;
		for (size_t j = start; j < k; j++) {
			h->pieces[j] = (em_piece){p[j].part->first, p[j].part->rows, p[j].file->rank, p[j].file->store,
			                          p[j].part->table_index};
			if (p[j].file->rank == h->rank)
				table->mine[table->n_mine++] = (uint32_t)(j - start);
		}
		mine_at += table->n_mine;
		names[t] = (name_pos){table->info.name, t};
	}
	st = EMBSTORE_BAD_SET;
	if (k != n_parts) {
		em_detail("a shard holds table position %u of a set of %u tables", p[k].part->position, tables);
		goto out;
	}
	qsort(names, tables, sizeof *names, by_name);
	for (uint32_t t = 0; t < tables; t++) {
		h->by_name[t] = names[t].position;
		if (t > 0 && strcmp(names[t].name, names[t - 1].name) == 0) {
			em_detail("two tables of the set are named '%.100s'", names[t].name);
			goto out;
		}
	}
	st = EMBSTORE_OK;
out:
	free(names);
	return st;
}

embstore_status em_layout(embstore_mpi *h, const em_desc *d)
{
	size_t n_files = 0, n_parts = 0;
	for (int r = 0; r < h->size; r++) {
		if (d[r].status != EMBSTORE_OK)
			FAIL(d[r].status, "rank %d: %.400s", r, d[r].detail);
		n_files += d[r].n_files;
	}
	if (n_files == 0)
		FAIL(EMBSTORE_BAD_SET, "no rank gave a file");
	em_file **f = calloc(n_files, sizeof *f);
	if (f == NULL)
		return EMBSTORE_NO_MEMORY;
	size_t i = 0;
	for (int r = 0; r < h->size; r++)
		for (uint32_t k = 0; k < d[r].n_files; k++, i++) {
			f[i] = &d[r].files[k];
			n_parts += f[i]->n_parts;
		}
	embstore_status st = EMBSTORE_OK;
	const embstore_shard_info *ref = &f[0]->shard;
	em_file **slot = NULL;
	placed *p = NULL;
	if (!(n_files == 1 && !f[0]->is_shard)) {
		slot = ref->count <= EMBSTORE_SHARD_MAX ? calloc(ref->count, sizeof *slot) : NULL;
		if (slot == NULL) {
			st = ref->count <= EMBSTORE_SHARD_MAX ? EMBSTORE_NO_MEMORY : EMBSTORE_BAD_SET;
			goto out;
		}
		if (n_files > ref->count) {
			em_detail("%zu files given for a set of %u shards", n_files, ref->count);
			st = EMBSTORE_BAD_SET;
			goto out;
		}
		if ((st = check_members(f, n_files, slot)) != EMBSTORE_OK)
			goto out;
	}
	p = calloc(n_parts + 1, sizeof *p);
	st = EMBSTORE_NO_MEMORY;
	if (p == NULL)
		goto out;
	n_parts = 0;
	for (i = 0; i < n_files; i++)
		for (uint32_t k = 0; k < f[i]->n_parts; k++)
			p[n_parts++] = (placed){f[i], &f[i]->parts[k]};
	qsort(p, n_parts, sizeof *p, by_position_first);
	h->info.set.shard = *ref;
	h->info.set.shard.index = 0;
	h->info.set.shard_count = slot != NULL ? ref->count : 1;
	h->info.set.table_count = ref->tables;
	st = build_tables(h, p, n_parts, ref->tables);
out:
	free(p);
	free(slot);
	free(f);
	return st;
}
