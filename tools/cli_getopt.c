/* cli_getopt.c: usage errors for getopt_long failures (see cli_getopt.h). */
#include "cli_getopt.h"

#include <string.h>

#include "cli.h"

static int is_long_option(const struct option *options, int val)
{
	for (const struct option *o = options; o->name != NULL; o++) {
		if (o->flag == NULL && o->val == val)
			return 1;
	}
	return 0;
}

int cli_getopt_error(const char *command, int result, char **argv, const struct option *options)
{
	/* getopt_long has stepped past a long option it rejects, so argv[optind - 1] is its spelling; a short one
	 * may sit inside a cluster ("-qZ"), so only optopt names it. */
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	int long_spelling = strncmp(arg, "--", 2) == 0;
	int name_len = (int)strcspn(arg, "=");
	name_len = name_len > 200 ? 200 : name_len;
	if (result == ':') {
		if (long_spelling)
			return cli_usage_error(command, "option '%.*s' needs a value", name_len, arg);
		return cli_usage_error(command, "option '-%c' needs a value", optopt);
	}
	if (optopt == 0)
		return cli_usage_error(command, "unknown option '%.*s'", name_len, arg);
	if (long_spelling && is_long_option(options, optopt))
		return cli_usage_error(command, "option '%.*s' takes no value", name_len, arg);
	if (optopt < 0x20 || optopt >= 0x7f)
		return cli_usage_error(command, "unknown option character 0x%02x", (unsigned)(unsigned char)optopt);
	return cli_usage_error(command, "unknown option '-%c'", optopt);
}
