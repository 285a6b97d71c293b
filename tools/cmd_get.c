/* cmd_get.c: `embstore get`: prints rows of a table, through embstore_gather, as exactly round-tripping f32. */
#include "cli.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: embstore get [--table NAME] --ids ID[,ID...] FILE\n"
	"       embstore get [--table NAME] --ids - FILE < ids.txt\n"
	"\n"
	"Prints the rows of a table with the given ids (0-based), one row per line in the order of the ids,\n"
	"values separated by one space, as f32 printed with 9 significant digits (%.9g): parsing them back as\n"
	"f32 gives exactly the values the kernels produced (f16, bf16 and int8 rows are widened to f32).\n"
	"Rows are read with embstore_gather, i.e. with the kernel set in use (see 'embstore cpu', EMBSTORE_ISA).\n"
	"\n"
	"Options:\n"
	"  -t, --table NAME  the table to read; may be left out when FILE holds exactly one table\n"
	"  -i, --ids LIST    ids separated by commas, each a decimal integer, blanks around it allowed (may be\n"
	"                    repeated; lists add up);\n"
	"                    '-' reads ids separated by whitespace or commas from standard input (they come\n"
	"                    after the ids given on the command line)\n"
	"  -h, --help        print this help\n"
	"\n"
	"All ids are checked before anything is printed. An id that is not a decimal integer, or that is\n"
	"outside 0..rows-1, is a usage error (exit 2; the message names the id and its position), and so is a\n"
	"missing or unknown table.\n"
	"\n"
	"Exit status:\n"
	"  0  the rows were printed\n"
	"  1  FILE is not a valid store: bad magic, truncated, header checksum mismatch, inconsistent field, ...\n"
	"  2  usage error (bad or out-of-range id, missing or unknown table, ...), I/O error, EMBSTORE_ISA names a\n"
	"     kernel set this CPU cannot run, or out of memory\n";

enum { OPT_TABLE = 't', OPT_IDS = 'i', OPT_HELP = 'h' };

static const char short_options[] = ":t:i:h";

static const struct option long_options[] = {
	{"table", required_argument, NULL, OPT_TABLE},
	{"ids", required_argument, NULL, OPT_IDS},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

typedef struct id_list {
	int64_t *ids;
	size_t count, capacity;
} id_list;

static int push_id(id_list *list, int64_t id)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity == 0 ? 256 : list->capacity * 2;
		if (capacity > SIZE_MAX / sizeof *list->ids)
			return 0;
		int64_t *grown = realloc(list->ids, capacity * sizeof *list->ids);
		if (grown == NULL)
			return 0;
		list->ids = grown;
		list->capacity = capacity;
	}
	list->ids[list->count++] = id;
	return 1;
}

