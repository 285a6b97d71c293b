/* test_dispatch.c: kernel-set selection: names, the best set by default, EMBSTORE_ISA (the suite runs once per
 * forced set), embstore_isa_set, refusal of unusable sets, and the CPU features the choice rests on, checked
 * against what the kernel reports in /proc/cpuinfo. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "embstore.h"

Test(dispatch, names_and_parse)
{
	for (unsigned isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		embstore_isa back = EMBSTORE_ISA_COUNT;
		cr_assert_not_null(embstore_isa_name((embstore_isa)isa));
		cr_assert_eq(embstore_isa_parse(embstore_isa_name((embstore_isa)isa), &back), EMBSTORE_OK);
		cr_assert_eq(back, isa);
	}
	embstore_isa x;
	cr_assert_null(embstore_isa_name(EMBSTORE_ISA_COUNT));
	cr_assert_eq(embstore_isa_parse("sse9", &x), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_isa_parse("", &x), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_isa_parse(NULL, &x), EMBSTORE_INVALID_ARGUMENT);
	cr_assert_eq(embstore_isa_parse("scalar", NULL), EMBSTORE_INVALID_ARGUMENT);
	cr_assert(embstore_isa_supported(EMBSTORE_ISA_SCALAR));
	cr_assert(!embstore_isa_supported(EMBSTORE_ISA_COUNT));
	cr_assert(!embstore_isa_supported((embstore_isa)-1));
}

Test(dispatch, active_follows_environment_and_set)
{
	embstore_isa active, forced;
	const char *env = getenv("EMBSTORE_ISA");
	if (env && *env) {
		if (embstore_isa_parse(env, &forced) == EMBSTORE_OK && embstore_isa_supported(forced)) {
			cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
			cr_assert_eq(active, forced, "EMBSTORE_ISA=%s but %s is active", env, embstore_isa_name(active));
		} else {
			cr_assert_eq(embstore_isa_active(&active), EMBSTORE_UNSUPPORTED_ISA, "EMBSTORE_ISA=%s is usable here",
			             env);
		}
	} else {
		/* The best set: nothing supported ranks above it (on x86, avx512 over avx2 over scalar). */
		cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
		cr_assert(embstore_isa_supported(active), "%s active but not supported", embstore_isa_name(active));
		for (unsigned isa = active + 1; isa < EMBSTORE_ISA_COUNT; isa++)
			cr_assert(!embstore_isa_supported((embstore_isa)isa), "%s active, %s supported",
			          embstore_isa_name(active), embstore_isa_name((embstore_isa)isa));
	}
	cr_assert_eq(embstore_isa_active(NULL), EMBSTORE_INVALID_ARGUMENT);
	for (unsigned isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		if (embstore_isa_supported((embstore_isa)isa)) {
			cr_assert_eq(embstore_isa_set((embstore_isa)isa), EMBSTORE_OK);
			cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
			cr_assert_eq(active, isa);
		} else {
			cr_assert_eq(embstore_isa_set((embstore_isa)isa), EMBSTORE_UNSUPPORTED_ISA);
			cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
			cr_assert_neq(active, isa);
		}
	}
	cr_assert_eq(embstore_isa_set(EMBSTORE_ISA_COUNT), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_isa_set((embstore_isa)-7), EMBSTORE_UNSUPPORTED_ISA);
}

/* With EMBSTORE_ISA naming an unusable set, every kernel refuses until embstore_isa_set picks a usable one.
 * Criterion runs each test in a fresh process, so the kernel table is not resolved yet when these start. */
