/* cpu.c: CPU feature detection (x86 CPUID + XGETBV, AArch64 HWCAP), once, into a bitmask (bits in cpu.h). */
#if defined(__AVX__)
#error "cpu.c runs before any CPU check and must be compiled for the baseline CPU (no -mavx, no -march=native)"
#endif

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "embstore.h"

/* Set in the cached mask once detection ran, so that a CPU with no features at all is not detected again. */
#define ES_CPU_KNOWN (UINT64_C(1) << 63)

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0: which register state the OS saves. Only valid when CPUID says OSXSAVE. Written as inline asm so that this
 * file needs no -mxsave. */
static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t detect(void)
{
	unsigned a, b, c, d;
	uint64_t f = 0;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (d & (1u << 26))
		f |= ES_CPU_BIT(ES_CPU_SSE2);
	if (c & (1u << 9))
		f |= ES_CPU_BIT(ES_CPU_SSSE3);
	if (c & (1u << 19))
		f |= ES_CPU_BIT(ES_CPU_SSE41);
	if (c & (1u << 20))
		f |= ES_CPU_BIT(ES_CPU_SSE42);
	if (c & (1u << 23))
		f |= ES_CPU_BIT(ES_CPU_POPCNT);
	if (c & (1u << 28))
		f |= ES_CPU_BIT(ES_CPU_AVX);
	if (c & (1u << 12))
		f |= ES_CPU_BIT(ES_CPU_FMA);
	if (c & (1u << 29))
		f |= ES_CPU_BIT(ES_CPU_F16C);
	if (c & (1u << 27)) {
		uint64_t xcr0 = read_xcr0();
		f |= ES_CPU_BIT(ES_CPU_OSXSAVE);
		if ((xcr0 & 0x06) == 0x06)
			f |= ES_CPU_BIT(ES_CPU_OS_YMM);
		if ((xcr0 & 0xe6) == 0xe6)
			f |= ES_CPU_BIT(ES_CPU_OS_ZMM);
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		if (b & (1u << 5))
			f |= ES_CPU_BIT(ES_CPU_AVX2);
		if (b & (1u << 8))
			f |= ES_CPU_BIT(ES_CPU_BMI2);
		if (b & (1u << 16))
			f |= ES_CPU_BIT(ES_CPU_AVX512F);
		if (b & (1u << 17))
			f |= ES_CPU_BIT(ES_CPU_AVX512DQ);
		if (b & (1u << 28))
			f |= ES_CPU_BIT(ES_CPU_AVX512CD);
		if (b & (1u << 30))
			f |= ES_CPU_BIT(ES_CPU_AVX512BW);
		if (b & (1u << 31))
			f |= ES_CPU_BIT(ES_CPU_AVX512VL);
	}
	return f;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

/* Values from the kernel's arch/arm64/include/uapi/asm/hwcap.h, in case the C library's headers lack them. */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1ul << 1)
#endif
#ifndef HWCAP_FPHP
#define HWCAP_FPHP (1ul << 9)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1ul << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif

static uint64_t detect(void)
{
	unsigned long hw = getauxval(AT_HWCAP);
	uint64_t f = 0;
	if (hw & HWCAP_ASIMD)
		f |= ES_CPU_BIT(ES_CPU_NEON);
	if (hw & HWCAP_FPHP)
		f |= ES_CPU_BIT(ES_CPU_FPHP);
	if (hw & HWCAP_ASIMDHP)
		f |= ES_CPU_BIT(ES_CPU_ASIMDHP);
	if (hw & HWCAP_ASIMDDP)
		f |= ES_CPU_BIT(ES_CPU_ASIMDDP);
	return f;
}

#elif defined(__aarch64__)
/* Advanced SIMD is part of the AArch64 base ABI; without HWCAP (not Linux) assume just that. */
static uint64_t detect(void)
{
	return ES_CPU_BIT(ES_CPU_NEON);
}

#else
static uint64_t detect(void)
{
	return 0;
}
#endif

static _Atomic uint64_t cpu_features;

uint64_t embstore_cpu_features(void)
{
	/* Detection is idempotent, so two threads racing here both store the same value: no lock needed. */
	uint64_t f = atomic_load_explicit(&cpu_features, memory_order_relaxed);
	if (!(f & ES_CPU_KNOWN)) {
		f = detect() | ES_CPU_KNOWN;
		atomic_store_explicit(&cpu_features, f, memory_order_relaxed);
	}
	return f & ~ES_CPU_KNOWN;
}

static const char *const feature_names[64] = {
	[ES_CPU_SSE2] = "sse2",
	[ES_CPU_SSSE3] = "ssse3",
	[ES_CPU_SSE41] = "sse4_1",
	[ES_CPU_SSE42] = "sse4_2",
	[ES_CPU_POPCNT] = "popcnt",
	[ES_CPU_AVX] = "avx",
	[ES_CPU_AVX2] = "avx2",
	[ES_CPU_FMA] = "fma",
	[ES_CPU_F16C] = "f16c",
	[ES_CPU_BMI2] = "bmi2",
	[ES_CPU_AVX512F] = "avx512f",
	[ES_CPU_AVX512DQ] = "avx512dq",
	[ES_CPU_AVX512CD] = "avx512cd",
	[ES_CPU_AVX512BW] = "avx512bw",
	[ES_CPU_AVX512VL] = "avx512vl",
	[ES_CPU_OSXSAVE] = "osxsave",
	[ES_CPU_OS_YMM] = "os_ymm",
	[ES_CPU_OS_ZMM] = "os_zmm",
	[ES_CPU_NEON] = "neon",
	[ES_CPU_FPHP] = "fphp",
	[ES_CPU_ASIMDHP] = "asimdhp",
	[ES_CPU_ASIMDDP] = "asimddp",
};

const char *embstore_cpu_feature_name(unsigned bit)
{
	return bit < 64 ? feature_names[bit] : NULL;
}
