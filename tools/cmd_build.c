/* cmd_build.c: `embstore build`: writes a store, one table per input file, through the library's importers. */
#include "cli.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"Usage: embstore build -o OUT [OPTIONS] [NAME=]INPUT...\n"
	"\n"
	"Writes the store OUT with one table per INPUT, named NAME or else after the input's file name without its\n"
	"extension ('data/words.npy' -> 'words'). A path that contains '=' can be given as NAME=PATH or as './PATH'.\n"
	"NAME=- reads that table from standard input ('embstore build -o x.emb words=- < words.npy'). Inputs are\n"
	"read once from start to end, so a pipe or a FIFO works as well as a file (a .npz excepted, read by seeking).\n"
	"OUT appears atomically once everything is written; on any error nothing is written and an existing OUT is\n"
	"left as it was. An existing OUT is replaced only with --force, and never when it is one of the INPUTs.\n"
	"\n"
	"Inputs (the format of each is told from its content, then its name, unless --from names it; for word-vector\n"
	"files the command says on standard error which it found):\n"
	"  npy            2-D, C order, little-endian f32 ('<f4'), f16 ('<f2') or f64 ('<f8', rounded to f32)\n"
	"  word2vec       word2vec binary: a 'count dim' line, then per row the word, a space and dim f32\n"
	"  word2vec-text  (also 'fasttext', .vec) a 'count dim' line, then 'word v1 ... vdim' per line\n"
	"  glove          'word v1 ... vdim' per line, no header\n"
	"  raw            little-endian f32, rows x dim values and nothing else (--from raw, with --rows and --dim)\n"
	"  safetensors    every 2-D F32, F16, BF16 or F64 tensor becomes a table named after it (F64 rounded to f32),\n"
	"                 or only the one --tensor names; __metadata__ entries become metadata (a key already set\n"
	"                 keeps its value); other tensors are skipped, and counted on standard error\n"
	"  npz            numpy's savez / savez_compressed: every 2-D f16, f32 or f64 member becomes a table named\n"
	"                 after it (without '.npy'), or only the one FILE.npz:MEMBER or --tensor names\n"
	"A safetensors or .npz INPUT given as NAME=INPUT must make one table (pick it with --tensor).\n"
	"The word-vector formats give the table a vocabulary ('embstore get' then looks rows up by word). A word seen before drops\n"
	"its row (the first is kept, as gensim keeps it); how many were dropped is said on standard error. A word\n"
	"in word2vec binary runs to the first space, as gensim reads it. A UTF-8 byte order mark at the start of a\n"
	"text file is skipped.\n"
	"\n"
	"Options:\n"
	"  -o, --output OUT      the store to write (required)\n"
	"  -f, --force           replace OUT if it exists\n"
	"  -d, --dtype TYPE      store every table as f32, f16, bf16 or int8 (row-wise quantised); default: the\n"
	"                        input's own dtype (f32 for raw and f64). Conversions round to nearest, ties to even.\n"
	"      --from FORMAT     npy, word2vec, word2vec-text, fasttext, glove, safetensors, npz or raw: the format\n"
	"                        of every INPUT\n"
	"      --tensor NAME     the one safetensors tensor or .npz member (with or without '.npy') to import from\n"
	"                        each INPUT, instead of every one that can be a table\n"
	"      --limit N         keep the first N rows of each INPUT (and read no further)\n"
	"      --allow-nonfinite keep NaN and infinities from word-vector files (refused otherwise)\n"
	"      --unicode-errors strict|replace\n"
	"                        a word that is not valid UTF-8: refused (strict, the default) or with U+FFFD\n"
	"  -q, --quiet           no progress line and no notes on standard error (errors still)\n"
	"      --rows R          rows of each raw input\n"
	"      --dim D           values per row of each raw input\n"
	"  -m, --meta KEY=VALUE  add a metadata entry (repeatable). 'creator' (embstore VERSION) and, per table,\n"
	"                        'source.TABLE' (the input path) are added unless given here\n"
	"      --chunk-bytes N   target bytes per checksum chunk (default 65536; K, M, G suffixes allowed)\n"
	"      --align N         data alignment, a power of two from 4096 to 2M (default 4096; 2M allows huge pages)\n"
	"      --huge-pages      write OUT in whole aligned 2 MiB so that the page cache holds it in 2 MiB pages:\n"
	"                        random-row lookups right after the build as fast as after a read from disk,\n"
	"                        at a cost in build time on some virtual machines (docs/BENCHMARKS.md)\n"
	"      --saturate        store a finite value too large for the table's dtype (f16, bf16; f32 for f64\n"
	"                        input) as the largest finite value of its sign, instead of failing\n"
	"      --shards N        write a set of N shards instead of OUT (1 to 65536): OUT-00000-of-0000N.emb ...\n"
	"                        (OUT's '.emb' replaced by the suffix), each an ordinary store that says in its\n"
	"                        metadata which part of the set it holds (docs/FORMAT.md, \"Sharded sets\"). The\n"
	"                        store is first built whole in a hidden temporary file beside OUT, then split: the\n"
	"                        disk needs room for it twice meanwhile. Every shard is written before any is put in\n"
	"                        place, so a failed build leaves no shard of it and any earlier set as it was;\n"
	"                        none is replaced while a process has one open for writing (see --wait). The\n"
	"                        soft limit of open files is raised as N needs (a descriptor per shard and per\n"
	"                        file replaced); N beyond the hard limit is refused. Table names: 1,003 bytes at most\n"
	"      --shard-by rows|table\n"
	"                        rows (the default): every table's rows cut into N contiguous ranges, the first\n"
	"                        ones a row longer when N does not divide them (a table of fewer than N rows is\n"
	"                        absent from the last shards; N above every table's rows is refused); table:\n"
	"                        whole tables, the largest first, each to the shard with the fewest bytes so far\n"
	"                        (N above the number of tables is refused)\n"
	"      --wait            if a process has OUT open for writing (training in place), wait until it closes\n"
	"                        it; without --wait the build fails, since the trainer's later updates would go\n"
	"                        to the replaced file and be lost\n"
	"  -h, --help            print this help\n"
	"\n"
	"Exit status:\n"
	"  0  OUT was written\n"
	"  1  an INPUT is invalid: of no format the command reads, malformed (the message names the line or byte),\n"
	"     a value too large for the table's dtype (without --saturate), NaN or infinity (without\n"
	"     --allow-nonfinite, or for int8)\n"
	"  2  usage error, OUT exists (without --force) or is an INPUT, OUT is open for writing elsewhere (without\n"
	"     --wait), I/O error, or out of memory\n";