static void refuses_until_set(const char *name)
{
	setenv("EMBSTORE_ISA", name, 1);
	float rows[4][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}};
	embstore_matrix m = {.data = rows, .rows = 4, .row_stride = 12, .dim = 3, .dtype = EMBSTORE_F32};
	int32_t id = 1;
	float out[3], g[3] = {0};
	int64_t off[2] = {0, 1};
	size_t bad;
	embstore_isa active = EMBSTORE_ISA_COUNT;
	cr_assert_eq(embstore_isa_active(&active), EMBSTORE_UNSUPPORTED_ISA, "EMBSTORE_ISA=%s", name);
	cr_assert_eq(active, EMBSTORE_ISA_COUNT);
	cr_assert_eq(embstore_gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather_mt(&m, &id, EMBSTORE_ID32, 1, out, &bad, 4), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather_bag(&m, &id, EMBSTORE_ID32, 1, off, 1, NULL, EMBSTORE_BAG_SUM, out, &bad),
	             EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather_bag_mt(&m, &id, EMBSTORE_ID32, 1, off, 1, NULL, EMBSTORE_BAG_SUM, out, &bad, 2),
	             EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_scatter_add(&m, &id, EMBSTORE_ID32, 1, g, 1.0f, &bad), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_scatter_add_mt(&m, &id, EMBSTORE_ID32, 1, g, 1.0f, &bad, 2), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_isa_set(EMBSTORE_ISA_COUNT), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_UNSUPPORTED_ISA);
	cr_assert_eq(embstore_isa_set(EMBSTORE_ISA_SCALAR), EMBSTORE_OK);
	cr_assert_eq(embstore_gather(&m, &id, EMBSTORE_ID32, 1, out, &bad), EMBSTORE_OK);
	cr_assert(memcmp(out, rows[1], sizeof out) == 0);
	cr_assert_eq(embstore_isa_active(&active), EMBSTORE_OK);
	cr_assert_eq(active, EMBSTORE_ISA_SCALAR);
}

Test(dispatch, unknown_environment_refuses_until_set)
{
	refuses_until_set("sse9");
}

Test(dispatch, unsupported_environment_refuses_until_set)
{
	/* A real set name this build or CPU cannot run: neon on x86, avx2 elsewhere. */
	embstore_isa isa = embstore_isa_supported(EMBSTORE_ISA_NEON) ? EMBSTORE_ISA_AVX2 : EMBSTORE_ISA_NEON;
	cr_assert(!embstore_isa_supported(isa));
	refuses_until_set(embstore_isa_name(isa));
}

Test(dispatch, cpu_feature_names)
{
	uint64_t f = embstore_cpu_features();
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name = embstore_cpu_feature_name(bit);
		if (f & ((uint64_t)1 << bit))
			cr_assert_not_null(name, "feature bit %u has no name", bit);
		for (unsigned other = 0; name && other < bit; other++) {
			const char *o = embstore_cpu_feature_name(other);
			cr_assert(!o || strcmp(o, name) != 0, "bits %u and %u are both %s", other, bit, name);
		}
	}
	cr_assert_null(embstore_cpu_feature_name(64));
	cr_assert_null(embstore_cpu_feature_name(63));
}

/* A usable vector set implies the features it was chosen for. */
Test(dispatch, usable_sets_have_their_features)
{
	uint64_t f = embstore_cpu_features();
	if (embstore_isa_supported(EMBSTORE_ISA_AVX2))
		cr_assert((f & ES_CPU_BIT(ES_CPU_AVX2)) && (f & ES_CPU_BIT(ES_CPU_FMA)) && (f & ES_CPU_BIT(ES_CPU_F16C)) &&
		          (f & ES_CPU_BIT(ES_CPU_OS_YMM)));
	if (embstore_isa_supported(EMBSTORE_ISA_AVX512))
		cr_assert((f & ES_CPU_BIT(ES_CPU_AVX512F)) && (f & ES_CPU_BIT(ES_CPU_AVX512BW)) &&
		          (f & ES_CPU_BIT(ES_CPU_AVX512VL)) && (f & ES_CPU_BIT(ES_CPU_OS_ZMM)));
	if (embstore_isa_supported(EMBSTORE_ISA_NEON))
		cr_assert(f & ES_CPU_BIT(ES_CPU_NEON));
	if (f & ES_CPU_BIT(ES_CPU_OS_ZMM))
		cr_assert(f & ES_CPU_BIT(ES_CPU_OS_YMM));
}

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))

/* The kernel's own reading of the CPU, independent of the library's CPUID / HWCAP code. A flag the kernel lists
 * the CPU has; a feature the CPU has is listed unless the kernel does not save its registers (then it clears
 * the flag, as the library then reports the os_* bit clear). */
