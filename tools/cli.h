/* cli.h: what the files of the embstore command share: exit statuses, option and number parsing, messages. */
#ifndef EMBSTORE_CLI_H
#define EMBSTORE_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "embstore.h"

/* Exit statuses. Each command's --help says what they mean for it. */
enum {
	CLI_EXIT_OK = 0,      /* success */
	CLI_EXIT_INVALID = 1, /* a file is invalid or corrupt (the store read, or an input of build), or get's key is
	                       * not in the table */
	CLI_EXIT_USAGE = 2,   /* usage error, I/O error, or anything else that is not the file's fault */
};

/* The commands. argv[0] is the command's name; each returns an exit status. */
int cli_cmd_build(int argc, char **argv);
int cli_cmd_create(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_verify(int argc, char **argv);
int cli_cmd_reseal(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);
int cli_cmd_get(int argc, char **argv);
int cli_cmd_cpu(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);

/* ------------------------------------------------------------------------------------------------------------
 * Options are parsed by glibc's getopt_long: `--name VALUE`, `--name=VALUE`, an unambiguous prefix of a long name,
 * `-x VALUE`, `-xVALUE`, clustered flags (`-qh`), `--` to end the options; options and operands may be mixed
 * (getopt_long moves the operands to argv[optind..argc-1], in their order). An option that takes a value takes
 * the next argument whatever it looks like, so `--ids -5` gives "-5" to --ids. Each command's optstring starts
 * with ':' (a missing value is told apart from an unknown option); options without a short letter have values
 * from CLI_LONG_ONLY up.
 */
enum { CLI_LONG_ONLY = 256 };

/* Readies getopt_long for a new argv; the same process may parse twice (`embstore help COMMAND`). */
void cli_getopt_reset(void);
/* getopt_long with its errors reported as usage errors ("embstore: COMMAND: unknown option '--x'", then "Try
 * 'embstore COMMAND --help'."). Returns the option's value, -1 after the last option, or '?' after a reported
 * error. */
int cli_getopt(const char *command, int argc, char **argv, const char *optstring, const struct option *longopts);

/* ------------------------------------------------------------------------------------------------------------
 * Numbers. Strict: decimal digits only (ids: an optional leading '-'), no spaces, no empty string, no overflow.
 */
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_i64(const char *s, int64_t *out);
/* Like cli_parse_u64, with an optional binary suffix K, M or G (x 1024, 1024^2, 1024^3; case-insensitive). */
int cli_parse_size(const char *s, uint64_t *out);

/* ------------------------------------------------------------------------------------------------------------
 * Messages, all to stderr as "embstore: COMMAND: SUBJECT: message".
 */
void cli_error(const char *command, const char *subject, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
/* A usage error: the message, then "Try 'embstore COMMAND --help'.". Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Reports a failed library call about `subject`: "embstore: COMMAND: SUBJECT: STATUS SENTENCE", then ": " and
 * strerror(saved_errno) for EMBSTORE_IO, then ": " and embstore_error_detail() when the call left one. Call it
 * before any other library call that could reset the detail. */
void cli_status_error(const char *command, const char *subject, embstore_status status, int saved_errno);
/* The same, with " (HINT)" in place of the detail when the library left none. */
void cli_status_error_hint(const char *command, const char *subject, embstore_status status, int saved_errno,
                           const char *hint);
/* The exit status for a status returned while reading a store: the format statuses -> CLI_EXIT_INVALID,
 * everything else (IO, INVALID_ARGUMENT, NO_MEMORY, ...) -> CLI_EXIT_USAGE. */
int cli_exit_for(embstore_status status);

/* Opens `path` read-only (header and directory only), reporting any failure. Returns CLI_EXIT_OK or the exit
 * status to return. */
int cli_open_store(const char *command, const char *path, unsigned flags, embstore **out);

/* Opens the n files of a shard set, or one ordinary store as a set of one (embstore_set_open), reporting any
 * failure: one file's as cli_open_store does, a set's as "set: ..." with the library's detail (which names the
 * missing shard or the file at fault). Returns CLI_EXIT_OK or the exit status to return. */
int cli_open_set(const char *command, char *const *paths, size_t n, unsigned flags, embstore_set **out);

/* cli_select_table over a set; `label` names it in messages. */
int cli_select_set_table(const char *command, const char *label, const embstore_set *set, const char *name,
                         embstore_set_table *out);

/* Flushes stdout and reports a write error (quietly for a closed pipe). Returns CLI_EXIT_OK or
 * CLI_EXIT_USAGE. */
int cli_finish_output(const char *command);

/* Prints "cpu features: avx2 fma ..." (or "(none)") and a newline: what embstore_cpu_features detected. */
void cli_print_cpu_features(void);

/* Makes sure that `need` descriptors may be open at once, raising the soft RLIMIT_NOFILE (up to the hard limit)
 * when it is lower. Returns 0 when they may, -1 when the hard limit (*hard) is too low or setrlimit failed. */
int cli_raise_open_files(uint64_t need, uint64_t *hard);

/* Prints a command's usage text (which ends with its exit statuses), then finishes output as above. */
int cli_help(const char *command, const char *usage);

/* ------------------------------------------------------------------------------------------------------------
 * Strings from a store are valid UTF-8 (the library checks) but may hold anything else: quotes, newlines, terminal
 * escapes. They are printed through one of these.
 */
typedef enum cli_escape {
	CLI_ESCAPE_JSON,   /* for inside a JSON string: \" \\ and control characters as \u00XX */
	CLI_ESCAPE_QUOTED, /* for inside "...": \" \\ and control characters as \n, \t, \r or \xNN */
	CLI_ESCAPE_PLAIN,  /* unquoted text: as QUOTED but quotes are left alone */
	CLI_ESCAPE_CONTROLS, /* text that has its own backslash escapes (the library's details): as PLAIN, but
	                      * backslashes are left alone too */
} cli_escape;

void cli_put_escaped(FILE *f, const char *s, cli_escape mode);
/* The `len` bytes at `s`, which may be anything (a key read from the user's input): escaped as `mode`, and also
 * zero bytes, C1 control characters and bytes that are not UTF-8 (\xNN; in JSON \u00NN, or \ufffd for a byte
 * that is not UTF-8). At most `max_columns` columns (at least 1; counted as cli_display_width counts): a longer
 * text is cut after a whole character and ends with an ellipsis. SIZE_MAX: never cut. */
void cli_put_bytes(FILE *f, const void *s, size_t len, cli_escape mode, size_t max_columns);
/* Columns cli_put_escaped(..., CLI_ESCAPE_PLAIN) takes on a terminal (code points; escapes count in full). */
size_t cli_display_width(const char *s);
/* Writes `s` escaped as CLI_ESCAPE_PLAIN, padded with spaces to `width` columns (left-aligned). */
void cli_put_padded(FILE *f, const char *s, size_t width);

/* The table named `name`, or the only one when `name` is NULL; reports what is wrong (an unknown name lists the
 * tables) and returns CLI_EXIT_USAGE then. */
int cli_select_table(const char *command, const char *path, const embstore *store, const char *name,
                     embstore_table *out);

/* The store's table names, as `"a", "b", "c"`, on stderr (for messages that list them). */
void cli_list_tables(const embstore *store);

#endif /* EMBSTORE_CLI_H */
