/* mpi_parse.c: a rank's description of its files read back (mpi_parse.h). The bytes come from another process,
 * so nothing in them is trusted: every length and count is checked against what is left (tests/fuzz/
 * fuzz_mpi_desc.c). Needs no MPI. */
#include <stdlib.h>
#include <string.h>

#include "mpi_parse.h"

typedef struct reader {
	const unsigned char *p, *end;
	bool bad;
} reader;

static const void *take(reader *r, size_t len)
{
	if (r->bad || (size_t)(r->end - r->p) < len) {
		r->bad = true;
		return NULL;
	}
	const void *at = r->p;
	r->p += len;
	return at;
}

static uint32_t get_u32(reader *r)
{
	uint32_t v = 0;
	const void *at = take(r, sizeof v);
	if (at)
		memcpy(&v, at, sizeof v);
	return v;
}

static uint64_t get_u64(reader *r)
{
	uint64_t v = 0;
	const void *at = take(r, sizeof v);
	if (at)
		memcpy(&v, at, sizeof v);
	return v;
}

static const char *get_str(reader *r)
{
	uint32_t len = get_u32(r);
	const char *s = take(r, len);
	return s != NULL && len > 0 && s[len - 1] == 0 ? s : (r->bad = true, "");
}

/* Every count read is bounded by the bytes left, so a damaged description cannot ask for a huge array. */
static bool plausible(const reader *r, uint64_t count, size_t min_bytes)
{
	return !r->bad && count <= (uint64_t)(r->end - r->p) / min_bytes;
}

static embstore_status parse_file(reader *r, em_file *f)
{
	f->path = get_str(r);
	f->is_shard = (int)get_u32(r);
	const char *id = take(r, sizeof f->shard.set_id);
	if (id != NULL)
		memcpy(f->shard.set_id, id, sizeof f->shard.set_id);
	f->shard.set_id[sizeof f->shard.set_id - 1] = 0;
	f->shard.index = get_u32(r);
	f->shard.count = get_u32(r);
	f->shard.tables = get_u32(r);
	f->shard.by = (embstore_shard_by)get_u32(r);
	f->n_parts = get_u32(r);
	if (!plausible(r, f->n_parts, 40))
		return EMBSTORE_CORRUPT;
	f->parts = calloc((size_t)f->n_parts + 1, sizeof *f->parts);
	if (f->parts == NULL)
		return EMBSTORE_NO_MEMORY;
	for (uint32_t k = 0; k < f->n_parts; k++) {
		em_part *p = &f->parts[k];
		p->name = get_str(r);
		p->position = get_u32(r);
		p->first = get_u64(r);
		p->total = get_u64(r);
		p->rows = get_u64(r);
		p->dim = get_u32(r);
		p->dtype = get_u32(r);
		p->has_vocab = get_u32(r);
		p->table_index = k;
	}
	return r->bad ? EMBSTORE_CORRUPT : EMBSTORE_OK;
}

embstore_status em_parse(const unsigned char *data, size_t len, int rank, em_desc *out)
{
	reader r = {data, data + len, false};
	*out = (em_desc){0};
	out->status = (embstore_status)get_u32(&r);
	out->detail = get_str(&r);
	out->n_files = get_u32(&r);
	if (!plausible(&r, out->n_files, 60))
		return EMBSTORE_CORRUPT;
	out->files = calloc((size_t)out->n_files + 1, sizeof *out->files);
	if (out->files == NULL)
		return EMBSTORE_NO_MEMORY;
	for (uint32_t i = 0; i < out->n_files; i++) {
		out->files[i].rank = rank;
		out->files[i].store = i;
		embstore_status st = parse_file(&r, &out->files[i]);
		if (st != EMBSTORE_OK)
			return st;
	}
	return r.bad ? EMBSTORE_CORRUPT : EMBSTORE_OK;
}

void em_desc_free(em_desc *d)
{
	for (uint32_t i = 0; d->files != NULL && i < d->n_files; i++)
		free(d->files[i].parts);
	free(d->files);
	d->files = NULL;
}
