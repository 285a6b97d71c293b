// vs_fbgemm.cc: embstore_gather_bag (public API, sum) against FBGEMM's JIT EmbeddingSpMDM, the CPU kernels behind
// PyTorch's production embedding bags, in one process on one thread, on the same table memory and the same ids
// (docs/BENCHMARKS.md, "Against FBGEMM"). Built only when CMake is given EMBSTORE_FBGEMM_DIR.
//
// Per cell (dtype f32 or int8 row-wise, dim, table rows): 262,144 uniform random ids in 8,192 bags of 32, summed.
// Both results are checked against each other first; then each contender makes `reps` timed calls and the
// median is reported. Every call reads a fresh id set, and the two contenders read each set half a run apart (in
// opposite order within a repetition, alternating who goes first), so neither finds rows the other just pulled
// into cache. The table is anonymous memory, filled before timing; its page state is measured and printed.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <fbgemm/FbgemmEmbedding.h>

#include "embstore.h"
#include "page_report.h"

namespace {

constexpr size_t kIds = 262144;
constexpr size_t kBagLen = 32;
constexpr size_t kBags = kIds / kBagLen;
constexpr size_t kHuge = size_t(2) << 20;
const uint64_t kRowCounts[] = {1u << 20, 1u << 16, 1u << 10};

enum class Pages { kernel_default, huge, small };

struct Options {
	std::vector<uint32_t> dims{64, 128, 256};
	int reps = 11;
	Pages pages = Pages::kernel_default;
};

double now()
{
	timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

// Uniform in [-1, 1).
float next_value(uint64_t *state)
{
	return (float)((double)(next_random(state) >> 11) * 0x1p-52 - 1.0);
}

// Anonymous memory aligned to 2 MiB (so that huge pages can back all of it), unmapped on destruction.
class Table {
public:
	Table(size_t bytes, Pages pages)
	{
		size_t len = (bytes + kHuge - 1) / kHuge * kHuge;
		void *p = mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
		map_ = p;
		map_len_ = len + kHuge;
		data_ = (unsigned char *)(((uintptr_t)p + kHuge - 1) / kHuge * kHuge);
		if (pages == Pages::huge)
			madvise(data_, len, MADV_HUGEPAGE);
		else if (pages == Pages::small)
			madvise(data_, len, MADV_NOHUGEPAGE);
	}
	~Table()
	{
		if (map_ != nullptr)
			munmap(map_, map_len_);
	}
	Table(const Table &) = delete;
	Table &operator=(const Table &) = delete;
	unsigned char *data() const { return data_; }

private:
	void *map_ = nullptr;
	size_t map_len_ = 0;
	unsigned char *data_ = nullptr;
};

struct Cell {
	bool done = false;
	double es_ns = 0, fb_ns = 0; // per lookup, medians
};

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Compares the two outputs; returns false (and says why) when they differ beyond the tolerance: f32 bitwise or
// within 1e-6 relative; int8 within 5e-7 of the sum of the absolute values the element summed (the two
// dequantise in different orders of operations).
bool agree(const embstore_matrix &m, const std::vector<int64_t> &ids, const std::vector<float> &a,
           const std::vector<float> &b, std::string *note)
{
	size_t dim = m.dim, bitwise = 0, worst_at = 0;
	double worst = 0;
	std::vector<double> abs_sum(dim);
	for (size_t bag = 0; bag < kBags; bag++) {
		std::fill(abs_sum.begin(), abs_sum.end(), 0.0);
		for (size_t i = bag * kBagLen; i < (bag + 1) * kBagLen; i++) {
			const unsigned char *row = (const unsigned char *)m.data + (size_t)ids[i] * m.row_stride;
			if (m.dtype == EMBSTORE_F32) {
				for (size_t j = 0; j < dim; j++)
					abs_sum[j] += std::fabs((double)((const float *)row)[j]);
			} else {
				float scale, bias;
				std::memcpy(&scale, row + dim, 4);
				std::memcpy(&bias, row + dim + 4, 4);
				for (size_t j = 0; j < dim; j++)
					abs_sum[j] += std::fabs((double)row[j] * scale + bias);
			}
		}
		for (size_t j = 0; j < dim; j++) {
			size_t k = bag * dim + j;
			if (std::memcmp(&a[k], &b[k], 4) == 0) {
				bitwise++;
				continue;
			}
			double diff = std::fabs((double)a[k] - (double)b[k]);
			if (diff == 0) // +0 against -0
				continue;
			double rel = m.dtype == EMBSTORE_F32 ? diff / std::max(std::fabs((double)a[k]), std::fabs((double)b[k]))
			                                     : diff / abs_sum[j];
			if (!(rel <= worst))
				worst = rel, worst_at = k;
		}
	}
	double limit = m.dtype == EMBSTORE_F32 ? 1e-6 : 5e-7;
	char buf[200];
	std::snprintf(buf, sizeof buf, "%.1f%% bitwise, worst %.2g %s", 100.0 * (double)bitwise / (double)a.size(), worst,
	              m.dtype == EMBSTORE_F32 ? "relative" : "of the sum of |values|");
	*note = buf;
	if (worst > limit || std::isnan(worst)) {
		std::fprintf(stderr, "vs_fbgemm: results differ at output %zu: embstore %.9g, FBGEMM %.9g\n", worst_at,
		             (double)a[worst_at], (double)b[worst_at]);
		return false;
	}
	return true;
}

// One cell. Returns false when a call fails or the results disagree.
template <typename In>
bool run_cell(const Options &opt, embstore_dtype dtype, uint32_t dim, uint64_t rows, Cell *cell)
{
	size_t stride = (size_t)embstore_row_bytes(dtype, dim);
	Table table(rows * stride, opt.pages);
	if (table.data() == nullptr) {
		std::fprintf(stderr, "vs_fbgemm: no memory for %" PRIu64 " x %u\n", rows, dim);
		return false;
	}
	uint64_t rng = 0x7ab1e0000u + rows * 1009u + dim;
	std::vector<float> row(dim);
	for (uint64_t r = 0; r < rows; r++) {
		unsigned char *dst = table.data() + r * stride;
		for (float &v : row)
			v = next_value(&rng);
		if (dtype == EMBSTORE_F32)
			std::memcpy(dst, row.data(), dim * sizeof(float));
		else if (embstore_quantize_row_int8(row.data(), dim, dst) != EMBSTORE_OK)
			return false;
	}
	embstore_matrix m{}; // members added later stay 0
	m.data = table.data();
	m.rows = rows;
	m.row_stride = stride;
	m.dim = dim;
	m.dtype = dtype;

	// One id set per timed call of each contender, plus one for the check.
	size_t sets = (size_t)opt.reps + 1;
	std::vector<std::vector<int64_t>> ids(sets, std::vector<int64_t>(kIds));
	for (auto &set : ids)
		for (int64_t &id : set)
			id = (int64_t)(((next_random(&rng) >> 32) * rows) >> 32);
	std::vector<int64_t> offsets(kBags + 1);
	for (size_t b = 0; b <= kBags; b++)
		offsets[b] = (int64_t)(b * kBagLen);

	// FBGEMM's input stride counts elements of In: floats for f32, bytes for int8 (row-wise scale and bias last,
	// the layout embstore's int8 rows have).
	auto fb_kernel = fbgemm::GenerateEmbeddingSpMDMWithStrides<In, int64_t, int64_t>(
		dim, /*has_weight=*/false, /*normalize_by_lengths=*/false, /*prefetch=*/16, /*is_weight_positional=*/false,
		/*use_offsets=*/true, /*output_stride=*/-1, /*input_stride=*/(int64_t)(stride / sizeof(In)));
	std::vector<float> es_out(kBags * dim), fb_out(kBags * dim);
	auto es_call = [&](const std::vector<int64_t> &set) {
		size_t bad = 0;
		return embstore_gather_bag(&m, set.data(), EMBSTORE_ID64, kIds, offsets.data(), kBags, nullptr,
		                           EMBSTORE_BAG_SUM, es_out.data(), &bad) == EMBSTORE_OK;
	};
	auto fb_call = [&](const std::vector<int64_t> &set) {
		return fb_kernel((int64_t)kBags, (int64_t)kIds, (int64_t)rows, (const In *)table.data(), set.data(),
		                 offsets.data(), nullptr, fb_out.data());
	};
	if (!es_call(ids[0]) || !fb_call(ids[0])) {
		std::fprintf(stderr, "vs_fbgemm: a call failed\n");
		return false;
	}
	std::string note;
	bool same = agree(m, ids[0], es_out, fb_out, &note);

	std::vector<double> es_t, fb_t;
	int reps = opt.reps;
	for (int r = 0; r < reps; r++) {
		const auto &es_ids = ids[1 + (size_t)r];
		const auto &fb_ids = ids[1 + (size_t)((r + (reps + 1) / 2) % reps)];
		for (int turn = 0; turn < 2; turn++) {
			bool es_turn = (turn == 0) == (r % 2 == 0);
			double t0 = now();
			bool ok = es_turn ? es_call(es_ids) : fb_call(fb_ids);
			double t = now() - t0;
			if (!ok)
				return false;
			(es_turn ? es_t : fb_t).push_back(t);
		}
	}
	cell->es_ns = median(es_t) * 1e9 / kIds;
	cell->fb_ns = median(fb_t) * 1e9 / kIds;
	cell->done = true;
	std::printf("%-4s %4u %8" PRIu64 " %9.1f MiB  %8.2f %8.2f %7.2fx  %s; %s\n", embstore_dtype_name(dtype), dim, rows,
	            (double)(rows * stride) / (1 << 20), cell->es_ns, cell->fb_ns, cell->es_ns / cell->fb_ns,
	            esbench::page_state_text(table.data()).c_str(), note.c_str());
	std::fflush(stdout);
	return same;
}

std::string cpu_model()
{
	FILE *f = std::fopen("/proc/cpuinfo", "r");
	if (f == nullptr)
		return "unknown";
	char line[256];
	std::string model = "unknown";
	while (std::fgets(line, sizeof line, f) != nullptr) {
		const char *colon = std::strchr(line, ':');
		if (std::strncmp(line, "model name", 10) == 0 && colon != nullptr) {
			model = colon + 2;
			model.erase(model.find_last_not_of("\n") + 1);
			break;
		}
	}
	std::fclose(f);
	return model;
}

std::string load_text()
{
	double load[3];
	if (getloadavg(load, 3) != 3)
		return "unknown";
	char buf[64];
	std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", load[0], load[1], load[2]);
	return buf;
}

std::string fmt_ns(double ns)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, ns >= 100 ? "%.0f" : "%.1f", ns);
	return buf;
}

