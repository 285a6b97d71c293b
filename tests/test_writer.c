/* test_writer.c: a failed, abandoned or killed build leaves no partial file and the previous file intact; a
 * rebuild keeps the file's permission bits and replaces the target of a symbolic link, not the link; a killed
 * build's named temporary is removed by the next build, and nothing of a live build's. Where it matters, tests run
 * with O_TMPFILE and with the named temporaries of file systems without it (fault_shim.h forces those). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_shim.h"
#include "testutil.h"

static const char previous[] = "the previous file, which must survive";

/* `name`, a directory of its own (so that stray temporaries are easy to count), holding out.emb, the previous
 * file; returns the path of out.emb. */
static char *previous_file(const char *name, char **dir)
{
	*dir = tu_fresh_dir(name);
	char *path = tu_join(*dir, "out.emb");
	tu_write_file(path, previous, sizeof previous);
	return path;
}

static void assert_previous_intact(const char *dir, const char *path)
{
	size_t len;
	uint8_t *b = tu_read_file(path, &len);
	cr_assert_eq(len, sizeof previous);
	cr_assert_eq(memcmp(b, previous, len), 0);
	free(b);
	cr_assert_eq(tu_count_entries(dir), 1, "a temporary file was left behind");
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
	char *dir, *path = previous_file("abandoned", &dir);
	embstore_writer *w = start(path);
	cr_assert_leq(tu_count_entries(dir), 2); /* at most a temporary while building (none with O_TMPFILE) */
	embstore_writer_free(w);
	assert_previous_intact(dir, path);
	free(path);
	free(dir);
}

Test(writer, failed_append_fails_the_writer)
{
	char *dir, *path = previous_file("failed", &dir);
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
	char *dir, *path = previous_file("short", &dir);
	embstore_writer *w = start(path); /* 1 of 3 rows */
	cr_expect_eq(embstore_writer_finish(w), EMBSTORE_STATE);
	embstore_writer_free(w);
	assert_previous_intact(dir, path);
	free(path);
	free(dir);
}

/* Starts a build of `path` in a child process (named: with the named temporary of a file system without
 * O_TMPFILE), kills it mid-build and reaps it; returns its pid. */
static pid_t kill_mid_build(const char *path, bool named)
{
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		fault_refuse_tmpfile(named);
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
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	close(pipefd[0]);
	close(pipefd[1]);
	return pid;
}

Test(writer, killed_build_leaves_previous_file)
{
	char *dir, *path = previous_file("killed", &dir);
	kill_mid_build(path, false);
	/* Where the file system has O_TMPFILE (ext4, xfs, btrfs, tmpfs), not even a temporary survives. */
	assert_previous_intact(dir, path);
	free(path);
	free(dir);
}

/* A complete store at `path`, different from `previous`. */
static void build(const char *path)
{
	embstore_writer *w = start(path);
	float rows[8] = {5, 6, 7, 8, -1, -2, -3, -4};
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, 2, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK, "%s", embstore_error_detail());
	embstore_writer_free(w);
}

static void assert_store(const char *path)
{
	embstore *s;
	cr_assert_eq(embstore_open(path, EMBSTORE_OPEN_VERIFY, &s), EMBSTORE_OK, "%s is not the new store", path);
	embstore_close(s);
}

