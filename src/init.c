/* init.c: fresh tables filled with random values, as an Embedding layer starts. The values depend on the seed and
 * the row only: every machine, compiler and kernel set writes the same bytes, whatever the batch size. So nothing
 * here may round differently from one build to another: only IEEE basic operations in double (compiled with
 * -ffp-contract=off, so that no a*b+c becomes a fused multiply-add on one target and not on another), sqrt, which
 * IEEE rounds correctly, and a logarithm of our own instead of libm's, whose last bit varies between libm
 * versions and architectures. */
#include <math.h>
#include <stdlib.h>

#include "init.h"
#include "util.h"

#define INIT_BATCH_BYTES (1u << 20)

/* SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit add and a bijective mix per value; it passes BigCrush. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t next64(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15u;
	return mix64(*state);
}

/* Each row has its own stream, started at a hashed point of the generator's 2^64 cycle, so a row's values do not
 * depend on how many values the rows before it consumed (the normal draw rejects some pairs). */
static uint64_t row_stream(uint64_t seed, uint64_t row)
{
	return mix64(mix64(seed) ^ row);
}

/* ln(x) for finite x > 0, within a few units in the last place of a double: x = m 2^e with m in [sqrt(1/2),
 * sqrt(2)), ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172, summed as s (1 + s^2/3 + s^4/5 + ...) to
 * s^26, where the next term is below 2^-70 of the sum. */
double es_init_log(double x)
{
	int e;
	double m = frexp(x, &e);
	if (m < 0.70710678118654752440) {
		m *= 2.0;
		e -= 1;
	}
	double s = (m - 1.0) / (m + 1.0);
	double s2 = s * s;
	double p = 1.0 / 27.0;
	for (int k = 12; k >= 0; k--)
		p = p * s2 + 1.0 / (double)(2 * k + 1);
	return (double)e * 0.69314718055994530942 + 2.0 * s * p;
}

/* Uniform on [-scale, scale): 24 random bits make a float in [0, 1) exactly; 2u - 1 is exact in double. */
static void fill_uniform(float *row, uint32_t dim, uint64_t *state, double scale)
{
	for (uint32_t j = 0; j < dim; j++) {
		double u = (double)(next64(state) >> 40) * 0x1p-24;
		row[j] = (float)(scale * (2.0 * u - 1.0));
	}
}

/* Normal (0, std^2) by Marsaglia's polar method: a point (a, b) uniform in the unit disc gives two independent
 * normals a f and b f, f = sqrt(-2 ln s / s), s = a^2 + b^2. The second of the last pair of an odd row is
 * dropped. */
static void fill_normal(float *row, uint32_t dim, uint64_t *state, double std)
{
	for (uint32_t j = 0; j < dim; j += 2) {
		double a, b, s;
		do {
			a = (double)(next64(state) >> 11) * 0x1p-52 - 1.0;
			b = (double)(next64(state) >> 11) * 0x1p-52 - 1.0;
			s = a * a + b * b;
		} while (s >= 1.0 || s == 0.0);
		double f = sqrt(-2.0 * es_init_log(s) / s);
		row[j] = (float)(std * (a * f));
		if (j + 1 < dim)
			row[j + 1] = (float)(std * (b * f));
	}
}

embstore_status embstore_writer_init_table(embstore_writer *w, const char *name, embstore_dtype dtype, uint64_t rows,
                                           uint32_t dim, const embstore_init *init)
{
	es_detail_clear();
	ES_CHECK(w && name && init && rows >= 1 && dim >= 1, EMBSTORE_INVALID_ARGUMENT);
	ES_CHECKF(init->kind == EMBSTORE_INIT_ZEROS || init->kind == EMBSTORE_INIT_NORMAL ||
	              init->kind == EMBSTORE_INIT_UNIFORM,
	          EMBSTORE_INVALID_ARGUMENT, "unknown initialiser %d", (int)init->kind);
	/* A scale whose values overflow f32 (or a negative one) is a mistake, not a request to saturate. */
	ES_CHECKF(init->kind == EMBSTORE_INIT_ZEROS || (isfinite(init->scale) && init->scale >= 0.0 &&
	                                                init->scale <= 1e30),
	          EMBSTORE_INVALID_ARGUMENT, "scale %g: expected a finite value from 0 to 1e30", init->scale);
	ES_TRY(embstore_writer_begin_table(w, name, dtype, rows, dim));

	uint64_t per_batch = INIT_BATCH_BYTES / ((uint64_t)dim * sizeof(float));
	if (per_batch == 0)
		per_batch = 1;
	if (per_batch > rows)
		per_batch = rows;
	float *buf = calloc((size_t)per_batch, (size_t)dim * sizeof(float));
	ES_CHECK(buf, EMBSTORE_NO_MEMORY);
	embstore_status st = EMBSTORE_OK;
	for (uint64_t done = 0; done < rows && st == EMBSTORE_OK;) {
		uint64_t k = rows - done < per_batch ? rows - done : per_batch;
		for (uint64_t i = 0; i < k && init->kind != EMBSTORE_INIT_ZEROS; i++) {
			uint64_t state = row_stream(init->seed, done + i);
			float *row = buf + i * dim;
			if (init->kind == EMBSTORE_INIT_NORMAL)
				fill_normal(row, dim, &state, init->scale);
			else
				fill_uniform(row, dim, &state, init->scale);
		}
		st = embstore_writer_append(w, buf, EMBSTORE_F32, k, 0);
		done += k;
	}
	free(buf);
	return st;
}
