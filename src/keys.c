/* keys.c: the public calls that look rows up by key in a store's table vocabularies (vocab.c does the work). */
#include <stdlib.h>

#include "store_impl.h"
#include "vocab.h"

static embstore_status vocab_table(const embstore *s, uint32_t index, const es_table **t)
{
	ES_CHECK(s && index < s->layout.table_count, EMBSTORE_INVALID_ARGUMENT);
	*t = &s->layout.tables[index];
	ES_CHECK((*t)->flags & ES_TABLE_FLAG_VOCAB, EMBSTORE_NO_VOCAB);
	return EMBSTORE_OK;
}

embstore_status embstore_table_find_key(const embstore *s, uint32_t index, const void *key, size_t len,
                                        uint64_t *row)
{
	const es_table *t;
	ES_CHECK((key || len == 0) && row, EMBSTORE_INVALID_ARGUMENT);
	ES_TRY(vocab_table(s, index, &t));
	return es_vocab_find(s->base, t, key, len, row);
}

embstore_status embstore_table_key(const embstore *s, uint32_t index, uint64_t row, const char **key, size_t *len)
{
	const es_table *t;
	ES_CHECK(key && len, EMBSTORE_INVALID_ARGUMENT);
	ES_TRY(vocab_table(s, index, &t));
	ES_CHECK(row < t->rows, EMBSTORE_INVALID_ARGUMENT);
	const uint8_t *k;
	uint32_t n;
	ES_TRY(es_vocab_key(s->base, t, row, &k, &n));
	*key = (const char *)k;
	*len = n;
	return EMBSTORE_OK;
}

/* Keys are turned into ids a batch at a time, then gathered with the kernels: one call's worth of ids on the
 * stack, whatever n is. */
#define KEY_BATCH 256

embstore_status embstore_gather_keys(const embstore *s, uint32_t index, const char *const *keys, const size_t *lens,
                                     size_t n, float *out, size_t *bad_index)
{
	const es_table *t;
	ES_CHECK((keys && lens && out) || n == 0, EMBSTORE_INVALID_ARGUMENT);
	ES_TRY(vocab_table(s, index, &t));
	embstore_table view;
	ES_TRY(embstore_table_at(s, index, &view));
	int64_t ids[KEY_BATCH];
	for (size_t done = 0; done < n;) {
		size_t k = n - done < KEY_BATCH ? n - done : KEY_BATCH;
		for (size_t i = 0; i < k; i++) {
			uint64_t row;
			embstore_status st = keys[done + i] || lens[done + i] == 0
			                         ? es_vocab_find(s->base, t, keys[done + i], lens[done + i], &row)
			                         : EMBSTORE_INVALID_ARGUMENT;
			if (st != EMBSTORE_OK) {
				/* the rows of the keys before it are written, as the contract says */
				if (i > 0)
					ES_TRY(embstore_gather(&view.matrix, ids, EMBSTORE_ID64, i, out + done * view.matrix.dim, NULL));
				if (st == EMBSTORE_UNKNOWN_KEY && bad_index)
					*bad_index = done + i;
				return st;
			}
			ids[i] = (int64_t)row;
		}
		ES_TRY(embstore_gather(&view.matrix, ids, EMBSTORE_ID64, k, out + done * view.matrix.dim, NULL));
		done += k;
	}
	return EMBSTORE_OK;
}
