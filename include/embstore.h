/* embstore.h: the one public header of embstore, memory-mapped embedding tables with SIMD lookups.
 *
 * Conventions, true of every function below unless its paragraph says otherwise:
 *  - Functions return an embstore_status; EMBSTORE_OK (0) is success. Values are stable across releases.
 *  - Out-parameters are written only on success.
 *  - Whenever a function returns EMBSTORE_IO, errno holds the system's reason.
 *  - The library never prints, aborts or exits, and never reads the environment except EMBSTORE_ISA (once,
 *    when the kernel table is first resolved).
 *  - An opened read-only store is immutable: any number of threads may use it and the table views taken
 *    from it at once. A writer belongs to one thread at a time.
 *  - *_free / *_close functions accept NULL.
 *  - The file format is specified in docs/FORMAT.md.
 */
#ifndef EMBSTORE_H
#define EMBSTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EMBSTORE_API
#elif defined(__GNUC__)
#define EMBSTORE_API __attribute__((visibility("default")))
#else
#define EMBSTORE_API
#endif

#define EMBSTORE_VERSION_MAJOR 0
#define EMBSTORE_VERSION_MINOR 1
#define EMBSTORE_VERSION_PATCH 0
#define EMBSTORE_VERSION_STRING "0.1.0"
/* The file format this library writes; it reads any 1.x. */
#define EMBSTORE_FORMAT_MAJOR 1
#define EMBSTORE_FORMAT_MINOR 2

/* The library's version string at run time (may differ from the header a program was built with). */
EMBSTORE_API const char *embstore_version(void);

/* ---------------------------------------------------------------------------------------------------------
 * Errors: one list, from which the enum, embstore_strerror and embstore_status_name are generated.
 * X(NAME, value, message). Values never change meaning; new ones are appended.
 */
#define EMBSTORE_STATUS_LIST(X)                                                                        \
	X(OK, 0, "success")                                                                                \
	X(INVALID_ARGUMENT, 1, "invalid argument")                                                         \
	X(NO_MEMORY, 2, "out of memory")                                                                   \
	X(IO, 3, "I/O or system error")                                                                    \
	X(NOT_FOUND, 4, "no such table")                                                                   \
	X(BAD_MAGIC, 5, "not an embstore file (bad magic)")                                                \
	X(UNSUPPORTED_VERSION, 6, "format version or feature flag not supported by this reader")           \
	X(TRUNCATED, 7, "file is shorter than its header says")                                            \
	X(HEADER_CHECKSUM, 8, "header checksum mismatch")                                                  \
	X(CORRUPT, 9, "inconsistent header field")                                                         \
	X(BAD_LAYOUT, 10, "sections overlap, leave a gap or do not cover the file exactly")                \
	X(BAD_DTYPE, 11, "unknown dtype, or one this call does not take")                                 \
	X(BAD_STRING, 12, "string out of bounds, not NUL-terminated or not valid UTF-8")                   \
	X(DUPLICATE_NAME, 13, "duplicate table name or metadata key")                                      \
	X(LIMIT, 14, "a count or size exceeds a documented cap")                                           \
	X(DATA_CHECKSUM, 15, "table data checksum mismatch")                                               \
	X(ID_OUT_OF_RANGE, 16, "id out of range")                                                          \
	X(READ_ONLY, 17, "store is open read-only")                                                        \
	X(UNSUPPORTED_ISA, 18, "instruction set not supported by this CPU or build")                       \
	X(STATE, 19, "call not valid in the object's current state")                                       \
	X(BAD_INPUT, 20, "input file is malformed or of an unsupported kind")                              \
	X(NON_FINITE, 21, "value is NaN or infinite where a finite one is required")                      \
	X(RANGE, 22, "value out of range for the destination dtype")                                      \
	X(LOCKED, 23, "file is open for writing by another process")                                      \
	X(UNKNOWN_KEY, 24, "key not in the table's vocabulary")                                            \
	X(NO_VOCAB, 25, "table has no vocabulary")                                                        \
	X(BAD_SET, 26, "shard metadata malformed, or files that are not one complete, consistent shard set")

typedef enum embstore_status {
#define EMBSTORE_X_ENUM(name, value, msg) EMBSTORE_##name = value,
	EMBSTORE_STATUS_LIST(EMBSTORE_X_ENUM)
#undef EMBSTORE_X_ENUM
} embstore_status;

/* A sentence for a status ("header checksum mismatch"); never NULL, also for unknown values. */
EMBSTORE_API const char *embstore_strerror(embstore_status status);
/* The status' name without prefix ("HEADER_CHECKSUM"); "UNKNOWN" for unknown values. */
EMBSTORE_API const char *embstore_status_name(embstore_status status);

/* What exactly the last failed call of this thread found, as one line of text without a final period: which
 * rule, field and value ("table 'w': data_offset 4100 is not a multiple of 4096", ".npy dtype '<i4' is not
 * '<f2', '<f4' or '<f8'", "table 'w', row 3, column 7: 1e+06 does not fit f16"). Set by the calls that read
 * files or take rows (embstore_open, embstore_open_memory, embstore_verify, embstore_npy_parse, the writer and
 * its importers); each of them clears it when it starts, so it never describes an older call. "" when there is
 * nothing to add to the status' sentence. The string belongs to the thread and stays valid until its next
 * such call. The status stays the stable thing to test; this is for people. */
EMBSTORE_API const char *embstore_error_detail(void);

/* ---------------------------------------------------------------------------------------------------------
 * Element types. Values are the on-disk codes.
 */
typedef enum embstore_dtype {
	EMBSTORE_F32 = 1,
	EMBSTORE_F16 = 2,
	EMBSTORE_BF16 = 3,
	EMBSTORE_INT8_ROWWISE = 4, /* dim x uint8, then f32 scale, f32 bias (FBGEMM fused layout) */
} embstore_dtype;

/* "f32", "f16", "bf16", "int8"; NULL for an unknown dtype. */
EMBSTORE_API const char *embstore_dtype_name(embstore_dtype dtype);
/* Parses the names above; EMBSTORE_INVALID_ARGUMENT for anything else. */
EMBSTORE_API embstore_status embstore_dtype_parse(const char *name, embstore_dtype *out);
/* Bytes of one packed row of `dim` elements (for int8: dim + 8). 0 for an unknown dtype or on overflow. */
EMBSTORE_API uint64_t embstore_row_bytes(embstore_dtype dtype, uint64_t dim);

/* ---------------------------------------------------------------------------------------------------------
 * A matrix: rows of one dtype at a fixed stride. It is what the kernels read, whether it comes from a store
 * (embstore_table.matrix, pointing into the mapping) or from the caller's own memory.
 */
typedef struct embstore_matrix {
	void *data;          /* row 0; row r is at (char *)data + r * row_stride */
	uint64_t rows;
	uint64_t row_stride; /* bytes; at least embstore_row_bytes(dtype, dim) */
	uint32_t dim;
	embstore_dtype dtype;
	uint32_t flags;      /* EMBSTORE_MATRIX_* bits; 0 for the caller's own memory */
} embstore_matrix;

/* The rows must not be written: set on every table of a store opened without EMBSTORE_OPEN_WRITABLE, whose
 * mapping is read-only (a write through `data` would die of SIGSEGV). Writing kernels refuse such a matrix
 * with EMBSTORE_READ_ONLY. */
#define EMBSTORE_MATRIX_READ_ONLY (1u << 0)

/* ---------------------------------------------------------------------------------------------------------
 * Reading a store.
 */
typedef struct embstore embstore;

/* Flags for embstore_open. */
#define EMBSTORE_OPEN_VERIFY (1u << 0)         /* also check every data checksum (reads all data) */
#define EMBSTORE_OPEN_WRITABLE (1u << 1)       /* map shared read-write for training in place (f32 tables) */
#define EMBSTORE_ADVISE_RANDOM (1u << 8)       /* madvise hints for the table data; at most one of these */
#define EMBSTORE_ADVISE_SEQUENTIAL (1u << 9)   /*   four access hints; they are hints: a kernel that   */
#define EMBSTORE_ADVISE_WILLNEED (1u << 10)    /*   ignores them is not an error                        */
#define EMBSTORE_ADVISE_HUGEPAGE (1u << 11)

