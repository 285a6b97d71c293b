/* cmd_create.c: `embstore create`: a fresh trainable table, drawn at random from a seed, as an Embedding layer
 * starts. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
	"Usage: embstore create -o OUT --table NAME --rows V --dim D [OPTIONS]\n"
	"\n"
	"Writes a store holding one table of V rows of D values, drawn at random as a fresh embedding layer starts,\n"
	"in bounded memory whatever its size. The same seed gives the same bytes on every machine and kernel set, and\n"
	"row r depends only on the seed and r. The file is committed atomically, as build does.\n"
	"\n"
	"Options:\n"
	"  -o, --output OUT   the store to write\n"
	"  -f, --force        replace OUT if it exists\n"
	"      --table NAME   the table's name\n"
	"      --rows V       rows (the vocabulary size)\n"
	"      --dim D        values per row (d_feature)\n"
	"  -d, --dtype TYPE   f32 (default), f16, bf16 or int8\n"
	"      --init KIND    normal (default: mean 0, standard deviation --std), uniform (from minus --scale to\n"
	"                     --scale) or zeros\n"
	"      --std S        the normal's standard deviation (default 1, as torch.nn.Embedding)\n"
	"      --scale S      the uniform's half-width (Keras' Embedding: 0.05; Trax's: sqrt(3 / D))\n"
	"      --seed N       the generator's seed (default 0)\n"
	"      --adagrad-state  also write the table NAME.adagrad_state, V rows of one f32 zero: the state of the\n"
	"                     row-wise Adagrad optimizer, kept in the same store\n"
	"  -h, --help         print this help\n"
	"\n"
	"Exit status:\n"
	"  0  the store was written\n"
	"  2  usage error, OUT exists (without --force), I/O error, or out of memory\n";

enum {
	OPT_OUTPUT = 'o',
	OPT_FORCE = 'f',
	OPT_HELP = 'h',
	OPT_DTYPE = 'd',
	OPT_TABLE = CLI_LONG_ONLY,
	OPT_ROWS,
	OPT_DIM,
	OPT_INIT,
	OPT_STD,
	OPT_SCALE,
	OPT_SEED,
	OPT_ADAGRAD,
};

static const char short_options[] = ":o:fd:h";

static const struct option long_options[] = {
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"force", no_argument, NULL, OPT_FORCE},
	{"table", required_argument, NULL, OPT_TABLE},
	{"rows", required_argument, NULL, OPT_ROWS},
	{"dim", required_argument, NULL, OPT_DIM},
	{"dtype", required_argument, NULL, OPT_DTYPE},
	{"init", required_argument, NULL, OPT_INIT},
	{"std", required_argument, NULL, OPT_STD},
	{"scale", required_argument, NULL, OPT_SCALE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"adagrad-state", no_argument, NULL, OPT_ADAGRAD},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

typedef struct create_args {
	const char *output, *table;
	uint64_t rows, dim;
	embstore_dtype dtype;
	embstore_init init;
	int force, adagrad, have_std, have_scale;
} create_args;

/* A finite decimal number from 0 to 1e30, the whole argument. */
static int parse_scale(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 || v > 1e30)
		return -1;
	*out = v;
	return 0;
}

/* parse_args' answer when the command should go on and write (any other is the exit status). */
enum { GO_ON = -1 };

