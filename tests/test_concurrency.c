/* test_concurrency.c: processes and threads racing over one path. Readers looking rows up while another process
 * rebuilds the file over and over see a whole old or a whole new file, never a mix, and never crash; a trainer's
 * updates stay in the file at the path while a builder keeps trying to replace it. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define ROWS 2048
#define DIM 8

/* Version v of the file: every value of every row is v, in a table whose row count also depends on v, so that a
 * reader mixing two versions' header and rows would notice. */
static embstore_status write_version(const char *path, int v, int wait)
{
	uint64_t rows = ROWS + (uint64_t)(v % 2) * 64;
	float *vals = malloc(rows * DIM * sizeof *vals);
	for (uint64_t i = 0; i < rows * DIM; i++)
		vals[i] = (float)v;
	embstore_writer *w;
	embstore_status st = embstore_writer_create(path, &w);
	if (st == EMBSTORE_OK) {
		char tag[16];
		snprintf(tag, sizeof tag, "%d", v);
		embstore_writer_set_wait(w, wait);
		embstore_writer_add_meta(w, "version", tag);
		embstore_writer_begin_table(w, "t", EMBSTORE_F32, rows, DIM);
		embstore_writer_append(w, vals, EMBSTORE_F32, rows, 0);
		st = embstore_writer_finish(w);
	}
	embstore_writer_free(w);
	free(vals);
	return st;
}

typedef struct reader {
	const char *path;
	atomic_int *stop;
	long opens, mixed, failed;
} reader;

/* Opens, reads the version from the metadata, gathers rows from all over the table, checks they all hold it. */
static void *read_loop(void *arg)
{
	reader *r = arg;
	uint64_t seed = (uint64_t)(uintptr_t)r;
	float out[16 * DIM];
	/* Until told to stop, and in any case until one open succeeded: on a loaded machine a reader may get no
	 * time at all before the rebuilds end, which would prove nothing. */
	while (!atomic_load(r->stop) || (r->opens == 0 && r->failed < 1000)) {
		embstore *s;
		if (embstore_open(r->path, 0, &s) != EMBSTORE_OK) {
			r->failed++;
			continue;
		}
		r->opens++;
		embstore_table t;
		const char *tag = embstore_meta_get(s, "version");
		if (!tag || embstore_table_find(s, "t", &t) != EMBSTORE_OK) {
			r->mixed++;
		} else {
			int v = atoi(tag);
			int64_t ids[16];
			for (int i = 0; i < 16; i++)
				ids[i] = (int64_t)(tu_rand(&seed) % t.matrix.rows);
			ids[15] = (int64_t)t.matrix.rows - 1;
			bool ok = t.matrix.rows == ROWS + (uint64_t)(v % 2) * 64 &&
			          embstore_gather(&t.matrix, ids, EMBSTORE_ID64, 16, out, NULL) == EMBSTORE_OK;
			for (int i = 0; ok && i < 16 * DIM; i++)
				ok = out[i] == (float)v;
			r->mixed += !ok;
		}
		embstore_close(s);
	}
	return NULL;
}

static atomic_int child_stop;

static void on_term(int sig)
{
	(void)sig;
	atomic_store(&child_stop, 1);
}

Test(concurrency, readers_during_rebuilds_see_whole_files, .timeout = 120)
{
	char *path = tu_path("rebuilt.emb");
	cr_assert_eq(write_version(path, 0, 0), EMBSTORE_OK);
	pid_t builder = fork();
	cr_assert(builder >= 0);
	if (builder == 0) {
		for (int v = 1; v <= 200; v++)
			if (write_version(path, v, 0) != EMBSTORE_OK)
				_exit(1);
		_exit(0);
	}
	atomic_int stop = 0;
	reader r[3] = {{path, &stop, 0, 0, 0}, {path, &stop, 0, 0, 0}, {path, &stop, 0, 0, 0}};
	/* a reader in another process too, stopped by SIGTERM, reporting through its exit status; forked before the
	 * threads start, since a child forked while other threads allocate can inherit a locked allocator */
	r[2].stop = &child_stop;
	signal(SIGTERM, on_term);
	pid_t other = fork();
	cr_assert(other >= 0);
	if (other == 0) {
		read_loop(&r[2]);
		_exit(r[2].mixed ? 1 : r[2].failed ? 2 : r[2].opens == 0 ? 3 : 0);
	}
	pthread_t tid[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&tid[i], NULL, read_loop, &r[i]), 0);
	int status;
	cr_assert_eq(waitpid(builder, &status, 0), builder);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	kill(other, SIGTERM);
	int other_status;
	cr_assert_eq(waitpid(other, &other_status, 0), other);
	cr_expect(WIFEXITED(other_status) && WEXITSTATUS(other_status) == 0,
	          "the reader process saw a mix (1), failed to open (2) or never opened (3): %d",
	          WIFEXITED(other_status) ? WEXITSTATUS(other_status) : -1);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the builder failed");
	long opens = r[0].opens + r[1].opens, mixed = r[0].mixed + r[1].mixed, failed = r[0].failed + r[1].failed;
	cr_log_info("%ld opens during 200 rebuilds", opens);
	cr_expect_gt(opens, 0);
	cr_expect_eq(mixed, 0, "%ld of %ld opens saw a mix of versions", mixed, opens);
	cr_expect_eq(failed, 0, "%ld opens failed", failed);
	free(path);
}

