// bench_kernels.cc: Google Benchmark suite of embstore's kernels (gather, bags, scatter-add, the sparse optimizer
// steps) per instruction set, dtype, dim and table size, with a memcpy of the same bytes as the baseline. Names
// are filter-friendly:
//   gather/avx512/f16/dim:128/table:large
//   bag_sum/avx2/int8/dim:64/bag:32/table:small
//   scatter_add/scalar/f32/dim:300/table:large
//   sgd/avx2/f16/dim:128/table:large, rowwise_adagrad/avx512/f32/dim:64/table:small
//   memcpy/f16/dim:128/table:large
// Only the public API: each benchmark makes its kernel set the active one with embstore_isa_set and calls
// embstore_gather, embstore_gather_bag, embstore_scatter_add, embstore_sgd_update or
// embstore_rowwise_adagrad_update, as any user of the library does.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <string>
#include <vector>

#include "bench_tables.h"
#include "page_report.h"

namespace {

using esbench::IdStream;
using esbench::Region;
using esbench::Size;

const embstore_dtype kDtypes[] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE};
const uint32_t kDims[] = {32, 64, 128, 300, 1024};
const Size kSizes[] = {Size::small, Size::large};
const embstore_bag_mode kModes[] = {EMBSTORE_BAG_SUM, EMBSTORE_BAG_MEAN, EMBSTORE_BAG_MAX};
const uint32_t kBagLengths[] = {1, 8, 32, 100};

enum class Op { gather, bag, scatter_add, sgd, rowwise_adagrad, memcpy_baseline };
const embstore_dtype kOptimDtypes[] = {EMBSTORE_F32, EMBSTORE_F16};

struct Case {
	Op op;
	embstore_isa isa;
	embstore_dtype dtype;
	uint32_t dim;
	Size size;
	embstore_bag_mode mode;
	uint32_t bag_len;
};

// Ids per call, the same as `embstore bench` makes (workload.h says why).
size_t batch_rows(Size size, uint32_t dim)
{
	return workload_ids_per_call(size == Size::small, dim);
}

// The same ids for every kernel set and dtype of one table size and dim (rows differ per dtype, so the ids are
// the same random draws scaled to each table).
uint64_t id_seed(const Case &c)
{
	return 0x1d5ull * 1000003u + (uint64_t)c.dim * 7919u + (c.size == Size::large ? 1u : 0u);
}

const char *mode_name(embstore_bag_mode mode)
{
	return mode == EMBSTORE_BAG_SUM ? "sum" : mode == EMBSTORE_BAG_MEAN ? "mean" : "max";
}

// Makes `isa` the active kernel set for the life of one benchmark, then the previous one again. The choice is
// process-wide, which is safe here: Google Benchmark runs the benchmarks one after the other on one thread
// (none of them asks for more), and switching costs one atomic store. A set this CPU or build lacks skips the
// benchmark with an error.
class ActiveSet {
public:
	ActiveSet(benchmark::State &state, embstore_isa isa)
	{
		restore_ = embstore_isa_active(&previous_) == EMBSTORE_OK;
		ok_ = embstore_isa_supported(isa) && embstore_isa_set(isa) == EMBSTORE_OK;
		if (!ok_)
			state.SkipWithError("kernel set not supported by this CPU or build");
	}
	~ActiveSet()
	{
		if (restore_)
			embstore_isa_set(previous_);
	}
	ActiveSet(const ActiveSet &) = delete;
	ActiveSet &operator=(const ActiveSet &) = delete;
	bool ok() const { return ok_; }

private:
	embstore_isa previous_ = EMBSTORE_ISA_SCALAR;
	bool restore_ = false;
	bool ok_ = false;
};

bool region_or_skip(benchmark::State &state, const Region &r)
{
	if (!r.error.empty()) {
		state.SkipWithError(r.error.c_str());
		return false;
	}
	return true;
}

void set_throughput(benchmark::State &state, size_t rows_per_iter, uint64_t row_bytes)
{
	state.SetItemsProcessed((int64_t)(state.iterations() * rows_per_iter));
	state.SetBytesProcessed((int64_t)(state.iterations() * rows_per_iter * row_bytes));
}

void bm_gather(benchmark::State &state, Case c)
{
	ActiveSet set(state, c.isa);
	if (!set.ok())
		return;
	const Region &r = esbench::read_region(c.size);
	if (!region_or_skip(state, r))
		return;
	embstore_matrix m = esbench::view(r, c.dtype, c.dim);
	size_t n = batch_rows(c.size, c.dim);
	IdStream ids(m.rows, id_seed(c));
	std::vector<float> out(n * c.dim);
	size_t bad = 0;
	for (auto _ : state) {
		embstore_status st = embstore_gather(&m, ids.next(state, n), EMBSTORE_ID64, n, out.data(), &bad);
		if (st != EMBSTORE_OK) {
			state.SkipWithError(embstore_strerror(st));
			break;
		}
		benchmark::DoNotOptimize(out.data());
		benchmark::ClobberMemory();
	}
	set_throughput(state, n, m.row_stride);
}

