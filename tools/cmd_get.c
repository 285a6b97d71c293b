/* cmd_get.c: `embstore get`: prints rows of a table, through embstore_gather, as exactly round-tripping f32. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: embstore get [--table NAME] [--with-keys] --ids ID[,ID...] FILE...\n"
	"       embstore get [--table NAME] [--with-keys] --ids - FILE... < ids.txt\n"
	"       embstore get [--table NAME] [--with-keys] --key KEY [--key KEY...] FILE...\n"
	"       embstore get [--table NAME] [--with-keys] --keys-from KEYS|- FILE...\n"
	"\n"
	"Prints the rows of a table with the given ids (0-based) or keys (a table with a vocabulary), one row per\n"
	"line in the order given, values separated by one space, as f32 printed with 9 significant digits (%.9g):\n"
	"parsing them back as f32 gives exactly the values the kernels produced (f16, bf16 and int8 rows are widened\n"
	"to f32). Rows are read with embstore_gather, i.e. with the kernel set in use (see 'embstore cpu',\n"
	"EMBSTORE_ISA).\n"
	"FILE is one store, or every file of a shard set ('embstore get --ids 1,2 out-*.emb'): ids are then global\n"
	"and the output is exactly that of get on the unsharded store; a missing or foreign shard is named (exit 1).\n"
	"\n"
	"Options:\n"
	"  -t, --table NAME      the table to read; may be left out when FILE holds exactly one table\n"
	"  -i, --ids LIST        ids separated by commas, each a decimal integer, blanks around it allowed (may be\n"
	"                        repeated; lists add up);\n"
	"                        '-' reads ids separated by whitespace or commas from standard input (they come\n"
	"                        after the ids given on the command line)\n"
	"  -k, --key KEY         a key of the table's vocabulary, its bytes exactly (may be repeated, and a key\n"
	"                        may come more than once)\n"
	"      --keys-from KEYS  reads keys from the file KEYS, one per line: the line's bytes exactly, without its\n"
	"                        final \"\\n\" or \"\\r\\n\"; empty lines are skipped; '-' reads standard input (may be\n"
	"                        repeated; with --key, keys come in the order of the options)\n"
	"      --with-keys       starts each line with the row's key, taken from the table's vocabulary (with --ids\n"
	"                        too), and one space; the key is escaped as file strings are in messages ('\\\\' for\n"
	"                        a backslash, '\\n', '\\t', '\\r' or '\\xNN' for control characters). A key that\n"
	"                        contains a space makes the line ambiguous to split on the first space: split off\n"
	"                        the last dim values instead\n"
	"  -h, --help            print this help\n"
	"\n"
	"Rows are chosen either by id or by key: --ids with --key or --keys-from is a usage error. All ids and keys\n"
	"are checked before anything is printed. An id that is not a decimal integer, or that is outside\n"
	"0..rows-1, is a usage error (exit 2; the message names the id and its position), and so is an empty\n"
	"--key, a missing or unknown table, and --key, --keys-from or --with-keys on a table without vocabulary.\n"
	"A key that is not in the table's vocabulary is exit 1; the message names the key and its position.\n"
	"\n"
	"Exit status:\n"
	"  0  the rows were printed\n"
	"  1  FILE is not a valid store (bad magic, truncated, header checksum mismatch, inconsistent field,\n"
	"     damaged vocabulary, ...), the FILEs are not one complete shard set, or a key is not in the table's\n"
	"     vocabulary\n"
	"  2  usage error (bad or out-of-range id, empty key, --ids mixed with keys, missing or unknown table, a\n"
	"     table without vocabulary for --key, --keys-from or --with-keys, ...), I/O error, EMBSTORE_ISA names\n"
	"     a kernel set this CPU cannot run, or out of memory\n";

enum {
	OPT_TABLE = 't',
	OPT_IDS = 'i',
	OPT_KEY = 'k',
	OPT_HELP = 'h',
	OPT_KEYS_FROM = CLI_LONG_ONLY,
	OPT_WITH_KEYS,
};

static const char short_options[] = ":t:i:k:h";

static const struct option long_options[] = {
	{"table", required_argument, NULL, OPT_TABLE},
	{"ids", required_argument, NULL, OPT_IDS},
	{"key", required_argument, NULL, OPT_KEY},
	{"keys-from", required_argument, NULL, OPT_KEYS_FROM},
	{"with-keys", no_argument, NULL, OPT_WITH_KEYS},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* `p` (an array of *capacity elements of `size` bytes) grown, by doubling, to hold at least `needed`: the new
 * array (*capacity updated), or NULL when out of memory (`p` is left as it was). */