/* Opens the store at `path`: fstat, mmap (read-only, shared), then validates the whole header, directory and
 * checksum slots (docs/FORMAT.md) before anything in it is used. Table data is not read unless
 * EMBSTORE_OPEN_VERIFY is given, so opening costs the same for any file size. Opening while another process
 * syncs the store always succeeds. With EMBSTORE_OPEN_WRITABLE the store takes the file's writer lock (an
 * exclusive flock) until it is closed: one writer at a time, and no build replaces the file meanwhile.
 * A file truncated by someone else while it is mapped raises SIGBUS on the next access to the lost pages: the
 * library cannot turn that into a status (docs/SECURITY.md says what to do).
 * Errors: INVALID_ARGUMENT (NULL path/out, unknown flag bits), IO (open/fstat/mmap failed; errno is kept),
 * NO_MEMORY, every format status (BAD_MAGIC .. LIMIT), DATA_CHECKSUM (with EMBSTORE_OPEN_VERIFY), LOCKED
 * (writable, and another process has the store open for writing; embstore_error_detail names its pid). */
EMBSTORE_API embstore_status embstore_open(const char *path, unsigned flags, embstore **out);

/* Like embstore_open, over `len` bytes the caller keeps alive and unchanged until embstore_close. Nothing is
 * copied. Useful for fuzzing and for stores embedded in another file. EMBSTORE_OPEN_WRITABLE and the advise
 * flags are refused (INVALID_ARGUMENT). */
EMBSTORE_API embstore_status embstore_open_memory(const void *data, size_t len, unsigned flags, embstore **out);

/* Unmaps and frees. Table views taken from the store become invalid. NULL is a no-op. */
EMBSTORE_API void embstore_close(embstore *store);

typedef struct embstore_info {
	uint16_t format_major, format_minor;
	uint64_t file_size;
	uint32_t table_count;
	uint32_t meta_count;
	uint32_t data_alignment;
} embstore_info;

EMBSTORE_API void embstore_get_info(const embstore *store, embstore_info *out);

typedef struct embstore_table {
	const char *name;      /* NUL-terminated, points into the mapping */
	embstore_matrix matrix; /* flags has EMBSTORE_MATRIX_READ_ONLY unless the store was opened writable */
	uint64_t data_offset;  /* in the file */
	uint64_t chunk_rows;   /* rows per checksum chunk */
	uint64_t chunk_count;
	int has_vocab;         /* 1 when every row has a key (format 1.2 vocabulary) */
	uint32_t index;        /* position in the store: what embstore_table_scatter_add and mark_rows take */
} embstore_table;

/* The table at `index` (0 <= index < table_count). Errors: INVALID_ARGUMENT (NULL, index out of range). */
EMBSTORE_API embstore_status embstore_table_at(const embstore *store, uint32_t index, embstore_table *out);
/* The table named `name`. Errors: INVALID_ARGUMENT (NULL), NOT_FOUND. */
EMBSTORE_API embstore_status embstore_table_find(const embstore *store, const char *name, embstore_table *out);

/* Metadata entry `index`: key and value point into the mapping, NUL-terminated.
 * Errors: INVALID_ARGUMENT (NULL, index out of range). */
EMBSTORE_API embstore_status embstore_meta_at(const embstore *store, uint32_t index, const char **key,
                                              const char **value);
/* The value for `key`, or NULL when absent. */
EMBSTORE_API const char *embstore_meta_get(const embstore *store, const char *key);

/* Vocabularies (format 1.2): a key per row, looked up through a hash index in the mapping (two cache misses from
 * a cold table; nothing is loaded at open). Keys are byte strings with an explicit length: non-empty UTF-8,
 * without zero bytes, at most 65,535 bytes. A lookup checks everything it reads from the file, so a damaged
 * vocabulary gives CORRUPT, never a wrong read; embstore_verify checks every key. Safe from any thread. */

/* The row of `key` (`len` bytes, no NUL needed) in table `index`.
 * Errors: INVALID_ARGUMENT (NULL, index out of range), NO_VOCAB, UNKNOWN_KEY, CORRUPT. */
EMBSTORE_API embstore_status embstore_table_find_key(const embstore *store, uint32_t index, const void *key,
                                                     size_t len, uint64_t *row);
/* The key of `row`: *key points into the mapping, *len bytes, NOT NUL-terminated.
 * Errors: INVALID_ARGUMENT (NULL, index or row out of range), NO_VOCAB, CORRUPT. */
EMBSTORE_API embstore_status embstore_table_key(const embstore *store, uint32_t index, uint64_t row,
                                                const char **key, size_t *len);
/* Gathers the rows of keys[i] (lens[i] bytes) as embstore_gather does, i < n. An unknown key stops the call with
 * UNKNOWN_KEY and, when bad_index is not NULL, its position in *bad_index; rows before it stay written.
 * Errors: those of embstore_table_find_key and embstore_gather. */
EMBSTORE_API embstore_status embstore_gather_keys(const embstore *store, uint32_t index, const char *const *keys,
                                                  const size_t *lens, size_t n, float *out, size_t *bad_index);

/* One problem found by embstore_verify in the rows [first_row, first_row + row_count) of table
 * `table_index`: status is DATA_CHECKSUM (the chunk's checksum differs), NON_FINITE (an int8 row's scale or
 * bias is not finite), BAD_STRING (the vocabulary: that row's key is damaged, or with row_count = rows the
 * vocabulary's checksum or index) or CORRUPT (non-zero alignment padding; then row_count is 0). */
typedef struct embstore_problem {
	uint32_t table_index;
	embstore_status status;
	uint64_t first_row;
	uint64_t row_count;
} embstore_problem;

/* Called once per problem found; return non-zero to stop verifying. */
typedef int (*embstore_problem_fn)(void *ctx, const embstore_problem *problem);

/* Reads all table data and checks every chunk checksum, every int8 row's scale and bias, and that alignment
 * padding is zero. `report` may be NULL. Returns OK when nothing is wrong, otherwise the status of the first
 * problem found. Safe to call from several threads on one store. */
EMBSTORE_API embstore_status embstore_verify(const embstore *store, embstore_problem_fn report, void *ctx);

/* ---------------------------------------------------------------------------------------------------------
 * Writing a store. Data is streamed: memory use does not grow with table size (beyond 8 bytes of checksum per
 * chunk). Nothing appears at `path` until embstore_writer_finish succeeds, and then atomically: the file is
 * written as a temporary beside `path`, fsynced, renamed over it and the directory fsynced. A writer freed
 * without finishing removes its temporary file and leaves any existing `path` untouched.
 * A symbolic link at `path` stays a link: the file it leads to is replaced (or created), its temporary beside it.
 * A replaced file keeps its permission bits (owner, group and ACLs are not carried over); a new one gets 0666
 * less the umask. The temporary is unnamed (O_TMPFILE) where the file system allows; elsewhere, and in the moment
 * between naming it and the rename, it is ".NAME.PID.N.tmp", which a killed build leaves behind. A later build of
 * NAME in that directory removes those that are regular files of the calling user whose PID no longer runs
 * (kill(PID, 0) fails with ESRCH). Processes in other PID namespaces (containers, other hosts on a network file
 * system) look dead to it: do not build one target from two of them at once. When writing or committing the
 * file fails, embstore_error_detail names it ("writing 'out.emb'", "committing 'out.emb'"); when an import cannot
 * read its input, the input ("reading 'in.npy'").
 */
typedef struct embstore_writer embstore_writer;

/* Errors: INVALID_ARGUMENT, NO_MEMORY, IO (the temporary file could not be created). */
EMBSTORE_API embstore_status embstore_writer_create(const char *path, embstore_writer **out);

/* Data alignment (power of two, 4096 to 2 MiB; 2 MiB lets the kernel back tables with huge pages).
 * Only before the first table. Errors: INVALID_ARGUMENT, STATE. */