enum {
	OPT_OUTPUT = 'o',
	OPT_FORCE = 'f',
	OPT_DTYPE = 'd',
	OPT_META = 'm',
	OPT_HELP = 'h',
	OPT_FROM = CLI_LONG_ONLY,
	OPT_ROWS,
	OPT_DIM,
	OPT_CHUNK,
	OPT_ALIGN,
	OPT_SATURATE,
	OPT_HUGE_PAGES,
	OPT_WAIT,
	OPT_LIMIT,
	OPT_NONFINITE,
	OPT_UNICODE,
	OPT_TENSOR,
	OPT_SHARDS,
	OPT_SHARD_BY,
	OPT_QUIET = 'q',
};

static const char short_options[] = ":o:fd:m:qh";

static const struct option long_options[] = {
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"force", no_argument, NULL, OPT_FORCE},
	{"dtype", required_argument, NULL, OPT_DTYPE},
	{"from", required_argument, NULL, OPT_FROM},
	{"rows", required_argument, NULL, OPT_ROWS},
	{"dim", required_argument, NULL, OPT_DIM},
	{"meta", required_argument, NULL, OPT_META},
	{"chunk-bytes", required_argument, NULL, OPT_CHUNK},
	{"align", required_argument, NULL, OPT_ALIGN},
	{"saturate", no_argument, NULL, OPT_SATURATE},
	{"huge-pages", no_argument, NULL, OPT_HUGE_PAGES},
	{"wait", no_argument, NULL, OPT_WAIT},
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"allow-nonfinite", no_argument, NULL, OPT_NONFINITE},
	{"unicode-errors", required_argument, NULL, OPT_UNICODE},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"tensor", required_argument, NULL, OPT_TENSOR},
	{"shards", required_argument, NULL, OPT_SHARDS},
	{"shard-by", required_argument, NULL, OPT_SHARD_BY},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};


