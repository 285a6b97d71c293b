/* threads.c: the parallel (_mt) variants of the kernel calls: the same checks (kernels.c), then the work split
 * in parts run by the caller and the pool's workers (pool.c), so that results are those of one thread. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"
#include "pool.h"

#define MIN_FLOATS_PER_THREAD ((size_t)ES_POOL_MIN_FLOATS_PER_THREAD)
#define MAX_THREADS (ES_POOL_MAX_WORKERS + 1u)
/* Gathers and bags are cut finer than one part per thread: a worker that is late (its CPU busy, or slow to wake)
 * leaves its parts to the others, so a call waits at most about one part for it. */
#define PARTS_PER_THREAD 8u
#define MAX_PARTS MAX_THREADS

/* One part's result. */
typedef struct part_result {
	embstore_status status;
	size_t bad; /* position in the whole ids array */
} part_result;

/* A call's arguments, checked, and its thread count. */
typedef struct args {
	const embstore_kernel_table *k;
	const embstore_matrix *table;
	const void *ids;
	embstore_id_type id_type;
	size_t n;              /* ids (gather, scatter-add: every part reads them all) or bags */
	const int64_t *offsets;
	const float *weights;
	embstore_bag_mode mode;
	embstore_dtype out_dtype;
	void *out;
	int stream; /* gather: the whole output streams (kernels.h) */
	const float *grads;
	float alpha;
	unsigned threads;
} args;

/* The call split in `parts` parts: [bounds[p], bounds[p + 1]) of ids (gather), of bags (bag) or of table rows
 * (scatter-add). Built only on the parallel path (functions of their own, ES_NOINLINE), so that a small call's
 * frame holds none of it. */
typedef struct call {
	args a;
	unsigned parts;
	uint64_t bounds[MAX_PARTS + 1];
	part_result result[MAX_PARTS];
} call;

#if defined(__GNUC__)
#define ES_NOINLINE __attribute__((noinline))
#else
#define ES_NOINLINE
#endif

static unsigned thread_count(unsigned threads, size_t units, size_t floats)
{
	size_t t = threads == 0 ? 1 : threads;
	if (t > MAX_THREADS)
		t = MAX_THREADS;
	size_t by_work = floats / MIN_FLOATS_PER_THREAD;
	if (t > by_work)
		t = by_work;
	if (t > units)
		t = units;
	return t < 1 ? 1 : (unsigned)t;
}

/* Parts for a gather or bag of `units` ids or bags on `threads` threads. */
static unsigned part_count(unsigned threads, size_t units)
{
	size_t p = (size_t)threads * PARTS_PER_THREAD;
	if (p > MAX_PARTS)
		p = MAX_PARTS;
	if (p > units)
		p = units;
	return p < threads ? threads : (unsigned)p;
}

/* [begin, end) of part `t` of `count` equal parts of `total` (sizes differ by at most one). */
static uint64_t part_start(uint64_t total, unsigned count, unsigned t)
{
	uint64_t q = total / count, r = total % count;
	return q * t + (t < r ? t : r);
}

/* The call's status: OK if every part succeeded; with bad ids, the smallest bad position. */
static embstore_status run(call *c, void (*fn)(void *, unsigned), size_t *bad_index)
{
	es_pool_run(fn, c, c->parts, c->a.threads - 1);
	embstore_status s = EMBSTORE_OK;
	size_t bad = SIZE_MAX;
	for (unsigned p = 0; p < c->parts; p++) {
		const part_result *r = &c->result[p];
		if (r->status == EMBSTORE_ID_OUT_OF_RANGE) {
			s = EMBSTORE_ID_OUT_OF_RANGE;
			if (r->bad < bad)
				bad = r->bad;
		} else if (r->status != EMBSTORE_OK && s == EMBSTORE_OK) {
			s = r->status;
		}
	}
	return es_kernel_status(s, bad, bad_index);
}

/* The first part starts at the caller's arrays themselves, without arithmetic: with no ids (or no bags) they
 * may be NULL, and NULL + 0 is undefined in C. Later parts start inside them; output row `begin` is begin x dim
 * elements of the output's dtype in. */
static void *out_row(const args *a, size_t begin)
{
	return begin ? (unsigned char *)a->out + begin * a->table->dim * es_elem_bytes(a->out_dtype) : a->out;
}

