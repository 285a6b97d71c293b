/* verify.c: the full check of table data: chunk checksums, int8 scales and biases, zero padding. */
#include <math.h>

#include "store_impl.h"

typedef struct reporter {
	embstore_problem_fn fn;
	void *ctx;
	embstore_status first;
	bool stop;
} reporter;

static void report(reporter *r, uint32_t table, embstore_status st, uint64_t first_row, uint64_t row_count)
{
	if (r->first == EMBSTORE_OK)
		r->first = st;
	if (r->fn && !r->stop) {
		embstore_problem p = {table, st, first_row, row_count};
		r->stop = r->fn(r->ctx, &p) != 0;
	} else if (!r->fn) {
		r->stop = true; /* nobody listens: the first problem decides */
	}
}

static bool zero_range(const uint8_t *base, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		if (base[i])
			return false;
	return true;
}

/* Scale and bias of every int8 row must be finite (FORMAT-RULES.md rule 10); each bad row is named. */
static void check_int8_rows(const uint8_t *base, const es_table *t, uint32_t ti, uint64_t first, uint64_t n,
                            reporter *r)
{
	const uint8_t *row = base + t->data_offset + first * t->row_stride + t->dim;
	for (uint64_t k = 0; k < n && !r->stop; k++, row += t->row_stride) {
		float sb[2];
		memcpy(sb, row, sizeof sb);
		if (!isfinite(sb[0]) || !isfinite(sb[1]))
			report(r, ti, EMBSTORE_NON_FINITE, first + k, 1);
	}
}

embstore_status embstore_verify(const embstore *s, embstore_problem_fn fn, void *ctx)
{
	ES_CHECK(s, EMBSTORE_INVALID_ARGUMENT);
	const es_layout *L = &s->layout;
	reporter r = {fn, ctx, EMBSTORE_OK, false};
	uint64_t end = ES_SUPERBLOCK_SIZE;
	for (uint32_t i = 0; i < L->table_count && !r.stop; i++) {
		const es_table *t = &L->tables[i];
		if (!zero_range(s->base, end, t->data_offset))
			report(&r, i, EMBSTORE_CORRUPT, 0, 0);
		for (uint64_t k = 0; k < t->chunk_count && !r.stop; k++) {
			uint64_t first = k * t->chunk_rows;
			uint64_t n = t->rows - first < t->chunk_rows ? t->rows - first : t->chunk_rows;
			if (es_chunk_checksum(s->base, t, k) != es_le64(L->checksums + 8 * (t->chunk_first + k)))
				report(&r, i, EMBSTORE_DATA_CHECKSUM, first, n);
			else if (t->dtype == EMBSTORE_INT8_ROWWISE)
				check_int8_rows(s->base, t, i, first, n, &r);
		}
		end = t->data_offset + t->data_size;
	}
	if (!r.stop && !zero_range(s->base, end, L->dir_offset))
		report(&r, L->table_count ? L->table_count - 1 : 0, EMBSTORE_CORRUPT, 0, 0);
	return r.first;
}
