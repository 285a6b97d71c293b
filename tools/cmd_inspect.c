/* cmd_inspect.c: `embstore inspect`: a store's header, directory, metadata and first keys, as text or as one JSON
 * object. */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: embstore inspect [--json] FILE...\n"
	"\n"
	"Prints FILE's format version, size, metadata and, per table, its name, dtype, rows, dim, row stride, data\n"
	"offset, rows per checksum chunk and whether it has a vocabulary; then, for each table with a vocabulary,\n"
	"its size (one key per row) and its first 5 keys (control characters escaped, each cut to 40 columns).\n"
	"Reads the header, the directory (all validated) and those few keys, never the rest of the table data: it\n"
	"costs the same for any file size. 'embstore verify' checks the data and every key.\n"
	"A shard (docs/FORMAT.md, \"Sharded sets\") also shows its place in its set: 'shard: I of N, set ID, by\n"
	"rows|table', and per table its global rows 'FIRST-LAST of TOTAL'. Given every file of a set, inspect first\n"
	"checks that they make one complete set (naming a missing shard, exit 1), then shows each shard in index\n"
	"order, separated by an empty line (--json: a list of their objects).\n"
	"\n"
	"Options:\n"
	"  --json      print one JSON object: format_version (string \"MAJOR.MINOR\"), file_size, data_alignment,\n"
	"              metadata (object, key -> value), tables (list of objects with name, dtype, rows, dim,\n"
	"              row_stride, data_offset, chunk_rows, chunk_count, has_vocab, vocab_size (keys; 0 without a\n"
	"              vocabulary), first_keys (list of at most 5 keys, whole) and shard), and shard: for a shard,\n"
	"              its shard keys parsed: {set_id, index, count, by (\"rows\" or \"table\"), tables}, and in\n"
	"              each table {position, first, total} (its place in the set, the global row of its row 0,\n"
	"              the set's rows of it); null (both) for an ordinary store\n"
	"  -h, --help  print this help\n"
	"\n"
	"Exit status:\n"
	"  0  printed; FILE's header and directory are valid (its data is not read)\n"
	"  1  FILE is not a valid store: bad magic, unsupported version, truncated, header checksum mismatch,\n"
	"     malformed shard keys, FILEs that are not one complete shard set,\n"
	"     inconsistent field, a first key that cannot be read, ...\n"
	"  2  usage error, I/O error (no such file, permission, ...), or out of memory\n";

enum { OPT_HELP = 'h', OPT_JSON = CLI_LONG_ONLY };

static const char short_options[] = ":h";

static const struct option long_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static const char *dtype_name(embstore_dtype dtype)
{
	const char *name = embstore_dtype_name(dtype);
	return name != NULL ? name : "unknown";
}

static void json_string(const char *s)
{
	putchar('"');
	cli_put_escaped(stdout, s, CLI_ESCAPE_JSON);
	putchar('"');
}

/* How many keys of each vocabulary inspect shows, and the columns each may take in the text output. */
enum { FIRST_KEYS = 5, KEY_COLUMNS = 40 };

typedef struct first_keys {
	size_t count;
	const char *key[FIRST_KEYS]; /* into the mapping; not NUL-terminated */
	size_t len[FIRST_KEYS];
} first_keys;

/* The first keys of every table with a vocabulary (count 0 for the others), read before anything is printed so
 * that a damaged vocabulary is reported alone. Returns CLI_EXIT_OK or the exit status to return. */
static int read_first_keys(const char *path, const embstore *store, const embstore_info *info, first_keys **out)
{
	first_keys *keys = calloc(info->table_count > 0 ? info->table_count : 1, sizeof *keys);
	if (keys == NULL) {
		cli_error("inspect", NULL, "out of memory");
		return CLI_EXIT_USAGE;
	}
	for (uint32_t i = 0; i < info->table_count; i++) {
		embstore_table t;
		if (embstore_table_at(store, i, &t) != EMBSTORE_OK || !t.has_vocab)
			continue;
		first_keys *k = &keys[i];
		for (; k->count < FIRST_KEYS && k->count < t.matrix.rows; k->count++) {
			embstore_status st = embstore_table_key(store, i, k->count, &k->key[k->count], &k->len[k->count]);
			if (st != EMBSTORE_OK) {
				cli_status_error("inspect", path, st, 0);
				free(keys);
				return cli_exit_for(st);
			}
		}
	}
	*out = keys;
	return CLI_EXIT_OK;
}