static void gather_part(void *ctx, unsigned p)
{
	call *c = ctx;
	const args *a = &c->a;
	size_t begin = (size_t)c->bounds[p];
	const void *ids = begin ? (const char *)a->ids + begin * (size_t)a->id_type : a->ids;
	part_result *r = &c->result[p];
	r->status = es_gather_to(a->k, a->table, ids, a->id_type, (size_t)(c->bounds[p + 1] - begin), a->out_dtype,
	                         out_row(a, begin), a->stream, &r->bad);
	r->bad += begin;
}

static void bag_part(void *ctx, unsigned p)
{
	call *c = ctx;
	const args *a = &c->a;
	size_t begin = (size_t)c->bounds[p];
	part_result *r = &c->result[p];
	r->status = es_bag_to(a->k, a->table, a->ids, a->id_type, a->offsets + begin, (size_t)(c->bounds[p + 1] - begin),
	                      a->weights, a->mode, a->out_dtype, out_row(a, begin), &r->bad);
}

static void scatter_part(void *ctx, unsigned p)
{
	call *c = ctx;
	const args *a = &c->a;
	part_result *r = &c->result[p];
	r->status = a->k->scatter_add(a->table, a->ids, a->id_type, a->n, a->grads, a->alpha, c->bounds[p],
	                              c->bounds[p + 1], &r->bad);
}

static ES_NOINLINE embstore_status gather_parallel(const args *a, size_t *bad_index)
{
	call c = {.a = *a, .parts = part_count(a->threads, a->n)};
	for (unsigned p = 0; p <= c.parts; p++)
		c.bounds[p] = part_start(a->n, c.parts, p);
	return run(&c, gather_part, bad_index);
}

embstore_status embstore_gather_as_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                      size_t n, embstore_dtype out_dtype, void *out, size_t *bad_index,
                                      unsigned threads)
{
	embstore_status s = es_check_gather(table, ids, id_type, n, out_dtype, out);
	if (s != EMBSTORE_OK)
		return s;
	/* One table for the whole call, even if embstore_isa_set runs meanwhile. */
	const embstore_kernel_table *k = embstore_kernels_active();
	unsigned count = thread_count(threads, n, n * table->dim);
	int stream = es_output_streams(n, table->dim, out_dtype);
	if (count == 1) {
		size_t bad = 0;
		s = es_gather_to(k, table, ids, id_type, n, out_dtype, out, stream, &bad);
		return es_kernel_status(s, bad, bad_index);
	}
	args a = {.k = k, .table = table, .ids = ids, .id_type = id_type, .n = n, .out_dtype = out_dtype, .out = out,
	          .stream = stream, .threads = count};
	return gather_parallel(&a, bad_index);
}

embstore_status embstore_gather_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                   size_t n, float *out, size_t *bad_index, unsigned threads)
{
	return embstore_gather_as_mt(table, ids, id_type, n, EMBSTORE_F32, out, bad_index, threads);
}

/* First bag of part t: bags are split so that each part has about the same ids plus bags (an empty bag still
 * costs a row of zeros); cost(b) = offsets[b] + b never decreases, so a binary search finds the split. */
static size_t bag_split(const int64_t *offsets, size_t n_bags, uint64_t target)
{
	size_t lo = 0, hi = n_bags;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uint64_t)offsets[mid] + mid < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static ES_NOINLINE embstore_status bag_parallel(const args *a, uint64_t cost, size_t *bad_index)
{
	size_t n_bags = a->n;
	call c = {.a = *a, .parts = part_count(a->threads, n_bags)};
	for (unsigned p = 1; p < c.parts; p++) {
		size_t end = bag_split(a->offsets, n_bags, part_start(cost, c.parts, p));
		c.bounds[p] = end < c.bounds[p - 1] ? c.bounds[p - 1] : end;
	}
	c.bounds[c.parts] = n_bags;
	return run(&c, bag_part, bad_index);
}

