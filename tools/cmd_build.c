/* cmd_build.c: `embstore build`: writes a store, one table per input file, through the library's importers. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: embstore build -o OUT [OPTIONS] [NAME=]INPUT...\n"
	"\n"
	"Writes the store OUT with one table per INPUT, named NAME or else after the input's file name without its\n"
	"extension ('data/words.npy' -> 'words'). A path that contains '=' can be given as NAME=PATH or as './PATH'.\n"
	"OUT appears atomically once everything is written; on any error nothing is written and an existing OUT is\n"
	"left as it was.\n"
	"\n"
	"Inputs:\n"
	"  .npy  2-D, C order, little-endian f32 ('<f4') or f16 ('<f2'); the format of inputs named *.npy\n"
	"  raw   little-endian f32, rows x dim values and nothing else (--from raw, with --rows and --dim)\n"
	"\n"
	"Options:\n"
	"  -o, --output OUT      the store to write (required)\n"
	"  -d, --dtype TYPE      store every table as f32, f16, bf16 or int8 (row-wise quantised); default: the\n"
	"                        input's own dtype (f32 for raw). Conversions round to nearest, ties to even.\n"
	"  -f, --from FORMAT     npy or raw: the format of every INPUT; default: npy for inputs named *.npy\n"
	"      --rows R          rows of each raw input\n"
	"      --dim D           values per row of each raw input\n"
	"  -m, --meta KEY=VALUE  add a metadata entry (repeatable). 'creator' (embstore VERSION) and, per table,\n"
	"                        'source.TABLE' (the input path) are added unless given here\n"
	"      --chunk-bytes N   target bytes per checksum chunk (default 65536; K, M, G suffixes allowed)\n"
	"      --align N         data alignment, a power of two from 4096 to 2M (default 4096; 2M allows huge pages)\n"
	"      --saturate        store a finite value too large for the table's dtype (f16, bf16; f64 inputs: f32)\n"
	"                        as the largest finite one of its sign, instead of failing\n"
	"  -h, --help            print this help\n"
	"\n"
	"An input that is not a readable .npy or raw file of the stated size, or whose values int8 cannot quantise\n"
	"(NaN, infinity), makes the input invalid: exit 1.\n"
	"\n";

enum { OPT_OUTPUT, OPT_DTYPE, OPT_FROM, OPT_ROWS, OPT_DIM, OPT_META, OPT_CHUNK, OPT_ALIGN, OPT_SATURATE, OPT_HELP };

static const cli_option options[] = {
	{"output", 'o', 1, OPT_OUTPUT},
	{"dtype", 'd', 1, OPT_DTYPE},
	{"from", 'f', 1, OPT_FROM},
	{"rows", 0, 1, OPT_ROWS},
	{"dim", 0, 1, OPT_DIM},
	{"meta", 'm', 1, OPT_META},
	{"chunk-bytes", 0, 1, OPT_CHUNK},
	{"align", 0, 1, OPT_ALIGN},
	{"saturate", 0, 0, OPT_SATURATE},
	{"help", 'h', 0, OPT_HELP},
	{NULL, 0, 0, 0},
};

enum input_format { FORMAT_AUTO, FORMAT_NPY, FORMAT_RAW };

typedef struct input {
	char *name;       /* owned */
	const char *path; /* an argv string */
} input;

typedef struct meta {
	char *key; /* owned; value follows the key's NUL */
	const char *value;
} meta;

typedef struct build_args {
	const char *output;
	embstore_dtype dtype; /* 0: keep the input's */
	enum input_format format;
	uint64_t rows, dim;
	int have_rows, have_dim;
	uint64_t chunk_bytes, alignment;
	int have_chunk_bytes, have_alignment;
	int saturate;
	input *inputs;
	size_t input_count;
	meta *metas;
	size_t meta_count;
} build_args;

static void free_args(build_args *a)
{
	for (size_t i = 0; i < a->input_count; i++)
		free(a->inputs[i].name);
	for (size_t i = 0; i < a->meta_count; i++)
		free(a->metas[i].key);
	free(a->inputs);
	free(a->metas);
}

static char *dup_range(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (d != NULL) {
		memcpy(d, s, len);
		d[len] = 0;
	}
	return d;
}