EMBSTORE_API embstore_status embstore_writer_set_alignment(embstore_writer *w, uint32_t alignment);
/* With `huge_pages` non-zero, the file is written in whole aligned 2 MiB writes (through a 2 MiB buffer), so that
 * on file systems with large folios (ext4, XFS, btrfs on Linux 6.x) the page cache holds it in 2 MiB pages, which
 * every reader then maps with 2 MiB entries: random rows of a store read right after its build are looked up as
 * fast as from one read back from disk (a just-written store otherwise sits in 4 KiB pages until it is evicted).
 * The cost: on some virtual machines 2 MiB of fresh page cache is dear to fill, and builds of large stores took 2
 * to 4 times as long (docs/BENCHMARKS.md, "Page state"). The file is the same either way. Only before the first
 * table. Errors: INVALID_ARGUMENT, STATE, NO_MEMORY. */
EMBSTORE_API embstore_status embstore_writer_set_huge_pages(embstore_writer *w, int huge_pages);
/* Target bytes per checksum chunk (default 65536; rounded to whole rows, at least one). Applies to tables
 * begun afterwards. Errors: INVALID_ARGUMENT. */
EMBSTORE_API embstore_status embstore_writer_set_chunk_bytes(embstore_writer *w, uint64_t bytes);

/* What append does with a finite value too large for the table's dtype (f16: beyond 65504; bf16: beyond
 * about 3.39e38), or an f64 input value too large for f32: by default the call fails with EMBSTORE_RANGE and
 * embstore_error_detail names the table, row and column; with `saturate` non-zero the value becomes the
 * largest finite one of its sign. Applies to rows appended afterwards. Errors: INVALID_ARGUMENT, STATE. */
EMBSTORE_API embstore_status embstore_writer_set_saturate(embstore_writer *w, int saturate);

/* Adds a metadata key/value (UTF-8, key unique, caps as in docs/FORMAT.md).
 * Errors: INVALID_ARGUMENT, BAD_STRING, DUPLICATE_NAME, LIMIT, NO_MEMORY, STATE (after finish or failure). */
EMBSTORE_API embstore_status embstore_writer_add_meta(embstore_writer *w, const char *key, const char *value);

/* Starts a table; the previous one must have received all its rows. `rows` is the number of rows that will be
 * appended, or 0 when not known in advance (the table then has as many rows as are appended before the next
 * table or finish; at least one).
 * Errors: INVALID_ARGUMENT, BAD_DTYPE, BAD_STRING, DUPLICATE_NAME, LIMIT, NO_MEMORY, STATE. */
EMBSTORE_API embstore_status embstore_writer_begin_table(embstore_writer *w, const char *name,
                                                         embstore_dtype dtype, uint64_t rows, uint32_t dim);

/* Appends `n` rows of the current table's dim, read from `src` as `src_dtype` with `src_stride` bytes between
 * rows (0 means packed). Rows are converted to the table's dtype: f32 -> f16 / bf16 round to nearest even,
 * f32 -> int8 quantises each row (FBGEMM row-wise); f16 / bf16 sources are widened exactly first. An int8 source
 * is accepted only for an int8 table (copied after checking scale and bias are finite).
 * Errors: INVALID_ARGUMENT, STATE (no table, or more rows than declared), NON_FINITE (a value that int8 cannot
 * quantise, or an int8 row with non-finite scale or bias), RANGE (see embstore_writer_set_saturate), IO,
 * NO_MEMORY. An error found in the rows or in writing them (RANGE, NON_FINITE, IO, NO_MEMORY) fails the writer:
 * later calls return STATE and finish does nothing; a call refused for its arguments (INVALID_ARGUMENT,
 * BAD_DTYPE, STATE, LIMIT) changes nothing. */
EMBSTORE_API embstore_status embstore_writer_append(embstore_writer *w, const void *src, embstore_dtype src_dtype,
                                                    uint64_t n, uint64_t src_stride);

/* Appends `n` rows as embstore_writer_append does, with their keys: keys[i], key_lens[i] bytes, for row i. The
 * table then has a vocabulary (format 1.2): every one of its rows needs a key, so a table's first append decides,
 * and mixing keyed and plain appends in one table is STATE. Keys: non-empty, valid UTF-8 without zero bytes, at
 * most 65,535 bytes (BAD_STRING, LIMIT), unique within the table (DUPLICATE_NAME; embstore_writer_find_key lets
 * an importer skip a repeat first). Keys are spilled to a temporary file beside the output; memory grows by
 * about 32 bytes per key for the index. Errors: those of embstore_writer_append, BAD_STRING, LIMIT,
 * DUPLICATE_NAME; all fail the writer. */
EMBSTORE_API embstore_status embstore_writer_append_keyed(embstore_writer *w, const void *src,
                                                          embstore_dtype src_dtype, uint64_t n, uint64_t src_stride,
                                                          const char *const *keys, const size_t *key_lens);
/* Whether the current table already has `key`: OK with its row in *row, or UNKNOWN_KEY.
 * Errors: INVALID_ARGUMENT, STATE (no table), IO. */
EMBSTORE_API embstore_status embstore_writer_find_key(embstore_writer *w, const void *key, size_t len,
                                                      uint64_t *row);

/* How embstore_writer_init_table fills a new table. */
typedef enum embstore_init_kind {
	EMBSTORE_INIT_ZEROS = 0,   /* every value 0 */
	EMBSTORE_INIT_NORMAL = 1,  /* normal, mean 0, standard deviation `scale` (torch.nn.Embedding: 1) */
	EMBSTORE_INIT_UNIFORM = 2, /* uniform on [-scale, scale) (Keras Embedding: 0.05) */
} embstore_init_kind;

typedef struct embstore_init {
	embstore_init_kind kind;
	double scale;  /* NORMAL: the standard deviation; UNIFORM: the half-width; from 0 to 1e30 */
	uint64_t seed; /* the same seed gives the same bytes on every machine, compiler and kernel set */
} embstore_init;

/* Adds a table of `rows` x `dim` values drawn as `init` says, streamed through the writer in bounded memory
 * (about 1 MiB), stored as `dtype` (converted from f32 as embstore_writer_append does). Row r's values depend only
 * on the seed and r (each row has its own stream of SplitMix64), so a table and any prefix of a larger one built
 * with the same seed agree. The normal values come from Marsaglia's polar method, computed in double and rounded
 * once to f32. Errors: those of begin_table and append, INVALID_ARGUMENT (NULL, rows or dim 0, an unknown kind, a
 * scale that is negative, not finite or above 1e30). */
EMBSTORE_API embstore_status embstore_writer_init_table(embstore_writer *w, const char *name, embstore_dtype dtype,
                                                        uint64_t rows, uint32_t dim, const embstore_init *init);

/* The formats embstore_writer_import reads. */
typedef enum embstore_format {
	EMBSTORE_FORMAT_AUTO = 0,          /* detect: from the content, then the file name's extension */
	EMBSTORE_FORMAT_NPY = 1,           /* numpy .npy, 2-D, f16 / f32 / f64 */
	EMBSTORE_FORMAT_RAW = 2,           /* little-endian f32, rows x dim given (never detected) */
	EMBSTORE_FORMAT_WORD2VEC = 3,      /* word2vec binary: "count dim" line, then word, space, dim f32 per row */
	EMBSTORE_FORMAT_WORD2VEC_TEXT = 4, /* word2vec text and fastText .vec: "count dim" line, then "word v1 .. vd" */
	EMBSTORE_FORMAT_GLOVE = 5,         /* GloVe: "word v1 .. vd" lines, no header */
	EMBSTORE_FORMAT_SAFETENSORS = 6,   /* safetensors: 2-D F32 / F16 / BF16 / F64 tensors, one table each */
	EMBSTORE_FORMAT_NPZ = 7,           /* numpy .npz (savez, savez_compressed): 2-D float .npy members */
} embstore_format;

/* "auto", "npy", "raw", "word2vec", "word2vec-text", "glove", "safetensors", "npz"; NULL for an unknown value. */
EMBSTORE_API const char *embstore_format_name(embstore_format format);
/* The names above, and "fasttext" for WORD2VEC_TEXT. Errors: INVALID_ARGUMENT. */
EMBSTORE_API embstore_status embstore_format_parse(const char *name, embstore_format *out);

