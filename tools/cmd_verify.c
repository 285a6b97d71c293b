/* cmd_verify.c: `embstore verify`: reads all of a store and names every corrupt table and row range. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>

static const char usage[] =
	"Usage: embstore verify [-q] FILE...\n"
	"\n"
	"Checks each FILE completely: the header and directory (as every open does), then every chunk checksum of\n"
	"the table data, every int8 row's scale and bias, and that alignment padding is zero. Prints one line per\n"
	"problem, naming the table and the rows affected, e.g.\n"
	"  corrupt: table \"words\" rows 4096-8191 (checksum mismatch)\n"
	"then a summary line per FILE: 'ok: FILE (N tables, M bytes checked)' or 'FILE: K problems'.\n"
	"Given the files of a shard set (or one shard), also checks that they make one complete, consistent set:\n"
	"one set id, every shard index exactly once, the same dtype, dim and vocabulary for each table everywhere,\n"
	"its row ranges covering all its rows exactly once (docs/FORMAT.md, \"Sharded sets\"); then prints\n"
	"'ok: set ID (N shards, T tables)', or names what is missing or inconsistent ('shard 2 of 4 is missing\n"
	"(expected 'out-00002-of-00004.emb')') and exits 1.\n"
	"\n"
	"Options:\n"
	"  -q, --quiet  print the summary lines only\n"
	"  -h, --help   print this help\n"
	"\n"
	"Exit status (the highest among the FILEs):\n"
	"  0  every FILE is intact\n"
	"  1  a FILE is corrupt or not a valid store, or the FILEs are not one complete, consistent shard set\n"
	"  2  usage error, I/O error (no such file, permission, read error, ...), or out of memory\n";

enum { OPT_QUIET = 'q', OPT_HELP = 'h' };

static const char short_options[] = ":qh";

static const struct option long_options[] = {
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

typedef struct verify_ctx {
	const embstore *store;
	uint64_t problems;
	int quiet;
} verify_ctx;

static void print_rows(uint64_t first, uint64_t count)
{
	if (count <= 1)
		printf("row %" PRIu64, first);
	else
		printf("rows %" PRIu64 "-%" PRIu64, first, first + (count - 1));
}

static int report(void *opaque, const embstore_problem *problem)
{
	verify_ctx *ctx = opaque;
	ctx->problems++;
	if (ctx->quiet)
		return 0;
	embstore_table t;
	fputs("corrupt: ", stdout);
	if (embstore_table_at(ctx->store, problem->table_index, &t) == EMBSTORE_OK) {
		fputs("table \"", stdout);
		cli_put_escaped(stdout, t.name, CLI_ESCAPE_QUOTED);
		fputc('"', stdout);
	} else {
		printf("table #%" PRIu32, problem->table_index);
	}
	switch (problem->status) {
	case EMBSTORE_DATA_CHECKSUM:
		fputc(' ', stdout);
		print_rows(problem->first_row, problem->row_count);
		fputs(" (checksum mismatch)\n", stdout);
		break;
	case EMBSTORE_NON_FINITE:
		fputc(' ', stdout);
		print_rows(problem->first_row, problem->row_count);
		fputs(" (int8 scale or bias is not finite)\n", stdout);
		break;
	case EMBSTORE_CORRUPT:
		fputs(": non-zero alignment padding next to its data\n", stdout);
		break;
	default:
		fputc(' ', stdout);
		print_rows(problem->first_row, problem->row_count);
		printf(" (%s)\n", embstore_strerror(problem->status));
		break;
	}
	/* Stop early when nobody reads the output any more (a closed pipe). */
	return ferror(stdout) ? 1 : 0;
}

static int verify_one(const char *path, int quiet)
{
	embstore *store;
	int rc = cli_open_store("verify", path, 0, &store);
	if (rc != CLI_EXIT_OK)
		return rc;
	embstore_info info;
	embstore_get_info(store, &info);
	verify_ctx ctx = {store, 0, quiet};
	errno = 0;
	embstore_status st = embstore_verify(store, report, &ctx);
	int saved_errno = errno;
	embstore_close(store);

	if (st == EMBSTORE_OK && ctx.problems == 0) {
		fputs("ok: ", stdout);
		cli_put_escaped(stdout, path, CLI_ESCAPE_PLAIN);
		printf(" (%" PRIu32 " %s, %" PRIu64 " bytes checked)\n", info.table_count,
		       info.table_count == 1 ? "table" : "tables", info.file_size);
		return CLI_EXIT_OK;
	}
	if (st != EMBSTORE_OK && ctx.problems == 0) {
		/* Not a problem report: either the data could not be read, or a failure the callback never saw. */
		cli_status_error("verify", path, st, saved_errno);
		return cli_exit_for(st);
	}
	cli_put_escaped(stdout, path, CLI_ESCAPE_PLAIN);
	printf(": %" PRIu64 " %s\n", ctx.problems, ctx.problems == 1 ? "problem" : "problems");
	return CLI_EXIT_INVALID;
}

static int any_shard(char *const *paths, size_t n)
{
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) {
		embstore *store;
		embstore_shard_info info;
		if (embstore_open(paths[i], 0, &store) != EMBSTORE_OK)
			continue;
		found = embstore_shard_get(store, &info) != EMBSTORE_NOT_FOUND;
		embstore_close(store);
	}
	return found;
}

/* The set check, when a FILE is a shard; ordinary stores are verified each on its own, as before. */
static int verify_set(char *const *paths, size_t n)
{
	if (!any_shard(paths, n))
		return CLI_EXIT_OK;
	embstore_set *set;
	errno = 0;
	embstore_status st = embstore_set_open((const char *const *)paths, n, 0, &set);
	if (st != EMBSTORE_OK) {
		cli_status_error("verify", "set", st, errno);
		return cli_exit_for(st);
	}
	embstore_set_info info;
	embstore_set_get_info(set, &info);
	if (info.shard.by != EMBSTORE_SHARD_NONE)
		printf("ok: set %s (%" PRIu32 " %s by %s, %" PRIu32 " %s)\n", info.shard.set_id, info.shard_count,
		       info.shard_count == 1 ? "shard" : "shards", info.shard.by == EMBSTORE_SHARD_BY_ROWS ? "rows" : "table",
		       info.table_count, info.table_count == 1 ? "table" : "tables");
	embstore_set_close(set);
	return CLI_EXIT_OK;
}

int cli_cmd_verify(int argc, char **argv)
{
	int quiet = 0;
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("verify", argc, argv, short_options, long_options)) != -1;) {
		switch (opt) {
		case OPT_QUIET:
			quiet = 1;
			break;
		case OPT_HELP:
			return cli_help("verify", usage);
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("verify", "missing FILE");

	int worst = CLI_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		int rc = verify_one(argv[i], quiet);
		if (rc > worst)
			worst = rc;
		/* Keep the summary lines in order with the error messages on stderr. */
		fflush(stdout);
		if (ferror(stdout))
			break;
	}
	if (worst == CLI_EXIT_OK && !ferror(stdout)) {
		worst = verify_set(argv + optind, (size_t)(argc - optind));
		fflush(stdout);
	}
	int rc = cli_finish_output("verify");
	return rc != CLI_EXIT_OK ? rc : worst;
}
