/* cli_getopt.c: getopt_long with usage errors worded like the tool's others (see cli_getopt.h). */
#include "cli_getopt.h"

#include <string.h>

#include "cli.h"

void cli_getopt_reset(void)
{
	/* 0 rather than 1: glibc then also forgets the rest of a half-read cluster of short options. */
	optind = 0;
	opterr = 0;
}

static const struct option *long_option(const struct option *longopts, int val)
{
	for (const struct option *o = longopts; o->name != NULL; o++) {
		if (o->flag == NULL && o->val == val)
			return o;
	}
	return NULL;
}

int cli_getopt(const char *command, int argc, char **argv, const char *optstring, const struct option *longopts)
{
	int c = getopt_long(argc, argv, optstring, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	/* getopt_long has stepped past a long option it rejects, so argv[optind - 1] holds it; a short one may sit
	 * inside a cluster ("-qZ"), so only optopt (0 for an unknown long name) names it. */
	const char *arg = argv[optind - 1];
	int long_spelling = strncmp(arg, "--", 2) == 0;
	size_t name_len = strcspn(arg, "=");
	const struct option *o = long_spelling ? long_option(longopts, optopt) : NULL;
	unsigned char letter = (unsigned char)optopt;
	if (c == ':' && o != NULL)
		cli_usage_error(command, "option '--%s' needs a value", o->name);
	else if (c == ':')
		cli_usage_error(command, "option '-%c' needs a value", letter);
	else if (optopt == 0)
		cli_usage_error(command, "unknown option '%.*s'", name_len > 200 ? 200 : (int)name_len, arg);
	else if (o != NULL)
		cli_usage_error(command, "option '--%s' takes no value", o->name);
	else if (letter < 0x20 || letter >= 0x7f)
		cli_usage_error(command, "unknown option character 0x%02x", (unsigned)letter);
	else
		cli_usage_error(command, "unknown option '-%c'", letter);
	return '?';
}
