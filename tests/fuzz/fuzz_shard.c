/* fuzz_shard.c: a fuzz target over the shard key parser (src/shard.c), which reads metadata strings from files.
 * The input is lines: "key=value" is a metadata entry, "@name rows" a table (rows in decimal). The parser must
 * return OK or BAD_SET, never read outside its strings; what it accepts must keep every rule of docs/FORMAT.md,
 * "Sharded sets", which this target checks again. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "embstore.h"
#include "fuzz_util.h"
#include "shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_ENTRIES = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	require(text != NULL);
	memcpy(text, data, size);
	text[size] = 0;
	const char *keys[MAX_ENTRIES], *values[MAX_ENTRIES], *names[MAX_ENTRIES];
	uint64_t rows[MAX_ENTRIES];
	uint32_t n_meta = 0, n_tables = 0;
	for (char *line = text, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = 0;
		char *eq = strchr(line, '=');
		if (line[0] == '@' && n_tables < MAX_ENTRIES) {
			char *space = strchr(line, ' ');
			if (space == NULL)
				continue;
			*space = 0;
			names[n_tables] = line + 1;
			rows[n_tables++] = strtoull(space + 1, NULL, 10) % ((uint64_t)1 << 41);
		} else if (eq != NULL && n_meta < MAX_ENTRIES) {
			*eq = 0;
			keys[n_meta] = line;
			values[n_meta++] = eq + 1;
		}
	}
	es_shard_input in = {n_meta, keys, values, n_tables, names, rows};
	es_shard shard;
	bool is_shard = false;
	embstore_status st = es_shard_parse(&in, &shard, &is_shard);
	require(st == EMBSTORE_OK || st == EMBSTORE_BAD_SET);
	if (st == EMBSTORE_OK && is_shard) {
		const embstore_shard_info *i = &shard.info;
		require(i->count >= 1 && i->count <= EMBSTORE_SHARD_MAX && i->index < i->count);
		require(i->tables >= 1 && i->tables <= ES_SHARD_MAX_TABLES && strlen(i->set_id) == 32);
		require(i->by == EMBSTORE_SHARD_BY_ROWS || i->by == EMBSTORE_SHARD_BY_TABLE);
		for (uint32_t t = 0; t < n_tables; t++) {
			const es_shard_part *p = &shard.parts[t];
			require(p->position < i->tables && p->total >= 1 && p->total <= ES_SHARD_MAX_ROWS);
			require(p->first <= p->total && rows[t] <= p->total - p->first);
			for (uint32_t u = 0; u < t; u++)
				require(shard.parts[u].position != p->position);
		}
		es_shard_free(&shard);
	}
	free(text);
	return 0;
}