#define EMBSTORE_IMPORT_ALLOW_NONFINITE (1u << 0) /* keep NaN and infinities instead of refusing the input */
#define EMBSTORE_IMPORT_UNICODE_REPLACE (1u << 1) /* invalid UTF-8 in a word becomes U+FFFD instead of an error */
/* `name` is only a default, for an input of one table (npy, raw, the word-vector formats): a safetensors or .npz
 * input names its tables after their tensors or members, as it does with `name` NULL. What a command line wants
 * for a file given without a table name. */
#define EMBSTORE_IMPORT_NAME_DEFAULT (1u << 2)

/* What embstore_writer_import reads and how, and (out) what it found. Zero-initialise, then set what you need. */
typedef struct embstore_import {
	embstore_format format; /* in: the format, or AUTO; out: the format read */
	embstore_dtype dtype;   /* the table's dtype; 0: the input's own (f32 for text formats and f64) */
	unsigned flags;         /* EMBSTORE_IMPORT_* */
	uint64_t limit;         /* keep the first `limit` rows (read no further); 0: all */
	uint64_t rows;          /* RAW: the rows (in); out: the rows the table got */
	uint32_t dim;           /* RAW: the dim (in); out: the table's dim */
	uint64_t duplicates;    /* out: rows dropped because their word repeated an earlier row's (the first is kept) */
	/* Called now and then (every 65,536 rows) with the rows imported, the input bytes read, and the input's size
	 * (0 when unknown: a pipe). May be NULL. */
	void (*progress)(void *ctx, uint64_t rows, uint64_t bytes, uint64_t total_bytes);
	void *progress_ctx;
	/* safetensors and .npz, which hold several arrays: */
	const char *tensor;    /* in: the tensor (or .npz member, with or without ".npy") to read; NULL: every one
	                        * that can be a table (2-D, floating point, at least one row and column) */
	uint32_t tables;       /* out: tables made (1 for the other formats) */
	uint32_t skipped;      /* out: tensors or members left out because they cannot be tables (tensor NULL) */
	uint32_t meta_dropped; /* out: safetensors __metadata__ entries left out because the store already had their
	                        * key with another value (the value set first stays) */
	/* Called after each table is made, with its name (valid during the call), rows and dim. May be NULL. */
	void (*table_made)(void *ctx, const char *name, uint64_t rows, uint32_t dim);
	void *table_made_ctx;
} embstore_import;

/* Imports a table named `name` from the file at `path` (a FIFO waits for its writer, as cat does). The word-vector
 * formats (word2vec, word2vec text / fastText, GloVe) give the table a vocabulary: each row's word is its key; a
 * word seen before drops its row (counted in o->duplicates). Values are read correctly rounded to f32. Every
 * refusal names the input line (text) or byte offset (binary) in embstore_error_detail.
 * AUTO tells the format from the content: the .npy magic; safetensors (a little-endian u64 header length of at
 * most 100,000,000, then '{'); .npz ("PK\3\4", a zip archive); the word-vector formats; then from the file name's
 * extension (.npy, .safetensors, .npz, .bin, .vec, .w2v). o->format says which was read.
 * SAFETENSORS and NPZ hold several arrays. Every one that can be a table (safetensors: a 2-D F32, F16, BF16 or F64
 * tensor; .npz: a member holding a 2-D '<f2', '<f4' or '<f8' .npy) becomes a table, in the order of their data
 * (.npz: of the archive's directory); the others are skipped and counted in o->skipped. o->tensor names the one
 * to read instead (.npz: the member, with or without ".npy"). With `name` NULL (or EMBSTORE_IMPORT_NAME_DEFAULT)
 * each table is named after its tensor (.npz: its member, without ".npy"); with a `name`, the input must make one
 * table (o->tensor, or a single candidate), which gets it. F64 is rounded to f32 (to nearest), F16 and BF16 kept
 * unless o->dtype says otherwise; o->limit applies to each table; o->rows is the sum of the tables' rows, o->dim
 * the last one's. A safetensors file's __metadata__ entries become store metadata (after the tables are chosen);
 * an entry whose key the writer already has is left out, the value set first staying (counted in
 * o->meta_dropped when the values differ). Safetensors is read from a pipe front to back, from a file with
 * pread(). An .npz archive is read by seeking: it must be a regular file (embstore_writer_import_fd: a descriptor
 * of one, read whole wherever it is positioned; a pipe is BAD_INPUT); every error about it names the member.
 * Errors: those of import_npy and append_keyed, BAD_INPUT (cannot tell the format; malformed input; a safetensors
 * or .npz input with nothing that can be a table, or whose o->tensor cannot be one; an .npz that is not a regular
 * file), NON_FINITE, NOT_FOUND (no tensor or member o->tensor; the detail lists a few that exist),
 * INVALID_ARGUMENT (`name` NULL for a format of one table; o->tensor for such a format; a `name` for a safetensors
 * or .npz input with several candidates and no o->tensor, the detail naming a few), DUPLICATE_NAME (two tables
 * alike, e.g. two inputs with a tensor of one name), those of add_meta (a __metadata__ entry over the caps). */
EMBSTORE_API embstore_status embstore_writer_import(embstore_writer *w, const char *name, const char *path,
                                                    embstore_import *o);
/* The same from a file descriptor, read from its position to its end with read() only (pipes work; .npz, read by
 * seeking, excepted). */
EMBSTORE_API embstore_status embstore_writer_import_fd(embstore_writer *w, const char *name, int fd,
                                                       embstore_import *o);

/* embstore_export's `index` for every table of the store (SAFETENSORS only). */
#define EMBSTORE_ALL_TABLES UINT32_MAX

/* Writes table `index` of `store` to `path` as NPY (f16 tables as '<f2', every other dtype widened to '<f4'),
 * WORD2VEC (binary) or WORD2VEC_TEXT (values printed with 9 significant digits, so that they read back as the same
 * f32), or SAFETENSORS, committed atomically like a build: a failed export leaves no file and any previous one as
 * it was. The word2vec formats need a vocabulary (its keys are the words) and keys without blanks, which they
 * cannot hold. SAFETENSORS writes table `index`, or with EMBSTORE_ALL_TABLES every table in store order, each a
 * 2-D tensor named after its table: f32, f16 and bf16 rows as they are (F32, F16, BF16), int8 rows dequantised to
 * F32; the store's metadata becomes __metadata__. Safetensors cannot hold strings: a vocabulary is not exported
 * (word2vec keeps it). Exported and imported again, a table is value-exact (f32, f16; bf16 too for safetensors)
 * and, through the word2vec formats, key-exact.
 * Errors: INVALID_ARGUMENT (NULL, index out of range, EMBSTORE_ALL_TABLES for another format than SAFETENSORS,
 * another format), NO_VOCAB, BAD_STRING (a key with a blank), CORRUPT (a damaged vocabulary), DUPLICATE_NAME
 * (SAFETENSORS: a table named __metadata__, which the format reserves), LIMIT (SAFETENSORS: a header over
 * 100,000,000 bytes), IO, NO_MEMORY. */
EMBSTORE_API embstore_status embstore_export(const embstore *store, uint32_t index, embstore_format format,
                                             const char *path);

/* Imports a table from a .npy file (2-D, C order, little-endian f16, f32 or f64; f64 is rounded to f32, to
 * nearest) named `name`, stored as `dtype`, or in the file's own dtype (f64: f32) when `dtype` is 0. The file is
 * read once from start to end in bounded batches, never mapped or seeked, so a FIFO works (the open waits for
 * its writer, like cat), and a file truncated meanwhile is an error, not a SIGBUS.
 * Errors: those of begin_table and append, IO, BAD_INPUT (not a .npy this can read, or shorter or longer than
 * its header says; see embstore_npy_parse), LIMIT. */
EMBSTORE_API embstore_status embstore_writer_import_npy(embstore_writer *w, const char *name, const char *path,
                                                        embstore_dtype dtype);
/* Imports `rows` x `dim` little-endian f32 values from a raw file that must be exactly that long, stored as
 * `dtype` (0: f32). Read like import_npy.
 * Errors: those of import_npy. */
