/* cmd_export.c: `embstore export`: a table back out as .npy, word2vec binary or word2vec text; tables as
 * safetensors. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"Usage: embstore export FILE... [--table NAME] --to FORMAT -o OUT [-f]\n"
	"\n"
	"Writes one table of the store FILE to OUT (safetensors: every table, or the one --table names), atomically\n"
	"like build: on any error nothing is written and an existing OUT is left as it was. Exported and built again,\n"
	"a table is value-exact (f32, f16; bf16 too through safetensors) and, through word2vec, key-exact.\n"
	"FILE may be every file of a shard set (docs/FORMAT.md, \"Sharded sets\"), checked as 'embstore verify'\n"
	"checks a set: it is merged in global row order ('--to emb' writes the merged store; the other formats are\n"
	"written from it, merged first into a hidden temporary file beside OUT).\n"
	"\n"
	"Formats:\n"
	"  emb            one embstore store: the set merged back (from a set that 'build' split, the very\n"
	"                 bytes of the unsharded build), or a copy of one store\n"
	"  npy            2-D .npy: f16 tables as '<f2', every other dtype as '<f4' (bf16 and int8 widened exactly)\n"
	"  word2vec       word2vec binary: 'rows dim', then per row the key, a space, dim f32 and a newline\n"
	"  word2vec-text  (or fasttext) 'rows dim', then 'key v1 ... vdim' per row, values with 9 significant digits\n"
	"  safetensors    one 2-D tensor per table, named after it: f32, f16 and bf16 as they are (F32, F16, BF16),\n"
	"                 int8 dequantised to F32; the store's metadata as __metadata__. Safetensors holds no\n"
	"                 strings: vocabularies are not exported (a note says so; word2vec keeps them)\n"
	"The word2vec formats need a table with a vocabulary, whose keys hold no blanks.\n"
	"\n"
	"Options:\n"
	"  -t, --table NAME  the table; may be left out when FILE holds exactly one table (safetensors: every\n"
	"                    table is exported without it)\n"
	"      --to FORMAT   emb, npy, word2vec, word2vec-text, fasttext or safetensors (required)\n"
	"  -o, --output OUT  the file to write (required)\n"
	"  -f, --force       replace OUT if it exists (never when it is FILE)\n"
	"  -h, --help        print this help\n"
	"\n"
	"Exit status:\n"
	"  0  OUT was written\n"
	"  1  FILE is not a valid store, or its vocabulary is damaged, or the FILEs are not one complete shard set\n"
	"  2  usage error (unknown table, no vocabulary for a word2vec format, a key with a blank, a table named\n"
	"     __metadata__ for safetensors, OUT exists without --force or is FILE), I/O error, or out of memory\n";

enum { OPT_TABLE = 't', OPT_OUTPUT = 'o', OPT_FORCE = 'f', OPT_HELP = 'h', OPT_TO = CLI_LONG_ONLY };

static const char short_options[] = ":t:o:fh";

static const struct option long_options[] = {
	{"table", required_argument, NULL, OPT_TABLE},
	{"to", required_argument, NULL, OPT_TO},
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"force", no_argument, NULL, OPT_FORCE},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* As build: an existing OUT only with --force, and never FILE itself (by any name). */
static int check_output(const char *path, const char *output, int force)
{
	struct stat in, out;
	if (stat(output, &out) != 0)
		return CLI_EXIT_OK;
	if (stat(path, &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
		cli_error("export", output, "is the store being exported; refusing to replace it, even with --force");
		return CLI_EXIT_USAGE;
	}
	if (!force) {
		cli_error("export", output, "already exists; use -f/--force to replace it");
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

/* Safetensors holds no strings: say which tables lose their keys, and what keeps them. */
static void note_vocabularies(const embstore *store, uint32_t index)
{
	embstore_info info;
	embstore_get_info(store, &info);
	for (uint32_t i = 0; i < info.table_count; i++) {
		embstore_table t;
		if ((index == EMBSTORE_ALL_TABLES || index == i) && embstore_table_at(store, i, &t) == EMBSTORE_OK &&
		    t.has_vocab)
		{
			fputs("embstore: export: note: safetensors holds no strings; the vocabulary of table \"", stderr);
			cli_put_escaped(stderr, t.name, CLI_ESCAPE_QUOTED);
			fputs("\" is not exported (--to word2vec keeps it)\n", stderr);
		}
	}
}

static int export_store(embstore *store, const char *path, const char *table, embstore_format format,
                        const char *output);

/* The files of a set (or one store) merged: into OUT (--to emb), or into a hidden file beside OUT that is opened,
 * unlinked and exported from. */
static int merged(char *const *paths, size_t n, const char *output, int to_emb, const char *table,
                  embstore_format format)
{
	embstore_set *set;
	int rc = cli_open_set("export", paths, n, EMBSTORE_ADVISE_SEQUENTIAL, &set);
	if (rc != CLI_EXIT_OK)
		return rc;
	const char *slash = strrchr(output, '/');
	size_t dir = slash != NULL ? (size_t)(slash - output) + 1 : 0, cap = strlen(output) + 64;
	char *whole = to_emb ? NULL : malloc(cap);
	if (!to_emb && whole == NULL) {
		embstore_set_close(set);
		cli_error("export", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	if (whole != NULL)
		snprintf(whole, cap, "%.*s.%s.%ld.merged.tmp", (int)dir, output, output + dir, (long)getpid());
	errno = 0;
	embstore_status st = embstore_set_merge(set, to_emb ? output : whole);
	int saved = errno;
	embstore_set_close(set);
	if (st != EMBSTORE_OK) {
		cli_status_error("export", st == EMBSTORE_IO ? output : "set", st, saved);
		free(whole);
		return st == EMBSTORE_CORRUPT ? CLI_EXIT_INVALID : CLI_EXIT_USAGE;
	}
	if (to_emb)
		return CLI_EXIT_OK;
	embstore *store;
	rc = cli_open_store("export", whole, EMBSTORE_ADVISE_SEQUENTIAL, &store);
	unlink(whole);
	free(whole);
	return rc == CLI_EXIT_OK ? export_store(store, paths[0], table, format, output) : rc;
}

int cli_cmd_export(int argc, char **argv)
{
	const char *table = NULL, *output = NULL;
	int force = 0, to_emb = 0;
	embstore_format format = EMBSTORE_FORMAT_AUTO;
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("export", argc, argv, short_options, long_options)) != -1;) {
		switch (opt) {
		case OPT_TABLE:
			table = optarg;
			break;
		case OPT_OUTPUT:
			output = optarg;
			break;
		case OPT_FORCE:
			force = 1;
			break;
		case OPT_TO:
			if (strcmp(optarg, "emb") == 0) {
				to_emb = 1;
				format = EMBSTORE_FORMAT_NPY; /* not used: the merge writes OUT */
				break;
			}
			to_emb = 0;
			if (embstore_format_parse(optarg, &format) != EMBSTORE_OK ||
			    (format != EMBSTORE_FORMAT_NPY && format != EMBSTORE_FORMAT_WORD2VEC &&
			     format != EMBSTORE_FORMAT_WORD2VEC_TEXT && format != EMBSTORE_FORMAT_SAFETENSORS))
				return cli_usage_error("export", "--to '%s': expected npy, word2vec, word2vec-text, fasttext or "
				                       "safetensors", optarg);
			break;
		case OPT_HELP:
			return cli_help("export", usage);
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("export", "missing FILE");
	if (format == EMBSTORE_FORMAT_AUTO)
		return cli_usage_error("export", "missing --to FORMAT");
	if (to_emb && table != NULL)
		return cli_usage_error("export", "--to emb writes every table; --table does not apply");
	if (output == NULL)
		return cli_usage_error("export", "missing -o OUT");
	const char *path = argv[optind];
	int rc = CLI_EXIT_OK;
	for (int i = optind; i < argc && rc == CLI_EXIT_OK; i++)
		rc = check_output(argv[i], output, force);
	if (rc != CLI_EXIT_OK)
		return rc;
	size_t n_files = (size_t)(argc - optind);
	if (to_emb || n_files > 1)
		return merged(argv + optind, n_files, output, to_emb, table, format);
	embstore *store;
	if ((rc = cli_open_store("export", path, EMBSTORE_ADVISE_SEQUENTIAL, &store)) != CLI_EXIT_OK)
		return rc;
	return export_store(store, path, table, format, output);
}

/* A table (or the tables, for safetensors) of an open store to OUT; closes the store. */
static int export_store(embstore *store, const char *path, const char *table, embstore_format format,
                        const char *output)
{
	int rc = CLI_EXIT_OK;
	embstore_table t;
	uint32_t index = EMBSTORE_ALL_TABLES;
	if (format != EMBSTORE_FORMAT_SAFETENSORS || table != NULL) {
		rc = cli_select_table("export", path, store, table, &t);
		index = t.index;
	}
	if (rc == CLI_EXIT_OK) {
		errno = 0;
		embstore_status st = embstore_export(store, index, format, output);
		if (st != EMBSTORE_OK) {
			cli_status_error("export", st == EMBSTORE_IO ? output : path, st, errno);
			rc = st == EMBSTORE_CORRUPT ? CLI_EXIT_INVALID : CLI_EXIT_USAGE;
		} else if (format == EMBSTORE_FORMAT_SAFETENSORS) {
			note_vocabularies(store, index);
		}
	}
	embstore_close(store);
	return rc;
}
