/* cli.c: the helpers every command of the embstore tool uses: option and number parsing, messages, escaping. */
#include "cli.h"
#include "workload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------------------------
 * Options
 */

void cli_getopt_reset(void)
{
	/* optind = 0 makes glibc's getopt start over (it also forgets the state of a half-read cluster). */
	optind = 0;
	opterr = 0;
}

static const struct option *long_by_val(const struct option *longopts, int val)
{
	for (const struct option *o = longopts; o->name != NULL; o++) {
		if (o->flag == NULL && o->val == val)
			return o;
	}
	return NULL;
}

/* `--NAME` or `--NAME=VALUE` that getopt_long found no single option for: unknown, or a prefix of several. */
static void unknown_long(const char *command, const char *arg, const struct option *longopts)
{
	const char *name = arg + 2;
	size_t len = strcspn(name, "=");
	int shown = len > 200 ? 200 : (int)len;
	char candidates[256] = "";
	size_t used = 0;
	int matches = 0;
	for (const struct option *o = longopts; o->name != NULL; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		matches++;
		if (used < sizeof candidates)
			used += (size_t)snprintf(candidates + used, sizeof candidates - used, " '--%s'", o->name);
	}
	if (matches < 2)
		cli_usage_error(command, "unknown option '--%.*s'", shown, name);
	else
		cli_usage_error(command, "option '--%.*s' is ambiguous; it could be%s", shown, name, candidates);
}

