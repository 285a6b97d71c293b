/* cli_getopt.h: usage errors for the commands that parse their options with glibc's getopt_long, worded like
 * the tool's other messages ("embstore: COMMAND: unknown option '--x'", then "Try 'embstore COMMAND --help'."):
 * such a command sets opterr = 0 (getopt_long then prints nothing itself), passes an optstring that starts
 * with ':' (a missing value then returns ':' rather than '?') and long-only options whose val is >= 256. */
#ifndef EMBSTORE_CLI_GETOPT_H
#define EMBSTORE_CLI_GETOPT_H

#include <getopt.h>

/* Reports what getopt_long's `result` ('?' or ':') means for argv and `options`, the arguments it was given.
 * Returns CLI_EXIT_USAGE. */
int cli_getopt_error(const char *command, int result, char **argv, const struct option *options);

#endif /* EMBSTORE_CLI_GETOPT_H */
