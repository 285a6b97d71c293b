/* workload.c: cache sizes, table and call sizes, the fill pattern, random ids and CPU feature names shared by
 * `embstore bench` and bench/embstore_bench (see workload.h). */
#include "workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embstore.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)

/* The first word of /sys/devices/system/cpu/cpu0/cache/index<index>/<name>, into buf; 0 when unreadable. */
static int read_cache_attr(int index, const char *name, char *buf, size_t size)
{
	char path[96];
	snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index, name);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	int ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, " \t\n")] = 0;
	return ok && buf[0] != 0;
}

/* Size of the level-`level` data or unified cache from /sys (e.g. "32768K"); 0 when not found. */
static uint64_t sys_cache_bytes(int level)
{
	for (int i = 0; i < 8; i++) {
		char lvl[16], type[32], size[32];
		if (!read_cache_attr(i, "level", lvl, sizeof lvl) || atoi(lvl) != level ||
		    !read_cache_attr(i, "type", type, sizeof type) || strcmp(type, "Instruction") == 0 ||
		    !read_cache_attr(i, "size", size, sizeof size))
			continue;
		char *end;
		uint64_t v = strtoull(size, &end, 10);
		if (*end == 'K' || *end == 'k')
			v *= KiB;
		else if (*end == 'M' || *end == 'm')
			v *= MiB;
		return v;
	}
	return 0;
}

/* sysconf, else /sys; 0 when neither knows (glibc's sysconf answers 0 on some virtual machines and Arm cores). */
static uint64_t cache_bytes(int level)
{
	long v = sysconf(level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE);
	return v > 0 ? (uint64_t)v : sys_cache_bytes(level);
}

uint64_t workload_l2_bytes(void)
{
	uint64_t b = cache_bytes(2);
	return b != 0 ? b : 1 * MiB;
}

uint64_t workload_llc_bytes(void)
{
	uint64_t b = cache_bytes(3);
	return b != 0 ? b : workload_l2_bytes();
}

uint64_t workload_small_bytes(void)
{
	uint64_t b = workload_l2_bytes() / 2;
	b = b < 64 * KiB ? 64 * KiB : b;
	return b / (4 * KiB) * (4 * KiB);
}

uint64_t workload_large_bytes(void)
{
	uint64_t b = 4 * workload_llc_bytes();
	b = b < 256 * MiB ? 256 * MiB : b;
	return (b + 2 * MiB - 1) / (2 * MiB) * (2 * MiB);
}

size_t workload_ids_per_call(int in_cache, uint32_t dim)
{
	if (!in_cache)
		return 4096;
	size_t n = 256 * 1024 / ((size_t)dim * 4);
	return n < 64 ? 64 : n > 4096 ? 4096 : n;
}

uint64_t workload_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void workload_random_ids(int64_t *ids, size_t n, uint64_t rows, uint64_t *state)
{
	for (size_t i = 0; i < n; i++)
		ids[i] = (int64_t)(((unsigned __int128)workload_splitmix64(state) * rows) >> 64);
}

void workload_fill(unsigned char *p, size_t bytes, uint64_t *state)
{
	for (size_t i = 0; i + 8 <= bytes; i += 8) {
		uint64_t v = (workload_splitmix64(state) & 0x03ff03ff03ff03ffu) | 0x3c003c003c003c00u;
		memcpy(p + i, &v, 8);
	}
}

unsigned workload_cpu_features(void (*fn)(void *ctx, const char *name), void *ctx)
{
	uint64_t features = embstore_cpu_features();
	unsigned count = 0;
	for (unsigned bit = 0; bit < 64; bit++) {
		if ((features >> bit & 1u) == 0)
			continue;
		const char *name = embstore_cpu_feature_name(bit);
		char unnamed[8];
		if (name == NULL) {
			snprintf(unnamed, sizeof unnamed, "bit%u", bit);
			name = unnamed;
		}
		fn(ctx, name);
		count++;
	}
	return count;
}