/* Whether the other end of the pipe `fd` reads from was closed (a read would return 0 at once). */
static bool pipe_closed(int fd)
{
	fd_set fds;
	FD_ZERO(&fds);
	FD_SET(fd, &fds);
	struct timeval tv = {0, 0};
	char c;
	return select(fd + 1, &fds, NULL, NULL, &tv) > 0 && read(fd, &c, 1) <= 0;
}

/* A trainer (this process) and a builder (a child, rebuilding the path as fast as it can, never waiting) race.
 * Whenever the trainer has the store open, the file at the path is the one it trains: each step's update is
 * there to see. The builder's attempts meanwhile fail with LOCKED; between trainings they may succeed. */
Test(concurrency, trainer_and_builder_race, .timeout = 120)
{
	char *path = tu_path("raced.emb");
	cr_assert_eq(write_version(path, 0, 0), EMBSTORE_OK);
	int done[2], met[2];
	cr_assert_eq(pipe(done), 0);
	cr_assert_eq(pipe(met), 0);
	pid_t builder = fork();
	cr_assert(builder >= 0);
	if (builder == 0) {
		close(done[1]);
		close(met[0]);
		long locked = 0, other = 0;
		struct timespec t = {0, 0};
		for (int v = 1;; v++) {
			embstore_status st = write_version(path, v, 0);
			if (st == EMBSTORE_LOCKED && locked++ == 0) /* tell the trainer: it trains until this happened */
				close(met[1]);
			other += st != EMBSTORE_OK && st != EMBSTORE_LOCKED;
			if (pipe_closed(done[0])) /* the trainer is done */
				break;
			nanosleep(&t, NULL);
		}
		_exit(other ? 2 : locked == 0 ? 3 : 0);
	}
	close(done[0]);
	close(met[1]);
	int steps = 0, refused = 0;
	/* 300 rounds, and more until the builder has met the trainer's lock once (its end of `met` closed): a
	 * loaded machine may not run the builder at the right moments within 300. */
	for (int round = 0; round < 300 || (!pipe_closed(met[0]) && round < 100000); round++) {
		embstore *s;
		embstore_status st = embstore_open(path, EMBSTORE_OPEN_WRITABLE, &s);
		if (st == EMBSTORE_LOCKED) { /* the builder holds the old file for its rename */
			refused++;
			continue;
		}
		cr_assert_eq(st, EMBSTORE_OK, "%s", embstore_error_detail());
		for (int k = 0; k < 3; k++) {
			int64_t id = k;
			float g[DIM] = {1, 1, 1, 1, 1, 1, 1, 1}, before, after;
			embstore_table t;
			cr_assert_eq(embstore_table_at(s, 0, &t), EMBSTORE_OK);
			before = ((float *)t.matrix.data)[k * DIM];
			cr_assert_eq(embstore_table_scatter_add(s, 0, &id, EMBSTORE_ID64, 1, g, 1.0f, NULL, 1), EMBSTORE_OK);
			cr_assert_eq(embstore_sync(s), EMBSTORE_OK);
			/* The synced update is in the file at the path, not in one renamed away. */
			embstore *r;
			cr_assert_eq(embstore_open(path, 0, &r), EMBSTORE_OK);
			embstore_table rt;
			cr_assert_eq(embstore_table_at(r, 0, &rt), EMBSTORE_OK);
			after = ((const float *)rt.matrix.data)[k * DIM];
			cr_assert_eq(after, before + 1.0f, "round %d: the path holds %g, the trainer wrote %g", round,
			             (double)after, (double)(before + 1.0f));
			embstore_close(r);
			steps++;
		}
		embstore_close(s);
	}
	close(done[1]);
	close(met[0]);
	int status;
	cr_assert_eq(waitpid(builder, &status, 0), builder);
	cr_log_info("%d training steps, %d opens refused while the builder renamed", steps, refused);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 2, "a build failed with something other than LOCKED");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 3, "the builder never met the trainer's lock");
	cr_expect_gt(steps, 0);
	free(path);
}