typedef struct input {
	char *name;       /* owned */
	const char *path; /* an argv string or own_path; "-" for standard input */
	char *own_path;   /* FILE.npz of FILE.npz:MEMBER */
	const char *member; /* MEMBER of FILE.npz:MEMBER, or NULL */
	const char *source; /* the input as given (after NAME=), for the source.TABLE metadata */
	int named;        /* NAME=INPUT: the name is the user's, not a default from the file name */
} input;

static int is_stdin(const input *in)
{
	return strcmp(in->path, "-") == 0;
}

/* How messages name an input. */
static const char *input_label(const input *in)
{
	return is_stdin(in) ? "standard input" : in->path;
}

typedef struct meta {
	char *key; /* owned; value follows the key's NUL */
	const char *value;
} meta;

typedef struct build_args {
	const char *output;
	const char *tensor; /* --tensor */
	int force;
	embstore_dtype dtype; /* 0: keep the input's */
	embstore_format format; /* AUTO: each input's own */
	uint64_t limit;
	unsigned import_flags;
	int quiet;
	uint64_t rows, dim;
	int have_rows, have_dim;
	uint64_t chunk_bytes, alignment;
	int have_chunk_bytes, have_alignment;
	int saturate;
	int huge_pages;
	int wait;
	uint32_t shards;            /* --shards; 0: one store */
	embstore_shard_by shard_by; /* --shard-by */
	const char *target;         /* where the store is written: OUT, or the hidden whole store to split */
	input *inputs;
	size_t input_count;
	meta *metas;
	size_t meta_count;
} build_args;

