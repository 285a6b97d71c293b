/* kernel_cases.h: the kernel test cases shared by the Criterion programs and the plain-C AArch64 checker
 * (tests/aarch64/check_kernels.c, which runs under qemu-user where Criterion cannot be installed): tables and
 * outputs with canaries, ids, value generators, bitwise and tolerance comparisons, and the case loops over dims,
 * dtypes and id widths that hold one kernel set against the scalar reference.
 *
 * A failed check calls kc_failed(), which each program defines: testutil.c ends the Criterion test there, the
 * AArch64 checker counts the failure and goes on. Code here therefore never assumes that a failed check stops it. */
#ifndef EMBSTORE_TEST_KERNEL_CASES_H
#define EMBSTORE_TEST_KERNEL_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "embstore.h"
#include "kernels.h"

/* Defined by each program; msg says which case failed and how. */
void kc_failed(const char *file, int line, const char *msg);

/* Checks that passed so far (the AArch64 checker prints them). */
extern unsigned long kc_passed;

/* Counts a passed check, or reports a failed one; returns ok. */
int kc_check_at(const char *file, int line, int ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define KC_CHECK(cond, ...) kc_check_at(__FILE__, __LINE__, (cond) ? 1 : 0, __VA_ARGS__)

/* malloc that aborts when memory runs out: a test cannot go on without its buffers. */
void *kc_alloc(size_t bytes);

#define KC_GUARD 16 /* canary bytes after a table; canary floats on each side of an output */

typedef struct kc_table {
	embstore_matrix m;
	unsigned char *mem;
	size_t bytes; /* rows * row_stride; KC_GUARD canary bytes follow */
} kc_table;

/* rows x dim of dt with `pad` extra elements (random bytes) per row. raw: elements of any bit pattern (NaN, Inf,
 * subnormals); otherwise finite, |v| < 4, subnormals included. */
void kc_table_new(kc_table *t, embstore_dtype dt, uint64_t rows, uint32_t dim, size_t pad, int raw);
void kc_table_free(kc_table *t);

/* n ids in [0, rows), as ID32 (wide 0) or ID64 (wide 1). */
void *kc_ids_new(size_t n, uint64_t rows, int wide);

/* Report the first differing float. Bitwise for gather and scatter-add; bitwise_or_nan for bags (kernels.h: bitwise
 * where scalar's result is not a NaN, a NaN where it is); close is the header's bag tolerance. */
int kc_expect_bitwise(const float *want, const float *got, size_t n, const char *ctx);
int kc_expect_bitwise_or_nan(const float *want, const float *got, size_t n, const char *ctx);
int kc_expect_close(const float *want, const float *got, size_t n, const char *ctx);

/* ---- set k against the scalar reference (or, where it says so, against known values) ---- */

/* Every dim up to 80, the dims bags have loops of their own for (and one either side) and some long rows, every
 * dtype, both id widths, misaligned outputs, padded rows. */
void kc_gather_all_shapes(const embstore_kernel_table *k);
/* Outputs large enough for non-temporal stores, at every alignment; a bad id in the middle of one. */
void kc_gather_streamed(const embstore_kernel_table *k);
/* gather_rows (rows by address, from several tables) against scalar's gather from each table. */
void kc_gather_rows(const embstore_kernel_table *k);
void kc_gather_narrow_streamed(const embstore_kernel_table *k);
void kc_bag_all_shapes(const embstore_kernel_table *k);
void kc_scatter_add_all_shapes(const embstore_kernel_table *k);
/* Bags where max and sum are sensitive to operand order (NaN, +0 against -0, infinities): bitwise, NaN where
 * scalar gives NaN. */
void kc_bag_special_values(const embstore_kernel_table *k);
/* Two different NaNs meeting in one sum: a NaN. */
void kc_bag_nan_meets_nan(const embstore_kernel_table *k);
/* Every f16 and bf16 code gathers to the library's own conversion (convert.c); NaN to a NaN. */
void kc_conversions(const embstore_kernel_table *k);
/* Rows from the library's own quantiser gather near their source values, and bitwise as scalar does. */
void kc_int8_from_quantizer(const embstore_kernel_table *k);
/* The sparse optimizer steps (es_sparse_update) on set k and on scalar, table and state bytewise: every dim up to
 * 80 and some long rows, f32 / f16 / bf16, both id widths, padded table and gradient rows, heavy duplicates,
 * batches of 100k ids, f16 overflow. */
void kc_sgd_all_shapes(const embstore_kernel_table *k);
void kc_rowwise_adagrad_all_shapes(const embstore_kernel_table *k);
/* Bad ids of every kind: the first one's position, results before it as scalar's, nothing written after. */
void kc_out_of_range(const embstore_kernel_table *k);

/* ---- the public parallel calls (the active set) against one thread ---- */

void kc_threads_gather_and_bag(void);
void kc_threads_scatter_add(void);
/* Eight application threads at once, each in parallel gathers, bags and scatter-adds (into a table of its own)
 * at thread counts 0 to 8: every result bitwise one thread's. */
void kc_threads_many_callers(void);

#endif
