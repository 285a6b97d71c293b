/* import_npz.c: a .npz archive into tables: every member that is a 2-D floating-point .npy (or the one asked
 * for), in the order of the archive's directory, each inflated through minizip as a stream (npz.h) and imported
 * like a .npy file. A zip is read by seeking, so the input must be a regular file. Every error names the
 * member. */
#include <stdio.h>
#include <stdlib.h>

#include "import.h"
#include "npz.h"

/* The table a member makes when the caller gives no name: the member's name without ".npy", as numpy's load()
 * calls it. */
static char *table_name(const char *member)
{
	size_t n = strlen(member);
	if (n > 4 && strcmp(member + n - 4, ".npy") == 0)
		n -= 4;
	return strndup(member, n);
}

/* Adds the member's name to a detail that does not have it; one that names the output ("writing 'OUT'") is
 * about the output, not the member, and stays. */
static embstore_status naming(embstore_status st, const char *member)
{
	const char *d = embstore_error_detail();
	if (st == EMBSTORE_OK || st == EMBSTORE_NO_MEMORY || strstr(d, "member '") ||
	    strncmp(d, "writing ", 8) == 0)
		return st;
	char was[256];
	snprintf(was, sizeof was, "%s", d);
	es_detail("member '%.60s': %s", member, was[0] ? was : embstore_strerror(st));
	return st;
}

/* Whether member `member` can be a table: its .npy header is one embstore_npy_parse takes. *why (when it cannot)
 * says what it is instead. A damaged archive or member is an error. */
static embstore_status probe(int fd, const char *path, const char *member, bool *table, char *why, size_t cap)
{
	es_npz_member *m;
	ES_TRY(es_npz_open_member_fd(fd, path, member, &m));
	embstore_npy_info info;
	bool refused;
	embstore_status st = es_npy_read_header(es_npz_stream(m), &info, &refused);
	es_npz_close(m);
	*table = st == EMBSTORE_OK;
	if (st != EMBSTORE_OK && refused) {
		snprintf(why, cap, "member '%.60s': %s", member, embstore_error_detail());
		st = EMBSTORE_OK;
	}
	return st;
}

static embstore_status import_member(embstore_writer *w, const char *name, int fd, const char *path,
                                     const char *member, embstore_import *o)
{
	char *own = name ? NULL : table_name(member);
	ES_CHECK(name || own, EMBSTORE_NO_MEMORY);
	es_npz_member *m;
	embstore_status st = es_npz_open_member_fd(fd, path, member, &m);
	embstore_import one = {.dtype = o->dtype, .limit = o->limit};
	if (st == EMBSTORE_OK) {
		st = es_import_npy_with(w, name ? name : own, es_npz_stream(m), &one);
		es_npz_close(m);
	}
	if (st == EMBSTORE_OK) {
		o->rows += one.rows;
		o->dim = one.dim;
		es_import_table_made(o, name ? name : own, one.rows, one.dim);
	}
	free(own);
	return naming(st, member);
}

/* Every member that can be a table; the others counted in o->skipped. */
static embstore_status import_all(embstore_writer *w, const char *name, int fd, const char *path,
                                  const char *input, embstore_import *o)
{
	es_npz_names names;
	ES_TRY(es_npz_list_fd(fd, path, &names));
	const char **chosen = malloc((names.count ? names.count : 1) * sizeof *chosen);
	embstore_status st = chosen ? EMBSTORE_OK : EMBSTORE_NO_MEMORY;
	size_t n = 0;
	char why[256] = "";
	for (size_t i = 0; i < names.count && st == EMBSTORE_OK; i++) {
		bool table = false;
		char reason[256];
		st = naming(probe(fd, path, names.names[i], &table, reason, sizeof reason), names.names[i]);
		if (st == EMBSTORE_OK && table)
			chosen[n++] = names.names[i];
		else if (st == EMBSTORE_OK && o->skipped++ == 0)
			memcpy(why, reason, sizeof why);
	}
	if (st == EMBSTORE_OK && n == 0) {
		es_detail("%.100s has no member that can be a table (a 2-D '<f2', '<f4' or '<f8' .npy)%s%s", input,
		          why[0] ? "; " : "", why);
		st = EMBSTORE_BAD_INPUT;
	}
	if (st == EMBSTORE_OK && name && n > 1)
		st = es_import_pick_one(input, "members", chosen, n);
	for (size_t i = 0; i < n && st == EMBSTORE_OK; i++)
		st = import_member(w, name, fd, path, chosen[i], o);
	free(chosen);
	es_npz_names_free(&names);
	return st;
}

embstore_status es_import_npz(embstore_writer *w, const char *name, int fd, const char *path, embstore_import *o)
{
	char label[40], input[160];
	if (!path) {
		snprintf(label, sizeof label, "file descriptor %d", fd);
		path = label;
	}
	snprintf(input, sizeof input, "'%.120s'", path);
	o->rows = 0;
	if (o->tensor)
		return import_member(w, name, fd, path, o->tensor, o);
	return import_all(w, name, fd, path, input, o);
}