// The cells again as a Markdown table, the layout of docs/BENCHMARKS.md: "embstore vs FBGEMM (ratio)".
void print_markdown(const Options &opt, const std::vector<Cell> &cells)
{
	std::printf("\n| dim |");
	for (uint64_t rows : kRowCounts)
		for (const char *dt : {"f32", "int8"})
			std::printf(" %s, %s rows |", dt,
			            rows >= (1u << 20) ? "1M" : rows >= (1u << 16) ? "64K" : "1K");
	std::printf("\n|---|---|---|---|---|---|---|\n");
	for (size_t d = 0; d < opt.dims.size(); d++) {
		std::printf("| %u |", opt.dims[d]);
		for (size_t c = 0; c < 6; c++) {
			const Cell &cell = cells[d * 6 + c];
			if (cell.done)
				std::printf(" %s vs %s (%.2fx) |", fmt_ns(cell.es_ns).c_str(), fmt_ns(cell.fb_ns).c_str(),
				            cell.es_ns / cell.fb_ns);
			else
				std::printf(" - |");
		}
		std::printf("\n");
	}
}

void usage()
{
	std::fprintf(stderr, "usage: bench_vs_fbgemm [--dims 64,128,256] [--reps N] [--pages default|huge|small]\n"
	                     "  --pages  madvise of the table memory: none (the kernel's THP policy decides),\n"
	                     "           MADV_HUGEPAGE or MADV_NOHUGEPAGE; the state measured is printed per cell\n");
}

