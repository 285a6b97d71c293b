// page_report.cc: page state of a mapping from /proc/self/smaps.
#include "page_report.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace esbench {

PageState page_state(const void *p)
{
	PageState s;
	FILE *f = std::fopen("/proc/self/smaps", "r");
	if (f == nullptr)
		return s;
	char line[512];
	bool inside = false;
	uintptr_t at = (uintptr_t)p;
	while (std::fgets(line, sizeof line, f) != nullptr) {
		uintptr_t lo = 0, hi = 0;
		unsigned long long kb = 0;
		char perms[8], path[256];
		unsigned long long offset = 0;
		// A mapping's header line: "lo-hi perms offset dev inode [path]"; its fields follow as "Name: N kB".
		int got = std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %*s %*s %255s", &lo, &hi, perms, &offset,
		                      path);
		if (got >= 4) {
			if (inside)
				break;
			inside = at >= lo && at < hi;
			if (inside) {
				s.known = true;
				s.anonymous = got < 5 || path[0] != '/';
			}
		} else if (inside && (std::sscanf(line, "AnonHugePages: %llu kB", &kb) == 1 ||
		                      std::sscanf(line, "FilePmdMapped: %llu kB", &kb) == 1 ||
		                      std::sscanf(line, "ShmemPmdMapped: %llu kB", &kb) == 1)) {
			s.huge_bytes += kb << 10;
		} else if (inside && std::sscanf(line, "Rss: %llu kB", &kb) == 1) {
			s.rss_bytes = kb << 10;
		}
	}
	std::fclose(f);
	return s;
}

std::string page_state_text(const void *p)
{
	PageState s = page_state(p);
	if (!s.known)
		return "unknown (no /proc/self/smaps entry)";
	char buf[160];
	double share = s.rss_bytes ? 100.0 * (double)s.huge_bytes / (double)s.rss_bytes : 0.0;
	std::snprintf(buf, sizeof buf, "%s, %.1f MiB resident, %.0f%% on 2 MiB pages", s.anonymous ? "anonymous" : "file",
	              (double)s.rss_bytes / (1 << 20), share);
	return buf;
}

std::string thp_policy()
{
	FILE *f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f == nullptr)
		return "unknown";
	char buf[128] = {0};
	bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
	std::fclose(f);
	if (!ok)
		return "unknown";
	buf[std::strcspn(buf, "\n")] = 0;
	return buf;
}

} // namespace esbench
