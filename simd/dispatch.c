/* dispatch.c: chooses the kernel set once (best supported, or EMBSTORE_ISA) and publishes it atomically. */
#if defined(__AVX__)
#error "dispatch.c runs before any CPU check and must be compiled for the baseline CPU (no -mavx, no -march=native)"
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "embstore.h"
#include "kernels.h"

/* What each set needs from CPUID and from the OS (XCR0). The AVX2 kernels also use FMA and F16C; the AVX-512 ones
 * use AVX-512 F/BW/VL on top of the AVX2 set. */
#define NEED_AVX2                                                                                              \
	(ES_CPU_BIT(ES_CPU_AVX) | ES_CPU_BIT(ES_CPU_AVX2) | ES_CPU_BIT(ES_CPU_FMA) | ES_CPU_BIT(ES_CPU_F16C) |     \
	 ES_CPU_BIT(ES_CPU_OS_YMM))
#define NEED_AVX512                                                                                            \
	(NEED_AVX2 | ES_CPU_BIT(ES_CPU_AVX512F) | ES_CPU_BIT(ES_CPU_AVX512BW) | ES_CPU_BIT(ES_CPU_AVX512VL) |      \
	 ES_CPU_BIT(ES_CPU_OS_ZMM))
#define NEED_NEON ES_CPU_BIT(ES_CPU_NEON)

static const char *const isa_names[EMBSTORE_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

/* The sets this build has, by embstore_isa value. */
static const embstore_kernel_table *const built[EMBSTORE_ISA_COUNT] = {
	&embstore_kernels_scalar,
#ifdef EMBSTORE_HAVE_AVX2
	&embstore_kernels_avx2,
#else
	NULL,
#endif
#ifdef EMBSTORE_HAVE_AVX512
	&embstore_kernels_avx512,
#else
	NULL,
#endif
#ifdef EMBSTORE_HAVE_NEON
	&embstore_kernels_neon,
#else
	NULL,
#endif
};

static const uint64_t needs[EMBSTORE_ISA_COUNT] = {0, NEED_AVX2, NEED_AVX512, NEED_NEON};

const embstore_kernel_table *embstore_kernels_for(embstore_isa isa)
{
	if ((unsigned)isa >= EMBSTORE_ISA_COUNT || built[isa] == NULL)
		return NULL;
	if ((embstore_cpu_features() & needs[isa]) != needs[isa])
		return NULL;
	return built[isa];
}

/* The table in force after EMBSTORE_ISA named an unusable set: every kernel refuses. */
static embstore_status refuse_gather(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                     size_t n, float *out, int stream, size_t *bad_index)
{
	(void)table, (void)ids, (void)id_type, (void)n, (void)out, (void)stream, (void)bad_index;
	return EMBSTORE_UNSUPPORTED_ISA;
}

static embstore_status refuse_gather_rows(const unsigned char *const *rows, size_t n, embstore_dtype dtype,
                                          uint32_t dim, float *out, int stream)
{
	(void)rows, (void)n, (void)dtype, (void)dim, (void)out, (void)stream;
	return EMBSTORE_UNSUPPORTED_ISA;
}

static embstore_status refuse_gather_bag(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                         const int64_t *offsets, size_t n_bags, const float *weights,
                                         embstore_bag_mode mode, float *out, size_t *bad_index)
{
	(void)table, (void)ids, (void)id_type, (void)offsets, (void)n_bags, (void)weights, (void)mode, (void)out;
	(void)bad_index;
	return EMBSTORE_UNSUPPORTED_ISA;
}

static embstore_status refuse_gather_narrow(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                            size_t n, embstore_dtype out_dtype, void *out, int stream,
                                            size_t *bad_index)
{
	(void)table, (void)ids, (void)id_type, (void)n, (void)out_dtype, (void)out, (void)stream, (void)bad_index;
	return EMBSTORE_UNSUPPORTED_ISA;
}

static embstore_status refuse_gather_bag_narrow(const embstore_matrix *table, const void *ids,
                                                embstore_id_type id_type, const int64_t *offsets, size_t n_bags,
                                                const float *weights, embstore_bag_mode mode,
                                                embstore_dtype out_dtype, void *out, size_t *bad_index)
{
	(void)table, (void)ids, (void)id_type, (void)offsets, (void)n_bags, (void)weights, (void)mode, (void)out_dtype;
	(void)out, (void)bad_index;
	return EMBSTORE_UNSUPPORTED_ISA;
}

static embstore_status refuse_scatter_add(const embstore_matrix *table, const void *ids, embstore_id_type id_type,
                                          size_t n, const float *grads, float alpha, uint64_t row_lo,
                                          uint64_t row_hi, size_t *bad_index)
{
	(void)table, (void)ids, (void)id_type, (void)n, (void)grads, (void)alpha, (void)row_lo, (void)row_hi;
	(void)bad_index;
	return EMBSTORE_UNSUPPORTED_ISA;
}

static const embstore_kernel_table refusing = {
	EMBSTORE_ISA_COUNT,
	refuse_gather,
	refuse_gather_rows,
	refuse_gather_bag,
	refuse_gather_narrow,
	refuse_gather_bag_narrow,
	refuse_scatter_add,
	NULL, /* the optimizer row kernels: optim.c refuses this table before it calls any */
	NULL,
	NULL,
};

/* NULL until resolved. Kernel calls read it with one acquire load; resolution and embstore_isa_set store a
 * pointer to an immutable table, so a thread sees either the old or the new table, whole. */
static _Atomic(const embstore_kernel_table *) active;
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
	/* Start from scalar and upgrade in embstore_isa order: avx2, then avx512 (x86) or neon (AArch64). */
	const embstore_kernel_table *t = &embstore_kernels_scalar;
	for (unsigned isa = EMBSTORE_ISA_SCALAR + 1; isa < EMBSTORE_ISA_COUNT; isa++) {
		const embstore_kernel_table *better = embstore_kernels_for((embstore_isa)isa);
		if (better)
			t = better;
	}
	/* An empty EMBSTORE_ISA counts as unset, as shells make "VAR=" easy to leave behind. */
	const char *env = getenv("EMBSTORE_ISA");
	if (env && *env) {
		embstore_isa isa;
		t = embstore_isa_parse(env, &isa) == EMBSTORE_OK ? embstore_kernels_for(isa) : NULL;
		if (!t)
			t = &refusing;
	}
	atomic_store_explicit(&active, t, memory_order_release);
}