Test(writer, success_replaces_previous_file)
{
	char *dir, *path = previous_file("replace", &dir);
	build(path);
	cr_assert_eq(tu_count_entries(dir), 1);
	assert_store(path);
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

static mode_t mode_of(const char *path)
{
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* Each test below runs with O_TMPFILE (false) and with named temporaries (true). */
ParameterizedTestParameters(writer, keeps_permission_bits)
{
	static bool named[] = {false, true};
	return cr_make_param_array(bool, named, 2);
}

ParameterizedTest(bool *named, writer, keeps_permission_bits)
{
	fault_refuse_tmpfile(*named);
	char *dir = tu_fresh_dir("mode"), *path = tu_join(dir, "out.emb");
	static const mode_t modes[] = {0600, 0640, 0604};
	for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
		tu_write_file(path, previous, sizeof previous);
		cr_assert_eq(chmod(path, modes[i]), 0);
		build(path);
		assert_store(path);
		cr_expect_eq(mode_of(path), modes[i], "mode %o became %o", modes[i], mode_of(path));
	}
	/* A new file: 0666 less the umask, as open(O_CREAT) gives. */
	cr_assert_eq(unlink(path), 0);
	mode_t old_mask = umask(027);
	build(path);
	umask(old_mask);
	cr_expect_eq(mode_of(path), 0640);
	cr_expect_eq(tu_count_entries(dir), 1);
	free(path);
	free(dir);
}

static void assert_link(const char *link, const char *text)
{
	char got[256];
	ssize_t n = readlink(link, got, sizeof got - 1);
	cr_assert(n > 0, "%s is no longer a symbolic link", link);
	got[n] = 0;
	cr_expect_str_eq(got, text);
}

ParameterizedTestParameters(writer, replaces_symlink_target)
{
	static bool named[] = {false, true};
	return cr_make_param_array(bool, named, 2);
}

/* links/out.emb -> ../stores/real.emb, links/chain.emb -> out.emb, links/new.emb -> ../stores/new.emb (dangling):
 * every build replaces or creates the file at the end of the chain, with its mode, and leaves the links be. */
ParameterizedTest(bool *named, writer, replaces_symlink_target)
{
	fault_refuse_tmpfile(*named);
	char *links = tu_fresh_dir("links"), *stores = tu_fresh_dir("stores");
	char *out = tu_join(links, "out.emb"), *chain = tu_join(links, "chain.emb"), *fresh = tu_join(links, "new.emb");
	char *real = tu_join(stores, "real.emb"), *real_new = tu_join(stores, "new.emb");
	tu_write_file(real, previous, sizeof previous);
	cr_assert_eq(chmod(real, 0600), 0);
	cr_assert_eq(symlink("../stores/real.emb", out), 0);
	cr_assert_eq(symlink("out.emb", chain), 0);
	cr_assert_eq(symlink("../stores/new.emb", fresh), 0);

	build(out);
	assert_link(out, "../stores/real.emb");
	assert_store(real);
	cr_expect_eq(mode_of(real), 0600);

	tu_write_file(real, previous, sizeof previous);
	build(chain);
	assert_link(chain, "out.emb");
	assert_link(out, "../stores/real.emb");
	assert_store(real);

	build(fresh);
	assert_link(fresh, "../stores/new.emb");
	assert_store(real_new);

	cr_expect_eq(tu_count_entries(links), 3, "a temporary file was left beside the links");
	cr_expect_eq(tu_count_entries(stores), 2, "a temporary file was left beside the stores");
	free(out);
	free(chain);
	free(fresh);
	free(real);
	free(real_new);
	free(links);
	free(stores);
}

Test(writer, symlink_loop_is_an_error)
{
	char *dir = tu_fresh_dir("loop"), *a = tu_join(dir, "a.emb"), *b = tu_join(dir, "b.emb");
	cr_assert_eq(symlink("b.emb", a), 0);
	cr_assert_eq(symlink("a.emb", b), 0);
	embstore_writer *w = NULL;
	cr_expect_eq(embstore_writer_create(a, &w), EMBSTORE_IO);
	cr_expect_eq(errno, ELOOP);
	cr_expect(strstr(embstore_error_detail(), a), "the detail '%s' does not name %s", embstore_error_detail(), a);
	cr_expect_null(w);
	cr_expect_eq(tu_count_entries(dir), 2);
	free(a);
	free(b);
	free(dir);
}

/* The pid of a process that has exited and been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

static bool exists(const char *dir, const char *name)
{
	char *p = tu_join(dir, name);
	struct stat sb;
	bool found = lstat(p, &sb) == 0;
	free(p);
	return found;
}

static void make_entry(const char *dir, const char *name, char type)
{
	char *p = tu_join(dir, name);
	if (type == 'f')
		tu_write_file(p, previous, sizeof previous);
	else if (type == 'd')
		cr_assert_eq(mkdir(p, 0755), 0);
	else
		cr_assert_eq(symlink("out.emb", p), 0);
	free(p);
}

Test(writer, removes_stale_temporaries_of_dead_builds_only)
{
	char *dir = tu_fresh_dir("stale"), *path = tu_join(dir, "out.emb");
	long dead = dead_pid(), self = getpid(), parent = getppid();
	struct {
		char name[64];
		char type; /* f: regular file, d: directory, l: symbolic link */
		bool removed;
	} entries[] = {
		{".out.emb.%ld.0.tmp", 'f', true},     {".out.emb.%ld.17.tmp", 'f', true},
		{".out.emb.%ld.1.tmp", 'd', false},    {".out.emb.%ld.2.tmp", 'l', false},
		{".other.emb.%ld.0.tmp", 'f', false},  {"out.emb.%ld.0.tmp", 'f', false},
		{".out.emb.%ld.0.tmp.bak", 'f', false}, {".out.emb.%ld.x.tmp", 'f', false},
		{".out.emb.%ld.00.tmp", 'f', false},   {".out.emb.%ld.0.0.tmp", 'f', false},
	};
	size_t n = sizeof entries / sizeof *entries;
	for (size_t i = 0; i < n; i++) {
		char pattern[64];
		memcpy(pattern, entries[i].name, sizeof pattern);
		snprintf(entries[i].name, sizeof entries[i].name, pattern, dead);
		make_entry(dir, entries[i].name, entries[i].type);
	}
	/* Builds still running: this process and its parent. */
	char live[2][64];
	snprintf(live[0], sizeof live[0], ".out.emb.%ld.0.tmp", self);
	snprintf(live[1], sizeof live[1], ".out.emb.%ld.3.tmp", parent);
	make_entry(dir, live[0], 'f');
	make_entry(dir, live[1], 'f');

	build(path);
	assert_store(path);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(exists(dir, entries[i].name), !entries[i].removed, "%s %s", entries[i].name,
		             entries[i].removed ? "was kept" : "was removed");
	cr_expect(exists(dir, live[0]) && exists(dir, live[1]), "a live build's temporary was removed");
	cr_expect_eq(tu_count_entries(dir), 1 + (int)n - 2 + 2);
	free(path);
	free(dir);
}

