/* cpu.h: bit numbers of the CPU features reported by embstore_cpu_features() (cpu.c). */
#ifndef EMBSTORE_SIMD_CPU_H
#define EMBSTORE_SIMD_CPU_H

#include <stdint.h>

/* Bit numbers; the values are visible to users through embstore_cpu_features(), so never renumber them. CPUID
 * bits say what the processor has; the os_* bits say what the OS saves on a context switch (XCR0 via XGETBV).
 * A vector set is usable only when both agree. */
enum {
	ES_CPU_SSE2 = 0,
	ES_CPU_SSSE3 = 1,
	ES_CPU_SSE41 = 2,
	ES_CPU_SSE42 = 3,
	ES_CPU_POPCNT = 4,
	ES_CPU_AVX = 5,
	ES_CPU_AVX2 = 6,
	ES_CPU_FMA = 7,
	ES_CPU_F16C = 8,
	ES_CPU_BMI2 = 9,
	ES_CPU_AVX512F = 10,
	ES_CPU_AVX512DQ = 11,
	ES_CPU_AVX512CD = 12,
	ES_CPU_AVX512BW = 13,
	ES_CPU_AVX512VL = 14,
	ES_CPU_OSXSAVE = 15, /* XGETBV may be executed */
	ES_CPU_OS_YMM = 16,  /* XCR0 bits 1, 2: XMM and YMM state */
	ES_CPU_OS_ZMM = 17,  /* XCR0 bits 1, 2, 5, 6, 7: also opmask, ZMM_Hi256, Hi16_ZMM */
	ES_CPU_NEON = 32,    /* AArch64 HWCAP_ASIMD */
	ES_CPU_FPHP = 33,    /* scalar half-precision arithmetic */
	ES_CPU_ASIMDHP = 34, /* vector half-precision arithmetic */
	ES_CPU_ASIMDDP = 35, /* dot product */
};

#define ES_CPU_BIT(b) (UINT64_C(1) << (b))

#endif /* EMBSTORE_SIMD_CPU_H */