int cli_getopt(const char *command, int argc, char **argv, const char *optstring, const struct option *longopts)
{
	int c = getopt_long(argc, argv, optstring, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	/* What getopt_long leaves: optopt is the option's value (0 for a long name it could not match); argv[optind -
	 * 1] is the argument that held the option, except for an unknown letter inside a cluster ("-qZv"). */
	const struct option *o = long_by_val(longopts, optopt);
	const char *arg = argv[optind - 1];
	if (c == ':') {
		if (o != NULL && strncmp(arg, "--", 2) == 0)
			cli_usage_error(command, "option '--%s' needs a value", o->name);
		else
			cli_usage_error(command, "option '-%c' needs a value", optopt);
	} else if (optopt == 0) {
		unknown_long(command, arg, longopts);
	} else if (o != NULL && o->has_arg == no_argument) {
		/* A known option is an error only as --NAME=VALUE when it takes no value. */
		cli_usage_error(command, "option '--%s' takes no value", o->name);
	} else {
		unsigned char u = (unsigned char)optopt;
		if (u < 0x20 || u >= 0x7f)
			cli_usage_error(command, "unknown option character 0x%02x", (unsigned)u);
		else
			cli_usage_error(command, "unknown option '-%c'", u);
	}
	return '?';
}

/* ------------------------------------------------------------------------------------------------------------
 * Numbers
 */

int cli_parse_u64(const char *s, uint64_t *out)
{
	if (s == NULL || *s == 0)
		return 0;
	uint64_t v = 0;
	for (; *s != 0; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

int cli_parse_i64(const char *s, int64_t *out)
{
	if (s == NULL)
		return 0;
	int negative = s[0] == '-';
	uint64_t magnitude;
	if (!cli_parse_u64(s + negative, &magnitude))
		return 0;
	if (negative) {
		if (magnitude > (uint64_t)INT64_MAX + 1)
			return 0;
		/* -(2^63) has no positive counterpart: go through the unsigned negation. */
		*out = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
	} else {
		if (magnitude > (uint64_t)INT64_MAX)
			return 0;
		*out = (int64_t)magnitude;
	}
	return 1;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	if (s == NULL)
		return 0;
	size_t len = strlen(s);
	unsigned shift = 0;
	if (len > 1) {
		switch (s[len - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: break;
		}
	}
	if (shift == 0)
		return cli_parse_u64(s, out);
	char digits[32];
	if (len - 1 >= sizeof digits)
		return 0;
	memcpy(digits, s, len - 1);
	digits[len - 1] = 0;
	uint64_t v;
	if (!cli_parse_u64(digits, &v) || v > (UINT64_MAX >> shift))
		return 0;
	*out = v << shift;
	return 1;
}

/* ------------------------------------------------------------------------------------------------------------
 * Messages
 */

static void put_prefix(const char *command, const char *subject)
{
	fputs("embstore: ", stderr);
	if (command != NULL)
		fprintf(stderr, "%s: ", command);
	if (subject != NULL) {
		cli_put_escaped(stderr, subject, CLI_ESCAPE_PLAIN);
		fputs(": ", stderr);
	}
}

static void vmessage(const char *command, const char *subject, const char *fmt, va_list ap)
{
	put_prefix(command, subject);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *command, const char *subject, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(command, subject, fmt, ap);
	va_end(ap);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(command, NULL, fmt, ap);
	va_end(ap);
	if (command != NULL)
		fprintf(stderr, "Try 'embstore %s --help'.\n", command);
	else
		fputs("Try 'embstore --help'.\n", stderr);
	return CLI_EXIT_USAGE;
}

void cli_status_error(const char *command, const char *subject, embstore_status status, int saved_errno)
{
	cli_status_error_hint(command, subject, status, saved_errno, NULL);
}

void cli_status_error_hint(const char *command, const char *subject, embstore_status status, int saved_errno,
                           const char *hint)
{
	put_prefix(command, subject);
	fputs(embstore_strerror(status), stderr);
	if (status == EMBSTORE_IO && saved_errno != 0)
		fprintf(stderr, ": %s", strerror(saved_errno));
	/* The detail may quote a hostile file's strings (a table name): no control character reaches the terminal. */
	const char *detail = embstore_error_detail();
	if (detail != NULL && detail[0] != 0) {
		fputs(": ", stderr);
		cli_put_escaped(stderr, detail, CLI_ESCAPE_CONTROLS);
	} else if (hint != NULL) {
		fprintf(stderr, " (%s)", hint);
	}
	fputc('\n', stderr);
}

int cli_exit_for(embstore_status status)
{
	switch (status) {
	case EMBSTORE_OK:
		return CLI_EXIT_OK;
	case EMBSTORE_BAD_MAGIC:
	case EMBSTORE_UNSUPPORTED_VERSION:
	case EMBSTORE_TRUNCATED:
	case EMBSTORE_HEADER_CHECKSUM:
	case EMBSTORE_CORRUPT:
	case EMBSTORE_BAD_LAYOUT:
	case EMBSTORE_BAD_DTYPE:
	case EMBSTORE_BAD_STRING:
	case EMBSTORE_DUPLICATE_NAME:
	case EMBSTORE_LIMIT:
	case EMBSTORE_DATA_CHECKSUM:
	case EMBSTORE_NON_FINITE:
	case EMBSTORE_BAD_INPUT:
	case EMBSTORE_BAD_SET:
		return CLI_EXIT_INVALID;
	default:
		return CLI_EXIT_USAGE;
	}
}

int cli_open_store(const char *command, const char *path, unsigned flags, embstore **out)
{
	errno = 0;
	embstore_status st = embstore_open(path, flags, out);
	int saved_errno = errno;
	if (st == EMBSTORE_OK)
		return CLI_EXIT_OK;
	cli_status_error(command, path, st, saved_errno);
	return cli_exit_for(st);
}

int cli_open_set(const char *command, char *const *paths, size_t n, unsigned flags, embstore_set **out)
{
	if (n == 1) { /* an ordinary store's failures, reported as every command reports them */
		embstore *store;
		int rc = cli_open_store(command, paths[0], flags, &store);
		if (rc != CLI_EXIT_OK)
			return rc;
		embstore_close(store);
	}
	errno = 0;
	embstore_status st = embstore_set_open((const char *const *)paths, n, flags, out);
	int saved_errno = errno;
	if (st == EMBSTORE_OK)
		return CLI_EXIT_OK;
	cli_status_error(command, n == 1 ? paths[0] : "set", st, saved_errno);
	return cli_exit_for(st);
}

static void put_feature(void *ctx, const char *name)
{
	(void)ctx;
	printf(" %s", name);
}

void cli_print_cpu_features(void)
{
	fputs("cpu features:", stdout);
	fputs(workload_cpu_features(put_feature, NULL) != 0 ? "\n" : " (none)\n", stdout);
}

int cli_help(const char *command, const char *usage)
{
	fputs(usage, stdout);
	return cli_finish_output(command);
}

int cli_finish_output(const char *command)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return CLI_EXIT_OK;
	/* A reader that went away (`embstore get ... | head`) is not worth a message; SIGPIPE is ignored so that
	 * the tool always ends with an exit status rather than a signal. */
	if (errno != EPIPE)
		cli_error(command, "standard output", "%s", errno != 0 ? strerror(errno) : "write error");
	return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------------------------------------------------------
 * Escaping
 */

/* The length of the valid UTF-8 sequence at `s` (at most `left` bytes), or 0 when there is none: a stray
 * continuation byte, an overlong form, a surrogate, beyond U+10FFFF or cut short. */
static size_t utf8_sequence(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (n == 0 || n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
	    (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* One unit of `s` (at most `left` bytes) as `mode` writes it: into `out` (NUL-terminated), with the columns it
 * takes (code points; an escape counts in full) in *columns. Returns the bytes of `s` it stands for. Without
 * `check_utf8` a unit is one byte and bytes from 0x80 up pass through (the strings a store or the library gives
 * are valid UTF-8); with it, a unit is a character, and zero bytes, C1 control characters (U+0080 to U+009F,
 * which some terminals obey) and bytes that are not UTF-8 are escaped too. */
static size_t escape_unit(const unsigned char *s, size_t left, cli_escape mode, int check_utf8, char out[16],
                          size_t *columns)
{
	unsigned c = s[0];
	int json = mode == CLI_ESCAPE_JSON;
	size_t n = check_utf8 ? utf8_sequence(s, left) : 1;
	int quote = c == '"' && (json || mode == CLI_ESCAPE_QUOTED);
	if ((c == '\\' && mode != CLI_ESCAPE_CONTROLS) || quote) {
		snprintf(out, 16, "\\%c", (int)c);
	} else if (c < 0x20 || c == 0x7f) {
		if (json)
			snprintf(out, 16, "\\u%04x", c);
		else
			snprintf(out, 16, c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : "\\x%02x", c);
	} else if (n == 0) {
		n = 1;
		snprintf(out, 16, json ? "\\ufffd" : "\\x%02x", c);
	} else if (check_utf8 && c == 0xc2 && s[1] < 0xa0) {
		snprintf(out, 16, json ? "\\u%04x" : "\\xc2\\x%02x", (unsigned)s[1]);
	} else {
		memcpy(out, s, n);
		out[n] = 0;
		*columns = (c & 0xc0) != 0x80; /* a continuation byte (passed through one by one) adds no column */
		return n;
	}
	*columns = strlen(out);
	return n;
}

void cli_put_escaped(FILE *f, const char *s, cli_escape mode)
{
	if (s == NULL)
		return;
	size_t len = strlen(s), columns;
	char unit[16];
	for (size_t i = 0; i < len;) {
		i += escape_unit((const unsigned char *)s + i, len - i, mode, 0, unit, &columns);
		fputs(unit, f);
	}
}

void cli_put_bytes(FILE *f, const void *s, size_t len, cli_escape mode, size_t max_columns)
{
	const unsigned char *p = s;
	size_t columns, total = 0;
	char unit[16];
	for (size_t i = 0; i < len && total <= max_columns;) {
		i += escape_unit(p + i, len - i, mode, 1, unit, &columns);
		total += columns;
	}
	/* Too wide: whole characters up to one column short, then the ellipsis. */
	size_t budget = total <= max_columns ? SIZE_MAX : max_columns - 1;
	size_t used = 0;
	for (size_t i = 0; i < len;) {
		size_t n = escape_unit(p + i, len - i, mode, 1, unit, &columns);
		if (columns > budget - used)
			break;
		fputs(unit, f);
		used += columns;
		i += n;
	}
	if (budget != SIZE_MAX)
		fputs("\xe2\x80\xa6", f); /* U+2026 HORIZONTAL ELLIPSIS, one column */
}

size_t cli_display_width(const char *s)
{
	if (s == NULL)
		return 0;
	size_t len = strlen(s), width = 0, columns;
	char unit[16];
	for (size_t i = 0; i < len; width += columns)
		i += escape_unit((const unsigned char *)s + i, len - i, CLI_ESCAPE_PLAIN, 0, unit, &columns);
	return width;
}

void cli_put_padded(FILE *f, const char *s, size_t width)
{
	cli_put_escaped(f, s, CLI_ESCAPE_PLAIN);
	for (size_t w = cli_display_width(s); w < width; w++)
		fputc(' ', f);
}

void cli_list_tables(const embstore *store)
{
	embstore_info info;
	embstore_get_info(store, &info);
	for (uint32_t i = 0; i < info.table_count; i++) {
		embstore_table t;
		if (embstore_table_at(store, i, &t) != EMBSTORE_OK || t.name == NULL)
			continue;
		fputs(i == 0 ? "\"" : ", \"", stderr);
		cli_put_escaped(stderr, t.name, CLI_ESCAPE_QUOTED);
		fputc('"', stderr);
	}
}

int cli_select_table(const char *command, const char *path, const embstore *store, const char *name,
                     embstore_table *out)
{
	if (name != NULL) {
		embstore_status st = embstore_table_find(store, name, out);
		if (st == EMBSTORE_OK)
			return CLI_EXIT_OK;
		fprintf(stderr, "embstore: %s: ", command);
		cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
		fputs(": no table \"", stderr);
		cli_put_escaped(stderr, name, CLI_ESCAPE_QUOTED);
		fputs("\" (tables: ", stderr);
		cli_list_tables(store);
		fputs(")\n", stderr);
		return CLI_EXIT_USAGE;
	}
	embstore_info info;
	embstore_get_info(store, &info);
	if (info.table_count == 1) {
		embstore_status st = embstore_table_at(store, 0, out);
		if (st != EMBSTORE_OK) {
			cli_status_error(command, path, st, 0);
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	if (info.table_count == 0) {
		cli_error(command, path, "holds no tables");
		return CLI_EXIT_USAGE;
	}
	fprintf(stderr, "embstore: %s: ", command);
	cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
	fprintf(stderr, ": holds %" PRIu32 " tables; choose one with --table (tables: ", info.table_count);
	cli_list_tables(store);
	fputs(")\n", stderr);
	return CLI_EXIT_USAGE;
}


int cli_select_set_table(const char *command, const char *label, const embstore_set *set, const char *name,
                         embstore_set_table *out)
{
	embstore_set_info info;
	embstore_set_get_info(set, &info);
	if (name != NULL && embstore_set_table_find(set, name, out) == EMBSTORE_OK)
		return CLI_EXIT_OK;
	if (name == NULL && info.table_count == 1)
		return embstore_set_table_at(set, 0, out) == EMBSTORE_OK ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (name == NULL && info.table_count == 0) {
		cli_error(command, label, "holds no tables");
		return CLI_EXIT_USAGE;
	}
	fprintf(stderr, "embstore: %s: ", command);
	cli_put_escaped(stderr, label, CLI_ESCAPE_PLAIN);
	if (name != NULL) {
		fputs(": no table \"", stderr);
		cli_put_escaped(stderr, name, CLI_ESCAPE_QUOTED);
		fputs("\" (tables: ", stderr);
	} else {
		fprintf(stderr, ": holds %" PRIu32 " tables; choose one with --table (tables: ", info.table_count);
	}
	for (uint32_t i = 0; i < info.table_count; i++) {
		embstore_set_table t;
		embstore_set_table_at(set, i, &t);
		fputs(i == 0 ? "\"" : ", \"", stderr);
		cli_put_escaped(stderr, t.name, CLI_ESCAPE_QUOTED);
		fputc('"', stderr);
	}
	fputs(")\n", stderr);
	return CLI_EXIT_USAGE;
}