Test(writer, keeps_stale_temporaries_of_other_users)
{
	if (geteuid() != 0)
		cr_skip_test("needs root, to give a file to another user");
	char *dir = tu_fresh_dir("others"), *path = tu_join(dir, "out.emb");
	char name[64];
	snprintf(name, sizeof name, ".out.emb.%ld.0.tmp", (long)dead_pid());
	make_entry(dir, name, 'f');
	char *p = tu_join(dir, name);
	cr_assert_eq(chown(p, 65534, 65534), 0);
	build(path);
	cr_expect(exists(dir, name), "another user's temporary was removed");
	free(p);
	free(path);
	free(dir);
}

/* Without O_TMPFILE a killed build leaves its named temporary; the next build in the directory removes it. */
Test(writer, next_build_removes_killed_builds_temporary)
{
	char *dir, *path = previous_file("killed-named", &dir);
	pid_t pid = kill_mid_build(path, true);
	char prefix[64];
	snprintf(prefix, sizeof prefix, ".out.emb.%ld.", (long)pid);
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	int left = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		left += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	cr_assert_eq(left, 1, "the killed build left no temporary named %s*", prefix);
	build(path);
	assert_store(path);
	cr_expect_eq(tu_count_entries(dir), 1, "the killed build's temporary is still there");
	free(path);
	free(dir);
}

/* Builds the same store (rows appended in pieces of every size about the 2 MiB boundaries, a keyed table whose
 * vocabulary is written around the stage, a converted table) with or without huge pages. */
static uint8_t *build_mixed(const char *name, int huge_pages, size_t *len)
{
	enum { ROWS = 9000, DIM = 100 }; /* 400 bytes a row: 3.6 MB, rows straddling the 2 MiB boundaries */
	float *rows = malloc(sizeof(float) * ROWS * DIM);
	cr_assert_not_null(rows);
	uint64_t rng = 7;
	for (size_t i = 0; i < (size_t)ROWS * DIM; i++)
		rows[i] = tu_randf(&rng);
	char *path = tu_path(name);
	embstore_writer *w;
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_huge_pages(w, huge_pages), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "plain", EMBSTORE_F32, 0, DIM), EMBSTORE_OK);
	static const uint64_t pieces[] = {1, 5241, 3, 2621, 1134};
	uint64_t at = 0;
	for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
		cr_assert_eq(embstore_writer_append(w, rows + at * DIM, EMBSTORE_F32, pieces[i], 0), EMBSTORE_OK);
		at += pieces[i];
	}
	cr_assert_eq(embstore_writer_begin_table(w, "keyed", EMBSTORE_F32, 3, DIM), EMBSTORE_OK);
	const char *keys[] = {"a", "bb", "ccc"};
	const size_t key_lens[] = {1, 2, 3};
	cr_assert_eq(embstore_writer_append_keyed(w, rows, EMBSTORE_F32, 3, 0, keys, key_lens), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "half", EMBSTORE_F16, ROWS, DIM), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_append(w, rows, EMBSTORE_F32, ROWS, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	uint8_t *bytes = tu_read_file(path, len);
	free(path);
	free(rows);
	return bytes;
}

Test(writer, huge_pages_write_the_same_file)
{
	size_t plain_len, huge_len;
	uint8_t *plain = build_mixed("plain.emb", 0, &plain_len);
	uint8_t *huge = build_mixed("huge.emb", 1, &huge_len);
	cr_assert_gt(plain_len, (size_t)4 << 20);
	cr_assert_eq(huge_len, plain_len);
	cr_assert_eq(memcmp(huge, plain, plain_len), 0);
	cr_assert_eq(tu_open_status(huge, huge_len, 1), EMBSTORE_OK);
	free(plain);
	free(huge);
}

Test(writer, huge_pages_only_before_the_first_table)
{
	char *path = tu_path("late.emb");
	embstore_writer *w;
	cr_assert_eq(embstore_writer_set_huge_pages(NULL, 1), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_writer_create(path, &w), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_huge_pages(w, 1), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_huge_pages(w, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_huge_pages(w, 1), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_begin_table(w, "t", EMBSTORE_F32, 1, 4), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_set_huge_pages(w, 0), EMBSTORE_STATE);
	static const float row[4] = {1, 2, 3, 4};
	cr_assert_eq(embstore_writer_append(w, row, EMBSTORE_F32, 1, 0), EMBSTORE_OK);
	cr_assert_eq(embstore_writer_finish(w), EMBSTORE_OK);
	embstore_writer_free(w);
	size_t len;
	uint8_t *bytes = tu_read_file(path, &len);
	cr_assert_eq(tu_open_status(bytes, len, 1), EMBSTORE_OK);
	free(bytes);
	free(path);
}