EMBSTORE_API embstore_status embstore_writer_import_raw(embstore_writer *w, const char *name, const char *path,
                                                        uint64_t rows, uint32_t dim, embstore_dtype dtype);
/* The same from an open file descriptor (standard input, a pipe, a socket or a file), read with read() from
 * its current position to its end: the input must end exactly where the data does. The descriptor is left
 * open, positioned after what was read. */
EMBSTORE_API embstore_status embstore_writer_import_npy_fd(embstore_writer *w, const char *name, int fd,
                                                           embstore_dtype dtype);
EMBSTORE_API embstore_status embstore_writer_import_raw_fd(embstore_writer *w, const char *name, int fd,
                                                           uint64_t rows, uint32_t dim, embstore_dtype dtype);

/* Whether finish waits for a process that has the file at `path` open for writing (a trainer) to close it
 * (non-zero), or fails with LOCKED (0, the default). Replacing the file under a trainer would make its later
 * updates and syncs go to the old, unlinked file, unseen. Errors: INVALID_ARGUMENT, STATE. */
EMBSTORE_API embstore_status embstore_writer_set_wait(embstore_writer *w, int wait);

/* Writes the directory and commits the file at `path` atomically. After it, only free is valid.
 * Errors: STATE (a table short of its declared rows, or the writer failed earlier), LOCKED (a process has the
 * file at `path` open for writing; see embstore_writer_set_wait), IO, NO_MEMORY. IO from the final fsync of the
 * directory comes after the rename: the new file is in place, its durability unknown. */
EMBSTORE_API embstore_status embstore_writer_finish(embstore_writer *w);

/* Frees the writer; if it was not finished, removes its temporary file. */
EMBSTORE_API void embstore_writer_free(embstore_writer *w);

/* ---------------------------------------------------------------------------------------------------------
 * Parsers, exposed so that importers, the CLI and Python share them (and so they can be fuzzed directly).
 */
typedef struct embstore_npy_info {
	embstore_dtype dtype;  /* what a table gets by default: F16 for '<f2', F32 for '<f4' and '<f8' */
	uint32_t item_size;    /* bytes per element in the file: 2, 4 or 8 */
	uint64_t rows;
	uint64_t cols;
	uint64_t data_offset;  /* bytes from the file start to the first element */
} embstore_npy_info;

/* Parses the .npy header held in the first `len` bytes of a file (at least the whole header). Accepts format
 * versions 1.0, 2.0 and 3.0, descr '<f2', '<f4' or '<f8', fortran_order False, a 2-D shape of at least one row
 * and one column. embstore_error_detail says what was found instead ("dtype '>f4' is big-endian", "3-D shape
 * (2, 3, 4)", "fortran_order True", "0 rows").
 * Errors: INVALID_ARGUMENT (NULL), BAD_INPUT (anything else, including a header longer than `len`), LIMIT. */
EMBSTORE_API embstore_status embstore_npy_parse(const void *buf, size_t len, embstore_npy_info *out);

/* ---------------------------------------------------------------------------------------------------------
 * Element conversion (the writer's; exposed for tests and bindings). Round to nearest, ties to even.
 */
EMBSTORE_API uint16_t embstore_f32_to_f16(float x);
EMBSTORE_API float embstore_f16_to_f32(uint16_t h);
EMBSTORE_API uint16_t embstore_f32_to_bf16(float x);
EMBSTORE_API float embstore_bf16_to_f32(uint16_t h);
/* Quantises `dim` floats into one int8 row-wise row of dim + 8 bytes. Errors: NON_FINITE. */
EMBSTORE_API embstore_status embstore_quantize_row_int8(const float *src, uint32_t dim, uint8_t *dst);

/* ---------------------------------------------------------------------------------------------------------
 * Kernels. Every id is bounds-checked inside the kernel: an id < 0 or >= rows stops the kernel with
 * EMBSTORE_ID_OUT_OF_RANGE and, when `bad_index` is not NULL, stores the position of that id there. Nothing is
 * ever written outside `out` or outside the table. Output buffers need no alignment.
 * A gather whose output is 16 MiB or more writes it with non-temporal stores (x86: the output goes to memory
 * without being read into the caches first, a third less memory traffic), fastest when `out` is 64-byte aligned;
 * smaller outputs stay in the caches for whoever reads them next. The call returns with its stores ordered like
 * ordinary ones, so handing the output to another thread needs nothing more than usual.
 * Gather and scatter-add give bitwise identical results on every kernel set (scalar, AVX2, AVX-512, NEON): int8
 * values are computed as fmaf(q, scale, bias) and scatter-add as fmaf(alpha, grad, row), fused everywhere.
 */
typedef enum embstore_id_type {
	EMBSTORE_ID32 = 4, /* int32_t ids */
	EMBSTORE_ID64 = 8, /* int64_t ids */
} embstore_id_type;

/* out[i * dim + j] = table[ids[i]][j] as f32, for i < n. Output rows written before a bad id stay written.
 * Errors: INVALID_ARGUMENT (NULL with n > 0, bad matrix), BAD_DTYPE, ID_OUT_OF_RANGE. */
EMBSTORE_API embstore_status embstore_gather(const embstore_matrix *table, const void *ids,
                                             embstore_id_type id_type, size_t n, float *out, size_t *bad_index);


typedef enum embstore_bag_mode {
	EMBSTORE_BAG_SUM = 0,
	EMBSTORE_BAG_MEAN = 1, /* (weighted) sum divided by the bag's length */
	EMBSTORE_BAG_MAX = 2,  /* element-wise max of the (weighted) rows */
} embstore_bag_mode;

/* Embedding bag: bag b covers ids[offsets[b] .. offsets[b+1]) (CSR; `offsets` has n_bags + 1 entries,
 * offsets[0] == 0, non-decreasing, offsets[n_bags] == n_ids). out[b * dim + j] reduces row j-elements of the bag's
 * rows, each first multiplied by weights[i] when `weights` is not NULL (in every mode). An empty bag gives zeros.
 * Sums accumulate in f32 in id order per bag. Every kernel set gives the scalar reference's results bit for bit
 * wherever they are not NaN, and a NaN where they are (which NaN, when several meet, is unspecified).
 * Errors: INVALID_ARGUMENT (NULL, bad matrix, bad offsets, unknown mode), BAD_DTYPE, ID_OUT_OF_RANGE. */
EMBSTORE_API embstore_status embstore_gather_bag(const embstore_matrix *table, const void *ids,
                                                 embstore_id_type id_type, size_t n_ids, const int64_t *offsets,
                                                 size_t n_bags, const float *weights, embstore_bag_mode mode,
                                                 float *out, size_t *bad_index);

/* Gather and bag with the output in out_dtype: EMBSTORE_F32 (then they are embstore_gather and
 * embstore_gather_bag), EMBSTORE_F16 or EMBSTORE_BF16, whose out holds n x dim (bags: n_bags x dim) 16-bit codes
 * (uint16_t, little-endian as the host; no alignment needed). Each is the f32 value the f32 call gives, rounded to
 * nearest, ties to even, as embstore_f32_to_f16 / embstore_f32_to_bf16 round it: beyond f16's range, infinity; a
 * NaN stays a NaN. Every kernel set gives the scalar reference's codes bit for bit (bags: as embstore_gather_bag
 * promises, wherever they are not NaN). Half the bytes written per row: for mixed-precision training and serving
 * that read f16 or bf16, and for gathers from 16-bit and int8 tables, where writing f32 costs more than reading.
 * Errors: those of embstore_gather / embstore_gather_bag, and BAD_DTYPE for an out_dtype other than F32, F16 and
 * BF16 (INT8_ROWWISE included). */
EMBSTORE_API embstore_status embstore_gather_as(const embstore_matrix *table, const void *ids,
                                                embstore_id_type id_type, size_t n, embstore_dtype out_dtype,
                                                void *out, size_t *bad_index);
EMBSTORE_API embstore_status embstore_gather_bag_as(const embstore_matrix *table, const void *ids,
                                                    embstore_id_type id_type, size_t n_ids, const int64_t *offsets,
                                                    size_t n_bags, const float *weights, embstore_bag_mode mode,
                                                    embstore_dtype out_dtype, void *out, size_t *bad_index);

