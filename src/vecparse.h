/* vecparse.h: streaming parsers of the published word-vector formats - word2vec binary, word2vec text and
 * fastText .vec (the same text format), GloVe (text without a header) - and a guess of the format from the first
 * bytes. A parser reads its input once, front to back, with read() through one fixed buffer (never mapped, never
 * seeked, so pipes work), and hands each row with its word to a sink: what becomes of the rows (a table, a
 * vocabulary, duplicate words) is the sink's business. Memory: the buffer, one row of floats and one word.
 *
 * What the parsers accept, beyond the formats' plain definition:
 *   - text: fields are separated by runs of blanks (space, tab, CR, VT, FF), so CRLF line ends and blanks at the
 *     ends of lines are accepted; the word is the line's first field and may not start the line with a blank;
 *     blank lines are accepted only at the end of the input; the last line needs no newline. A UTF-8 byte
 *     order mark (EF BB BF) before the first line is skipped (gensim refuses it before a word2vec text header
 *     and keeps it as the start of a GloVe file's first word, U+FEFF; here the word is found as written).
 *   - word2vec binary, as gensim reads it: the word runs to the first space (a word written with a space in it is
 *     cut there and the rest read as part of its vector, and the rows after it shift - gensim loads the same
 *     keys and vectors), and newlines before a word are skipped (so a newline after each vector is optional);
 *     the input may end in newlines after the last vector.
 *   - words: non-empty, valid UTF-8 without zero bytes (the store's rule for keys); with `unicode_replace`, every
 *     maximal ill-formed subsequence (and every zero byte) becomes U+FFFD, as Python's bytes.decode(errors=
 *     "replace") does, so files cut mid-character by the original word2vec tool load as gensim loads them.
 *   - values: correctly rounded to f32, bit for bit what strtof gives in the "C" locale for the whole field
 *     (hexadecimal floats included). gensim rounds text values twice (to f64, then f32), which differs by one
 *     ulp for the rare long decimals within 2^-53 of halfway between two f32; here they are strtof's. NaN and
 *     infinities (also from overflow, "1e39") are refused unless `allow_nonfinite`. A value field is shorter
 *     than ES_VEC_MAX_TOKEN bytes (and than the buffer).
 *   - counts: a header's row count must match the rows (unless `limit` stops the parse first); every row must
 *     have the header's dim (GloVe: the first line's) values.
 * Every failure sets embstore_error_detail(): text formats name the line (the header is line 1), word2vec binary
 * the byte offset, both counted from the first byte given (es_vec_input.head, then the descriptor). */
#ifndef EMBSTORE_VECPARSE_H
#define EMBSTORE_VECPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The default buffer: the longest word, and the most the parser reads ahead. */
#define ES_VEC_BUFFER_BYTES (4u << 20)
#define ES_VEC_MIN_BUFFER 64u
#define ES_VEC_MAX_TOKEN 4096u

typedef enum es_vec_format {
	ES_VEC_UNKNOWN = 0,
	ES_VEC_WORD2VEC,      /* word2vec binary */
	ES_VEC_TEXT_HEADER,   /* word2vec text or fastText .vec */
	ES_VEC_GLOVE,         /* text without header */
} es_vec_format;

/* The input: `head_len` bytes already read from it (by format detection from a pipe, say), then what `fd` still
 * has. fd < 0: the head is the whole input. */
typedef struct es_vec_input {
	int fd;
	const uint8_t *head;
	size_t head_len;
} es_vec_input;

/* Where a row came from, for the sink's own messages and progress. */
typedef struct es_vec_pos {
	uint64_t row;    /* 0-based, among the rows passed */
	uint64_t line;   /* 1-based input line of a text format; 0 for word2vec binary */
	uint64_t offset; /* input byte offset of the row's first byte */
} es_vec_pos;

/* Called once before the first row, then once per row in input order, every row (duplicates too). A status
 * other than EMBSTORE_OK stops the parse, which returns it as is (the sink sets the detail). `key` (key_len
 * bytes, no NUL, valid UTF-8) and `values` (dim floats) are valid during the call only. */
typedef struct es_vec_sink {
	void *ctx;
	embstore_status (*begin)(void *ctx, uint64_t rows_hint /* 0: unknown */, uint32_t dim);
	embstore_status (*row)(void *ctx, const uint8_t *key, size_t key_len, const float *values,
	                       const es_vec_pos *pos);
} es_vec_sink;

typedef struct es_vec_options {
	uint64_t limit;        /* keep the first `limit` rows and read no further; 0: every row */
	bool allow_nonfinite;  /* pass NaN and infinities through */
	bool unicode_replace;  /* replace invalid UTF-8 in words with U+FFFD instead of refusing it */
	size_t buffer_bytes;   /* 0: ES_VEC_BUFFER_BYTES; at least ES_VEC_MIN_BUFFER */
} es_vec_options;

/* o may be NULL (the defaults). Errors: BAD_INPUT (format, counts, UTF-8; the detail says which line or
 * offset), NON_FINITE, LIMIT (a word longer than the buffer, a dim above ES_MAX_DIM or a count above
 * ES_MAX_ROWS), IO, NO_MEMORY, INVALID_ARGUMENT, and whatever the sink returns. */
embstore_status es_parse_word2vec_binary(const es_vec_input *in, const es_vec_options *o, const es_vec_sink *sink);
/* has_header: word2vec text and fastText .vec 1, GloVe 0 (dim from the first line, count from the data). */
embstore_status es_parse_vectors_text(const es_vec_input *in, bool has_header, const es_vec_options *o,
                                      const es_vec_sink *sink);

/* Guesses the format of an input from its first `len` bytes (a few KiB are plenty; `whole`: they are the whole
 * input). A header line "count dim" followed by a text row of dim values is text, followed by anything else that
 * has the shape of a binary row is word2vec; a first line of a word and numbers is GloVe; anything else is
 * ES_VEC_UNKNOWN, and so is a header followed by nothing. */
es_vec_format es_detect_vector_format(const uint8_t *head, size_t len, bool whole);

#endif
