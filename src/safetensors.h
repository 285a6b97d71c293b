/* safetensors.h: safetensors files - an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data
 * area, which the header's tensors must tile exactly. The header parser and its checks (safetensors.c), a reader
 * that streams 2-D tensors out as table rows (safetensors_read.c) and the header writer for export
 * (safetensors_write.c). Every failure names the tensor and field in the detail (embstore_error_detail). */
#ifndef EMBSTORE_SAFETENSORS_H
#define EMBSTORE_SAFETENSORS_H

#include <stddef.h>

#include "format.h"

/* The header length cap of the reference implementation, so that every file it reads is read. The parsed JSON
 * takes up to about 15 times the header's size while the header is parsed and the file read (1.5 GB for a crafted
 * 100 MB header of empty tensors; real headers are well under a megabyte). */
#define ES_ST_MAX_HEADER 100000000u
/* es_st_parse's data_size when the data area's size is not known (a pipe): the tensors then define it. */
#define ES_ST_SIZE_UNKNOWN UINT64_MAX

/* Every dtype of the format. Only F32, F16, BF16 and F64 can become tables (es_st_dtype_source). */
typedef enum es_st_dtype {
	ES_ST_BOOL,
	ES_ST_U8,
	ES_ST_I8,
	ES_ST_F8_E5M2,
	ES_ST_F8_E4M3,
	ES_ST_F8_E8M0,
	ES_ST_F8_E4M3FNUZ,
	ES_ST_F8_E5M2FNUZ,
	ES_ST_I16,
	ES_ST_U16,
	ES_ST_F16,
	ES_ST_BF16,
	ES_ST_I32,
	ES_ST_U32,
	ES_ST_F32,
	ES_ST_I64,
	ES_ST_U64,
	ES_ST_F64,
	ES_ST_C64,
	ES_ST_F4,
	ES_ST_F6_E2M3,
	ES_ST_F6_E3M2,
	ES_ST_DTYPE_COUNT
} es_st_dtype;

/* "F32"; NULL for a value outside the enum. */
const char *es_st_dtype_name(es_st_dtype dtype);
/* The dtype called `name` (exact, case-sensitive); false for an unknown name. */
bool es_st_dtype_parse(const char *name, es_st_dtype *out);
/* Bits per element: 4 (F4), 6 (F6_*), 8, 16, 32 or 64. */
unsigned es_st_dtype_bits(es_st_dtype dtype);
/* The writer's source type of a table read from this dtype (EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16,
 * ES_SRC_F64); 0 for a dtype that cannot become a table. */
embstore_dtype es_st_dtype_source(es_st_dtype dtype);
/* The safetensors dtype that holds a table of `dtype` as it is (f32, f16, bf16); false for int8. */
bool es_st_dtype_of_table(embstore_dtype dtype, es_st_dtype *out);

typedef struct es_st_tensor {
	const char *name; /* valid UTF-8 without zero bytes; owned by the es_st_file */
	es_st_dtype dtype;
	size_t rank;
	const uint64_t *shape; /* rank dimensions */
	uint64_t begin, end;   /* its bytes in the data area, [begin, end) */
} es_st_tensor;

/* A validated header. */
typedef struct es_st_file {
	es_st_tensor *tensors; /* ordered by begin: the order a stream delivers them in */
	size_t tensor_count;
	es_meta *meta; /* __metadata__, in header order; valid UTF-8 without zero bytes */
	size_t meta_count;
	uint64_t data_size; /* bytes of the data area */
	uint64_t *dims;     /* every tensor's shape */
	void *json;         /* the parsed document, which owns the strings */
} es_st_file;

/* Parses and validates the header JSON (the N bytes after the length) of a file whose data area holds
 * `data_size` bytes (ES_ST_SIZE_UNKNOWN: not known yet). Checks that the JSON is an object; that __metadata__,
 * when present, maps strings to strings; that every other member is a tensor with a known `dtype`, a `shape` of
 * non-negative integers and `data_offsets` [begin, end] with begin <= end, whose length is the shape's element
 * count times the element size (without overflow, in whole bytes); that each lies in the data area; and that the
 * tensors neither overlap nor leave a byte of it uncovered. Names are unique (duplicate keys are refused).
 * On success fills *out (free with es_st_file_free). Clears the detail.
 * Errors: BAD_INPUT (not JSON, wrong types, bad dtype or shape), BAD_LAYOUT (offsets out of the data area,
 * reversed, not matching the shape, overlapping, a hole), LIMIT (over ES_ST_MAX_HEADER, a size beyond 64 bits),
 * NO_MEMORY. */