static int parse_args(int argc, char **argv, create_args *a)
{
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("create", argc, argv, short_options, long_options)) != -1;) {
		switch (opt) {
		case OPT_OUTPUT:
			a->output = optarg;
			break;
		case OPT_FORCE:
			a->force = 1;
			break;
		case OPT_TABLE:
			a->table = optarg;
			break;
		case OPT_ROWS:
			if (!cli_parse_u64(optarg, &a->rows) || a->rows == 0)
				return cli_usage_error("create", "--rows '%s': expected a positive decimal integer", optarg);
			break;
		case OPT_DIM:
			if (!cli_parse_u64(optarg, &a->dim) || a->dim == 0 || a->dim > UINT32_MAX)
				return cli_usage_error("create", "--dim '%s': expected a positive decimal integer", optarg);
			break;
		case OPT_DTYPE:
			if (embstore_dtype_parse(optarg, &a->dtype) != EMBSTORE_OK)
				return cli_usage_error("create", "--dtype '%s': expected f32, f16, bf16 or int8", optarg);
			break;
		case OPT_INIT:
			if (strcmp(optarg, "normal") == 0)
				a->init.kind = EMBSTORE_INIT_NORMAL;
			else if (strcmp(optarg, "uniform") == 0)
				a->init.kind = EMBSTORE_INIT_UNIFORM;
			else if (strcmp(optarg, "zeros") == 0)
				a->init.kind = EMBSTORE_INIT_ZEROS;
			else
				return cli_usage_error("create", "--init '%s': expected normal, uniform or zeros", optarg);
			break;
		case OPT_STD:
		case OPT_SCALE:
			if (parse_scale(optarg, &a->init.scale) != 0)
				return cli_usage_error("create", "--%s '%s': expected a number from 0 to 1e30",
				                       opt == OPT_STD ? "std" : "scale", optarg);
			*(opt == OPT_STD ? &a->have_std : &a->have_scale) = 1;
			break;
		case OPT_SEED:
			if (!cli_parse_u64(optarg, &a->init.seed))
				return cli_usage_error("create", "--seed '%s': expected a decimal integer from 0 to 2^64 - 1",
				                       optarg);
			break;
		case OPT_ADAGRAD:
			a->adagrad = 1;
			break;
		case OPT_HELP:
			return cli_help("create", usage);
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("create", "unexpected argument '%s'", argv[optind]);
	if (!a->output)
		return cli_usage_error("create", "missing -o OUT");
	if (!a->table || !a->rows || !a->dim)
		return cli_usage_error("create", "--table, --rows and --dim are required");
	/* Each parameter belongs to one distribution: a mismatch is a mistake, not something to ignore. */
	if (a->have_std && a->init.kind != EMBSTORE_INIT_NORMAL)
		return cli_usage_error("create", "--std applies to --init normal; --init uniform takes --scale");
	if (a->have_scale && a->init.kind != EMBSTORE_INIT_UNIFORM)
		return cli_usage_error("create", "--scale applies to --init uniform; --init normal takes --std");
	if (a->init.kind == EMBSTORE_INIT_UNIFORM && !a->have_scale)
		return cli_usage_error("create", "--init uniform needs --scale (Keras' Embedding uses 0.05)");
	struct stat st;
	if (!a->force && stat(a->output, &st) == 0) {
		cli_error("create", a->output, "already exists; use -f/--force to replace it");
		return CLI_EXIT_USAGE;
	}
	return GO_ON;
}

static int write_store(const create_args *a)
{
	embstore_writer *w;
	errno = 0;
	embstore_status st = embstore_writer_create(a->output, &w);
	if (st != EMBSTORE_OK) {
		cli_status_error("create", a->output, st, errno);
		return CLI_EXIT_USAGE;
	}
	char creator[64];
	snprintf(creator, sizeof creator, "embstore %s", embstore_version());
	const char *subject = a->table;
	st = embstore_writer_add_meta(w, "creator", creator);
	if (st == EMBSTORE_OK)
		st = embstore_writer_init_table(w, a->table, a->dtype, a->rows, (uint32_t)a->dim, &a->init);
	char *state_name = NULL;
	if (st == EMBSTORE_OK && a->adagrad) {
		size_t len = strlen(a->table) + sizeof ".adagrad_state";
		state_name = malloc(len);
		if (!state_name) {
			st = EMBSTORE_NO_MEMORY;
		} else {
			snprintf(state_name, len, "%s.adagrad_state", a->table);
			subject = state_name;
			embstore_init zeros = {EMBSTORE_INIT_ZEROS, 0, 0};
			st = embstore_writer_init_table(w, state_name, EMBSTORE_F32, a->rows, 1, &zeros);
		}
	}
	errno = 0;
	if (st == EMBSTORE_OK) {
		subject = a->output;
		st = embstore_writer_finish(w);
	}
	int rc = CLI_EXIT_OK;
	if (st != EMBSTORE_OK) {
		/* A name the format refuses is the command line's; an I/O error is the output's. */
		if (st == EMBSTORE_IO)
			subject = a->output;
		cli_status_error("create", subject, st, errno);
		rc = CLI_EXIT_USAGE;
	}
	free(state_name);
	embstore_writer_free(w);
	return rc;
}

int cli_cmd_create(int argc, char **argv)
{
	create_args a = {.dtype = EMBSTORE_F32, .init = {EMBSTORE_INIT_NORMAL, 1.0, 0}};
	int rc = parse_args(argc, argv, &a);
	if (rc != GO_ON)
		return rc;
	if ((rc = write_store(&a)) != CLI_EXIT_OK)
		return rc;
	fputs("created ", stdout);
	cli_put_escaped(stdout, a.output, CLI_ESCAPE_PLAIN);
	fputs(": table \"", stdout);
	cli_put_escaped(stdout, a.table, CLI_ESCAPE_QUOTED);
	printf("\", %" PRIu64 " x %" PRIu64 "%s\n", a.rows, a.dim, a.adagrad ? ", with its row-wise Adagrad state" : "");
	return cli_finish_output("create");
}
