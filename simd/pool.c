/* pool.c: the worker threads of the parallel kernel calls (pool.h), kept between calls. One mutex guards the
 * whole pool: it is taken a few times per part, and a part is some microseconds of work at least (threads.c). */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "pool.h"

/* One call's parts. It lives on the caller's stack: in the queue while parts are left to claim, and the caller
 * returns only once `done` reaches `parts`, after which no worker touches it. */
typedef struct task {
	void (*fn)(void *ctx, unsigned part);
	void *ctx;
	unsigned parts, claimed, done;
	pthread_cond_t finished; /* signalled when done reaches parts */
	struct task *next;
} task;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work; /* idle workers wait here for a queued task */
	task *head, *tail;   /* tasks with parts left to claim, oldest first */
	unsigned workers;    /* started and alive (in this process) */
	int closing;         /* set at exit: workers end, none start */
	pthread_t tid[ES_POOL_MAX_WORKERS];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, {0}};

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Held across fork() so that the child gets the pool in a consistent state, which it then empties: only the
 * thread that forked exists in the child. */
static void before_fork(void)
{
	pthread_mutex_lock(&pool.lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&pool.lock);
}

static void after_fork_child(void)
{
	/* The tasks queued belong to threads that are gone too, and the condition variable may still count the
	 * workers that waited on it: start both afresh. */
	pool.head = pool.tail = NULL;
	pool.workers = 0;
	pthread_cond_init(&pool.work, NULL);
	pthread_mutex_unlock(&pool.lock);
}

static void register_fork_handlers(void)
{
	/* Without the handlers (out of memory) a child's pool would believe in workers that do not exist: its calls
	 * would still finish, the caller claiming every part itself. */
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Takes t's next part (the lock held, t queued); t leaves the queue with its last part. */
static unsigned claim(task *t)
{
	unsigned p = t->claimed++;
	if (t->claimed < t->parts)
		return p;
	task *prev = NULL;
	for (task **q = &pool.head; *q; prev = *q, q = &(*q)->next) {
		if (*q == t) {
			*q = t->next;
			if (pool.tail == t)
				pool.tail = prev;
			break;
		}
	}
	return p;
}

/* Runs part p of t with the lock released, and counts it done. */
static void run_part(task *t, unsigned p)
{
	pthread_mutex_unlock(&pool.lock);
	t->fn(t->ctx, p);
	pthread_mutex_lock(&pool.lock);
	if (++t->done == t->parts)
		pthread_cond_signal(&t->finished);
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (!pool.head && !pool.closing)
			pthread_cond_wait(&pool.work, &pool.lock);
		if (!pool.head)
			break;
		task *t = pool.head;
		run_part(t, claim(t));
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

#if defined(__GNUC__)
/* At exit (or when the library is unloaded) the workers are ended and joined, so that their memory goes back:
 * leak checkers count what a live thread holds as possibly lost, and unloaded code must not stay on a stack.
 * A call still running in another thread meanwhile finishes its parts itself. */
__attribute__((destructor)) static void stop_workers(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.closing = 1;
	pthread_cond_broadcast(&pool.work);
	unsigned n = pool.workers; /* no more start now */
	pthread_mutex_unlock(&pool.lock);
	for (unsigned w = 0; w < n; w++)
		pthread_join(pool.tid[w], NULL);
	pthread_mutex_lock(&pool.lock);
	pool.workers = 0;
	pthread_mutex_unlock(&pool.lock);
}
#endif

/* Starts workers until there are `want` (the lock held). A thread that cannot be started is not retried by this
 * call; its parts run on the threads there are. Workers block every signal that can be blocked, so that the
 * process' signals go to the application's threads. */
static void grow(unsigned want)
{
	if (pool.workers >= want || pool.closing)
		return;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (pool.workers < want && pthread_create(&pool.tid[pool.workers], NULL, worker, NULL) == 0)
		pool.workers++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void es_pool_run(void (*fn)(void *ctx, unsigned part), void *ctx, unsigned parts, unsigned workers)
{
	if (workers > ES_POOL_MAX_WORKERS)
		workers = ES_POOL_MAX_WORKERS;
	if (parts > 0 && workers > parts - 1)
		workers = parts - 1;
	if (workers == 0) {
		for (unsigned p = 0; p < parts; p++)
			fn(ctx, p);
		return;
	}
	pthread_once(&once, register_fork_handlers);
	task t = {.fn = fn, .ctx = ctx, .parts = parts};
	pthread_cond_init(&t.finished, NULL);
	pthread_mutex_lock(&pool.lock);
	grow(workers);
	if (pool.tail)
		pool.tail->next = &t;
	else
		pool.head = &t;
	pool.tail = &t;
	for (unsigned w = 0; w < workers; w++)
		pthread_cond_signal(&pool.work);
	/* The caller works too, and takes whatever parts no worker has taken yet. */
	while (t.claimed < t.parts)
		run_part(&t, claim(&t));
	/* No spin before sleeping: measured with the CPUs busy, it gained on some in-cache calls and lost on tables
	 * in DRAM, as a spinning caller holds a CPU its worker may need (docs/BENCHMARKS.md). */
	while (t.done < t.parts)
		pthread_cond_wait(&t.finished, &pool.lock);
	pthread_mutex_unlock(&pool.lock);
	pthread_cond_destroy(&t.finished);
}