void bm_bag(benchmark::State &state, Case c)
{
	ActiveSet set(state, c.isa);
	if (!set.ok())
		return;
	const Region &r = esbench::read_region(c.size);
	if (!region_or_skip(state, r))
		return;
	embstore_matrix m = esbench::view(r, c.dtype, c.dim);
	// About one batch of rows, in whole bags of bag_len ids.
	size_t n_bags = (batch_rows(c.size, c.dim) + c.bag_len - 1) / c.bag_len;
	size_t n = n_bags * c.bag_len;
	std::vector<int64_t> offsets(n_bags + 1);
	for (size_t b = 0; b <= n_bags; b++)
		offsets[b] = (int64_t)(b * c.bag_len);
	IdStream ids(m.rows, id_seed(c));
	std::vector<float> out(n_bags * c.dim);
	size_t bad = 0;
	for (auto _ : state) {
		embstore_status st = embstore_gather_bag(&m, ids.next(state, n), EMBSTORE_ID64, n, offsets.data(), n_bags,
		                                         nullptr, c.mode, out.data(), &bad);
		if (st != EMBSTORE_OK) {
			state.SkipWithError(embstore_strerror(st));
			break;
		}
		benchmark::DoNotOptimize(out.data());
		benchmark::ClobberMemory();
	}
	set_throughput(state, n, m.row_stride);
}

void bm_scatter_add(benchmark::State &state, Case c)
{
	ActiveSet set(state, c.isa);
	if (!set.ok())
		return;
	const Region &r = esbench::write_region(c.size);
	if (!region_or_skip(state, r))
		return;
	embstore_matrix m = esbench::view(r, EMBSTORE_F32, c.dim);
	size_t n = batch_rows(c.size, c.dim);
	IdStream ids(m.rows, id_seed(c));
	// Gradients so small that t + g rounds back to t for every table value (all >= 2^-7): the table never
	// drifts, however long the run, while the kernel still loads, adds and stores every element.
	std::vector<float> grads(n * c.dim, 1e-12f);
	size_t bad = 0;
	for (auto _ : state) {
		embstore_status st = embstore_scatter_add(&m, ids.next(state, n), EMBSTORE_ID64, n, grads.data(), 1.0f, &bad);
		if (st != EMBSTORE_OK) {
			state.SkipWithError(embstore_strerror(st));
			break;
		}
		benchmark::ClobberMemory();
	}
	set_throughput(state, n, m.row_stride);
}

// One sparse optimizer step per iteration on the batch scatter-add takes (same ids), sorting and all. As there,
// the steps are too small to change any value (gradients 1e-12, Adagrad's lr 1e-12 with eps 1), so the table
// never drifts, while every row is still read, updated and stored.
void bm_optim(benchmark::State &state, Case c)
{
	ActiveSet set(state, c.isa);
	if (!set.ok())
		return;
	const Region &r = esbench::write_region(c.size);
	if (!region_or_skip(state, r))
		return;
	embstore_matrix m = esbench::view(r, c.dtype, c.dim);
	std::vector<float> state_rows(m.rows, 0.0f);
	embstore_matrix sm = {state_rows.data(), m.rows, 4, 1, EMBSTORE_F32, 0};
	size_t n = batch_rows(c.size, c.dim);
	IdStream ids(m.rows, id_seed(c));
	std::vector<float> grads(n * c.dim, 1e-12f);
	size_t bad = 0;
	for (auto _ : state) {
		const int64_t *batch = ids.next(state, n);
		embstore_status st =
			c.op == Op::sgd
				? embstore_sgd_update(&m, batch, EMBSTORE_ID64, n, grads.data(), c.dim, 1.0f, &bad)
				: embstore_rowwise_adagrad_update(&m, &sm, batch, EMBSTORE_ID64, n, grads.data(), c.dim, 1e-12f,
				                                  1.0f, 0.0f, &bad);
		if (st != EMBSTORE_OK) {
			state.SkipWithError(embstore_strerror(st));
			break;
		}
		benchmark::ClobberMemory();
	}
	set_throughput(state, n, m.row_stride);
}