static const char *shard_by_name(embstore_shard_by by)
{
	return by == EMBSTORE_SHARD_BY_ROWS ? "rows" : "table";
}

/* The parsed shard keys (shard NULL: an ordinary store, null): what metadata holds as strings, as numbers. */
static void print_json_shard(const embstore_shard_info *shard)
{
	if (shard == NULL) {
		fputs(" \"shard\": null,\n", stdout);
		return;
	}
	printf(" \"shard\": {\"set_id\": \"%s\", \"index\": %" PRIu32 ", \"count\": %" PRIu32 ", \"by\": \"%s\", "
	       "\"tables\": %" PRIu32 "},\n",
	       shard->set_id, shard->index, shard->count, shard_by_name(shard->by), shard->tables);
}

static void print_json_table_shard(const embstore *store, uint32_t i, const embstore_shard_info *shard)
{
	uint32_t position;
	uint64_t first, total;
	if (shard == NULL || embstore_shard_table(store, i, &position, &first, &total) != EMBSTORE_OK) {
		fputs(", \"shard\": null", stdout);
		return;
	}
	printf(", \"shard\": {\"position\": %" PRIu32 ", \"first\": %" PRIu64 ", \"total\": %" PRIu64 "}", position,
	       first, total);
}

static void print_json(const embstore *store, const embstore_info *info, const first_keys *keys,
                       const embstore_shard_info *shard)
{
	printf("{\"format_version\": \"%u.%u\", \"file_size\": %" PRIu64 ", \"data_alignment\": %" PRIu32 ",\n",
	       (unsigned)info->format_major, (unsigned)info->format_minor, info->file_size, info->data_alignment);
	print_json_shard(shard);
	fputs(" \"metadata\": {", stdout);
	for (uint32_t i = 0; i < info->meta_count; i++) {
		const char *key, *value;
		if (embstore_meta_at(store, i, &key, &value) != EMBSTORE_OK)
			continue;
		fputs(i == 0 ? "\n  " : ",\n  ", stdout);
		json_string(key);
		fputs(": ", stdout);
		json_string(value);
	}
	fputs(info->meta_count > 0 ? "\n },\n" : "},\n", stdout);
	fputs(" \"tables\": [", stdout);
	for (uint32_t i = 0; i < info->table_count; i++) {
		embstore_table t;
		if (embstore_table_at(store, i, &t) != EMBSTORE_OK)
			continue;
		fputs(i == 0 ? "\n  {\"name\": " : ",\n  {\"name\": ", stdout);
		json_string(t.name);
		printf(", \"dtype\": \"%s\", \"rows\": %" PRIu64 ", \"dim\": %" PRIu32 ", \"row_stride\": %" PRIu64
		       ", \"data_offset\": %" PRIu64 ", \"chunk_rows\": %" PRIu64 ", \"chunk_count\": %" PRIu64
		       ", \"has_vocab\": %s, \"vocab_size\": %" PRIu64 ", \"first_keys\": [",
		       dtype_name(t.matrix.dtype), t.matrix.rows, t.matrix.dim, t.matrix.row_stride, t.data_offset,
		       t.chunk_rows, t.chunk_count, t.has_vocab ? "true" : "false", t.has_vocab ? t.matrix.rows : 0);
		for (size_t k = 0; k < keys[i].count; k++) {
			fputs(k == 0 ? "\"" : ", \"", stdout);
			cli_put_bytes(stdout, keys[i].key[k], keys[i].len[k], CLI_ESCAPE_JSON, SIZE_MAX);
			putchar('"');
		}
		putchar(']');
		print_json_table_shard(store, i, shard);
		putchar('}');
	}
	fputs(info->table_count > 0 ? "\n ]\n}\n" : "]\n}\n", stdout);
}

/* Text output: the table of tables is aligned in columns; numbers right-aligned. */
enum { COL_NAME, COL_DTYPE, COL_ROWS, COL_DIM, COL_STRIDE, COL_OFFSET, COL_CHUNK, COL_VOCAB, COL_COUNT };

static const char *const col_titles[COL_COUNT] = {
	"table", "dtype", "rows", "dim", "row stride", "data offset", "chunk rows", "vocab",
};

