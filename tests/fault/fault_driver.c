/* fault_driver.c: see fault_driver.h. */
#include "fault_driver.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* LeakSanitizer's, when the program has it. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

bool fault_ok(fault_outcome *o, embstore_status st)
{
	if (st == EMBSTORE_OK)
		return true;
	o->st = st;
	o->err = errno;
	snprintf(o->detail, sizeof o->detail, "%s", embstore_error_detail());
	return false;
}

/* The targets as they are before each run. */
static void write_old(const fault_case *fc)
{
	if (fc->n_outs == 0)
		tu_write_file(fc->out, fc->old, fc->old_len);
	for (size_t i = 0; i < fc->n_outs; i++)
		tu_write_file(fc->outs[i], fc->olds[i], fc->old_lens[i]);
}

void fault_record_new(fault_case *fc)
{
	if (fc->n_outs) {
		write_old(fc);
		fault_outcome o = fc->run(fc);
		cr_assert_eq(o.st, EMBSTORE_OK, "%s: %s", fc->name, o.detail);
		cr_assert(fc->holds_new(fc), "%s: a clean run does not leave the new group", fc->name);
		return;
	}
	tu_write_file(fc->out, fc->old, fc->old_len);
	fault_outcome o = fc->run(fc);
	cr_assert_eq(o.st, EMBSTORE_OK, "%s: %s", fc->name, o.detail);
	fc->new_ = tu_read_file(fc->out, &fc->new_len);
	cr_assert(fc->new_len != fc->old_len || memcmp(fc->new_, fc->old, fc->old_len) != 0);
}

/* The ERR of EMBSTORE_FAULT, as fault_parse reads it. */
static const char *err_name(int err)
{
	switch (err) {
	case FAULT_SHORT:
		return "short";
	case ENOSPC:
		return "ENOSPC";
	case EIO:
		return "EIO";
	case EINTR:
		return "EINTR";
	default:
		return "?";
	}
}

/* Descriptors open in this process (the one that lists them counts both times). */
static int open_fds(void)
{
	return tu_count_entries("/proc/self/fd");
}

static bool file_is(const char *path, const uint8_t *bytes, size_t n)
{
	size_t len;
	uint8_t *b = tu_read_file(path, &len);
	bool same = len == n && memcmp(b, bytes, len) == 0;
	free(b);
	return same;
}

/* A group's targets: each old file, or the whole new group; nothing else in their directory. */
static void check_group(const fault_case *fc, fault_kind kind, embstore_status st, const char *spec)
{
	bool all_old = true;
	for (size_t i = 0; i < fc->n_outs && all_old; i++)
		all_old = file_is(fc->outs[i], fc->olds[i], fc->old_lens[i]);
	bool after_rename = kind == FAULT_OPEN || kind == FAULT_FSYNC;
	bool is_new = !all_old && fc->holds_new(fc);
	cr_assert(st == EMBSTORE_OK ? is_new : all_old || (is_new && after_rename), "%s (%s): the targets hold %s", spec,
	          embstore_status_name(st),
	          all_old ? "the old files" : is_new ? "the new group" : "neither the old files nor the new group");
	char *dir = strdup(fc->out);
	cr_assert_not_null(dir);
	*strrchr(dir, '/') = 0;
	cr_assert_eq(tu_count_entries(dir), (int)fc->n_outs, "%s: a temporary or second name was left behind", spec);
	free(dir);
}

static void check_target(const fault_case *fc, fault_kind kind, embstore_status st, const char *spec)
{
	if (fc->n_outs) {
		check_group(fc, kind, st, spec);
		return;
	}
	size_t len;
	uint8_t *b = tu_read_file(fc->out, &len);
	bool is_old = len == fc->old_len && memcmp(b, fc->old, len) == 0;
	bool is_new = len == fc->new_len && memcmp(b, fc->new_, len) == 0;
	free(b);
	bool after_rename = kind == FAULT_OPEN || kind == FAULT_FSYNC; /* the directory's, once the file is in place */
	cr_assert(st == EMBSTORE_OK ? is_new : is_old || (is_new && after_rename), "%s (%s): the target holds %s", spec,
	          embstore_status_name(st),
	          is_old ? "the old file" : is_new ? "the new file" : "neither the old file nor the new one");
	char *dir = strdup(fc->out);
	cr_assert_not_null(dir);
	*strrchr(dir, '/') = 0;
	cr_assert_eq(tu_count_entries(dir), 1, "%s: a temporary file was left behind", spec);
	free(dir);
}