const embstore_kernel_table *embstore_kernels_active(void)
{
	const embstore_kernel_table *t = atomic_load_explicit(&active, memory_order_acquire);
	if (t)
		return t;
	pthread_once(&resolve_once, resolve);
	return atomic_load_explicit(&active, memory_order_acquire);
}

const char *embstore_isa_name(embstore_isa isa)
{
	return (unsigned)isa < EMBSTORE_ISA_COUNT ? isa_names[isa] : NULL;
}

embstore_status embstore_isa_parse(const char *name, embstore_isa *out)
{
	if (!name || !out)
		return EMBSTORE_INVALID_ARGUMENT;
	for (unsigned isa = 0; isa < EMBSTORE_ISA_COUNT; isa++) {
		if (strcmp(name, isa_names[isa]) == 0) {
			*out = (embstore_isa)isa;
			return EMBSTORE_OK;
		}
	}
	return EMBSTORE_INVALID_ARGUMENT;
}

int embstore_isa_supported(embstore_isa isa)
{
	return embstore_kernels_for(isa) != NULL;
}

embstore_status embstore_isa_active(embstore_isa *out)
{
	if (!out)
		return EMBSTORE_INVALID_ARGUMENT;
	const embstore_kernel_table *t = embstore_kernels_active();
	if (t->isa == EMBSTORE_ISA_COUNT)
		return EMBSTORE_UNSUPPORTED_ISA;
	*out = t->isa;
	return EMBSTORE_OK;
}

embstore_status embstore_isa_set(embstore_isa isa)
{
	const embstore_kernel_table *t = embstore_kernels_for(isa);
	if (!t)
		return EMBSTORE_UNSUPPORTED_ISA;
	/* Resolve first, so that a first kernel call made later cannot overwrite this choice. */
	pthread_once(&resolve_once, resolve);
	atomic_store_explicit(&active, t, memory_order_release);
	return EMBSTORE_OK;
}
