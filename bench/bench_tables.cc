// bench_tables.cc: the shared tables the benchmarks read (store files built with the writer and mapped with
// embstore_open) and write (anonymous memory), and streams of random ids.
#include "bench_tables.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace esbench {

namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB;

// The store's one table: f32 rows of 128 elements (512 bytes). Its shape does not matter, the benchmarks lay
// their own views over its data; the metadata entry tells a file of ours (and of this fill) from any other.
constexpr uint32_t kStoreDim = 128;
constexpr uint64_t kStoreRowBytes = kStoreDim * 4;
constexpr const char *kTableName = "pattern";
constexpr const char *kMetaKey = "embstore_bench";
constexpr const char *kMetaValue = "pattern v1";

std::string g_table_dir = ".";
uint64_t g_large_override = 0;

// Reads one byte per page so that the process' page table maps them all before any timed loop.
void touch_pages(const unsigned char *p, size_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t step = page > 0 ? (size_t)page : 4096;
	unsigned sum = 0;
	for (size_t i = 0; i < bytes; i += step)
		sum += *(volatile const unsigned char *)(p + i);
	benchmark::DoNotOptimize(sum);
}

std::string status_text(const char *what, embstore_status st, int saved_errno)
{
	std::string s = std::string(what) + ": " + embstore_strerror(st);
	if (st == EMBSTORE_IO && saved_errno != 0)
		s += std::string(": ") + std::strerror(saved_errno);
	return s;
}

// The store at `path` if it is one of ours with `rows` rows; nullptr otherwise.
embstore *open_existing(const std::string &path, uint64_t rows, embstore_table *table)
{
	embstore *s = nullptr;
	if (embstore_open(path.c_str(), 0, &s) != EMBSTORE_OK)
		return nullptr;
	const char *meta = embstore_meta_get(s, kMetaKey);
	if (meta != nullptr && std::strcmp(meta, kMetaValue) == 0 && embstore_table_find(s, kTableName, table) == EMBSTORE_OK &&
	    table->matrix.dtype == EMBSTORE_F32 && table->matrix.dim == kStoreDim && table->matrix.rows == rows &&
	    table->matrix.row_stride == kStoreRowBytes)
		return s;
	embstore_close(s);
	return nullptr;
}

// Writes the store with the library's writer. Returns an empty string or the error.
std::string write_store(const std::string &path, uint64_t rows)
{
	embstore_writer *w = nullptr;
	errno = 0;
	embstore_status st = embstore_writer_create(path.c_str(), &w);
	if (st != EMBSTORE_OK)
		return status_text(path.c_str(), st, errno);
	st = embstore_writer_add_meta(w, kMetaKey, kMetaValue);
	if (st == EMBSTORE_OK)
		st = embstore_writer_begin_table(w, kTableName, EMBSTORE_F32, rows, kStoreDim);
	const uint64_t batch = 8192;
	std::vector<unsigned char> buf(batch * kStoreRowBytes);
	uint64_t rng = 0x5eed0f7ab1e5ull;
	for (uint64_t done = 0; st == EMBSTORE_OK && done < rows; done += batch) {
		uint64_t n = rows - done < batch ? rows - done : batch;
		workload_fill(buf.data(), n * kStoreRowBytes, &rng);
		errno = 0;
		st = embstore_writer_append(w, buf.data(), EMBSTORE_F32, n, 0);
	}
	if (st == EMBSTORE_OK) {
		errno = 0;
		st = embstore_writer_finish(w);
	}
	int saved_errno = errno;
	embstore_writer_free(w);
	return st == EMBSTORE_OK ? std::string() : status_text(path.c_str(), st, saved_errno);
}

