/* workload.h: what both benchmark programs, `embstore bench` (tools/cmd_bench.c) and the Google Benchmark suite
 * (bench/), size their tables by and fill them with: this machine's cache sizes, the table and call sizes derived
 * from them, the fill pattern, random numbers and ids; and the names of the CPU features that they and
 * `embstore cpu` report. It lives in tools/ because the CLI is always built and bench/ only on request;
 * bench/CMakeLists.txt compiles workload.c into its C++ program too, hence plain C and the extern "C". */
#ifndef EMBSTORE_WORKLOAD_H
#define EMBSTORE_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of the level-2 data or unified cache: sysconf, else /sys, else 1 MiB. */
uint64_t workload_l2_bytes(void);
/* Bytes of the last-level cache: the L3 (sysconf, else /sys), else the L2, as many Arm cores have no L3. */
uint64_t workload_llc_bytes(void);

/* The in-cache table: half of L2, so that ids, outputs and the stack fit beside it; at least 64 KiB, in whole
 * 4 KiB pages. */
uint64_t workload_small_bytes(void);
/* The out-of-cache table: 4 x the last-level cache, so that nearly every random row comes from DRAM; at least
 * 256 MiB, in whole 2 MiB. */
uint64_t workload_large_bytes(void);
/* Ids per call of `dim` f32 outputs. Out of cache, 4096 (a typical training batch: each call is long enough for
 * its fixed costs to vanish). In cache, outputs of about 256 KiB (64 to 4096 ids), so that they stay in L2 next
 * to the table: the point of that table is what the kernel costs when memory is not the limit. */
size_t workload_ids_per_call(int in_cache, uint32_t dim);

/* splitmix64: the next of a deterministic sequence of 64-bit random numbers. */
uint64_t workload_splitmix64(uint64_t *state);
/* `n` uniform random ids in [0, rows). Multiply-shift maps each 64-bit number onto the range with a bias far
 * below anything measurable, and without a division. */
void workload_random_ids(int64_t *ids, size_t n, uint64_t rows, uint64_t *state);
/* Fills `bytes` (whole multiples of 8 are written) with random 16-bit values in [0x3c00, 0x3fff], which are
 * normal, finite numbers whatever they are read as: f16 in [1, 2), bf16 and f32 in [2^-7, 2), int8 scale and
 * bias too (for dims that keep them 4-byte aligned, i.e. multiples of 4). So one region serves every dtype and
 * dim, and no kernel ever meets a NaN, an infinity or a subnormal that could slow it down. */
void workload_fill(unsigned char *p, size_t bytes, uint64_t *state);

/* Calls `fn` with the name of each feature embstore_cpu_features() detected, in bit order ("bitN" for a bit
 * without a name; the string lives only during the call). Returns the number of features. */
unsigned workload_cpu_features(void (*fn)(void *ctx, const char *name), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* EMBSTORE_WORKLOAD_H */
