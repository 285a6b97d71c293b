/* rng.h: splitmix64, the deterministic pseudo-random numbers of every test (tests/ and tests/aarch64/). */
#ifndef EMBSTORE_TEST_RNG_H
#define EMBSTORE_TEST_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline float rng_unit(uint64_t *state)
{
	return (float)((double)(rng_next(state) >> 11) * 0x1p-52 - 1.0);
}

#endif
