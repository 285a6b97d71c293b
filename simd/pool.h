/* pool.h: the persistent worker threads that run the parts of a parallel (_mt) kernel call.
 *
 * The pool starts empty; a call that wants w workers starts the missing ones (at most ES_POOL_MAX_WORKERS in
 * all), and they stay, parked on a condition variable (a futex: no CPU while idle), until the process exits or
 * the library is unloaded, when they are ended and joined (pool.c).
 * A call queues its parts; its caller and any idle workers claim them one by one, so several callers share the
 * workers, and a part that no worker takes in time (none could be started, all busy with other calls, or slow to
 * wake) is run by the caller itself: a call never waits for a worker that has not started its part.
 * After fork() the child's pool is empty again (its workers did not survive) and refills on its next call. */
#ifndef EMBSTORE_SIMD_POOL_H
#define EMBSTORE_SIMD_POOL_H

/* 64 threads per call at most, counting the caller. */
#define ES_POOL_MAX_WORKERS 63u

/* The _mt calls (threads.c) give each thread at least this many floats of output (gathers, bags) or of
 * gradients (scatter-add), down to the caller's thread alone: 131072 floats are 512 KiB of output, 1024 ids of
 * dim 128. Measured with both CPUs of a 2-core VM free, a second thread pays from 2048 ids of dim 128 on a table
 * in DRAM (1.2x gather, 1.5x bag) and from 4096 in L2; below that the wake-ups (of the worker, then of the
 * caller waiting for the worker's last part) and the output lines moving between the cores' caches cost more
 * than the second core gives: 2-16 us per call, against 12 us for 512 ids from L2. With the CPUs busy with
 * other work, a second thread paid at no size (docs/BENCHMARKS.md, "Thread pool and small calls"). A build-time
 * setting, so that the crossover can be measured with it set to 1. */
#ifndef ES_POOL_MIN_FLOATS_PER_THREAD
#define ES_POOL_MIN_FLOATS_PER_THREAD 131072
#endif

/* Runs fn(ctx, p) once for each p < parts, on the calling thread and up to `workers` pool workers at once, and
 * returns when every part has returned. Parts may run in any order and at the same time. Never fails. */
void es_pool_run(void (*fn)(void *ctx, unsigned part), void *ctx, unsigned parts, unsigned workers);

#endif /* EMBSTORE_SIMD_POOL_H */