// memcpy of the bytes the gather of the same dtype, dim and table reads per call, walking through the table
// so that on the large one the bytes come from DRAM too. The limit any gather could reach, had its rows been
// contiguous.
void bm_memcpy(benchmark::State &state, Case c)
{
	const Region &r = esbench::read_region(c.size);
	if (!region_or_skip(state, r))
		return;
	size_t n = batch_rows(c.size, c.dim);
	size_t row_bytes = (size_t)embstore_row_bytes(c.dtype, c.dim);
	size_t bytes = n * row_bytes;
	if (bytes > r.bytes) {
		state.SkipWithError("table smaller than one batch");
		return;
	}
	std::vector<unsigned char> dst(bytes);
	size_t off = 0;
	for (auto _ : state) {
		std::memcpy(dst.data(), r.data + off, bytes);
		benchmark::DoNotOptimize(dst.data());
		benchmark::ClobberMemory();
		off += bytes;
		if (off + bytes > r.bytes)
			off = 0;
	}
	set_throughput(state, n, row_bytes);
}

std::string case_name(const Case &c)
{
	std::string dims = "/dim:" + std::to_string(c.dim);
	std::string table = std::string("/table:") + esbench::size_name(c.size);
	std::string isa = embstore_isa_name(c.isa);
	std::string dtype = embstore_dtype_name(c.dtype);
	switch (c.op) {
	case Op::gather:
		return "gather/" + isa + "/" + dtype + dims + table;
	case Op::bag:
		return std::string("bag_") + mode_name(c.mode) + "/" + isa + "/" + dtype + dims + "/bag:" +
		       std::to_string(c.bag_len) + table;
	case Op::scatter_add:
		return "scatter_add/" + isa + "/f32" + dims + table;
	case Op::sgd:
		return "sgd/" + isa + "/" + dtype + dims + table;
	case Op::rowwise_adagrad:
		return "rowwise_adagrad/" + isa + "/" + dtype + dims + table;
	case Op::memcpy_baseline:
	default:
		return "memcpy/" + dtype + dims + table;
	}
}

std::vector<std::pair<std::string, Case>> g_registered;

void add(const Case &c, void (*fn)(benchmark::State &, Case))
{
	std::string name = case_name(c);
	benchmark::RegisterBenchmark(name.c_str(), fn, c);
	g_registered.emplace_back(name, c);
}

bool writes_table(Op op)
{
	return op == Op::scatter_add || op == Op::sgd || op == Op::rowwise_adagrad;
}

// Builds, before the run, the tables the benchmarks that --benchmark_filter selects will use (the same selection
// Google Benchmark makes: an extended regex searched in the name, a leading '-' negating it), so that their page
// state can go into the JSON context; tables no selected benchmark uses are not built.
void add_page_state_context()
{
	std::string spec = benchmark::GetBenchmarkFilter();
	if (spec.empty() || spec == "all")
		spec = ".";
	bool negative = spec[0] == '-';
	if (negative)
		spec.erase(0, 1);
	std::regex re;
	try {
		re = std::regex(spec, std::regex::extended);
	} catch (const std::regex_error &) {
		return; // Google Benchmark reports the bad filter itself
	}
	bool used[2][2] = {{false, false}, {false, false}}; // [writes][large]
	for (const auto &entry : g_registered)
		if (std::regex_search(entry.first, re) != negative)
			used[writes_table(entry.second.op)][entry.second.size == Size::large] = true;
	for (Size size : kSizes) {
		for (int writes = 0; writes < 2; writes++) {
			if (!used[writes][size == Size::large])
				continue;
			const Region &r = writes ? esbench::write_region(size) : esbench::read_region(size);
			std::string key = std::string("page_state_") + (writes ? "write_" : "read_") + esbench::size_name(size);
			benchmark::AddCustomContext(key, r.error.empty() ? esbench::page_state_text(r.data) : r.error);
		}
	}
}

void register_all()
{
	for (Size size : kSizes) {
		for (uint32_t dim : kDims) {
			for (embstore_dtype dt : kDtypes)
				add({Op::memcpy_baseline, EMBSTORE_ISA_SCALAR, dt, dim, size, EMBSTORE_BAG_SUM, 0}, bm_memcpy);
			for (int i = 0; i < EMBSTORE_ISA_COUNT; i++) {
				embstore_isa isa = (embstore_isa)i;
				for (embstore_dtype dt : kDtypes)
					add({Op::gather, isa, dt, dim, size, EMBSTORE_BAG_SUM, 0}, bm_gather);
				for (embstore_bag_mode mode : kModes)
					for (uint32_t len : kBagLengths)
						for (embstore_dtype dt : kDtypes)
							add({Op::bag, isa, dt, dim, size, mode, len}, bm_bag);
				add({Op::scatter_add, isa, EMBSTORE_F32, dim, size, EMBSTORE_BAG_SUM, 0}, bm_scatter_add);
				for (embstore_dtype dt : kOptimDtypes) {
					add({Op::sgd, isa, dt, dim, size, EMBSTORE_BAG_SUM, 0}, bm_optim);
					add({Op::rowwise_adagrad, isa, dt, dim, size, EMBSTORE_BAG_SUM, 0}, bm_optim);
				}
			}
		}
	}
}