embstore_status embstore_gather_bag_as_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                          size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                          embstore_bag_mode mode, embstore_dtype out_dtype, void *out,
                                          size_t *bad_index, unsigned threads)
{
	embstore_status s = es_check_bag(table, ids, id_type, n_ids, offsets, n_bags, mode, out_dtype, out);
	if (s != EMBSTORE_OK)
		return s;
	const embstore_kernel_table *k = embstore_kernels_active();
	/* n_ids + n_bags cannot overflow: both arrays are in memory. Saturated, without a division. */
	uint64_t cost = (uint64_t)n_ids + n_bags;
	uint64_t floats64 = cost >> 32 ? UINT64_MAX : cost * table->dim;
	size_t floats = floats64 > SIZE_MAX ? SIZE_MAX : (size_t)floats64;
	unsigned count = thread_count(threads, n_bags, floats);
	if (count == 1) {
		size_t bad = 0;
		s = es_bag_to(k, table, ids, id_type, offsets, n_bags, weights, mode, out_dtype, out, &bad);
		return es_kernel_status(s, bad, bad_index);
	}
	args a = {.k = k, .table = table, .ids = ids, .id_type = id_type, .n = n_bags, .offsets = offsets,
	          .weights = weights, .mode = mode, .out_dtype = out_dtype, .out = out, .threads = count};
	return bag_parallel(&a, cost, bad_index);
}

embstore_status embstore_gather_bag_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                       size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                       embstore_bag_mode mode, float *out, size_t *bad_index, unsigned threads)
{
	return embstore_gather_bag_as_mt(table, ids, id_type, n_ids, offsets, n_bags, weights, mode, EMBSTORE_F32, out,
	                                 bad_index, threads);
}

/* Row ranges for the threads of a parallel scatter-add, with about as many updates in each: ids are often skewed
 * (a few hot rows), and equal row ranges would then leave most of the work to one thread. One pass counts the
 * ids per bucket of 2^shift rows (at most SPLIT_BUCKETS buckets), and the ranges end on bucket edges where the
 * running count passes each thread's share. A bucket holding most updates on its own still goes to one thread:
 * a row's updates must stay in order on one thread. Without memory for the counts, equal row ranges. */
#define SPLIT_BUCKETS 4096u

static void scatter_split(const embstore_matrix *t, const void *ids, embstore_id_type id_type, size_t n,
                          unsigned count, uint64_t *bounds)
{
	uint64_t rows = t->rows;
	unsigned shift = 0;
	while (((rows - 1) >> shift) >= SPLIT_BUCKETS)
		shift++;
	size_t buckets = (size_t)((rows - 1) >> shift) + 1;
	size_t *hist = calloc(buckets, sizeof *hist);
	for (unsigned i = 0; i <= count; i++)
		bounds[i] = part_start(rows, count, i);
	if (!hist)
		return;
	int wide = id_type == EMBSTORE_ID64;
	for (size_t i = 0; i < n; i++) {
		int64_t id = es_id_at(ids, wide, i);
		if ((uint64_t)id < rows) /* bad ids are the kernels' to report */
			hist[(uint64_t)id >> shift]++;
	}
	uint64_t seen = 0;
	unsigned next = 1;
	for (size_t b = 0; b < buckets && next < count; b++) {
		seen += hist[b];
		uint64_t edge = ((uint64_t)b + 1) << shift;
		while (next < count && seen >= part_start(n, count, next))
			bounds[next++] = edge < rows ? edge : rows;
	}
	while (next < count)
		bounds[next++] = rows;
	free(hist);
}

/* Each part reads every id but updates only the rows of its own range, so every row receives its updates in id
 * order, as in the sequential loop, and no two threads write the same row. Every part checks every id and stops
 * at the first bad one, so all report the smallest bad position and none writes past it. Every part reading
 * every id, there is one part per thread. */
static ES_NOINLINE embstore_status scatter_parallel(const args *a, size_t *bad_index)
{
	call c = {.a = *a, .parts = a->threads};
	scatter_split(a->table, a->ids, a->id_type, a->n, c.parts, c.bounds);
	return run(&c, scatter_part, bad_index);
}

embstore_status embstore_scatter_add_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                        size_t n, const float *grads, float alpha, size_t *bad_index,
                                        unsigned threads)
{
	embstore_status s = es_check_scatter(table, ids, id_type, n, grads);
	if (s != EMBSTORE_OK)
		return s;
	const embstore_kernel_table *k = embstore_kernels_active();
	unsigned count = thread_count(threads, table->rows > SIZE_MAX ? SIZE_MAX : (size_t)table->rows,
	                              n * table->dim);
	if (count == 1) {
		size_t bad = 0;
		s = k->scatter_add(table, ids, id_type, n, grads, alpha, 0, table->rows, &bad);
		return es_kernel_status(s, bad, bad_index);
	}
	args a = {.k = k, .table = table, .ids = ids, .id_type = id_type, .n = n, .grads = grads, .alpha = alpha,
	          .threads = count};
	return scatter_parallel(&a, bad_index);
}
