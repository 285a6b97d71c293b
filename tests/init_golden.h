/* init_golden.h: XXH3-64 of tables drawn by embstore_writer_init_table (f32, rows in order), as every machine must
 * draw them: test_init checks them on this machine, tests/aarch64/check_store.c under qemu on aarch64. */
#ifndef EMBSTORE_INIT_GOLDEN_H
#define EMBSTORE_INIT_GOLDEN_H

#include <stdint.h>

#include "embstore.h"

static const struct init_golden_case {
	embstore_init_kind kind;
	double scale;
	uint64_t seed;
	uint64_t rows;
	uint32_t dim;
	uint64_t xxh3;
} init_golden[] = {
	{EMBSTORE_INIT_NORMAL, 1.0, 0, 64, 33, 0x7f54f8f3cc186d46u},
	{EMBSTORE_INIT_NORMAL, 0.02, 42, 1000, 128, 0x6831fe19cf0edbe4u},
	{EMBSTORE_INIT_UNIFORM, 0.05, 7, 500, 300, 0x6986ce3c8f1f5503u},
};

#endif
