/* check_kernels.c: self-checking test of the NEON kernels against the scalar reference, for AArch64 under
 * qemu-user (tools/test-aarch64.sh). Plain C: Debian's arm64 Criterion cannot be installed beside the amd64 one.
 * It runs the same cases as the Criterion programs (../kernel_cases.h): neon against scalar, out-of-range ids on
 * both sets, and the parallel public calls on the active set; and it checks the kernel-set choice.
 * Link it statically: dynamically linked AArch64 programs that start threads hang under Debian 12's qemu-user.
 * Prints "N passed, M failed" last and exits non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>

#include "../kernel_cases.h"

static unsigned failed;

void kc_failed(const char *file, int line, const char *msg)
{
	if (failed++ < 30)
		printf("FAIL %s:%d: %s\n", file, line, msg);
}

int main(void)
{
	const embstore_kernel_table *s = embstore_kernels_for(EMBSTORE_ISA_SCALAR);
	const embstore_kernel_table *k = embstore_kernels_for(EMBSTORE_ISA_NEON);
	embstore_isa active;
	const char *env = getenv("EMBSTORE_ISA");
	KC_CHECK(s != NULL, "scalar kernels missing");
	KC_CHECK(k != NULL, "neon kernels missing or not supported");
	KC_CHECK(embstore_isa_active(&active) == EMBSTORE_OK, "no active kernel set");
	printf("active kernel set: %s (EMBSTORE_ISA=%s)\n", embstore_isa_name(active), env ? env : "unset");
	if (!env)
		KC_CHECK(active == EMBSTORE_ISA_NEON, "neon should be the default");
	KC_CHECK(embstore_isa_set(EMBSTORE_ISA_AVX2) == EMBSTORE_UNSUPPORTED_ISA, "avx2 accepted on AArch64");
	KC_CHECK(embstore_isa_active(&active) == EMBSTORE_OK, "active after refused set");
	if (s && k) {
		kc_gather_all_shapes(k);
		kc_gather_rows(k);
		kc_bag_all_shapes(k);
		kc_bag_special_values(k);
		kc_bag_nan_meets_nan(k);
		kc_scatter_add_all_shapes(k);
		kc_sgd_all_shapes(k);
		kc_rowwise_adagrad_all_shapes(k);
		kc_conversions(k);
		kc_conversions(s);
		kc_int8_from_quantizer(k);
		kc_int8_from_quantizer(s);
		kc_out_of_range(k);
		kc_out_of_range(s);
		kc_threads_gather_and_bag();
		kc_threads_scatter_add();
	}
	printf("%lu passed, %u failed\n", kc_passed, failed);
	return failed ? 1 : 0;
}
