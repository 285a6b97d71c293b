/* main.c: the embstore command: finds the subcommand, prints the general help and the version. */
#include "cli.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} command;

static const command commands[] = {
	{"build", cli_cmd_build, "write a store from .npy, word2vec, fastText, GloVe, safetensors, .npz or raw f32"},
	{"create", cli_cmd_create, "write a fresh table drawn at random from a seed, ready to train"},
	{"inspect", cli_cmd_inspect, "print a store's header: metadata and tables (--json for scripts)"},
	{"verify", cli_cmd_verify, "check every data checksum; name each corrupt table and row range"},
	{"export", cli_cmd_export, "write tables back out as .npy, word2vec (binary or text) or safetensors"},
	{"reseal", cli_cmd_reseal, "accept a store's rows as they are after a crash during training"},
	{"get", cli_cmd_get, "print rows of a table by id or key, as f32 values that round-trip exactly"},
	{"cpu", cli_cmd_cpu, "print CPU features and the kernel sets this machine can run"},
	{"bench", cli_cmd_bench, "measure kernel throughput on this CPU, every kernel set (--json)"},
	{NULL, NULL, NULL},
};

static void print_help(void)
{
	printf("Usage: embstore COMMAND [OPTIONS] [ARGS]\n"
	       "       embstore --help | --version\n"
	       "\n"
	       "Memory-mapped embedding tables, from the command line. The manual: embstore(1).\n"
	       "\n"
	       "Commands:\n");
	for (const command *c = commands; c->name != NULL; c++)
		printf("  %-9s %s\n", c->name, c->summary);
	printf("\n"
	       "'embstore COMMAND --help' (or 'embstore help COMMAND') describes one command and its exit statuses.\n"
	       "\n"
	       "Exit status:\n"
	       "  0  success\n"
	       "  1  a file is invalid or corrupt (the store being read, or an input of build), or a key given to get\n"
	       "     is not in the table\n"
	       "  2  usage error, I/O error, or out of memory\n"
	       "\n"
	       "Environment:\n"
	       "  EMBSTORE_ISA  force a kernel set (scalar, avx2, avx512, neon) wherever the library runs kernels: in\n"
	       "                get, and in any program using the library. 'embstore cpu' shows the set in use;\n"
	       "                'embstore bench' measures every set whatever it says.\n");
}

static void print_version(void)
{
	printf("embstore %s (file format %d.%d)\n", embstore_version(), EMBSTORE_FORMAT_MAJOR,
	       EMBSTORE_FORMAT_MINOR);
}

static const command *find_command(const char *name)
{
	for (const command *c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/* Reading a mapped file that another process truncates, or that sits on a failing disk, raises SIGBUS. The
 * tool's promise is an exit status, never a death by signal, so it turns that into an I/O error. Only
 * async-signal-safe calls here. */
static void on_sigbus(int sig)
{
	(void)sig;
	static const char msg[] = "embstore: a mapped file could not be read (truncated while in use, or an I/O error)\n";
	ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)ignored;
	_exit(CLI_EXIT_USAGE);
}

static void install_signal_handlers(void)
{
	/* A closed pipe shows up as EPIPE on write, handled in cli_finish_output. */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

enum { OPT_HELP = 'h', OPT_VERSION = 'V' };

/* '+': stop at the command; what follows it is the command's to parse. */
static const char short_options[] = "+:hV";

static const struct option long_options[] = {
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	install_signal_handlers();
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt(NULL, argc, argv, short_options, long_options)) != -1;) {
		switch (opt) {
		case OPT_HELP:
			print_help();
			return cli_finish_output(NULL);
		case OPT_VERSION:
			print_version();
			return cli_finish_output(NULL);
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "missing COMMAND (build, inspect, verify, export, reseal, get, cpu, bench)");
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		if (optind + 1 >= argc) {
			print_help();
			return cli_finish_output(NULL);
		}
		const command *c = find_command(argv[optind + 1]);
		if (c == NULL)
			return cli_usage_error(NULL, "unknown command '%s'", argv[optind + 1]);
		char help_flag[] = "--help";
		char *help_argv[] = {argv[optind + 1], help_flag, NULL};
		return c->run(2, help_argv);
	}
	const command *c = find_command(name);
	if (c == NULL)
		return cli_usage_error(NULL, "unknown command '%s'", name);
	return c->run(argc - optind, argv + optind);
}
