/* test_writer.c: a failed, abandoned or killed build leaves no partial file and the previous file intact. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* A directory of its own per test, so stray temporaries are easy to count. */
static char *fresh_dir(const char *name)
{
	char *d = tu_path(name);
	cr_assert_eq(mkdir(d, 0755), 0);
	return d;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *join(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static const char previous[] = "the previous file, which must survive";

static void assert_previous_intact(const char *dir, const char *path)
{
	size_t len;
	uint8_t *b = tu_read_file(path, &len);
	cr_assert_eq(len, sizeof previous);
	cr_assert_eq(memcmp(b, previous, len), 0);
	free(b);
	cr_assert_eq(count_entries(dir), 1, "a temporary file was left behind");
}

static embstore_writer *start(const char *path)
{
	embstore_writer *w;
	float row[4] = {1, 2, 3, 4};
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "t", EMBSTORE_INT8_ROWWISE, 3, 4), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, row, EMBSTORE_F32, 1, 0), EMBSTORE_OK);
	return w;
}

Test(writer, abandoned_build_leaves_previous_file)
{
	char *dir = fresh_dir("abandoned"), *path = join(dir, "out.emb");
	tu_write_file(path, previous, sizeof previous);
	embstore_writer *w = start(path);
	cr_assert_leq(count_entries(dir), 2); /* at most a temporary while building (none with O_TMPFILE) */
	embstore_writer_free(w);
	assert_previous_intact(dir, path);
	free(path);
	free(dir);
}

Test(writer, failed_append_fails_the_writer)
{
	char *dir = fresh_dir("failed"), *path = join(dir, "out.emb");
	tu_write_file(path, previous, sizeof previous);
	embstore_writer *w = start(path);
	float bad[4] = {1, NAN, 3, 4};
	cr_expect_eq(embstore_writer_append(w, bad, EMBSTORE_F32, 1, 0), EMBSTORE_NON_FINITE);
	float good[4] = {1, 2, 3, 4};
	cr_expect_eq(embstore_writer_append(w, good, EMBSTORE_F32, 1, 0), EMBSTORE_STATE);
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	embstore_writer_free(w);
	assert_previous_intact(dir, path);
	free(path);
	free(dir);
}

Test(writer, short_table_fails_finish)
{
	char *dir = fresh_dir("short"), *path = join(dir, "out.emb");
	tu_write_file(path, previous, sizeof previous);
	embstore_writer *w = start(path); /* 1 of 3 rows */
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	embstore_writer_free(w);
	assert_previous_intact(dir, path);
	free(path);
	free(dir);
}

Test(writer, killed_build_leaves_previous_file)
{
	char *dir = fresh_dir("killed"), *path = join(dir, "out.emb");
	tu_write_file(path, previous, sizeof previous);
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		embstore_writer *w = start(path);
		(void)w;
		char c = 'x';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(3);
		pause(); /* killed here, mid-build */
		_exit(0);
	}
	char c;
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	size_t len;
	uint8_t *b = tu_read_file(path, &len);
	cr_assert_eq(len, sizeof previous);
	cr_assert_eq(memcmp(b, previous, len), 0);
	free(b);
	/* Where the file system has O_TMPFILE (ext4, xfs, btrfs, tmpfs), not even a temporary survives. */
	cr_expect_eq(count_entries(dir), 1, "the killed build left a temporary file");
	free(path);
	free(dir);
}

Test(writer, success_replaces_previous_file)
{
	char *dir = fresh_dir("replace"), *path = join(dir, "out.emb");
	tu_write_file(path, previous, sizeof previous);
	embstore *old;
	embstore_writer *w = start(path);
	float rows[8] = {5, 6, 7, 8, -1, -2, -3, -4};
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 2, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	cr_assert_eq(count_entries(dir), 1);
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &old), EMBSTORE_OK);
	embstore_close(old);
	free(path);
	free(dir);
}

Test(writer, unwritable_destination)
{
	embstore_writer *w = NULL;
	cr_expect_eq(embstore_writer_create("/nonexistent-dir/x.emb", &w), EMBSTORE_IO);
	cr_expect_null(w);
	cr_expect_eq(embstore_writer_create("", &w), EMBSTORE_INVALID_ARGUMENT);
}
