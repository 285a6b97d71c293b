/* threads.c: the parallel (_mt) variants of the kernel calls: the same checks (kernels.c), then the work split
 * over POSIX threads so that results are those of one thread. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"

/* Creating and joining a thread costs some tens of microseconds, about what an in-cache kernel needs for 64 Ki
 * floats of output (256 KiB); below that per thread, more threads make a call slower, so smaller batches get
 * fewer threads, down to none. */
#define MIN_FLOATS_PER_THREAD ((size_t)65536)
/* More threads than this gain nothing on a memory-bound kernel and only cost stack space. */
#define MAX_THREADS 64u

/* One thread's share of a call: [begin, end) of ids (gather), of bags (bag) or of table rows (scatter-add). */
typedef struct job {
	const embstore_kernel_table *k;
	const embstore_matrix *table;
	const void *ids;
	embstore_id_type id_type;
	size_t n;              /* scatter-add: ids in the call (every thread reads them all) */
	const int64_t *offsets;
	const float *weights;
	embstore_bag_mode mode;
	float *out;
	const float *grads;
	float alpha;
	uint64_t begin, end;
	embstore_status status;
	size_t bad;            /* position in the whole ids array */
} job;

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

/* [begin, end) of part `t` of `count` equal parts of `total` (sizes differ by at most one). */
static uint64_t part_start(uint64_t total, unsigned count, unsigned t)
{
	uint64_t q = total / count, r = total % count;
	return q * t + (t < r ? t : r);
}

/* Runs jobs[1..count) on new threads and jobs[0] here. A thread that cannot be created has its job run here
 * instead: same result, only slower. */
static void run_jobs(job *jobs, unsigned count, void *(*fn)(void *))
{
	pthread_t tid[MAX_THREADS];
	int started[MAX_THREADS] = {0};
	for (unsigned t = 1; t < count; t++)
		started[t] = pthread_create(&tid[t], NULL, fn, &jobs[t]) == 0;
	fn(&jobs[0]);
	for (unsigned t = 1; t < count; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			fn(&jobs[t]);
	}
}

/* The call's status: OK if every job succeeded; with bad ids, the smallest bad position. */
static embstore_status combine(const job *jobs, unsigned count, size_t *bad_index)
{
	embstore_status s = EMBSTORE_OK;
	size_t bad = SIZE_MAX;
	for (unsigned t = 0; t < count; t++) {
		if (jobs[t].status == EMBSTORE_ID_OUT_OF_RANGE) {
			s = EMBSTORE_ID_OUT_OF_RANGE;
			if (jobs[t].bad < bad)
				bad = jobs[t].bad;
		} else if (jobs[t].status != EMBSTORE_OK && s == EMBSTORE_OK) {
			s = jobs[t].status;
		}
	}
	return es_kernel_status(s, bad, bad_index);
}

/* The first part starts at the caller's arrays themselves, without arithmetic: with no ids (or no bags) they
 * may be NULL, and NULL + 0 is undefined in C. Later parts start inside them. */
static void *gather_job(void *arg)
{
	job *j = arg;
	size_t begin = (size_t)j->begin, dim = j->table->dim;
	const void *ids = begin ? (const char *)j->ids + begin * (size_t)j->id_type : j->ids;
	float *out = begin ? j->out + begin * dim : j->out;
	j->status = j->k->gather(j->table, ids, j->id_type, (size_t)(j->end - j->begin), out, &j->bad);
	j->bad += begin;
	return NULL;
}

static void *bag_job(void *arg)
{
	job *j = arg;
	size_t begin = (size_t)j->begin, dim = j->table->dim;
	float *out = begin ? j->out + begin * dim : j->out;
	j->status = j->k->gather_bag(j->table, j->ids, j->id_type, j->offsets + begin, (size_t)(j->end - j->begin),
	                             j->weights, j->mode, out, &j->bad);
	return NULL;
}

static void *scatter_job(void *arg)
{
	job *j = arg;
	j->status = j->k->scatter_add(j->table, j->ids, j->id_type, j->n, j->grads, j->alpha, j->begin, j->end,
	                              &j->bad);
	return NULL;
}

embstore_status embstore_gather_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                   size_t n, float *out, size_t *bad_index, unsigned threads)
{
	embstore_status s = es_check_gather(table, ids, id_type, n, out);
	if (s != EMBSTORE_OK)
		return s;
	unsigned count = thread_count(threads, n, n * table->dim);
	job jobs[MAX_THREADS];
	/* One table for the whole call, even if embstore_isa_set runs meanwhile. */
	const embstore_kernel_table *k = embstore_kernels_active();
	for (unsigned t = 0; t < count; t++) {
		jobs[t] = (job){.k = k, .table = table, .ids = ids, .id_type = id_type, .out = out,
		                .begin = part_start(n, count, t), .end = part_start(n, count, t + 1)};
	}
	run_jobs(jobs, count, gather_job);
	return combine(jobs, count, bad_index);
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

embstore_status embstore_gather_bag_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                       size_t n_ids, const int64_t *offsets, size_t n_bags, const float *weights,
                                       embstore_bag_mode mode, float *out, size_t *bad_index, unsigned threads)
{
	embstore_status s = es_check_bag(table, ids, id_type, n_ids, offsets, n_bags, mode, out);
	if (s != EMBSTORE_OK)
		return s;
	/* n_ids + n_bags cannot overflow: both arrays are in memory. */
	uint64_t cost = (uint64_t)n_ids + n_bags;
	size_t floats = cost > SIZE_MAX / table->dim ? SIZE_MAX : (size_t)cost * table->dim;
	unsigned count = thread_count(threads, n_bags, floats);
	job jobs[MAX_THREADS];
	const embstore_kernel_table *k = embstore_kernels_active();
	size_t begin = 0;
	for (unsigned t = 0; t < count; t++) {
		size_t end = t + 1 == count ? n_bags : bag_split(offsets, n_bags, part_start(cost, count, t + 1));
		if (end < begin)
			end = begin;
		jobs[t] = (job){.k = k, .table = table, .ids = ids, .id_type = id_type, .offsets = offsets,
		                .weights = weights, .mode = mode, .out = out, .begin = begin, .end = end};
		begin = end;
	}
	run_jobs(jobs, count, bag_job);
	return combine(jobs, count, bad_index);
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

embstore_status embstore_scatter_add_mt(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                        size_t n, const float *grads, float alpha, size_t *bad_index,
                                        unsigned threads)
{
	embstore_status s = es_check_scatter(table, ids, id_type, n, grads);
	if (s != EMBSTORE_OK)
		return s;
	/* Each thread reads every id but updates only the rows of its own range, so every row receives its updates
	 * in id order, as in the sequential loop, and no two threads write the same row. Every thread checks every
	 * id and stops at the first bad one, so all report the smallest bad position and none writes past it. */
	unsigned count = thread_count(threads, table->rows > SIZE_MAX ? SIZE_MAX : (size_t)table->rows,
	                              n * table->dim);
	job jobs[MAX_THREADS];
	uint64_t bounds[MAX_THREADS + 1];
	const embstore_kernel_table *k = embstore_kernels_active();
	if (count > 1)
		scatter_split(table, ids, id_type, n, count, bounds);
	else
		bounds[0] = 0, bounds[1] = table->rows;
	for (unsigned t = 0; t < count; t++) {
		jobs[t] = (job){.k = k, .table = table, .ids = ids, .id_type = id_type, .n = n, .grads = grads,
		                .alpha = alpha, .begin = bounds[t], .end = bounds[t + 1]};
	}
	run_jobs(jobs, count, scatter_job);
	return combine(jobs, count, bad_index);
}
