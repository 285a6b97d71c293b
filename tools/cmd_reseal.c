/* cmd_reseal.c: `embstore reseal`: accepts a store's rows as they are after a crash during training. */
#include "cli.h"

#include <errno.h>

static const char usage[] =
	"Usage: embstore reseal FILE...\n"
	"\n"
	"Accepts the rows of each FILE as they are and recomputes every chunk checksum, so that 'embstore verify'\n"
	"passes again. For a store whose training was interrupted (the process killed, the machine powered off)\n"
	"between an update and its sync: verify then names the chunks changed since the last completed sync, and\n"
	"reseal makes those rows the store's content. It repairs the checksums, never the rows: it cannot tell a row\n"
	"changed by an interrupted update from one damaged by the disk, so run verify first and reseal only a file\n"
	"whose problems a crash explains. It still refuses a file that breaks any structural rule, and a file that\n"
	"another process has open for writing.\n"
	"\n"
	"Options:\n"
	"  -h, --help  print this help\n"
	"\n"
	"Exit status (the highest among the FILEs):\n"
	"  0  every FILE was resealed\n"
	"  1  a FILE is not a valid store (beyond what reseal repairs)\n"
	"  2  usage error, I/O error, a FILE open for writing elsewhere, or out of memory\n";

enum { OPT_HELP = 'h' };

static const char short_options[] = ":h";

static const struct option long_options[] = {
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

int cli_cmd_reseal(int argc, char **argv)
{
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("reseal", argc, argv, short_options, long_options)) != -1;) {
		if (opt == OPT_HELP)
			return cli_help("reseal", usage);
		return CLI_EXIT_USAGE;
	}
	if (optind >= argc)
		return cli_usage_error("reseal", "missing FILE");
	int worst = CLI_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		errno = 0;
		embstore_status st = embstore_reseal(argv[i]);
		int rc = CLI_EXIT_OK;
		if (st == EMBSTORE_OK) {
			fputs("resealed: ", stdout);
			cli_put_escaped(stdout, argv[i], CLI_ESCAPE_PLAIN);
			fputc('\n', stdout);
		} else {
			cli_status_error("reseal", argv[i], st, errno);
			rc = cli_exit_for(st);
		}
		if (rc > worst)
			worst = rc;
	}
	int rc = cli_finish_output("reseal");
	return rc != CLI_EXIT_OK ? rc : worst;
}