static void table_cells(const embstore_table *t, char cells[COL_COUNT][32])
{
	snprintf(cells[COL_DTYPE], 32, "%s", dtype_name(t->matrix.dtype));
	snprintf(cells[COL_ROWS], 32, "%" PRIu64, t->matrix.rows);
	snprintf(cells[COL_DIM], 32, "%" PRIu32, t->matrix.dim);
	snprintf(cells[COL_STRIDE], 32, "%" PRIu64, t->matrix.row_stride);
	snprintf(cells[COL_OFFSET], 32, "%" PRIu64, t->data_offset);
	snprintf(cells[COL_CHUNK], 32, "%" PRIu64, t->chunk_rows);
	snprintf(cells[COL_VOCAB], 32, "%s", t->has_vocab ? "yes" : "no");
}

static void print_cell(const char *s, size_t width, int right_aligned, int last)
{
	size_t w = cli_display_width(s);
	if (right_aligned) {
		for (; w < width; w++)
			putchar(' ');
		cli_put_escaped(stdout, s, CLI_ESCAPE_PLAIN);
	} else if (last) {
		cli_put_escaped(stdout, s, CLI_ESCAPE_PLAIN);
	} else {
		cli_put_padded(stdout, s, width);
	}
	fputs(last ? "\n" : "  ", stdout);
}

/* Under the table list: "  NAME  N keys: "k1", "k2", ..." for each table with a vocabulary. */
static void print_vocabularies(const embstore *store, const embstore_info *info, const first_keys *keys)
{
	size_t name_width = 0;
	for (uint32_t i = 0; i < info->table_count; i++) {
		embstore_table t;
		if (embstore_table_at(store, i, &t) == EMBSTORE_OK && t.has_vocab && cli_display_width(t.name) > name_width)
			name_width = cli_display_width(t.name);
	}
	if (name_width == 0)
		return;
	fputs("vocabularies:\n", stdout);
	for (uint32_t i = 0; i < info->table_count; i++) {
		embstore_table t;
		if (embstore_table_at(store, i, &t) != EMBSTORE_OK || !t.has_vocab)
			continue;
		fputs("  ", stdout);
		cli_put_padded(stdout, t.name, name_width);
		printf("  %" PRIu64 " key%s:", t.matrix.rows, t.matrix.rows == 1 ? "" : "s");
		for (size_t k = 0; k < keys[i].count; k++) {
			fputs(k == 0 ? " \"" : ", \"", stdout);
			cli_put_bytes(stdout, keys[i].key[k], keys[i].len[k], CLI_ESCAPE_QUOTED, KEY_COLUMNS);
			putchar('"');
		}
		fputs(t.matrix.rows > keys[i].count ? ", ...\n" : "\n", stdout);
	}
}

static void print_text(const char *path, const embstore *store, const embstore_info *info, const first_keys *keys)
{
	fputs("file:            ", stdout);
	cli_put_escaped(stdout, path, CLI_ESCAPE_PLAIN);
	printf("\nformat version:  %u.%u\n", (unsigned)info->format_major, (unsigned)info->format_minor);
	printf("file size:       %" PRIu64 " bytes\n", info->file_size);
	printf("data alignment:  %" PRIu32 "\n", info->data_alignment);

	printf("metadata:        %" PRIu32 " %s\n", info->meta_count, info->meta_count == 1 ? "entry" : "entries");
	size_t key_width = 0;
	for (uint32_t i = 0; i < info->meta_count; i++) {
		const char *key, *value;
		if (embstore_meta_at(store, i, &key, &value) == EMBSTORE_OK && cli_display_width(key) > key_width)
			key_width = cli_display_width(key);
	}
	for (uint32_t i = 0; i < info->meta_count; i++) {
		const char *key, *value;
		if (embstore_meta_at(store, i, &key, &value) != EMBSTORE_OK)
			continue;
		fputs("  ", stdout);
		cli_put_padded(stdout, key, key_width);
		fputs("  ", stdout);
		cli_put_escaped(stdout, value, CLI_ESCAPE_PLAIN);
		putchar('\n');
	}

	printf("tables:          %" PRIu32 "\n", info->table_count);
	if (info->table_count == 0)
		return;
	size_t width[COL_COUNT];
	for (int c = 0; c < COL_COUNT; c++)
		width[c] = strlen(col_titles[c]);
	for (uint32_t i = 0; i < info->table_count; i++) {
		embstore_table t;
		char cells[COL_COUNT][32];
		if (embstore_table_at(store, i, &t) != EMBSTORE_OK)
			continue;
		table_cells(&t, cells);
		if (cli_display_width(t.name) > width[COL_NAME])
			width[COL_NAME] = cli_display_width(t.name);
		for (int c = COL_DTYPE; c < COL_COUNT; c++) {
			if (strlen(cells[c]) > width[c])
				width[c] = strlen(cells[c]);
		}
	}
	fputs("  ", stdout);
	for (int c = 0; c < COL_COUNT; c++) {
		int right = c >= COL_ROWS && c <= COL_CHUNK;
		print_cell(col_titles[c], width[c], right, c == COL_COUNT - 1);
	}
	for (uint32_t i = 0; i < info->table_count; i++) {
		embstore_table t;
		char cells[COL_COUNT][32];
		if (embstore_table_at(store, i, &t) != EMBSTORE_OK)
			continue;
		table_cells(&t, cells);
		fputs("  ", stdout);
		print_cell(t.name, width[COL_NAME], 0, 0);
		for (int c = COL_DTYPE; c < COL_COUNT; c++) {
			int right = c >= COL_ROWS && c <= COL_CHUNK;
			print_cell(cells[c], width[c], right, c == COL_COUNT - 1);
		}
	}
	print_vocabularies(store, info, keys);
}