/* Scatter-add (the backward pass of an embedding, or an SGD step with alpha = -learning_rate):
 * table[ids[i]][j] += alpha * grads[i * dim + j], for i in order, so repeated ids accumulate exactly as this
 * sequential loop would. The table must be f32 and writable. Rows updated before a bad id stay updated; no row
 * is written for the bad id or after it. Not safe against concurrent writers of the same table. A table of a
 * writable store is better updated with embstore_table_scatter_add, which also marks the rows for sync.
 * Errors: INVALID_ARGUMENT, READ_ONLY (EMBSTORE_MATRIX_READ_ONLY), BAD_DTYPE (not f32), ID_OUT_OF_RANGE. */
EMBSTORE_API embstore_status embstore_scatter_add(const embstore_matrix *table, const void *ids,
                                                  embstore_id_type id_type, size_t n, const float *grads,
                                                  float alpha, size_t *bad_index);

/* Parallel variants: the same contract and the same results (bitwise, for gather and scatter-add; scatter-add
 * partitions by destination row so duplicates still accumulate in id order), split over up to `threads` threads,
 * the calling thread included (0 or 1: the calling thread only; more than 64 count as 64). With a bad id, which
 * other rows were written is unspecified; *bad_index is the smallest bad position.
 *  - Small calls stay on the calling thread, at the cost of the single-thread call: a call gives each thread
 *    at least 131,072 floats of work, counted as n x dim (gather), (n_ids + n_bags) x dim (bag) or n x dim
 *    (scatter-add), so a gather of fewer than 2,048 ids of dim 128 uses no other thread.
 *  - The other threads come from a pool kept by the library: started on the first call that needs them, grown
 *    when a call asks for more than it has (up to 63), never shrunk. Between calls they sleep (no CPU time).
 *    They block all signals, and are ended and joined when the process exits or the library is unloaded. A
 *    thread that cannot be started is not an error: its share of the work runs on the threads there are.
 *  - Any number of application threads may make these calls at once: they share the pool, and a caller runs
 *    whatever part of its own call no idle worker has taken, so no call waits for another one to finish.
 *  - After fork(), the child may make these calls too: its pool starts empty (the parent's workers do not
 *    exist there) and fills again on its first call. */
EMBSTORE_API embstore_status embstore_gather_mt(const embstore_matrix *table, const void *ids,
                                                embstore_id_type id_type, size_t n, float *out, size_t *bad_index,
                                                unsigned threads);
EMBSTORE_API embstore_status embstore_gather_bag_mt(const embstore_matrix *table, const void *ids,
                                                    embstore_id_type id_type, size_t n_ids, const int64_t *offsets,
                                                    size_t n_bags, const float *weights, embstore_bag_mode mode,
                                                    float *out, size_t *bad_index, unsigned threads);
EMBSTORE_API embstore_status embstore_gather_as_mt(const embstore_matrix *table, const void *ids,
                                                   embstore_id_type id_type, size_t n, embstore_dtype out_dtype,
                                                   void *out, size_t *bad_index, unsigned threads);
EMBSTORE_API embstore_status embstore_gather_bag_as_mt(const embstore_matrix *table, const void *ids,
                                                       embstore_id_type id_type, size_t n_ids,
                                                       const int64_t *offsets, size_t n_bags, const float *weights,
                                                       embstore_bag_mode mode, embstore_dtype out_dtype, void *out,
                                                       size_t *bad_index, unsigned threads);
EMBSTORE_API embstore_status embstore_scatter_add_mt(const embstore_matrix *table, const void *ids,
                                                     embstore_id_type id_type, size_t n, const float *grads,
                                                     float alpha, size_t *bad_index, unsigned threads);

/* ---------------------------------------------------------------------------------------------------------
 * Sparse optimizer steps: what an embedding's backward pass hands over, ids[i] (i < n) with gradient row i at
 * grads + i * grad_stride (dim floats; grad_stride >= dim, in floats), applied to the table's rows in place.
 * As FBGEMM's training kernels do, the gradients of an id that occurs more than once are first summed, in f32,
 * in the order of their positions (g = grads of its first position, then g = g + the next), and each distinct
 * id's row is then updated once with that sum g. Distinct rows are independent, so their order does not matter.
 *  - SGD: w[j] = fmaf(-lr, g[j], w[j]).
 *  - Row-wise Adagrad (FBGEMM's rowwise_adagrad, weight_decay_mode L2, which is also torch.optim.Adagrad's
 *    weight_decay): one f32 state value s per row, in row `id` of a rows x 1 f32 matrix:
 *      gd[j] = g[j] when weight_decay is 0, otherwise fmaf(weight_decay, w[j], g[j]);
 *      s     = s + (sum over j of gd[j]^2) / dim;
 *      m     = lr / (sqrtf(s) + eps);
 *      w[j]  = fmaf(-m, gd[j], w[j]).
 *    The sum of squares is computed in 16 partial sums, p[j % 16] = fmaf(gd[j], gd[j], p[j % 16]) from +0, then
 *    folded pairwise (p[k] + p[k + 8] for k < 8, then + 4, + 2, + 1).
 * Tables may be f32, f16 or bf16: f16 and bf16 elements are widened to f32 exactly, updated in f32 and stored
 * rounded to nearest, ties to even (overflow gives infinity), as embstore_f32_to_f16 / bf16 do; int8 row-wise
 * tables are refused (BAD_DTYPE: requantising a row on every step would lose the update). Every kernel set gives
 * bitwise identical results, computed as written above (fused where it says fmaf, true division, correctly
 * rounded sqrtf); a NaN that arises comes out a NaN, its payload unspecified.
 * Nothing is written unless the call succeeds: every argument and every id is checked first, and a bad id stops
 * the call with ID_OUT_OF_RANGE and the position of the first bad id in *bad_index (when not NULL). Memory: the
 * call allocates 16 bytes per id plus 4 bytes per dim (the sorted ids and one summed row) and frees them before
 * it returns; NO_MEMORY (nothing written) when that fails. grads must not overlap the table or the state. Not
 * safe against concurrent writers of the same rows. A table of a writable store is better updated with the
 * embstore_table_* forms below, which also mark the rows for sync.
 */

/* Errors: INVALID_ARGUMENT (NULL with n > 0, bad matrix, unknown id_type, grad_stride < dim), READ_ONLY
 * (EMBSTORE_MATRIX_READ_ONLY), BAD_DTYPE (int8 table), ID_OUT_OF_RANGE, NO_MEMORY, LIMIT (rows x n beyond 2^64),
 * UNSUPPORTED_ISA. */
EMBSTORE_API embstore_status embstore_sgd_update(const embstore_matrix *table, const void *ids,
                                                 embstore_id_type id_type, size_t n, const float *grads,
                                                 size_t grad_stride, float lr, size_t *bad_index);

/* `state`: f32, table->rows rows, dim 1, writable; initially zeros (FBGEMM's and torch's default).
 * Errors: those of embstore_sgd_update; for the state, INVALID_ARGUMENT (NULL, bad matrix, rows other than the
 * table's, dim other than 1), BAD_DTYPE (not f32), READ_ONLY. */
EMBSTORE_API embstore_status embstore_rowwise_adagrad_update(const embstore_matrix *table,
                                                             const embstore_matrix *state, const void *ids,
                                                             embstore_id_type id_type, size_t n,
                                                             const float *grads, size_t grad_stride, float lr,
                                                             float eps, float weight_decay, size_t *bad_index);

/* ---------------------------------------------------------------------------------------------------------
 * Training in place. A store opened with EMBSTORE_OPEN_WRITABLE maps the file shared and read-write, so
 * updates land in the file itself (and in every other process mapping it). The store remembers which checksum
 * chunks were written; embstore_sync recomputes only those and commits them crash-safely (docs/FORMAT.md,
 * "Checksum slots"), after which `embstore verify` passes again. Between an update and its sync, and if the
 * process dies or the machine loses power at any instant, the file still opens, its rows are readable, and
 * verify names exactly the chunks changed since the last completed sync; embstore_reseal accepts them. One
 * thread at a time may update and sync a store; readers of the same rows meanwhile see old or new values.
 */