static void free_args(build_args *a)
{
	for (size_t i = 0; i < a->input_count; i++) {
		free(a->inputs[i].name);
		free(a->inputs[i].own_path);
	}
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

static int ends_with_npz(const char *s, size_t len)
{
	return len >= 4 && strncasecmp(s + len - 4, ".npz", 4) == 0;
}

/* FILE.npz:MEMBER: split at the last ':' when what is before it ends in .npz and the whole is no existing file. */
static int split_member(input *in)
{
	const char *colon = strrchr(in->path, ':');
	struct stat sb;
	if (colon == NULL || colon[1] == 0 || !ends_with_npz(in->path, (size_t)(colon - in->path)) ||
	    stat(in->path, &sb) == 0)
		return CLI_EXIT_OK;
	in->own_path = dup_range(in->path, (size_t)(colon - in->path));
	if (in->own_path == NULL) {
		cli_error("build", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	in->member = colon + 1;
	in->path = in->own_path;
	return CLI_EXIT_OK;
}

/* NAME=PATH, or PATH whose stem names the table. The part before '=' is a name only when it holds no '/', so
 * that "./a=b.npy" stays a path. */
static int add_input(build_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');
	const char *path = arg;
	char *name;
	if (strcmp(arg, "-") == 0)
		return cli_usage_error("build", "standard input has no file name to name its table after; give it as "
		                       "NAME=-");
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
	a->inputs[a->input_count] = (input){.name = name, .path = path, .source = path, .named = path != arg};
	a->input_count++;
	return split_member(&a->inputs[a->input_count - 1]);
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

/* A progress line on standard error, redrawn in place: only when it is a terminal, never under --quiet. */
typedef struct progress {
	const char *label;
	double start;
	int shown;
} progress;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void show_progress(void *ctx, uint64_t rows, uint64_t bytes, uint64_t total)
{
	progress *p = ctx;
	double t = now() - p->start, rate = t > 0 ? (double)rows / t : 0;
	fprintf(stderr, "\r%s: %" PRIu64 " rows, %.0f rows/s", p->label, rows, rate);
	if (total > 0 && bytes > 0 && bytes <= total)
		fprintf(stderr, ", %.0f%%, %.0f s left", 100.0 * (double)bytes / (double)total,
		        t * (double)(total - bytes) / (double)bytes);
	fputs("\033[K", stderr);
	p->shown = 1;
}

static int parse_args(build_args *a, int argc, char **argv, int *done)
{
	*done = 0;
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("build", argc, argv, short_options, long_options)) != -1;) {
		int rc = CLI_EXIT_OK;
		switch (opt) {
		case OPT_OUTPUT:
			a->output = optarg;
			break;
		case OPT_FORCE:
			a->force = 1;
			break;
		case OPT_DTYPE:
			if (embstore_dtype_parse(optarg, &a->dtype) != EMBSTORE_OK)
				return cli_usage_error("build", "--dtype '%s': expected f32, f16, bf16 or int8", optarg);
			break;
		case OPT_FROM:
			if (embstore_format_parse(optarg, &a->format) != EMBSTORE_OK || a->format == EMBSTORE_FORMAT_AUTO)
				return cli_usage_error("build", "--from '%s': expected npy, word2vec, word2vec-text, fasttext, "
				                       "glove, safetensors, npz or raw", optarg);
			break;
		case OPT_TENSOR:
			a->tensor = optarg;
			break;
		case OPT_LIMIT:
			if (!cli_parse_u64(optarg, &a->limit) || a->limit == 0)
				return cli_usage_error("build", "--limit '%s': expected a positive decimal integer", optarg);
			break;
		case OPT_NONFINITE:
			a->import_flags |= EMBSTORE_IMPORT_ALLOW_NONFINITE;
			break;
		case OPT_UNICODE:
			if (strcmp(optarg, "replace") == 0)
				a->import_flags |= EMBSTORE_IMPORT_UNICODE_REPLACE;
			else if (strcmp(optarg, "strict") != 0)
				return cli_usage_error("build", "--unicode-errors '%s': expected strict or replace", optarg);
			break;
		case OPT_QUIET:
			a->quiet = 1;
			break;
		case OPT_ROWS:
			if (!cli_parse_u64(optarg, &a->rows) || a->rows == 0)
				return cli_usage_error("build", "--rows '%s': expected a positive decimal integer", optarg);
			a->have_rows = 1;
			break;
		case OPT_DIM:
			if (!cli_parse_u64(optarg, &a->dim) || a->dim == 0 || a->dim > UINT32_MAX)
				return cli_usage_error("build", "--dim '%s': expected a positive decimal integer", optarg);
			a->have_dim = 1;
			break;
		case OPT_META:
			rc = add_meta_arg(a, optarg);
			break;
		case OPT_CHUNK:
			if (!cli_parse_size(optarg, &a->chunk_bytes) || a->chunk_bytes == 0)
				return cli_usage_error("build", "--chunk-bytes '%s': expected a positive size", optarg);
			a->have_chunk_bytes = 1;
			break;
		case OPT_ALIGN:
			if (!cli_parse_size(optarg, &a->alignment) || a->alignment > UINT32_MAX)
				return cli_usage_error("build", "--align '%s': expected a power of two from 4096 to 2M",
				                       optarg);
			a->have_alignment = 1;
			break;
		case OPT_SATURATE:
			a->saturate = 1;
			break;
		case OPT_HUGE_PAGES:
			a->huge_pages = 1;
			break;
		case OPT_WAIT:
			a->wait = 1;
			break;
		case OPT_SHARDS: {
			uint64_t n;
			if (!cli_parse_u64(optarg, &n) || n == 0 || n > EMBSTORE_SHARD_MAX)
				return cli_usage_error("build", "--shards '%s': expected a number from 1 to 65536", optarg);
			a->shards = (uint32_t)n;
			break;
		}
		case OPT_SHARD_BY:
			if (strcmp(optarg, "rows") == 0)
				a->shard_by = EMBSTORE_SHARD_BY_ROWS;
			else if (strcmp(optarg, "table") == 0)
				a->shard_by = EMBSTORE_SHARD_BY_TABLE;
			else
				return cli_usage_error("build", "--shard-by '%s': expected rows or table", optarg);
			break;
		case OPT_HELP:
			*done = 1;
			return cli_help("build", usage);
		default:
			return CLI_EXIT_USAGE;
		}
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	for (int i = optind; i < argc; i++) {
		int rc = add_input(a, argv[i]);
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	if (a->output == NULL)
		return cli_usage_error("build", "missing -o OUT");
	if (a->input_count == 0)
		return cli_usage_error("build", "no INPUT files");
	if (a->shard_by != EMBSTORE_SHARD_NONE && a->shards == 0)
		return cli_usage_error("build", "--shard-by needs --shards");
	if (a->shards > 0 && a->shard_by == EMBSTORE_SHARD_NONE)
		a->shard_by = EMBSTORE_SHARD_BY_ROWS;
	if (a->format == EMBSTORE_FORMAT_RAW && (!a->have_rows || !a->have_dim))
		return cli_usage_error("build", "--from raw needs --rows and --dim");
	if (a->format != EMBSTORE_FORMAT_RAW && (a->have_rows || a->have_dim))
		return cli_usage_error("build", "--rows and --dim apply to --from raw only");
	for (size_t i = 0; i < a->input_count; i++) {
		if (a->inputs[i].member != NULL && a->tensor != NULL)
			return cli_usage_error("build", "'%s:%s' names a member and --tensor another; give one of them",
			                       a->inputs[i].path, a->inputs[i].member);
		for (size_t j = 0; j < i; j++) {
			if (is_stdin(&a->inputs[i]) && is_stdin(&a->inputs[j]))
				return cli_usage_error("build", "standard input can be read for one table only ('%s=-' and "
				                       "'%s=-')", a->inputs[j].name, a->inputs[i].name);
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

/* Reports a failure about something the command line named: "metadata 'KEY'", "table name 'NAME'". */
static void named_error(const char *what, const char *name, embstore_status st)
{
	char subject[160];
	snprintf(subject, sizeof subject, "%s '%s'", what, name);
	cli_status_error("build", subject, st, 0);
}

static int add_meta(embstore_writer *w, const char *key, const char *value)
{
	embstore_status st = embstore_writer_add_meta(w, key, value);
	if (st == EMBSTORE_OK)
		return CLI_EXIT_OK;
	/* The entries are the command line's (keys, values, input paths): never the input files' fault. */
	named_error("metadata", key, st);
	return CLI_EXIT_USAGE;
}

/* creator (unless the user gave it), then the user's entries in their order; source.TABLE follows each table
 * (add_source), as an input may make tables named after what it holds. */
static int add_all_meta(embstore_writer *w, const build_args *a)
{
	int rc;
	if (!user_has_key(a, "creator")) {
		char creator[64];
		snprintf(creator, sizeof creator, "embstore %s", embstore_version());
		if ((rc = add_meta(w, "creator", creator)) != CLI_EXIT_OK)
			return rc;
	}
	for (size_t i = 0; i < a->meta_count; i++) {
		if ((rc = add_meta(w, a->metas[i].key, a->metas[i].value)) != CLI_EXIT_OK)
			return rc;
	}
	return CLI_EXIT_OK;
}

/* The tables an input made, for their source.TABLE entries. */
typedef struct made {
	char **names;
	size_t count;
	int failed; /* out of memory */
} made;

static void table_made(void *ctx, const char *name, uint64_t rows, uint32_t dim)
{
	made *m = ctx;
	(void)rows, (void)dim;
	char **grown = realloc(m->names, (m->count + 1) * sizeof *grown);
	char *copy = strdup(name);
	if (grown != NULL)
		m->names = grown;
	if (grown == NULL || copy == NULL) {
		free(copy);
		m->failed = 1;
		return;
	}
	m->names[m->count++] = copy;
}

static void free_made(made *m)
{
	for (size_t i = 0; i < m->count; i++)
		free(m->names[i]);
	free(m->names);
}

/* source.TABLE = the input as given, unless the user gave that key; a key an input's own metadata (safetensors)
 * set already keeps its value. */
static int add_source(embstore_writer *w, const build_args *a, const input *in, const made *m)
{
	if (m->failed) {
		cli_error("build", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < m->count; i++) {
		size_t len = strlen("source.") + strlen(m->names[i]) + 1;
		char *key = malloc(len);
		if (key == NULL) {
			cli_error("build", NULL, "out of memory");
			return CLI_EXIT_USAGE;
		}
		snprintf(key, len, "source.%s", m->names[i]);
		embstore_status st = user_has_key(a, key) ? EMBSTORE_OK : embstore_writer_add_meta(w, key, in->source);
		int rc = CLI_EXIT_OK;
		if (st != EMBSTORE_OK && st != EMBSTORE_DUPLICATE_NAME) {
			named_error("metadata", key, st);
			rc = CLI_EXIT_USAGE;
		}
		free(key);
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	return CLI_EXIT_OK;
}

/* What standard error says of an input: the format (and whether it was detected), and for word vectors the
 * rows and repeated words, for safetensors and .npz the tables made and what was skipped. .npy and raw inputs
 * are the long-standing, silent case. */
static void report(const build_args *a, const input *in, const embstore_import *o, const char *label)
{
	if (a->quiet || o->format == EMBSTORE_FORMAT_NPY || o->format == EMBSTORE_FORMAT_RAW)
		return;
	fprintf(stderr, "embstore: build: %s: %s%s, ", label, embstore_format_name(o->format),
	        a->format == EMBSTORE_FORMAT_AUTO ? " (detected)" : "");
	if (o->format == EMBSTORE_FORMAT_SAFETENSORS || o->format == EMBSTORE_FORMAT_NPZ) {
		const char *what = o->format == EMBSTORE_FORMAT_NPZ ? "member" : "tensor";
		fprintf(stderr, "%" PRIu32 " table%s made (%" PRIu64 " rows)", o->tables, o->tables == 1 ? "" : "s",
		        o->rows);
		if (o->skipped)
			fprintf(stderr, "; %" PRIu32 " %s%s skipped (not a 2-D floating-point array with rows and columns)",
			        o->skipped, what, o->skipped == 1 ? "" : "s");
		if (o->meta_dropped)
			fprintf(stderr, "; %" PRIu32 " __metadata__ entr%s left out (the key was set already)",
			        o->meta_dropped, o->meta_dropped == 1 ? "y" : "ies");
	} else {
		fprintf(stderr, "%" PRIu64 " rows x %" PRIu32 " as table '%s'", o->rows, o->dim, in->name);
		if (o->duplicates)
			fprintf(stderr, "; %" PRIu64 " repeated words dropped (the first of each kept)", o->duplicates);
	}
	fputc('\n', stderr);
}

/* Reports a failed import, with the library's detail or else a hint of what was expected. The table name and
 * the input are the user's choices; the exit status says whose fault it was: the input's (1) or the command's
 * or the machine's (2). */
static int import_error(const build_args *a, const input *in, embstore_status st, int saved_errno)
{
	const char *subject = input_label(in);
	char sizes[96];
	switch (st) {
	case EMBSTORE_BAD_STRING:
	case EMBSTORE_DUPLICATE_NAME:
		if (in->named) {
			named_error("table name", in->name, st);
			return CLI_EXIT_USAGE;
		}
		/* a name the input gave (a tensor's), or its metadata: the input's, as the detail says */
		cli_status_error("build", subject, st, saved_errno);
		return CLI_EXIT_INVALID;
	case EMBSTORE_INVALID_ARGUMENT:
	case EMBSTORE_NOT_FOUND:
		/* NAME=INPUT of several tables, or a --tensor / MEMBER that is not there: the detail says which */
		cli_status_error("build", subject, st, saved_errno);
		return CLI_EXIT_USAGE;
	case EMBSTORE_BAD_INPUT:
		if (a->format == EMBSTORE_FORMAT_RAW) {
			snprintf(sizes, sizeof sizes, "expected exactly %" PRIu64 " x %" PRIu64 " little-endian f32 values",
			         a->rows, a->dim);
			cli_status_error_hint("build", subject, st, saved_errno, sizes);
		} else {
			cli_status_error_hint("build", subject, st, saved_errno, "expected a 2-D, C-order, little-endian f16, "
			                      "f32 or f64 .npy file");
		}
		return CLI_EXIT_INVALID;
	case EMBSTORE_NON_FINITE:
		cli_status_error_hint("build", subject, st, saved_errno, "int8 cannot quantise a row holding NaN or "
		                      "infinity");
		return CLI_EXIT_INVALID;
	case EMBSTORE_RANGE:
		cli_status_error("build", subject, st, saved_errno);
		cli_error("build", NULL, "--saturate stores such a value as the largest finite value of its sign");
		return CLI_EXIT_INVALID;
	case EMBSTORE_LIMIT:
		if (a->format == EMBSTORE_FORMAT_RAW) { /* the sizes came from --rows and --dim */
			snprintf(sizes, sizeof sizes, "--rows %" PRIu64 " --dim %" PRIu64, a->rows, a->dim);
			cli_status_error_hint("build", subject, st, saved_errno, sizes);
			return CLI_EXIT_USAGE;
		}
		cli_status_error("build", subject, st, saved_errno);
		return CLI_EXIT_INVALID;
	default:
		/* An I/O error while importing may be the output's (a full disk): the library's detail says which file
		 * ("writing 'OUT'"), and the message is about that file then. */
		if (st == EMBSTORE_IO && strncmp(embstore_error_detail(), "writing ", 8) == 0)
			subject = a->output;
		cli_status_error("build", subject, st, saved_errno);
		return cli_exit_for(st) == CLI_EXIT_INVALID ? CLI_EXIT_INVALID : CLI_EXIT_USAGE;
	}
}

/* As zstd does: an existing OUT is replaced only with --force, and never when it is one of the inputs (the store
 * would take the input's place). stat follows symbolic links, and a hard link has the input's inode, so every
 * way of naming an input is caught. */
static int check_one_output(const build_args *a, const char *output, uint32_t *existing)
{
	struct stat out;
	if (stat(output, &out) != 0)
		return CLI_EXIT_OK; /* nothing there; anything else wrong with OUT, the writer reports */
	++*existing;
	for (size_t i = 0; i < a->input_count; i++) {
		const input *inp = &a->inputs[i];
		struct stat in;
		int found = is_stdin(inp) ? fstat(STDIN_FILENO, &in) : stat(inp->path, &in);
		if (found == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
			cli_error("build", output, "is the input '%s'; refusing to replace an input, even with --force",
			          input_label(inp));
			return CLI_EXIT_USAGE;
		}
	}
	if (!a->force) {
		cli_error("build", output, "already exists; use -f/--force to replace it");
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

/* Descriptors a process has open besides those of the shards: the standard streams, the whole store, and the
 * few the writer opens for a moment (its directory, a vocabulary's temporary file), with room to spare. */
enum { OTHER_FILES = 16 };

/* A split holds a descriptor per shard and one per file it replaces until every shard is in place (see
 * embstore_shard_split): as other tools that hold many files open do, the soft limit is lifted as needed, and a
 * count that even the hard limit does not allow is refused before anything is built. */
static int check_open_files(const build_args *a, uint32_t existing)
{
	uint64_t need = (uint64_t)a->shards + existing + OTHER_FILES, hard = 0;
	if (cli_raise_open_files(need, &hard) == 0)
		return CLI_EXIT_OK;
	uint64_t fit = hard > OTHER_FILES ? hard - OTHER_FILES : 0;
	cli_error("build", NULL,
	          "--shards %" PRIu32 " is too many here: it needs %" PRIu64 " files open at once (one per shard, one per "
	          "file it replaces, %d more), over the hard limit of %" PRIu64 " (ulimit -Hn); at most %" PRIu64
	          " shards fit (%" PRIu64 " when replacing a set of as many)",
	          a->shards, need, OTHER_FILES, hard, fit, fit / 2);
	return CLI_EXIT_USAGE;
}

/* OUT, or with --shards each shard's name. */
static int check_output(const build_args *a)
{
	uint32_t existing = 0;
	if (a->shards == 0)
		return check_one_output(a, a->output, &existing);
	size_t cap = embstore_shard_path(a->output, 0, a->shards, NULL, 0) + 1;
	char *name = malloc(cap);
	if (name == NULL) {
		cli_error("build", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	int rc = CLI_EXIT_OK;
	for (uint32_t i = 0; i < a->shards && rc == CLI_EXIT_OK; i++) {
		embstore_shard_path(a->output, i, a->shards, name, cap);
		rc = check_one_output(a, name, &existing);
	}
	free(name);
	return rc == CLI_EXIT_OK ? check_open_files(a, existing) : rc;
}

static int write_store(const build_args *a)
{
	embstore_writer *w = NULL;
	errno = 0;
	embstore_status st = embstore_writer_create(a->target, &w);
	if (st != EMBSTORE_OK) {
		cli_status_error("build", a->target, st, errno);
		return CLI_EXIT_USAGE;
	}
	int rc = CLI_EXIT_OK;
	if ((a->saturate && (st = embstore_writer_set_saturate(w, 1)) != EMBSTORE_OK) ||
	    (a->huge_pages && (st = embstore_writer_set_huge_pages(w, 1)) != EMBSTORE_OK) ||
	    (a->wait && (st = embstore_writer_set_wait(w, 1)) != EMBSTORE_OK)) {
		cli_status_error("build", a->target, st, 0);
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
		progress p = {input_label(in), now(), 0};
		made m = {0};
		embstore_import o = {.format = a->format, .dtype = a->dtype, .flags = a->import_flags, .limit = a->limit,
		                     .rows = a->rows, .dim = (uint32_t)a->dim, .tensor = in->member ? in->member : a->tensor,
		                     .table_made = table_made, .table_made_ctx = &m};
		if (!in->named)
			o.flags |= EMBSTORE_IMPORT_NAME_DEFAULT;
		if (!a->quiet && isatty(STDERR_FILENO)) {
			o.progress = show_progress;
			o.progress_ctx = &p;
		}
		st = is_stdin(in) ? embstore_writer_import_fd(w, in->name, STDIN_FILENO, &o)
		                  : embstore_writer_import(w, in->name, in->path, &o);
		int saved = errno;
		if (p.shown)
			fputs("\r\033[K", stderr);
		if (st != EMBSTORE_OK) {
			free_made(&m);
			rc = import_error(a, in, st, saved);
			goto fail;
		}
		report(a, in, &o, p.label);
		rc = add_source(w, a, in, &m);
		free_made(&m);
		if (rc != CLI_EXIT_OK)
			goto fail;
	}
	errno = 0;
	st = embstore_writer_finish(w);
	if (st != EMBSTORE_OK) {
		cli_status_error("build", a->target, st, errno);
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

/* --shards: the whole store, written to a hidden file beside OUT, is opened, unlinked (the mapping keeps it) and
 * split into the set. */
static int write_shards(build_args *a)
{
	const char *slash = strrchr(a->output, '/');
	size_t dir = slash != NULL ? (size_t)(slash - a->output) + 1 : 0;
	size_t cap = strlen(a->output) + 64;
	char *whole = malloc(cap);
	if (whole == NULL) {
		cli_error("build", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	snprintf(whole, cap, "%.*s.%s.%ld.whole.tmp", (int)dir, a->output, a->output + dir, (long)getpid());
	a->target = whole;
	int rc = write_store(a);
	embstore *store = NULL;
	if (rc == CLI_EXIT_OK)
		rc = cli_open_store("build", whole, 0, &store);
	unlink(whole);
	if (rc == CLI_EXIT_OK) {
		errno = 0;
		embstore_status st = embstore_shard_split(store, a->output, a->shards, a->shard_by, a->wait);
		if (st != EMBSTORE_OK) {
			cli_status_error("build", a->output, st, errno);
			rc = CLI_EXIT_USAGE;
		}
	}
	embstore_close(store);
	free(whole);
	return rc;
}

int cli_cmd_build(int argc, char **argv)
{
	build_args a;
	memset(&a, 0, sizeof a);
	int done;
	int rc = parse_args(&a, argc, argv, &done);
	if (rc == CLI_EXIT_OK && !done)
		rc = check_output(&a);
	a.target = a.output;
	if (rc == CLI_EXIT_OK && !done)
		rc = a.shards > 0 ? write_shards(&a) : write_store(&a);
	free_args(&a);
	return rc;
}