bool parse(int argc, char **argv, Options *opt)
{
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (i + 1 >= argc)
			return false;
		std::string v = argv[++i];
		if (a == "--dims") {
			opt->dims.clear();
			for (size_t pos = 0; pos <= v.size();) {
				size_t comma = v.find(',', pos);
				if (comma == std::string::npos)
					comma = v.size();
				unsigned long d = std::strtoul(v.substr(pos, comma - pos).c_str(), nullptr, 10);
				if (d == 0 || d > 4096)
					return false;
				opt->dims.push_back((uint32_t)d);
				pos = comma + 1;
			}
		} else if (a == "--reps") {
			opt->reps = std::atoi(v.c_str());
			if (opt->reps < 1 || opt->reps > 1000)
				return false;
		} else if (a == "--pages") {
			if (v == "default")
				opt->pages = Pages::kernel_default;
			else if (v == "huge")
				opt->pages = Pages::huge;
			else if (v == "small")
				opt->pages = Pages::small;
			else
				return false;
		} else {
			return false;
		}
	}
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	Options opt;
	if (!parse(argc, argv, &opt)) {
		usage();
		return 2;
	}
	embstore_isa isa = EMBSTORE_ISA_SCALAR;
	embstore_isa_active(&isa);
	const char *pages = opt.pages == Pages::huge ? "MADV_HUGEPAGE" : opt.pages == Pages::small ? "MADV_NOHUGEPAGE" : "no madvise";
	std::printf("embstore %s (kernel set %s) against FBGEMM EmbeddingSpMDM; %s, compiler %s\n", embstore_version(),
	            embstore_isa_name(isa), cpu_model().c_str(), __VERSION__);
	std::printf("one thread; %zu ids in %zu bags of %zu, sum; medians of %d calls each; table memory anonymous, %s "
	            "(THP: %s); load average %s\n",
	            kIds, kBags, kBagLen, opt.reps, pages, esbench::thp_policy().c_str(), load_text().c_str());
	std::printf("\n%-4s %4s %8s %13s  %8s %8s %8s  page state; agreement\n", "type", "dim", "rows", "table", "embstore",
	            "FBGEMM", "ratio");
	std::printf("%-4s %4s %8s %13s  %8s %8s %8s\n", "", "", "", "", "ns/id", "ns/id", "");

	std::vector<Cell> cells(opt.dims.size() * 6);
	bool ok = true;
	for (size_t d = 0; d < opt.dims.size(); d++) {
		for (size_t r = 0; r < 3; r++) {
			ok = run_cell<float>(opt, EMBSTORE_F32, opt.dims[d], kRowCounts[r], &cells[d * 6 + r * 2]) && ok;
			ok = run_cell<uint8_t>(opt, EMBSTORE_INT8_ROWWISE, opt.dims[d], kRowCounts[r], &cells[d * 6 + r * 2 + 1]) &&
			     ok;
		}
	}
	print_markdown(opt, cells);
	std::printf("\nload average at the end: %s\n", load_text().c_str());
	if (!ok)
		std::fprintf(stderr, "vs_fbgemm: FAILED: a call failed or the results differ (above)\n");
	return ok ? 0 : 1;
}