/* A short printable rendering of a bad token for a message: non-printable bytes become '?', long ones '...'. */
static void token_text(char *dst, size_t cap, const char *token, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 4 < cap; i++) {
		unsigned char c = (unsigned char)token[i];
		dst[n++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	if (n < len && n + 4 <= cap) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = 0;
}

/* Parses one id token of `len` bytes; reports a usage error naming it and its 1-based position. */
static int parse_token(id_list *list, const char *token, size_t len, const char *source)
{
	char text[40];
	char buf[32];
	size_t position = list->count + 1;
	int64_t id;
	if (len < sizeof buf) {
		memcpy(buf, token, len);
		buf[len] = 0;
	}
	/* A NUL byte (from standard input) would end the C string early and hide the garbage after it. */
	if (len == 0 || len >= sizeof buf || memchr(token, 0, len) != NULL || !cli_parse_i64(buf, &id)) {
		token_text(text, sizeof text, token, len);
		int digits_only = len > 0;
		for (size_t i = 0; i < len; i++)
			digits_only &= isdigit((unsigned char)token[i]) || (i == 0 && token[0] == '-' && len > 1);
		if (len == 0)
			cli_usage_error("get", "%s: id #%zu is empty", source, position);
		else if (digits_only)
			cli_usage_error("get", "%s: id #%zu '%s' does not fit in 64 bits", source, position, text);
		else
			cli_usage_error("get", "%s: id #%zu '%s' is not a decimal integer", source, position, text);
		return 0;
	}
	if (!push_id(list, id)) {
		cli_error("get", NULL, "out of memory for %zu ids", position);
		return 0;
	}
	return 1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Ids separated by commas; blanks around an id are allowed ("1, 2"), an empty id is not ("1,,2"). */
static int parse_id_list(id_list *list, const char *s)
{
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
		while (len > 0 && is_blank(*s)) {
			s++;
			len--;
		}
		while (len > 0 && is_blank(s[len - 1]))
			len--;
		if (!parse_token(list, s, len, "--ids"))
			return 0;
		if (comma == NULL)
			return 1;
		s = comma + 1;
	}
}

static int is_separator(int c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int read_ids(id_list *list, FILE *in)
{
	char token[32];
	size_t len = 0;
	int c;
	while ((c = getc(in)) != EOF) {
		if (!is_separator(c)) {
			if (len == sizeof token) /* longer than any id: reported as it starts */
				return parse_token(list, token, len, "standard input");
			token[len++] = (char)c;
			continue;
		}
		if (len > 0 && !parse_token(list, token, len, "standard input"))
			return 0;
		len = 0;
	}
	if (ferror(in)) {
		cli_error("get", "standard input", "read error");
		return 0;
	}
	return len == 0 || parse_token(list, token, len, "standard input");
}

static int select_table(const char *path, const embstore *store, const char *name, embstore_table *out)
{
	if (name != NULL) {
		embstore_status st = embstore_table_find(store, name, out);
		if (st == EMBSTORE_OK)
			return CLI_EXIT_OK;
		fputs("embstore: get: ", stderr);
		cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
		fputs(": no table \"", stderr);
		cli_put_escaped(stderr, name, CLI_ESCAPE_QUOTED);
		fputs("\" (tables: ", stderr);
		cli_list_tables(store);
		fputs(")\n", stderr);
		return CLI_EXIT_USAGE;
	}
	embstore_info info;
	embstore_get_info(store, &info);
	if (info.table_count == 1) {
		embstore_status st = embstore_table_at(store, 0, out);
		if (st != EMBSTORE_OK) {
			cli_status_error("get", path, st, 0);
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	if (info.table_count == 0) {
		cli_error("get", path, "holds no tables");
		return CLI_EXIT_USAGE;
	}
	fputs("embstore: get: ", stderr);
	cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
	fprintf(stderr, ": holds %" PRIu32 " tables; choose one with --table (tables: ", info.table_count);
	cli_list_tables(store);
	fputs(")\n", stderr);
	return CLI_EXIT_USAGE;
}

static int check_ids(const char *path, const embstore_table *t, const id_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		int64_t id = list->ids[i];
		if (id >= 0 && (uint64_t)id < t->matrix.rows)
			continue;
		fputs("embstore: get: ", stderr);
		cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
		fprintf(stderr, ": id #%zu (%" PRId64 ") is out of range: table \"", i + 1, id);
		cli_put_escaped(stderr, t->name, CLI_ESCAPE_QUOTED);
		fprintf(stderr, "\" has ids 0-%" PRIu64 "\n", t->matrix.rows - 1);
		return 0;
	}
	return 1;
}

static int print_rows(const char *path, const embstore_table *t, const id_list *list)
{
	uint32_t dim = t->matrix.dim;
	/* Gather in batches of at most 2^20 values (4 MiB), so that memory stays bounded for any id list. */
	size_t batch = ((size_t)1 << 20) / dim;
	if (batch == 0)
		batch = 1;
	if (batch > list->count)
		batch = list->count;
	float *out = malloc(batch * dim * sizeof *out);
	if (out == NULL) {
		cli_error("get", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	int rc = CLI_EXIT_OK;
	for (size_t start = 0; start < list->count && rc == CLI_EXIT_OK; start += batch) {
		size_t n = list->count - start < batch ? list->count - start : batch;
		size_t bad = 0;
		embstore_status st = embstore_gather(&t->matrix, list->ids + start, EMBSTORE_ID64, n, out, &bad);
		if (st == EMBSTORE_UNSUPPORTED_ISA) {
			const char *isa = getenv("EMBSTORE_ISA");
			cli_error("get", NULL, "%s (EMBSTORE_ISA=%s; see 'embstore cpu')", embstore_strerror(st),
			          isa != NULL ? isa : "");
			rc = CLI_EXIT_USAGE;
			break;
		}
		if (st == EMBSTORE_ID_OUT_OF_RANGE) {
			/* check_ids ran first; this is the kernel disagreeing about the bounds. */
			cli_error("get", path, "id #%zu: %s", start + bad + 1, embstore_strerror(st));
			rc = CLI_EXIT_USAGE;
			break;
		}
		if (st != EMBSTORE_OK) {
			cli_status_error("get", path, st, 0);
			rc = cli_exit_for(st);
			break;
		}
		for (size_t r = 0; r < n; r++) {
			const float *row = out + r * dim;
			for (uint32_t j = 0; j < dim; j++)
				printf(j == 0 ? "%.9g" : " %.9g", (double)row[j]);
			putchar('\n');
		}
		if (ferror(stdout))
			break;
	}
	free(out);
	return rc;
}

int cli_cmd_get(int argc, char **argv)
{
	const char *table_name = NULL;
	int have_ids = 0, read_stdin = 0;
	id_list list = {NULL, 0, 0};
	int rc = CLI_EXIT_USAGE;
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("get", argc, argv, short_options, long_options)) != -1;) {
		switch (opt) {
		case OPT_TABLE:
			table_name = optarg;
			break;
		case OPT_IDS:
			have_ids = 1;
			if (strcmp(optarg, "-") == 0) {
				read_stdin = 1;
			} else if (!parse_id_list(&list, optarg)) {
				goto out;
			}
			break;
		case OPT_HELP:
			rc = cli_help("get", usage);
			goto out;
		default:
			goto out;
		}
	}
	if (optind >= argc) {
		rc = cli_usage_error("get", "missing FILE");
		goto out;
	}
	if (argc - optind > 1) {
		rc = cli_usage_error("get", "one FILE at a time ('%s' is a second one)", argv[optind + 1]);
		goto out;
	}
	const char *path = argv[optind];
	if (!have_ids) {
		rc = cli_usage_error("get", "missing --ids");
		goto out;
	}
	if (read_stdin && !read_ids(&list, stdin))
		goto out;

	embstore *store;
	rc = cli_open_store("get", path, EMBSTORE_ADVISE_RANDOM, &store);
	if (rc != CLI_EXIT_OK)
		goto out;
	embstore_table t;
	rc = select_table(path, store, table_name, &t);
	if (rc == CLI_EXIT_OK && !check_ids(path, &t, &list))
		rc = CLI_EXIT_USAGE;
	if (rc == CLI_EXIT_OK && list.count > 0)
		rc = print_rows(path, &t, &list);
	embstore_close(store);
	if (rc == CLI_EXIT_OK)
		rc = cli_finish_output("get");
out:
	free(list.ids);
	return rc;
}
