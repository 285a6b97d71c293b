/* test_isa_equivalence.c: every SIMD kernel set this build compiles against the scalar reference: gather,
 * scatter-add and the sparse optimizer steps bitwise, bags bitwise wherever scalar's result is not a NaN (and a
 * NaN where it is), conversions, quantised rows and out-of-range ids, with canaries around every output and table.
 * The cases are shared with the AArch64 checker (kernel_cases.h). A set is tested only where it is compiled
 * (x86-64: avx2, avx512; AArch64: neon), and its tests are skipped, not passed, on a CPU that cannot run it. */
#include <criterion/criterion.h>

#include "kernel_cases.h"

static const embstore_kernel_table *set_or_skip(embstore_isa isa)
{
	const embstore_kernel_table *k = embstore_kernels_for(isa);
	if (!k)
		cr_skip_test("this CPU cannot run the %s kernels", embstore_isa_name(isa));
	return k;
}

/* The tests of one set: suite `set`, each test running one case loop of kernel_cases.h against it. */
#define SET_TEST(set, isa, name, cases)                                                                        \
	Test(set, name)                                                                                            \
	{                                                                                                          \
		cases(set_or_skip(isa));                                                                               \
	}

#define SET_TESTS(set, isa)                                                                                    \
	SET_TEST(set, isa, gather_matches_scalar, kc_gather_all_shapes)                                            \
	SET_TEST(set, isa, streamed_gather_matches_scalar, kc_gather_streamed)                                     \
	SET_TEST(set, isa, gather_rows_matches_scalar, kc_gather_rows)                                             \
	SET_TEST(set, isa, streamed_narrow_gather_matches_scalar, kc_gather_narrow_streamed)                       \
	SET_TEST(set, isa, bag_matches_scalar, kc_bag_all_shapes)                                                  \
	SET_TEST(set, isa, bag_special_values_match_scalar, kc_bag_special_values)                                 \
	SET_TEST(set, isa, bag_nan_meeting_nan_gives_nan, kc_bag_nan_meets_nan)                                    \
	SET_TEST(set, isa, scatter_add_matches_scalar, kc_scatter_add_all_shapes)                                  \
	SET_TEST(set, isa, sgd_matches_scalar, kc_sgd_all_shapes)                                                  \
	SET_TEST(set, isa, rowwise_adagrad_matches_scalar, kc_rowwise_adagrad_all_shapes)                          \
	SET_TEST(set, isa, conversions_match_convert_c, kc_conversions)                                            \
	SET_TEST(set, isa, int8_rows_from_quantizer, kc_int8_from_quantizer)                                       \
	SET_TEST(set, isa, out_of_range_ids, kc_out_of_range)

#if defined(__x86_64__)
SET_TESTS(avx2, EMBSTORE_ISA_AVX2)
SET_TESTS(avx512, EMBSTORE_ISA_AVX512)
#elif defined(__aarch64__)
SET_TESTS(neon, EMBSTORE_ISA_NEON)
#endif