/* "shard: ..." and each table's global rows, for a shard; nothing for an ordinary store. */
static int print_shard(const char *path, const embstore *store, const embstore_info *info)
{
	embstore_shard_info shard;
	embstore_status st = embstore_shard_get(store, &shard);
	if (st == EMBSTORE_NOT_FOUND)
		return CLI_EXIT_OK;
	if (st != EMBSTORE_OK) {
		cli_status_error("inspect", path, st, 0);
		return cli_exit_for(st);
	}
	printf("shard:           %" PRIu32 " of %" PRIu32 ", set %s, by %s, %" PRIu32 " %s in the set\n", shard.index,
	       shard.count, shard.set_id, shard_by_name(shard.by), shard.tables,
	       shard.tables == 1 ? "table" : "tables");
	for (uint32_t i = 0; i < info->table_count; i++) {
		embstore_table t;
		uint32_t position;
		uint64_t first, total;
		if (embstore_table_at(store, i, &t) != EMBSTORE_OK ||
		    embstore_shard_table(store, i, &position, &first, &total) != EMBSTORE_OK)
			continue;
		fputs("  ", stdout);
		cli_put_escaped(stdout, t.name, CLI_ESCAPE_PLAIN);
		printf("  rows %" PRIu64 "-%" PRIu64 " of %" PRIu64 " (table %" PRIu32 " of the set)\n", first,
		       first + t.matrix.rows - 1, total, position);
	}
	return CLI_EXIT_OK;
}

static int inspect_one(const char *path, const embstore *store, int json)
{
	embstore_info info;
	embstore_get_info(store, &info);
	first_keys *keys = NULL;
	int rc = read_first_keys(path, store, &info, &keys);
	if (rc != CLI_EXIT_OK)
		return rc;
	embstore_shard_info shard;
	embstore_status st = embstore_shard_get(store, &shard);
	if (st != EMBSTORE_OK && st != EMBSTORE_NOT_FOUND) { /* reported alone, before anything is printed */
		cli_status_error("inspect", path, st, 0);
		free(keys);
		return cli_exit_for(st);
	}
	if (json) {
		print_json(store, &info, keys, st == EMBSTORE_OK ? &shard : NULL);
	} else {
		print_text(path, store, &info, keys);
		rc = print_shard(path, store, &info);
	}
	free(keys);
	return rc;
}

int cli_cmd_inspect(int argc, char **argv)
{
	int json = 0;
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("inspect", argc, argv, short_options, long_options)) != -1;) {
		switch (opt) {
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			return cli_help("inspect", usage);
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("inspect", "missing FILE");
	size_t n = (size_t)(argc - optind);
	if (n == 1) {
		embstore *store;
		int rc = cli_open_store("inspect", argv[optind], 0, &store);
		if (rc != CLI_EXIT_OK)
			return rc;
		rc = inspect_one(argv[optind], store, json);
		embstore_close(store);
		return rc == CLI_EXIT_OK ? cli_finish_output("inspect") : rc;
	}
	embstore_set *set;
	int rc = cli_open_set("inspect", argv + optind, n, 0, &set);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (json)
		putchar('[');
	for (uint32_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
		if (i > 0)
			fputs(json ? "," : "\n", stdout);
		rc = inspect_one(embstore_set_path(set, i), embstore_set_shard(set, i), json);
	}
	if (json)
		puts("]");
	embstore_set_close(set);
	return rc == CLI_EXIT_OK ? cli_finish_output("inspect") : rc;
}