// ------------------------------------------------------------------------------------------------------------
// Command line: Google Benchmark's flags, plus two of ours.

const char kDefaultMinTime[] = "0.05";

void print_help()
{
	benchmark::PrintDefaultHelp();
	std::printf("\nembstore_bench options:\n"
	            "  --table_dir=DIR   where the store files the benchmarks read are written once and reused\n"
	            "                    (default: the directory of this program)\n"
	            "  --large_mb=N      size of the large table in MiB (default: 4 x the last-level cache, at\n"
	            "                    least 256)\n"
	            "Without --benchmark_min_time, each benchmark runs for at least %s s rather than Google\n"
	            "Benchmark's 0.5 s: the full matrix has about 2,300 benchmarks. Filter with e.g.\n"
	            "  --benchmark_filter='^gather/.*/dim:128/table:large'\n",
	            kDefaultMinTime);
}

std::string program_dir()
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return ".";
	buf[n] = 0;
	char *slash = std::strrchr(buf, '/');
	if (slash == nullptr)
		return ".";
	if (slash == buf)
		return "/";
	*slash = 0;
	return buf;
}

bool starts_with(const char *s, const char *prefix)
{
	return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

std::string features_text()
{
	std::string s;
	workload_cpu_features(
		[](void *ctx, const char *name) {
			std::string &text = *static_cast<std::string *>(ctx);
			text += text.empty() ? "" : " ";
			text += name;
		},
		&s);
	return s;
}

std::string isas_text()
{
	std::string s;
	for (int i = 0; i < EMBSTORE_ISA_COUNT; i++) {
		if (!embstore_isa_supported((embstore_isa)i))
			continue;
		if (!s.empty())
			s += ' ';
		s += embstore_isa_name((embstore_isa)i);
	}
	return s;
}

} // namespace

int main(int argc, char **argv)
{
	std::vector<char *> args(argv, argv + argc);
	bool min_time_given = false, listing = false;
	for (int i = 1; i < argc; i++) {
		min_time_given = min_time_given || starts_with(argv[i], "--benchmark_min_time");
		if (starts_with(argv[i], "--benchmark_list_tests"))
			listing = std::strcmp(argv[i], "--benchmark_list_tests=false") != 0 &&
			          std::strcmp(argv[i], "--benchmark_list_tests=0") != 0;
	}
	std::string min_time_flag = std::string("--benchmark_min_time=") + kDefaultMinTime;
	if (!min_time_given)
		args.insert(args.begin() + 1, &min_time_flag[0]);
	int n = (int)args.size();
	args.push_back(nullptr);
	benchmark::Initialize(&n, args.data(), print_help);

	std::string dir = program_dir();
	uint64_t large_bytes = 0;
	for (int i = 1; i < n; i++) {
		const char *a = args[i];
		if (starts_with(a, "--table_dir=")) {
			dir = a + std::strlen("--table_dir=");
		} else if (starts_with(a, "--large_mb=")) {
			char *end = nullptr;
			unsigned long long mb = std::strtoull(a + std::strlen("--large_mb="), &end, 10);
			if (end == nullptr || *end != 0 || mb == 0 || mb > (1ull << 24)) {
				std::fprintf(stderr, "embstore_bench: bad value in '%s'\n", a);
				return 2;
			}
			large_bytes = mb << 20;
		} else {
			std::fprintf(stderr, "embstore_bench: unknown argument '%s' (try --help)\n", a);
			return 2;
		}
	}
	esbench::configure(dir, large_bytes);
	register_all();

	benchmark::AddCustomContext("embstore_version", embstore_version());
	benchmark::AddCustomContext("compiler", EMBSTORE_BENCH_COMPILER);
	benchmark::AddCustomContext("build_type", EMBSTORE_BENCH_BUILD_TYPE);
	benchmark::AddCustomContext("embstore_cpu_features", features_text());
	benchmark::AddCustomContext("embstore_kernel_sets", isas_text());
	benchmark::AddCustomContext("l2_cache_bytes", std::to_string(workload_l2_bytes()));
	benchmark::AddCustomContext("llc_bytes", std::to_string(workload_llc_bytes()));
	benchmark::AddCustomContext("table_small_bytes", std::to_string(esbench::region_bytes(Size::small)));
	benchmark::AddCustomContext("table_large_bytes", std::to_string(esbench::region_bytes(Size::large)));
	benchmark::AddCustomContext("tables", "reads: store files written by embstore_writer in " + esbench::table_dir() +
	                                          ", mapped by embstore_open, pages pre-touched; scatter-add and optimizers: "
	                                          "anonymous memory, MADV_NOHUGEPAGE; ids: uniform random int64");
	benchmark::AddCustomContext("thp_policy", esbench::thp_policy());
	if (!listing) // a listing runs nothing: no table to build
		add_page_state_context();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