/* Scatter-add into table `index` (see embstore_scatter_add; `threads` as in embstore_scatter_add_mt) and
 * marks the chunks of the rows it touches. Errors: those of embstore_scatter_add_mt, READ_ONLY (store not
 * opened writable), INVALID_ARGUMENT (index out of range). */
EMBSTORE_API embstore_status embstore_table_scatter_add(embstore *store, uint32_t index, const void *ids,
                                                        embstore_id_type id_type, size_t n, const float *grads,
                                                        float alpha, size_t *bad_index, unsigned threads);

/* An SGD step on table `index` (see embstore_sgd_update), marking the chunks of the rows it updates. Errors: those
 * of embstore_sgd_update, READ_ONLY (store not opened writable), INVALID_ARGUMENT (index out of range). */
EMBSTORE_API embstore_status embstore_table_sgd_update(embstore *store, uint32_t index, const void *ids,
                                                       embstore_id_type id_type, size_t n, const float *grads,
                                                       size_t grad_stride, float lr, size_t *bad_index);

/* A row-wise Adagrad step on table `index` with its state in table `state_index` of the same store (f32, the
 * same rows, dim 1; see embstore_rowwise_adagrad_update), marking the chunks of the rows it updates in both.
 * Errors: those of embstore_rowwise_adagrad_update, READ_ONLY (store not opened writable), INVALID_ARGUMENT
 * (an index out of range, or both the same). */
EMBSTORE_API embstore_status embstore_table_rowwise_adagrad_update(embstore *store, uint32_t index,
                                                                   uint32_t state_index, const void *ids,
                                                                   embstore_id_type id_type, size_t n,
                                                                   const float *grads, size_t grad_stride,
                                                                   float lr, float eps, float weight_decay,
                                                                   size_t *bad_index);

/* Marks rows [first_row, first_row + row_count) of table `index` as changed, for callers that write rows
 * through embstore_table.matrix.data themselves. Errors: READ_ONLY, INVALID_ARGUMENT (out of range). */
EMBSTORE_API embstore_status embstore_table_mark_rows(embstore *store, uint32_t index, uint64_t first_row,
                                                      uint64_t row_count);

/* Recomputes the checksums of the changed chunks, flushes the changed rows, then writes every checksum into the
 * checksum slot that is not current and flushes it; only then is the sync complete. (A format 1.0 file has no
 * slots: its checksums and header checksum are rewritten in place, and a crash in between needs a reseal.)
 * Errors: READ_ONLY, IO (msync failed; errno is kept; the previous sync's checksums stay current). */
EMBSTORE_API embstore_status embstore_sync(embstore *store);

/* Accepts the rows of the store at `path` as they are: recomputes every chunk checksum and writes them as a new
 * generation (a 1.0 file: into the directory, with a new header checksum), so that verify passes. For a file
 * that a crash during training left with chunks that no longer match, or with no intact checksum slot. It
 * cannot tell a row changed by an interrupted update from one damaged by the disk, and it still refuses a file
 * that breaks any structural rule. Takes the writer lock.
 * Errors: those of embstore_open with EMBSTORE_OPEN_WRITABLE (except HEADER_CHECKSUM where a crash explains
 * it), IO. */
EMBSTORE_API embstore_status embstore_reseal(const char *path);

/* ---------------------------------------------------------------------------------------------------------
 * Sharded sets (docs/FORMAT.md, "Sharded sets"): a store split into `count` ordinary stores, each of which
 * says in its metadata which set it belongs to and which rows of which tables it holds. Every shard opens with
 * embstore_open like any store; the calls below read and check its shard metadata, split a store into a set,
 * and serve a whole set on one machine as one store would.
 */
typedef enum embstore_shard_by {
	EMBSTORE_SHARD_NONE = 0,  /* not sharded: a plain store, a set of one */
	EMBSTORE_SHARD_BY_ROWS = 1,  /* every table cut into contiguous row ranges */
	EMBSTORE_SHARD_BY_TABLE = 2, /* whole tables spread over the shards */
} embstore_shard_by;

#define EMBSTORE_SHARD_MAX 65536u /* shards in a set */

typedef struct embstore_shard_info {
	char set_id[33];        /* 32 lowercase hex digits and a NUL */
	uint32_t index, count;  /* this shard is index of count */
	uint32_t tables;        /* tables in the whole set */
	embstore_shard_by by;
} embstore_shard_info;

/* The shard fields of an open store, all validated (docs/FORMAT.md). Errors: INVALID_ARGUMENT (NULL),
 * NOT_FOUND (the store has no shard keys: an ordinary store), BAD_SET (a key missing or malformed; the detail
 * names it), NO_MEMORY. */
EMBSTORE_API embstore_status embstore_shard_get(const embstore *store, embstore_shard_info *out);
/* Where table `index` of a shard lies in its set: its position among the set's tables, and the global row of its
 * row 0 and the table's rows in the whole set. Errors: those of embstore_shard_get, INVALID_ARGUMENT (index out
 * of range). */
EMBSTORE_API embstore_status embstore_shard_table(const embstore *store, uint32_t index, uint32_t *position,
                                                  uint64_t *first, uint64_t *total);

/* The name of shard `index` of `count` for the output `out`: "x.emb" -> "x-00002-of-00004.emb" (without the
 * ".emb" extension, the suffix is appended). Writes at most `cap` bytes with the NUL; returns the length the name
 * needs without the NUL (like snprintf), or 0 for bad arguments (NULL, count 0 or above EMBSTORE_SHARD_MAX,
 * index >= count). */
EMBSTORE_API size_t embstore_shard_path(const char *out, uint32_t index, uint32_t count, char *buf, size_t cap);

/* Splits `store` (an ordinary store, not a shard) into `count` shards named by embstore_shard_path, each written
 * through the writer (streamed, bounded memory) with the store's alignment, chunk rows, metadata and table order,
 * rows and vocabulary keys copied bit for bit, plus the shard keys under a new set id (128 bits from getrandom).
 * By rows, the rows of each table are cut into `count` ranges as docs/FORMAT.md says (a shard whose range is
 * empty does not hold the table); by table, whole tables are spread by data size. All or nothing as far as a
 * file system allows: every shard is written and made durable unnamed, then every file it replaces is locked
 * as embstore_writer_finish locks one (in index order), and only then is the first renamed into place, so a
 * failure before that, LOCKED included, leaves every existing file as it was. Each file replaced gets a second,
 * hidden name beside it (".NAME.PID.N.old") before its rename, so a failure after some renames puts the replaced
 * files back (and removes the new shards that replaced nothing): an older set of the same names stays whole.
 * A process killed between the renames leaves a mixed set, which embstore_set_open refuses (naming such a hidden
 * file when it finds one beside a shard), and the replaced files under their hidden names, to be renamed back by
 * hand. With `wait` non-zero, waits for each locked file as
 * embstore_writer_set_wait says. Until the renames, it holds one descriptor per shard and one per file it
 * replaces: up to 2 x count, against the process's RLIMIT_NOFILE.
 * Errors: INVALID_ARGUMENT (NULL, count 0 or above EMBSTORE_SHARD_MAX, unknown `by`, a store that is a shard
 * already, a split that would leave a shard without any table: by rows, count above the largest table's rows;
 * by table, count above the tables; the detail says which), LIMIT (a table name longer than 1,003 bytes, whose
 * shard key would pass the 1,024-byte cap on metadata keys), those of the writer (IO, errno EMFILE when the
 * descriptors run out; LOCKED: a process has one of the files open for writing; NO_MEMORY, ...), CORRUPT (a
 * damaged vocabulary). */
EMBSTORE_API embstore_status embstore_shard_split(const embstore *store, const char *out, uint32_t count,
                                                  embstore_shard_by by, int wait);

/* A set opened whole on one machine. Read-only sets are immutable and safe from any thread, as stores are. */
typedef struct embstore_set embstore_set;

