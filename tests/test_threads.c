/* test_threads.c: the parallel public calls (embstore_gather_mt, _gather_bag_mt, _scatter_add_mt) give one
 * thread's results bit for bit, at every thread count, and report the first bad id as one thread does (shared
 * with the AArch64 checker, kernel_cases.h); and their thread pool: started once and kept, grown to the largest
 * request, untouched by small calls, and working again in a child after fork(). The pool's threads are counted
 * in /proc/self/task, which Linux has. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel_cases.h"
#include "pool.h"
#include "testutil.h"

Test(threads, gather_and_bag_equal_one_thread)
{
	kc_threads_gather_and_bag();
}

Test(threads, scatter_add_equals_one_thread)
{
	kc_threads_scatter_add();
}

Test(threads, many_application_threads_at_once)
{
	kc_threads_many_callers();
}

/* Threads of this process; -1 when /proc cannot be read. */
static int live_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Enough work for 64 threads (pool.h). */
#define POOL_ROWS 5000
#define POOL_DIM 64
#define POOL_IDS ((size_t)64 * ES_POOL_MIN_FLOATS_PER_THREAD / POOL_DIM)

typedef struct pool_case {
	float *data, *want, *got;
	int64_t *ids;
	embstore_matrix m;
} pool_case;

static void pool_case_new(pool_case *c)
{
	uint64_t seed = 11;
	c->data = malloc((size_t)POOL_ROWS * POOL_DIM * sizeof(float));
	c->want = malloc((size_t)POOL_IDS * POOL_DIM * sizeof(float));
	c->got = malloc((size_t)POOL_IDS * POOL_DIM * sizeof(float));
	c->ids = malloc(POOL_IDS * sizeof *c->ids);
	cr_assert(c->data && c->want && c->got && c->ids);
	for (size_t i = 0; i < (size_t)POOL_ROWS * POOL_DIM; i++)
		c->data[i] = tu_randf(&seed);
	for (size_t i = 0; i < POOL_IDS; i++)
		c->ids[i] = (int64_t)(tu_rand(&seed) % POOL_ROWS);
	c->m = (embstore_matrix){c->data, POOL_ROWS, POOL_DIM * sizeof(float), POOL_DIM, EMBSTORE_F32, 0};
	cr_assert_eq(embstore_gather(&c->m, c->ids, EMBSTORE_ID64, POOL_IDS, c->want, NULL), EMBSTORE_OK);
}

static void pool_case_free(pool_case *c)
{
	free(c->data);
	free(c->want);
	free(c->got);
	free(c->ids);
}

/* A parallel gather of n ids; 1 when it succeeds with one thread's result. */
static int gather_ok(pool_case *c, size_t n, unsigned threads)
{
	memset(c->got, 0, n * POOL_DIM * sizeof(float));
	return embstore_gather_mt(&c->m, c->ids, EMBSTORE_ID64, n, c->got, NULL, threads) == EMBSTORE_OK &&
	       memcmp(c->got, c->want, n * POOL_DIM * sizeof(float)) == 0;
}

Test(threads, pool_started_once_and_grown_to_the_largest_request)
{
	pool_case c;
	pool_case_new(&c);
	int base = live_threads();
	if (base < 0)
		cr_skip_test("/proc/self/task cannot be read");
	cr_assert(gather_ok(&c, POOL_IDS, 3));
	cr_assert_eq(live_threads(), base + 2, "3 threads: the caller and 2 workers");
	cr_assert(gather_ok(&c, POOL_IDS, 3));
	cr_assert_eq(live_threads(), base + 2, "the workers are kept, not started again");
	cr_assert(gather_ok(&c, POOL_IDS, 7));
	cr_assert_eq(live_threads(), base + 6, "grown to the larger request");
	cr_assert(gather_ok(&c, POOL_IDS, 2));
	cr_assert(gather_ok(&c, 8, 64)); /* a small call: the caller's thread alone */
	cr_assert_eq(live_threads(), base + 6, "never shrunk, and not grown by a small call");
	cr_assert(gather_ok(&c, POOL_IDS, 1000));
	cr_assert_eq(live_threads(), base + 63, "at most 64 threads per call, the caller included");
	pool_case_free(&c);
}

static atomic_int stop_calls;

/* Parallel gathers until told to stop: the pool is in use when the main thread forks. */
static void *busy_caller(void *arg)
{
	pool_case *c = arg;
	float *out = malloc((size_t)POOL_IDS * POOL_DIM * sizeof(float));
	if (!out)
		abort();
	while (!atomic_load(&stop_calls))
		embstore_gather_mt(&c->m, c->ids, EMBSTORE_ID64, POOL_IDS, out, NULL, 2);
	free(out);
	return NULL;
}

Test(threads, parallel_calls_in_a_child_after_fork)
{
	pool_case c;
	pool_case_new(&c);
	cr_assert(gather_ok(&c, POOL_IDS, 3));
	pthread_t busy;
	atomic_store(&stop_calls, 0);
	cr_assert_eq(pthread_create(&busy, NULL, busy_caller, &c), 0);
	for (int round = 0; round < 4; round++) {
		pid_t pid = fork();
		cr_assert(pid >= 0);
		if (pid == 0) {
			/* Only this thread exists here; the pool refills with the child's first call. Exit codes: 1 a wrong
			 * result, 2 the workers not restarted. */
			int alone = live_threads() == 1;
			int ok = gather_ok(&c, POOL_IDS, 3) && gather_ok(&c, POOL_IDS, 2);
			_exit(!ok ? 1 : alone && live_threads() != 3 ? 2 : 0);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status), "round %d: the child died", round);
		cr_assert_eq(WEXITSTATUS(status), 0, "round %d: the child failed (%d)", round, WEXITSTATUS(status));
	}
	atomic_store(&stop_calls, 1);
	pthread_join(busy, NULL);
	cr_assert(gather_ok(&c, POOL_IDS, 3), "the parent's pool after the forks");
	pool_case_free(&c);
}
