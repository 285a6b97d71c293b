/* cli.c: the helpers every command of the embstore tool uses: option and number parsing, messages, escaping. */
#include "cli.h"
#include "workload.h"

#include <errno.h>
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

void cli_put_escaped(FILE *f, const char *s, cli_escape mode)
{
	if (s == NULL)
		s = "";
	for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
		unsigned c = *p;
		int quote = c == '"' && (mode == CLI_ESCAPE_JSON || mode == CLI_ESCAPE_QUOTED);
		if ((c == '\\' && mode != CLI_ESCAPE_CONTROLS) || quote) {
			fputc('\\', f);
			fputc((int)c, f);
		} else if (c < 0x20 || c == 0x7f) {
			if (mode == CLI_ESCAPE_JSON)
				fprintf(f, "\\u%04x", c);
			else if (c == '\n')
				fputs("\\n", f);
			else if (c == '\t')
				fputs("\\t", f);
			else if (c == '\r')
				fputs("\\r", f);
			else
				fprintf(f, "\\x%02x", c);
		} else {
			fputc((int)c, f);
		}
	}
}

size_t cli_display_width(const char *s)
{
	size_t width = 0;
	if (s == NULL)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
		if (*p == '\\' || *p == '\n' || *p == '\t' || *p == '\r')
			width += 2;
		else if (*p < 0x20 || *p == 0x7f)
			width += 4;
		else if ((*p & 0xc0) != 0x80) /* not a UTF-8 continuation byte: a new code point */
			width += 1;
	}
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
