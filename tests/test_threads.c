/* test_threads.c: the parallel public calls (embstore_gather_mt, _gather_bag_mt, _scatter_add_mt) give one
 * thread's results bit for bit, at every thread count, and report the first bad id as one thread does. Shared
 * with the AArch64 checker (kernel_cases.h). */
#include <criterion/criterion.h>

#include "kernel_cases.h"

Test(threads, gather_and_bag_equal_one_thread)
{
	kc_threads_gather_and_bag();
}

Test(threads, scatter_add_equals_one_thread)
{
	kc_threads_scatter_add();
}