embstore_status es_st_parse(const uint8_t *header_json, size_t len, uint64_t data_size, es_st_file *out);
void es_st_file_free(es_st_file *file);

/* The tensor called `name`, or NULL. */
const es_st_tensor *es_st_find(const es_st_file *file, const char *name);

/* Whether `t` can become a table: 2-D, of F32, F16, BF16 or F64, at least one row and column, within the store's
 * caps. Gives its rows, columns and the writer's source type; otherwise BAD_INPUT (or LIMIT) saying why. */
embstore_status es_st_table_shape(const es_st_tensor *t, uint64_t *rows, uint64_t *cols, embstore_dtype *src);

/* Where a table's rows go (the writer, in the importer). `begin` is called once, then `rows` with n >= 1 packed
 * rows of `cols` little-endian elements of `src_dtype` at a time, until the announced count is reached. An error
 * from either stops the reading and is returned as it is. */
typedef struct es_rows_sink {
	void *ctx;
	embstore_status (*begin)(void *ctx, const char *name, uint64_t rows, uint64_t cols, embstore_dtype src_dtype);
	embstore_status (*rows)(void *ctx, const void *data, uint64_t n);
} es_rows_sink;

/* A safetensors file being read from a descriptor: with pread() when it is a regular file (any tensor, any
 * order), else front to back with read() (tensors in the order of es_st_file.tensors, the bytes between them
 * skipped). Reads in bounded batches; never maps. */
typedef struct es_st_reader es_st_reader;

/* Reads and validates the header of the file starting at fd's current position. `path` names it in messages
 * (NULL: the descriptor's number). The descriptor stays the caller's. Clears the detail.
 * Errors: those of es_st_parse, IO, BAD_INPUT (shorter than its header length, or a file whose data area the
 * header's tensors do not cover exactly), LIMIT (header length over ES_ST_MAX_HEADER), NO_MEMORY. */
embstore_status es_st_open(int fd, const char *path, es_st_reader **out);
/* The same when the file's first head_len bytes were already read from fd (to tell its format): they are given
 * back here (and must stay valid until es_st_close), and fd is positioned right after them. */
embstore_status es_st_open_head(int fd, const char *path, const uint8_t *head, size_t head_len,
                                es_st_reader **out);
const es_st_file *es_st_reader_file(const es_st_reader *r);

/* Streams tensor `t` (of es_st_reader_file(r)) into `sink` as a table: its first `limit` rows (0: all).
 * Errors: those of es_st_table_shape and of the sink, IO, BAD_INPUT (the file ends inside the tensor),
 * STATE (a stream asked for a tensor that lies before what it already read). */
embstore_status es_st_read_table(es_st_reader *r, const es_st_tensor *t, uint64_t limit, const es_rows_sink *sink);

/* After the last tensor wanted: a stream is read to its end, which must be the data area's. */
embstore_status es_st_finish(es_st_reader *r);
void es_st_close(es_st_reader *r);

/* A tensor of a file to write. */
typedef struct es_st_desc {
	const char *name;
	es_st_dtype dtype;
	size_t rank;
	const uint64_t *shape;
} es_st_desc;

/* The first 8 + N bytes of a safetensors file holding `count` tensors laid out one after the other in the order
 * given, and `meta_count` metadata entries: the length, then the JSON header with sorted keys, padded with spaces
 * so that the data starts on a multiple of 8 bytes, as the reference implementation writes it. *out is
 * malloc'd (*out_len bytes); *data_size is how many bytes of tensor data must follow. Clears the detail.
 * Errors: INVALID_ARGUMENT (NULL), BAD_DTYPE, BAD_STRING (a name, key or value not valid UTF-8),
 * DUPLICATE_NAME (two tensors or keys alike, or a tensor called __metadata__), LIMIT (a size beyond 2^63 - 1, a
 * header over ES_ST_MAX_HEADER), NO_MEMORY. */
embstore_status es_st_write_header(const es_st_desc *tensors, size_t count, const es_meta *meta, size_t meta_count,
                                   uint8_t **out, size_t *out_len, uint64_t *data_size);

/* safetensors.c, for the other safetensors files: a name as messages show it, at most 60 bytes of it (cut on a
 * character boundary, "..." added) with control characters as '?'. */
#define ES_ST_NAME_TEXT 68
const char *es_st_name_text(const char *name, char buf[ES_ST_NAME_TEXT]);

/* Bytes of `elems` elements of `dtype`, or false on overflow or when they do not fill whole bytes. */
bool es_st_nbytes(es_st_dtype dtype, uint64_t elems, uint64_t *out);

#endif