/* One run with the nth call of `kind` armed; returns whether it was reached. */
static bool run_one(const fault_case *fc, fault_kind kind, unsigned long n, int err)
{
	char spec[96];
	snprintf(spec, sizeof spec, "%s: EMBSTORE_FAULT=%s:%lu:%s", fc->name, fault_kind_name(kind), n, err_name(err));
	if (fc->writes)
		write_old(fc);
	int fds = open_fds();
	fault_arm(kind, n, err);
	fault_outcome o = fc->run(fc);
	bool hit = fault_hit();
	fault_disarm();

	const char *got = embstore_status_name(o.st);
	if (!hit || err == FAULT_SHORT || err == EINTR) {
		cr_assert_eq(o.st, EMBSTORE_OK, "%s: %s (%s)", spec, got, o.detail);
	} else if (kind == FAULT_ALLOC) {
		cr_assert_eq(o.st, EMBSTORE_NO_MEMORY, "%s: %s (%s)", spec, got, o.detail);
	} else {
		cr_assert_eq(o.st, EMBSTORE_IO, "%s: %s (%s)", spec, got, o.detail);
		cr_assert_eq(o.err, err, "%s: errno %d (%s), detail '%s'", spec, o.err, strerror(o.err), o.detail);
		if (fc->names_file)
			cr_assert(fc->names_file(fc, kind, o.detail), "%s: the detail '%s' does not name the file", spec,
			          o.detail);
		else
			cr_assert_neq(o.detail[0], 0, "%s: no detail", spec);
	}
	cr_assert_eq(open_fds(), fds, "%s: %d descriptors open before, %d after", spec, fds, open_fds());
	if (fc->writes)
		check_target(fc, kind, o.st, spec);
	return hit;
}

/* Every call of `kind` in turn; returns how many the operation makes. */
static unsigned long each_call(const fault_case *fc, fault_kind kind, int err)
{
	unsigned long n = 1;
	while (run_one(fc, kind, n, err))
		n++;
	return n - 1;
}

void fault_run_all(const fault_case *fc)
{
	const char *spec = getenv("EMBSTORE_FAULT");
	if (spec) {
		fault_kind kind;
		unsigned long n;
		int err;
		cr_assert(fault_parse(spec, &kind, &n, &err), "EMBSTORE_FAULT=%s is not KIND:N:ERR", spec);
		run_one(fc, kind, n, err);
		return;
	}
	char line[400];
	int used = snprintf(line, sizeof line, "%s:", fc->name);
	unsigned long total = 0;
	for (int k = 0; k < FAULT_KIND_COUNT; k++) {
		fault_kind kind = (fault_kind)k;
		bool transfers = kind == FAULT_WRITE || kind == FAULT_PWRITE || kind == FAULT_READ || kind == FAULT_PREAD;
		unsigned long calls = each_call(fc, kind, ENOSPC);
		if (kind != FAULT_ALLOC)
			cr_assert_eq(each_call(fc, kind, EIO), calls, "%s: the %s calls differ", fc->name, fault_kind_name(kind));
		if (transfers) {
			each_call(fc, kind, FAULT_SHORT);
			each_call(fc, kind, EINTR);
		}
		if (fc->expected_kinds & FAULT_BIT(kind))
			cr_assert_gt(calls, 0, "%s: no %s call was seen: is it still wrapped?", fc->name, fault_kind_name(kind));
		if (calls && used < (int)sizeof line)
			used += snprintf(line + used, sizeof line - (size_t)used, " %s %lu", fault_kind_name(kind), calls);
		total += calls;
	}
	fprintf(stderr, "%s (%lu in all)\n", line, total);
}

void fault_check_leaks(void)
{
	if (__lsan_do_recoverable_leak_check)
		cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer's report above)");
}
