// bench_tables.h: what the kernel benchmarks read and write: cache sizes, the tables (built once, shared) and
// streams of random ids.
#ifndef EMBSTORE_BENCH_TABLES_H
#define EMBSTORE_BENCH_TABLES_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

// kernels.h is C and carries no extern "C" of its own.
extern "C" {
#include "embstore.h"
#include "kernels.h"
}

namespace esbench {

// small: fits in L2 (half of it, so that ids, outputs and the stack fit beside it).
// large: at least 4x the last-level cache, so that nearly every random row comes from DRAM.
enum class Size { small, large };

const char *size_name(Size size);

// Where the store files go and, when not 0, the large table's size instead of 4x the LLC. Call before the first
// table is touched (main does, after parsing its flags).
void configure(const std::string &table_dir, uint64_t large_bytes);

uint64_t l2_bytes();
uint64_t llc_bytes();
uint64_t region_bytes(Size size);
const std::string &table_dir();

// Bytes that table views are laid over. `error` is non-empty when the region could not be made; benchmarks then
// skip with it.
struct Region {
	unsigned char *data = nullptr;
	size_t bytes = 0;
	std::string path; // the store file, for read regions
	std::string error;
};

// Read-only: the data of the one table of a store file that the writer built (reused when a valid one is
// already there) and embstore_open mapped, with every page touched once so that no page fault lands in a
// timed loop. Built on first use and kept until exit: the large one is shared by every benchmark.
const Region &read_region(Size size);
// Writable (scatter-add): anonymous memory on 4 KiB pages, like the file mapping, filled the same way.
const Region &write_region(Size size);

// A packed table of `dtype` and `dim` over the whole region. The region holds random 16-bit values in
// [0x3c00, 0x3fff], which are normal, finite numbers whatever they are read as: f16 in [1, 2), bf16 and f32 in
// [2^-7, 2), int8 scale and bias too (for dims that are multiples of 4, as here). So one region serves every
// dtype and dim, and no kernel ever meets a NaN, an infinity or a subnormal that could slow it down.
embstore_matrix view(const Region &region, embstore_dtype dtype, uint32_t dim);

// Uniform random ids in [0, rows), handed out `n` at a time from a pool that is refilled with fresh ids, with
// the timer paused, whenever it runs out. Fresh ids matter for the large tables: cycling through a fixed set
// would bring the same rows back while they may still be cached.
class IdStream {
public:
	IdStream(uint64_t rows, uint64_t seed);
	const int64_t *next(benchmark::State &state, size_t n);

private:
	void refill();
	std::vector<int64_t> pool_;
	size_t pos_ = 0;
	uint64_t rows_;
	uint64_t rng_;
};

uint64_t splitmix64(uint64_t *state);

} // namespace esbench

#endif // EMBSTORE_BENCH_TABLES_H
