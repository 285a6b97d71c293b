// page_report.h: how the memory under a pointer is mapped (resident bytes, and those on 2 MiB entries), from
// /proc/self/smaps, so that a benchmark can state the page state it measured in. Linux only; elsewhere unknown.
#ifndef EMBSTORE_BENCH_PAGE_REPORT_H
#define EMBSTORE_BENCH_PAGE_REPORT_H

#include <cstdint>
#include <string>

namespace esbench {

struct PageState {
	bool known = false;       // false: no /proc/self/smaps, or no mapping holds the pointer
	bool anonymous = false;   // no file behind the mapping
	uint64_t rss_bytes = 0;   // resident bytes of the whole mapping (the kernel merges neighbouring anonymous ones)
	uint64_t huge_bytes = 0;  // of those, mapped with 2 MiB entries (AnonHugePages, FilePmdMapped, ShmemPmdMapped)
};

PageState page_state(const void *p);

// e.g. "anonymous, 512.0 MiB resident, 0% on 2 MiB pages" or "file, 64.0 MiB resident, 97% on 2 MiB pages".
std::string page_state_text(const void *p);

// The kernel's transparent huge page policy, e.g. "always [madvise] never", or "unknown".
std::string thp_policy();

} // namespace esbench

#endif // EMBSTORE_BENCH_PAGE_REPORT_H