static void *grow(void *p, size_t *capacity, size_t needed, size_t size)
{
	if (needed <= *capacity)
		return p;
	size_t n = *capacity == 0 ? 256 : *capacity;
	while (n < needed) {
		if (n > SIZE_MAX / 2)
			return NULL;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return NULL;
	void *grown = realloc(p, n * size);
	if (grown != NULL)
		*capacity = n;
	return grown;
}

typedef struct id_list {
	int64_t *ids;
	size_t count, capacity;
} id_list;

static int push_id(id_list *list, int64_t id)
{
	int64_t *ids = grow(list->ids, &list->capacity, list->count + 1, sizeof *ids);
	if (ids == NULL)
		return 0;
	list->ids = ids;
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

/* The keys to look up, in the order given: their bytes back to back in one buffer (lengths are explicit, as in
 * the library's calls, so a key read from a file may hold any byte), each with where it came from. */
typedef struct key_ref {
	size_t offset, len;
	const char *source; /* NULL for --key; else the file it was read from */
	uint64_t line;
} key_ref;

typedef struct key_list {
	char *bytes;
	size_t used, bytes_capacity;
	key_ref *refs;
	size_t count, capacity;
} key_list;

/* Appends a key of `len` > 0 bytes. */
static int push_key(key_list *list, const char *key, size_t len, const char *source, uint64_t line)
{
	char *bytes = grow(list->bytes, &list->bytes_capacity, list->used + len, 1);
	if (bytes == NULL)
		return 0;
	list->bytes = bytes;
	key_ref *refs = grow(list->refs, &list->capacity, list->count + 1, sizeof *refs);
	if (refs == NULL)
		return 0;
	list->refs = refs;
	memcpy(list->bytes + list->used, key, len);
	list->refs[list->count++] = (key_ref){list->used, len, source, line};
	list->used += len;
	return 1;
}

/* Keys from `arg` ('-': standard input), one per line without its final "\n" or "\r\n"; empty lines skipped. */
static int read_keys(key_list *list, const char *arg)
{
	int from_stdin = strcmp(arg, "-") == 0;
	const char *name = from_stdin ? "standard input" : arg;
	FILE *in = from_stdin ? stdin : fopen(arg, "r");
	if (in == NULL) {
		cli_error("get", name, "%s", strerror(errno));
		return 0;
	}
	char *line = NULL;
	size_t capacity = 0;
	uint64_t number = 0;
	int ok = 1;
	errno = 0;
	for (ssize_t n; ok && (n = getline(&line, &capacity, in)) != -1;) {
		size_t len = (size_t)n;
		number++;
		if (len > 0 && line[len - 1] == '\n' && --len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0 && !push_key(list, line, len, name, number)) {
			cli_error("get", NULL, "out of memory for %zu keys", list->count + 1);
			ok = 0;
		}
	}
	/* getline also ends on a read error or when it cannot grow its line (ENOMEM): then it is not at the end. */
	if (ok && !feof(in)) {
		cli_error("get", name, "%s", errno != 0 ? strerror(errno) : "read error");
		ok = 0;
	}
	free(line);
	if (!from_stdin)
		fclose(in);
	return ok;
}

static int check_ids(const char *path, const embstore_set_table *t, const id_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		int64_t id = list->ids[i];
		if (id >= 0 && (uint64_t)id < t->rows)
			continue;
		fputs("embstore: get: ", stderr);
		cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
		fprintf(stderr, ": id #%zu (%" PRId64 ") is out of range: table \"", i + 1, id);
		cli_put_escaped(stderr, t->name, CLI_ESCAPE_QUOTED);
		fprintf(stderr, "\" has ids 0-%" PRIu64 "\n", t->rows - 1);
		return 0;
	}
	return 1;
}

/* "embstore: get: PATH: table "T"" for messages about the table. */
static void put_table_prefix(const char *path, const embstore_set_table *t)
{
	fputs("embstore: get: ", stderr);
	cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
	fputs(": table \"", stderr);
	cli_put_escaped(stderr, t->name, CLI_ESCAPE_QUOTED);
	fputc('"', stderr);
}

/* Columns of a key quoted in a message: a line read from a file may be long. */
enum { MESSAGE_KEY_COLUMNS = 100 };

/* The rows of the keys, in their order. An unknown key is reported by position (the first one, and how many more
 * there are). It is exit 1, not a usage error like an id out of range: whether a key exists is the file's to say,
 * and a caller tells "not in this vocabulary" apart from a wrong command line by the status. */
static int find_keys(const char *path, const embstore_set *store, const embstore_set_table *t,
                     const key_list *keys, id_list *ids)
{
	size_t unknown = 0, first = 0;
	for (size_t i = 0; i < keys->count; i++) {
		const key_ref *k = &keys->refs[i];
		uint64_t row;
		embstore_status st = embstore_set_find_key(store, t->index, keys->bytes + k->offset, k->len, &row);
		if (st == EMBSTORE_UNKNOWN_KEY) {
			if (unknown++ == 0)
				first = i;
			continue;
		}
		if (st != EMBSTORE_OK) {
			cli_status_error("get", path, st, 0);
			return cli_exit_for(st);
		}
		if (!push_id(ids, (int64_t)row)) {
			cli_error("get", NULL, "out of memory for %zu keys", i + 1);
			return CLI_EXIT_USAGE;
		}
	}
	if (unknown == 0)
		return CLI_EXIT_OK;
	const key_ref *k = &keys->refs[first];
	fputs("embstore: get: ", stderr);
	cli_put_escaped(stderr, path, CLI_ESCAPE_PLAIN);
	fprintf(stderr, ": key #%zu '", first + 1);
	cli_put_bytes(stderr, keys->bytes + k->offset, k->len, CLI_ESCAPE_PLAIN, MESSAGE_KEY_COLUMNS);
	fputs("' is not in table \"", stderr);
	cli_put_escaped(stderr, t->name, CLI_ESCAPE_QUOTED);
	fputc('"', stderr);
	if (k->source != NULL) {
		fprintf(stderr, " (line %" PRIu64 " of ", k->line);
		cli_put_escaped(stderr, k->source, CLI_ESCAPE_PLAIN);
		fputc(')', stderr);
	}
	if (unknown > 1)
		fprintf(stderr, " (and %zu more unknown key%s)", unknown - 1, unknown > 2 ? "s" : "");
	fputc('\n', stderr);
	return CLI_EXIT_INVALID;
}

typedef struct row_key {
	const char *key; /* into the mapping; not NUL-terminated */
	size_t len;
} row_key;

/* The key of each row to print, from the table's vocabulary, all read before anything is printed. */
static int row_keys(const char *path, const embstore_set *store, const embstore_set_table *t, const id_list *ids,
                    row_key **out)
{
	row_key *keys = ids->count > 0 ? calloc(ids->count, sizeof *keys) : NULL;
	if (keys == NULL && ids->count > 0) {
		cli_error("get", NULL, "out of memory for the keys of %zu rows", ids->count);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < ids->count; i++) {
		embstore_status st = embstore_set_key(store, t->index, (uint64_t)ids->ids[i], &keys[i].key, &keys[i].len);
		if (st != EMBSTORE_OK) {
			cli_status_error("get", path, st, 0);
			free(keys);
			return cli_exit_for(st);
		}
	}
	*out = keys;
	return CLI_EXIT_OK;
}

/* `keys`: NULL, or the key to start each row's line with. */
static int print_rows(const char *path, const embstore_set *set, const embstore_set_table *t, const id_list *list,
                      const row_key *keys)
{
	uint32_t dim = t->dim;
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
		embstore_status st = embstore_set_gather(set, t->index, list->ids + start, EMBSTORE_ID64, n, out, &bad);
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
			if (keys != NULL) {
				cli_put_bytes(stdout, keys[start + r].key, keys[start + r].len, CLI_ESCAPE_PLAIN, SIZE_MAX);
				putchar(' ');
			}
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

/* Checks that the table has a vocabulary, which `what` needs. */
static int need_vocab(const char *path, const embstore_set_table *t, const char *what, const char *hint)
{
	if (t->has_vocab)
		return CLI_EXIT_OK;
	put_table_prefix(path, t);
	fprintf(stderr, " has no vocabulary: %s needs one%s\n", what, hint);
	return CLI_EXIT_USAGE;
}

int cli_cmd_get(int argc, char **argv)
{
	const char *table_name = NULL;
	int have_ids = 0, read_stdin = 0, with_keys = 0, keys_stdin = 0;
	id_list list = {NULL, 0, 0};
	key_list keys = {NULL, 0, 0, NULL, 0, 0};
	row_key *printed_keys = NULL;
	/* --key and --keys-from in the order given (the argument, and whether it names a file); read once the
	 * options are known to be right. */
	size_t source_count = 0;
	const char **sources = calloc((size_t)argc, sizeof *sources);
	unsigned char *from_file = calloc((size_t)argc, 1);
	int rc = CLI_EXIT_USAGE;
	if (sources == NULL || from_file == NULL) {
		cli_error("get", NULL, "out of memory");
		goto out;
	}
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
		case OPT_KEY:
		case OPT_KEYS_FROM:
			if (opt == OPT_KEY && optarg[0] == 0) {
				rc = cli_usage_error("get", "--key: a key is never empty");
				goto out;
			}
			if (opt == OPT_KEYS_FROM && strcmp(optarg, "-") == 0 && keys_stdin++ > 0) {
				rc = cli_usage_error("get", "--keys-from -: standard input can be read once");
				goto out;
			}
			from_file[source_count] = opt == OPT_KEYS_FROM;
			sources[source_count++] = optarg;
			break;
		case OPT_WITH_KEYS:
			with_keys = 1;
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
	size_t n_files = (size_t)(argc - optind);
	char label[320];
	if (n_files == 1)
		snprintf(label, sizeof label, "%s", argv[optind]);
	else
		snprintf(label, sizeof label, "%s and %zu more", argv[optind], n_files - 1);
	const char *path = label;
	if (!have_ids && source_count == 0) {
		rc = cli_usage_error("get", "missing --ids, --key or --keys-from");
		goto out;
	}
	if (have_ids && source_count > 0) {
		rc = cli_usage_error("get", "--ids cannot be mixed with --key or --keys-from: rows are chosen by id or "
		                            "by key");
		goto out;
	}
	if (read_stdin && !read_ids(&list, stdin))
		goto out;
	for (size_t i = 0; i < source_count; i++) {
		if (from_file[i]) {
			if (!read_keys(&keys, sources[i]))
				goto out;
		} else if (!push_key(&keys, sources[i], strlen(sources[i]), NULL, 0)) {
			cli_error("get", NULL, "out of memory for %zu keys", keys.count + 1);
			goto out;
		}
	}

	embstore_set *store;
	rc = cli_open_set("get", argv + optind, n_files, EMBSTORE_ADVISE_RANDOM, &store);
	if (rc != CLI_EXIT_OK)
		goto out;
	embstore_set_table t;
	rc = cli_select_set_table("get", path, store, table_name, &t);
	if (rc == CLI_EXIT_OK && source_count > 0)
		rc = need_vocab(path, &t, "--key or --keys-from", " (choose its rows with --ids)");
	if (rc == CLI_EXIT_OK && with_keys)
		rc = need_vocab(path, &t, "--with-keys", "");
	if (rc == CLI_EXIT_OK && source_count > 0)
		rc = find_keys(path, store, &t, &keys, &list);
	if (rc == CLI_EXIT_OK && !check_ids(path, &t, &list))
		rc = CLI_EXIT_USAGE;
	if (rc == CLI_EXIT_OK && with_keys)
		rc = row_keys(path, store, &t, &list, &printed_keys);
	if (rc == CLI_EXIT_OK && list.count > 0)
		rc = print_rows(path, store, &t, &list, printed_keys);
	embstore_set_close(store);
	if (rc == CLI_EXIT_OK)
		rc = cli_finish_output("get");
out:
	free(list.ids);
	free(keys.bytes);
	free(keys.refs);
	free(printed_keys);
	free(sources);
	free(from_file);
	return rc;
}