Region make_read_region(Size size)
{
	Region r;
	uint64_t rows = region_bytes(size) / kStoreRowBytes;
	r.path = g_table_dir + "/embstore_bench_" + std::to_string(rows * kStoreRowBytes / KiB) + "k.emb";
	embstore_table t;
	embstore *s = open_existing(r.path, rows, &t);
	if (s == nullptr) {
		std::fprintf(stderr, "embstore_bench: writing %s (%llu MiB; reused by later runs)\n", r.path.c_str(),
		             (unsigned long long)(rows * kStoreRowBytes / MiB));
		r.error = write_store(r.path, rows);
		if (!r.error.empty())
			return r;
		errno = 0;
		embstore_status st = embstore_open(r.path.c_str(), 0, &s);
		if (st != EMBSTORE_OK) {
			r.error = status_text(r.path.c_str(), st, errno);
			return r;
		}
		if (embstore_table_find(s, kTableName, &t) != EMBSTORE_OK) {
			r.error = r.path + ": table missing after writing it";
			return r;
		}
	}
	// The store stays open (and mapped) until the process exits.
	r.data = (unsigned char *)t.matrix.data;
	r.bytes = rows * kStoreRowBytes;
	touch_pages(r.data, r.bytes);
	return r;
}

Region make_write_region(Size size)
{
	Region r;
	size_t bytes = region_bytes(size);
	void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		r.error = std::string("mmap of the scatter-add table: ") + std::strerror(errno);
		return r;
	}
#ifdef MADV_NOHUGEPAGE
	// The read tables are file mappings on 4 KiB pages; with huge pages here scatter-add would miss the TLB
	// far less often than gather on the same number of rows, and the two would not compare.
	madvise(p, bytes, MADV_NOHUGEPAGE);
#endif
	r.data = (unsigned char *)p;
	r.bytes = bytes;
	uint64_t rng = 0x5ca77e2ull;
	workload_fill(r.data, r.bytes, &rng);
	return r;
}

} // namespace

const char *size_name(Size size)
{
	return size == Size::small ? "small" : "large";
}

void configure(const std::string &dir, uint64_t large_bytes)
{
	g_table_dir = dir.empty() ? "." : dir;
	g_large_override = large_bytes;
}

const std::string &table_dir()
{
	return g_table_dir;
}

uint64_t region_bytes(Size size)
{
	// Both are whole 4 KiB, hence whole 512-byte rows of the store's table.
	if (size == Size::small)
		return workload_small_bytes();
	if (g_large_override == 0)
		return workload_large_bytes();
	return (g_large_override + 2 * MiB - 1) / (2 * MiB) * (2 * MiB);
}

const Region &read_region(Size size)
{
	if (size == Size::small) {
		static const Region small = make_read_region(Size::small);
		return small;
	}
	static const Region large = make_read_region(Size::large);
	return large;
}

const Region &write_region(Size size)
{
	if (size == Size::small) {
		static const Region small = make_write_region(Size::small);
		return small;
	}
	static const Region large = make_write_region(Size::large);
	return large;
}

embstore_matrix view(const Region &region, embstore_dtype dtype, uint32_t dim)
{
	embstore_matrix m{}; // members this code does not know of (later additions) stay 0
	uint64_t row = embstore_row_bytes(dtype, dim);
	m.data = region.data;
	m.rows = region.bytes / row;
	m.row_stride = row;
	m.dim = dim;
	m.dtype = dtype;
	return m;
}

// 256K ids (2 MiB): refilled every 64 batches of 4096 ids, which keeps the paused-timer overhead far below the
// time of the batches.
constexpr size_t kPoolIds = 1 << 18;

IdStream::IdStream(uint64_t rows, uint64_t seed) : pool_(kPoolIds), rows_(rows), rng_(seed)
{
	refill();
}

void IdStream::refill()
{
	workload_random_ids(pool_.data(), pool_.size(), rows_, &rng_);
	pos_ = 0;
}

const int64_t *IdStream::next(benchmark::State &state, size_t n)
{
	if (pos_ + n > pool_.size()) {
		state.PauseTiming();
		refill();
		state.ResumeTiming();
	}
	const int64_t *p = pool_.data() + pos_;
	pos_ += n;
	return p;
}

} // namespace esbench
