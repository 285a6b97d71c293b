/* cli_getopt.h: getopt_long with the tool's own wording of usage errors ("embstore: COMMAND: unknown option
 * '--x'", then "Try 'embstore COMMAND --help'."), for cmd_cpu.c and cmd_bench.c.
 * Temporary: the branch that moves the other commands to getopt_long declares these same three names, with the
 * same contract, in cli.h (defined in cli.c). When the two meet, this pair goes and its two users include cli.h
 * alone. */
#ifndef EMBSTORE_CLI_GETOPT_H
#define EMBSTORE_CLI_GETOPT_H

#include <getopt.h>

/* Values of the options without a short letter start here, above every character. */
enum { CLI_LONG_ONLY = 256 };

/* Readies getopt_long for a new argv (glibc keeps state between calls) and silences its own messages. */
void cli_getopt_reset(void);
/* getopt_long(argc, argv, optstring, longopts, NULL), where optstring starts with ':' (a missing value is then
 * told apart from an unknown option). Returns the option's value, -1 after the last option, or '?' after
 * reporting a usage error. */
int cli_getopt(const char *command, int argc, char **argv, const char *optstring, const struct option *longopts);

#endif /* EMBSTORE_CLI_GETOPT_H */
