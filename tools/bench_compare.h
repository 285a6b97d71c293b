/* bench_compare.h: `embstore bench --compare`, two runs of `embstore bench --json` side by side. */
#ifndef EMBSTORE_BENCH_COMPARE_H
#define EMBSTORE_BENCH_COMPARE_H

/* Prints both runs' machine, compiler, kernel set and page state, then every figure of either with B / A.
 * Returns the exit status: 1 for a file that is not such a run, 2 for one that cannot be read. */
int bench_compare(const char *path_a, const char *path_b);

#endif
