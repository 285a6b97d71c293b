// bench_tables.h: what the kernel benchmarks read and write: the tables (built once, shared) and streams of
// random ids. Their sizes, fill and ids come from tools/workload.h, shared with `embstore bench`.
#ifndef EMBSTORE_BENCH_TABLES_H
#define EMBSTORE_BENCH_TABLES_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "embstore.h"
#include "workload.h"

namespace esbench {

// small: workload_small_bytes(), in L2. large: workload_large_bytes() (or --large_mb), mostly in DRAM.
enum class Size { small, large };

const char *size_name(Size size);

// Where the store files go and, when not 0, the large table's size instead of 4x the LLC. Call before the first
// table is touched (main does, after parsing its flags).
void configure(const std::string &table_dir, uint64_t large_bytes);

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

// A packed table of `dtype` and `dim` over the whole region. Regions hold workload_fill()'s pattern, which reads
// as normal, finite numbers in every dtype (int8 too, for dims that are multiples of 4, as here): one region
// serves every dtype and dim.
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

} // namespace esbench

#endif // EMBSTORE_BENCH_TABLES_H