typedef struct listed_feature {
	unsigned bit;
	uint64_t os_bits; /* what the OS must save for the kernel to list it; 0: nothing */
	const char *flag;
} listed_feature;

#if defined(__x86_64__)
#define CPUINFO_KEY "flags"
#define YMM ES_CPU_BIT(ES_CPU_OS_YMM)
#define ZMM ES_CPU_BIT(ES_CPU_OS_ZMM)
static const listed_feature features[] = {
	{ES_CPU_AVX, YMM, "avx"},           {ES_CPU_AVX2, YMM, "avx2"},         {ES_CPU_FMA, YMM, "fma"},
	{ES_CPU_F16C, YMM, "f16c"},         {ES_CPU_AVX512F, ZMM, "avx512f"},   {ES_CPU_AVX512BW, ZMM, "avx512bw"},
	{ES_CPU_AVX512VL, ZMM, "avx512vl"},
};
#else
#define CPUINFO_KEY "Features"
static const listed_feature features[] = {
	{ES_CPU_NEON, 0, "asimd"},
	{ES_CPU_FPHP, 0, "fphp"},
	{ES_CPU_ASIMDHP, 0, "asimdhp"},
	{ES_CPU_ASIMDDP, 0, "asimddp"},
};
#endif

/* The first CPU's list of flags in /proc/cpuinfo (malloc'd, space separated), or NULL. */
static char *cpuinfo_flags(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return NULL;
	char *line = NULL, *found = NULL;
	size_t cap = 0, key = strlen(CPUINFO_KEY);
	while (!found && getline(&line, &cap, f) > 0) {
		if (strncmp(line, CPUINFO_KEY, key) != 0 || !strchr(" \t:", line[key]))
			continue;
		char *colon = strchr(line, ':');
		if (colon) {
			found = strdup(colon + 1);
			cr_assert_not_null(found);
		}
	}
	free(line);
	fclose(f);
	return found;
}

static int listed(const char *flags, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = flags; (p = strstr(p, name)) != NULL; p += len)
		if ((p == flags || strchr(" \t", p[-1])) && strchr(" \t\n", p[len]))
			return 1;
	return 0;
}

Test(dispatch, features_match_proc_cpuinfo)
{
	char *flags = cpuinfo_flags();
	if (!flags)
		cr_skip_test("no \"" CPUINFO_KEY "\" line in /proc/cpuinfo to compare with");
	uint64_t f = embstore_cpu_features();
	for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
		const listed_feature *x = &features[i];
		int in_cpuinfo = listed(flags, x->flag), detected = (f & ES_CPU_BIT(x->bit)) != 0;
		int os_saves = (f & x->os_bits) == x->os_bits;
		cr_expect(!in_cpuinfo || detected, "/proc/cpuinfo lists %s, embstore_cpu_features() lacks it", x->flag);
		cr_expect(!detected || !os_saves || in_cpuinfo,
		          "embstore_cpu_features() has %s and the OS saves its registers; /proc/cpuinfo does not list it",
		          x->flag);
	}
	/* The sets follow: usable exactly when the kernel lists everything they need. */
#if defined(__x86_64__)
	int avx2 = listed(flags, "avx") && listed(flags, "avx2") && listed(flags, "fma") && listed(flags, "f16c");
	int avx512 = avx2 && listed(flags, "avx512f") && listed(flags, "avx512bw") && listed(flags, "avx512vl");
	cr_expect_eq(embstore_isa_supported(EMBSTORE_ISA_AVX2) != 0, avx2, "avx2 usable: %d, /proc/cpuinfo: %d",
	             embstore_isa_supported(EMBSTORE_ISA_AVX2), avx2);
	cr_expect_eq(embstore_isa_supported(EMBSTORE_ISA_AVX512) != 0, avx512, "avx512 usable: %d, /proc/cpuinfo: %d",
	             embstore_isa_supported(EMBSTORE_ISA_AVX512), avx512);
#else
	int neon = listed(flags, "asimd");
	cr_expect_eq(embstore_isa_supported(EMBSTORE_ISA_NEON) != 0, neon, "neon usable: %d, /proc/cpuinfo: %d",
	             embstore_isa_supported(EMBSTORE_ISA_NEON), neon);
#endif
	free(flags);
}

#endif