/* Opens every file of a set (each with embstore_open and `flags`; EMBSTORE_OPEN_VERIFY checks every shard's
 * data checksums, EMBSTORE_OPEN_WRITABLE makes the set writable for embstore_set_scatter_add), reads each one's
 * shard keys and checks that they make one complete, consistent set as docs/FORMAT.md says. The paths may come
 * in any order. One path of an ordinary store opens it as a set of one (by EMBSTORE_SHARD_NONE), so that a
 * program can take either. Errors: INVALID_ARGUMENT (NULL, n 0), those of embstore_open (the detail then starts
 * with the file's path), BAD_SET (the detail names the problem: a shard missing, with the file name it would
 * have; two files of one index; a file of another set; a table whose parts disagree or do not cover its rows;
 * an ordinary store among shards; a malformed key), NO_MEMORY. */
EMBSTORE_API embstore_status embstore_set_open(const char *const *paths, size_t n, unsigned flags,
                                               embstore_set **out);
/* Closes every shard. NULL is a no-op. */
EMBSTORE_API void embstore_set_close(embstore_set *set);

typedef struct embstore_set_info {
	embstore_shard_info shard; /* index 0; set_id "" and by EMBSTORE_SHARD_NONE for a set of one store */
	uint32_t shard_count;
	uint32_t table_count;
} embstore_set_info;

EMBSTORE_API void embstore_set_get_info(const embstore_set *set, embstore_set_info *out);
/* Shard `index` (by its shard index, not the order of the paths); NULL when out of range. */
EMBSTORE_API const embstore *embstore_set_shard(const embstore_set *set, uint32_t index);
/* The path shard `index` was opened from; NULL when out of range. */
EMBSTORE_API const char *embstore_set_path(const embstore_set *set, uint32_t index);

typedef struct embstore_set_table {
	const char *name;  /* points into a shard's mapping */
	uint64_t rows;     /* in the whole set */
	uint32_t dim;
	embstore_dtype dtype;
	int has_vocab;
	uint32_t index;    /* position in the set: what the calls below take */
	uint32_t parts;    /* shards holding a part of it */
} embstore_set_table;

/* Errors: INVALID_ARGUMENT (NULL, index out of range). */
EMBSTORE_API embstore_status embstore_set_table_at(const embstore_set *set, uint32_t index,
                                                   embstore_set_table *out);
/* Errors: INVALID_ARGUMENT (NULL), NOT_FOUND. */
EMBSTORE_API embstore_status embstore_set_table_find(const embstore_set *set, const char *name,
                                                     embstore_set_table *out);

/* The calls below take global ids (0 <= id < the table's rows in the set) and give exactly what the same call
 * on the unsharded store gives, bit for bit. Every id is checked before anything is written: a bad one stops
 * the call with ID_OUT_OF_RANGE and its position in *bad_index (when not NULL), the output and the tables
 * untouched (the first bad position, where the single-store kernels may have written rows before it). */

/* As embstore_gather, into out[i * dim ..], as fast: the kernel reads each id's row from whichever shard holds
 * it (prefetching across shards, streaming a large output as embstore_gather does).
 * Errors: INVALID_ARGUMENT (NULL with n > 0, table out of range, unknown id_type), ID_OUT_OF_RANGE,
 * NO_MEMORY (when the set is sharded by rows: 8 bytes per id, in batches of 4,096), UNSUPPORTED_ISA. */
EMBSTORE_API embstore_status embstore_set_gather(const embstore_set *set, uint32_t table, const void *ids,
                                                 embstore_id_type id_type, size_t n, float *out,
                                                 size_t *bad_index);
/* As embstore_gather_bag. A bag's rows may lie in several shards, and a float sum depends on its order, so the
 * rows are not pooled per shard: a whole table in one shard is pooled by the kernel directly; otherwise each
 * group of bags has its stored rows copied into scratch memory in id order, then pooled by the same kernel over
 * that copy, which folds in the bag's id order as the unsharded call does. Scratch: up to 4 MiB, or one bag's
 * stored rows when a bag is larger. Errors: those of embstore_gather_bag, NO_MEMORY. */
EMBSTORE_API embstore_status embstore_set_gather_bag(const embstore_set *set, uint32_t table, const void *ids,
                                                     embstore_id_type id_type, size_t n_ids,
                                                     const int64_t *offsets, size_t n_bags, const float *weights,
                                                     embstore_bag_mode mode, float *out, size_t *bad_index);
/* As embstore_table_scatter_add on each owning shard, id by id in order (runs of one owner in one call), so
 * repeated ids accumulate as in the unsharded call; the rows are marked for embstore_set_sync. The set must
 * be opened with EMBSTORE_OPEN_WRITABLE. Errors: those of embstore_table_scatter_add, READ_ONLY. */
EMBSTORE_API embstore_status embstore_set_scatter_add(embstore_set *set, uint32_t table, const void *ids,
                                                      embstore_id_type id_type, size_t n, const float *grads,
                                                      float alpha, size_t *bad_index);
/* embstore_sync on every shard, in index order; stops at the first failure. Errors: those of embstore_sync. */
EMBSTORE_API embstore_status embstore_set_sync(embstore_set *set);

/* The global row of `key` (asking each part of the table in turn), and the key of a global row, as
 * embstore_table_find_key and embstore_table_key. Errors: theirs. */
EMBSTORE_API embstore_status embstore_set_find_key(const embstore_set *set, uint32_t table, const void *key,
                                                   size_t len, uint64_t *row);
EMBSTORE_API embstore_status embstore_set_key(const embstore_set *set, uint32_t table, uint64_t row,
                                              const char **key, size_t *len);

/* Writes the whole set back as one ordinary store at `path`, committed atomically like a build: its tables in
 * their set order, rows in global order, vocabularies, the metadata of shard 0 without the shard keys, and
 * each table's chunk rows and the alignment of the shards. A set split by embstore_shard_split merges back to
 * a file identical byte for byte to the store it was split from. Errors: those of the writer, CORRUPT (a
 * damaged vocabulary). */
EMBSTORE_API embstore_status embstore_set_merge(const embstore_set *set, const char *path);

/* ---------------------------------------------------------------------------------------------------------
 * Kernel sets and CPU features. The kernel table is resolved once (thread-safely) on first use: the best set
 * this CPU and OS support, or the one named by the environment variable EMBSTORE_ISA (scalar, avx2, avx512,
 * neon). If EMBSTORE_ISA names a set that is unknown or unsupported here, every kernel returns
 * UNSUPPORTED_ISA until embstore_isa_set picks a valid one: a misconfigured run fails loudly rather than
 * silently taking another path.
 */
typedef enum embstore_isa {
	EMBSTORE_ISA_SCALAR = 0,
	EMBSTORE_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
	EMBSTORE_ISA_AVX512 = 2, /* AVX-512 F, BW, VL (+ AVX2 set) */
	EMBSTORE_ISA_NEON = 3,   /* AArch64 Advanced SIMD */
	EMBSTORE_ISA_COUNT = 4,
} embstore_isa;

/* "scalar", "avx2", "avx512", "neon"; NULL for an unknown value. */
EMBSTORE_API const char *embstore_isa_name(embstore_isa isa);
/* Errors: INVALID_ARGUMENT (unknown name). */
EMBSTORE_API embstore_status embstore_isa_parse(const char *name, embstore_isa *out);
/* Non-zero when this build has kernels for `isa` and this CPU and OS can run them. */
EMBSTORE_API int embstore_isa_supported(embstore_isa isa);
/* The active set. Errors: UNSUPPORTED_ISA (EMBSTORE_ISA named something unusable; *out is untouched). */
EMBSTORE_API embstore_status embstore_isa_active(embstore_isa *out);
/* Switches every later kernel call to `isa`. Safe to call while other threads run kernels (they finish on the
 * set they started with). Errors: UNSUPPORTED_ISA. */
EMBSTORE_API embstore_status embstore_isa_set(embstore_isa isa);

/* CPU features as detected (a bit per feature, see embstore_cpu_feature_name); independent of the active set. */
EMBSTORE_API uint64_t embstore_cpu_features(void);
/* Name of feature bit `bit` (0..63), e.g. "avx2", "avx512bw", "os_zmm", "neon"; NULL if the bit has none. */
EMBSTORE_API const char *embstore_cpu_feature_name(unsigned bit);

#ifdef __cplusplus
}
#endif
#endif /* EMBSTORE_H */
