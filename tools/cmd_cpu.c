/* cmd_cpu.c: `embstore cpu`: the CPU features the library detected and the kernel sets it can run. */
#include "cli.h"

#include <stdlib.h>

static const char usage[] =
	"Usage: embstore cpu [--check ISA]\n"
	"\n"
	"Prints the CPU features embstore detected, which kernel sets (ISAs) this build and CPU can run, and the\n"
	"one in use (the best, or the one the environment variable EMBSTORE_ISA names).\n"
	"\n"
	"Options:\n"
	"  --check ISA  print only whether ISA (scalar, avx2, avx512, neon) can run here\n"
	"  -h, --help   print this help\n"
	"\n"
	"Exit status:\n"
	"  0  success; with --check: ISA can run here\n"
	"  1  with --check: ISA cannot run here\n"
	"  2  usage error (bad option, ISA not a kernel set's name), EMBSTORE_ISA names a set that cannot run\n"
	"     here, or output error\n";

enum { OPT_CHECK = CLI_LONG_ONLY };

static const struct option options[] = {
	{"check", required_argument, NULL, OPT_CHECK},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int check(const char *name)
{
	embstore_isa isa;
	if (embstore_isa_parse(name, &isa) != EMBSTORE_OK) {
		cli_error("cpu", NULL, "unknown kernel set '%s' (known: scalar, avx2, avx512, neon)", name);
		return CLI_EXIT_USAGE;
	}
	int supported = embstore_isa_supported(isa);
	printf("%s: %s\n", name, supported ? "supported" : "not supported");
	int rc = cli_finish_output("cpu");
	if (rc != CLI_EXIT_OK)
		return rc;
	return supported ? CLI_EXIT_OK : CLI_EXIT_INVALID;
}

int cli_cmd_cpu(int argc, char **argv)
{
	const char *check_name = NULL;
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("cpu", argc, argv, ":h", options)) != -1;) {
		switch (opt) {
		case OPT_CHECK:
			check_name = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return cli_finish_output("cpu");
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("cpu", "unexpected argument '%s'", argv[optind]);
	if (check_name != NULL)
		return check(check_name);

	cli_print_cpu_features();

	fputs("kernel sets:\n", stdout);
	for (int i = 0; i < EMBSTORE_ISA_COUNT; i++) {
		const char *name = embstore_isa_name((embstore_isa)i);
		if (name == NULL)
			continue;
		printf("  %-8s %s\n", name, embstore_isa_supported((embstore_isa)i) ? "supported" : "not supported");
	}

	embstore_isa active;
	embstore_status st = embstore_isa_active(&active);
	const char *forced = getenv("EMBSTORE_ISA");
	if (st == EMBSTORE_UNSUPPORTED_ISA) {
		fputs("active:   none\n", stdout);
		int rc = cli_finish_output("cpu");
		if (rc != CLI_EXIT_OK)
			return rc;
		cli_error("cpu", NULL, "EMBSTORE_ISA is set to '%s', which is not a kernel set this CPU and build can run; "
		          "kernels refuse to run until it is unset or names one marked supported above",
		          forced != NULL ? forced : "");
		return CLI_EXIT_USAGE;
	}
	if (st != EMBSTORE_OK) {
		cli_status_error("cpu", "active kernel set", st, 0);
		return CLI_EXIT_USAGE;
	}
	const char *active_name = embstore_isa_name(active);
	printf("active:   %s%s\n", active_name != NULL ? active_name : "?",
	       forced != NULL && forced[0] != 0 ? " (forced by EMBSTORE_ISA)" : "");
	return cli_finish_output("cpu");
}