/* NAME=PATH, or PATH whose stem names the table. The part before '=' is a name only when it holds no '/', so
 * that "./a=b.npy" stays a path. */
static int add_input(build_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');
	const char *path = arg;
	char *name;
	if (eq != NULL && memchr(arg, '/', (size_t)(eq - arg)) == NULL) {
		if (eq == arg)
			return cli_usage_error("build", "empty table name in '%s'", arg);
		if (eq[1] == 0)
			return cli_usage_error("build", "no input file after '%s'", arg);
		path = eq + 1;
		name = dup_range(arg, (size_t)(eq - arg));
	} else {
		const char *base = strrchr(path, '/');
		base = base != NULL ? base + 1 : path;
		/* Like Python's Path.stem: drop the last suffix, but a leading dot does not start one. */
		const char *dot = strrchr(base, '.');
		size_t len = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
		if (len == 0)
			return cli_usage_error("build", "cannot name a table after '%s'; give it as NAME=%s", path, path);
		name = dup_range(base, len);
	}
	if (name == NULL) {
		cli_error("build", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	input *grown = realloc(a->inputs, (a->input_count + 1) * sizeof *grown);
	if (grown == NULL) {
		free(name);
		cli_error("build", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	a->inputs = grown;
	a->inputs[a->input_count].name = name;
	a->inputs[a->input_count].path = path;
	a->input_count++;
	return CLI_EXIT_OK;
}

static int add_meta_arg(build_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (eq == NULL)
		return cli_usage_error("build", "--meta '%s': expected KEY=VALUE", arg);
	if (eq == arg)
		return cli_usage_error("build", "--meta '%s': empty key", arg);
	char *key = dup_range(arg, (size_t)(eq - arg));
	meta *grown = key != NULL ? realloc(a->metas, (a->meta_count + 1) * sizeof *grown) : NULL;
	if (grown == NULL) {
		free(key);
		cli_error("build", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	a->metas = grown;
	a->metas[a->meta_count].key = key;
	a->metas[a->meta_count].value = eq + 1;
	a->meta_count++;
	return CLI_EXIT_OK;
}

static int ends_with_npy(const char *path)
{
	size_t len = strlen(path);
	if (len < 4)
		return 0;
	const char *s = path + len - 4;
	return s[0] == '.' && (s[1] | 0x20) == 'n' && (s[2] | 0x20) == 'p' && (s[3] | 0x20) == 'y';
}

static int parse_args(build_args *a, int argc, char **argv, int *done)
{
	cli_parser p;
	cli_parser_init(&p, "build", options, argc, argv);
	*done = 0;
	for (;;) {
		int opt = cli_next(&p), rc = CLI_EXIT_OK;
		if (opt == CLI_END)
			break;
		switch (opt) {
		case OPT_OUTPUT:
			a->output = p.value;
			break;
		case OPT_DTYPE:
			if (embstore_dtype_parse(p.value, &a->dtype) != EMBSTORE_OK)
				return cli_usage_error("build", "--dtype '%s': expected f32, f16, bf16 or int8", p.value);
			break;
		case OPT_FROM:
			if (strcmp(p.value, "npy") == 0)
				a->format = FORMAT_NPY;
			else if (strcmp(p.value, "raw") == 0)
				a->format = FORMAT_RAW;
			else
				return cli_usage_error("build", "--from '%s': expected npy or raw", p.value);
			break;
		case OPT_ROWS:
			if (!cli_parse_u64(p.value, &a->rows) || a->rows == 0)
				return cli_usage_error("build", "--rows '%s': expected a positive decimal integer", p.value);
			a->have_rows = 1;
			break;
		case OPT_DIM:
			if (!cli_parse_u64(p.value, &a->dim) || a->dim == 0 || a->dim > UINT32_MAX)
				return cli_usage_error("build", "--dim '%s': expected a positive decimal integer", p.value);
			a->have_dim = 1;
			break;
		case OPT_META:
			rc = add_meta_arg(a, p.value);
			break;
		case OPT_CHUNK:
			if (!cli_parse_size(p.value, &a->chunk_bytes) || a->chunk_bytes == 0)
				return cli_usage_error("build", "--chunk-bytes '%s': expected a positive size", p.value);
			a->have_chunk_bytes = 1;
			break;
		case OPT_ALIGN:
			if (!cli_parse_size(p.value, &a->alignment) || a->alignment > UINT32_MAX)
				return cli_usage_error("build", "--align '%s': expected a power of two from 4096 to 2M",
				                       p.value);
			a->have_alignment = 1;
			break;
		case OPT_SATURATE:
			a->saturate = 1;
			break;
		case OPT_HELP:
			*done = 1;
			return cli_help("build", usage);
		case CLI_OPERAND:
			rc = add_input(a, p.value);
			break;
		default:
			return CLI_EXIT_USAGE;
		}
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	if (a->output == NULL)
		return cli_usage_error("build", "missing -o OUT");
	if (a->input_count == 0)
		return cli_usage_error("build", "no INPUT files");
	if (a->format == FORMAT_RAW && (!a->have_rows || !a->have_dim))
		return cli_usage_error("build", "--from raw needs --rows and --dim");
	if (a->format != FORMAT_RAW && (a->have_rows || a->have_dim))
		return cli_usage_error("build", "--rows and --dim apply to --from raw only");
	for (size_t i = 0; i < a->input_count; i++) {
		if (a->format == FORMAT_AUTO && !ends_with_npy(a->inputs[i].path))
			return cli_usage_error("build", "'%s': cannot tell its format; use --from npy, or --from raw with "
			                       "--rows and --dim", a->inputs[i].path);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(a->inputs[i].name, a->inputs[j].name) == 0)
				return cli_usage_error("build", "two inputs make a table named '%s' ('%s' and '%s'); name "
				                       "them with NAME=INPUT", a->inputs[i].name, a->inputs[j].path,
				                       a->inputs[i].path);
		}
	}
	return CLI_EXIT_OK;
}

static int user_has_key(const build_args *a, const char *key)
{
	for (size_t i = 0; i < a->meta_count; i++) {
		if (strcmp(a->metas[i].key, key) == 0)
			return 1;
	}
	return 0;
}

static int add_meta(embstore_writer *w, const char *key, const char *value)
{
	embstore_status st = embstore_writer_add_meta(w, key, value);
	if (st == EMBSTORE_OK)
		return CLI_EXIT_OK;
	/* The entries are the command line's (keys, values, input paths): never the input files' fault. */
	cli_error("build", NULL, "metadata '%s': %s", key, embstore_strerror(st));
	return CLI_EXIT_USAGE;
}

/* The automatic entries first (creator, then source.TABLE per input, each unless the user gave that key), then
 * the user's in their order. */
static int add_all_meta(embstore_writer *w, const build_args *a)
{
	int rc;
	if (!user_has_key(a, "creator")) {
		char creator[64];
		snprintf(creator, sizeof creator, "embstore %s", embstore_version());
		if ((rc = add_meta(w, "creator", creator)) != CLI_EXIT_OK)
			return rc;
	}
	for (size_t i = 0; i < a->input_count; i++) {
		size_t len = strlen("source.") + strlen(a->inputs[i].name) + 1;
		char *key = malloc(len);
		if (key == NULL) {
			cli_error("build", NULL, "out of memory");
			return CLI_EXIT_USAGE;
		}
		snprintf(key, len, "source.%s", a->inputs[i].name);
		rc = user_has_key(a, key) ? CLI_EXIT_OK : add_meta(w, key, a->inputs[i].path);
		free(key);
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	for (size_t i = 0; i < a->meta_count; i++) {
		if ((rc = add_meta(w, a->metas[i].key, a->metas[i].value)) != CLI_EXIT_OK)
			return rc;
	}
	return CLI_EXIT_OK;
}

/* Reports a failed import. The table name and the input are the user's choices; the exit status says whose fault
 * it was: the input file's (1) or the command's or the machine's (2). */
static int import_error(const build_args *a, const input *in, embstore_status st, int saved_errno)
{
	switch (st) {
	case EMBSTORE_BAD_STRING:
	case EMBSTORE_DUPLICATE_NAME:
		cli_error("build", NULL, "table name '%s': %s", in->name, embstore_strerror(st));
		return CLI_EXIT_USAGE;
	case EMBSTORE_BAD_INPUT:
		if (a->format == FORMAT_RAW) {
			cli_error("build", in->path, "%s (expected exactly %" PRIu64 " x %" PRIu64 " little-endian f32 values)",
			          embstore_strerror(st), a->rows, a->dim);
		} else {
			cli_error("build", in->path, "%s (expected a 2-D, C-order, little-endian f32 or f16 .npy file)",
			          embstore_strerror(st));
		}
		return CLI_EXIT_INVALID;
	case EMBSTORE_RANGE:
		cli_error("build", in->path, "%s: %s (--saturate clamps such values)", embstore_strerror(st),
		          embstore_error_detail());
		return CLI_EXIT_INVALID;
	case EMBSTORE_NON_FINITE:
		cli_error("build", in->path, "%s (int8 cannot quantise a row holding NaN or infinity)",
		          embstore_strerror(st));
		return CLI_EXIT_INVALID;
	case EMBSTORE_LIMIT:
		if (a->format == FORMAT_RAW) { /* the sizes came from --rows and --dim */
			cli_error("build", in->path, "--rows %" PRIu64 " --dim %" PRIu64 ": %s (see the caps in docs/FORMAT.md)",
			          a->rows, a->dim, embstore_strerror(st));
			return CLI_EXIT_USAGE;
		}
		cli_error("build", in->path, "%s (see the caps in docs/FORMAT.md)", embstore_strerror(st));
		return CLI_EXIT_INVALID;
	default:
		cli_status_error("build", in->path, st, saved_errno);
		return cli_exit_for(st) == CLI_EXIT_INVALID ? CLI_EXIT_INVALID : CLI_EXIT_USAGE;
	}
}

static int write_store(const build_args *a)
{
	embstore_writer *w = NULL;
	errno = 0;
	embstore_status st = embstore_writer_create(a->output, &w);
	if (st != EMBSTORE_OK) {
		cli_status_error("build", a->output, st, errno);
		return CLI_EXIT_USAGE;
	}
	int rc = CLI_EXIT_OK;
	if (a->saturate && (st = embstore_writer_set_saturate(w, 1)) != EMBSTORE_OK) {
		cli_status_error("build", a->output, st, 0);
		rc = CLI_EXIT_USAGE;
		goto fail;
	}
	if (a->have_alignment && (st = embstore_writer_set_alignment(w, (uint32_t)a->alignment)) != EMBSTORE_OK) {
		rc = cli_usage_error("build", "--align %" PRIu64 ": %s (a power of two from 4096 to 2M)", a->alignment,
		                     embstore_strerror(st));
		goto fail;
	}
	if (a->have_chunk_bytes && (st = embstore_writer_set_chunk_bytes(w, a->chunk_bytes)) != EMBSTORE_OK) {
		rc = cli_usage_error("build", "--chunk-bytes %" PRIu64 ": %s", a->chunk_bytes, embstore_strerror(st));
		goto fail;
	}
	if ((rc = add_all_meta(w, a)) != CLI_EXIT_OK)
		goto fail;
	for (size_t i = 0; i < a->input_count; i++) {
		const input *in = &a->inputs[i];
		errno = 0;
		if (a->format == FORMAT_RAW) {
			embstore_dtype dtype = a->dtype != 0 ? a->dtype : EMBSTORE_F32;
			st = embstore_writer_import_raw(w, in->name, in->path, a->rows, (uint32_t)a->dim, dtype);
		} else {
			st = embstore_writer_import_npy(w, in->name, in->path, a->dtype);
		}
		if (st != EMBSTORE_OK) {
			rc = import_error(a, in, st, errno);
			goto fail;
		}
	}
	errno = 0;
	st = embstore_writer_finish(w);
	if (st != EMBSTORE_OK) {
		cli_status_error("build", a->output, st, errno);
		rc = CLI_EXIT_USAGE;
		goto fail;
	}
	embstore_writer_free(w);
	return CLI_EXIT_OK;
fail:
	/* Unfinished: the library removes its temporary file and leaves any existing OUT untouched. */
	embstore_writer_free(w);
	return rc;
}

int cli_cmd_build(int argc, char **argv)
{
	build_args a;
	memset(&a, 0, sizeof a);
	int done;
	int rc = parse_args(&a, argc, argv, &done);
	if (rc == CLI_EXIT_OK && !done)
		rc = write_store(&a);
	free_args(&a);
	return rc;
}
