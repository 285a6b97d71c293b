/* check_kernels.c: self-checking test of the NEON kernels against the scalar reference, for AArch64 under
 * qemu-user (tools/test-aarch64.sh). Plain C: Debian's arm64 Criterion cannot be installed beside the amd64 one.
 * Link it statically: dynamically linked AArch64 programs that start threads hang under Debian 12's qemu-user.
 * Prints "N passed, M failed" last and exits non-zero on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embstore.h"
#include "kernels.h"
#include "../rng.h"

static unsigned passed, failed;

#define CHECK(cond, ...)                                                                                       \
	do {                                                                                                       \
		if (cond) {                                                                                            \
			passed++;                                                                                          \
		} else {                                                                                               \
			if (failed++ < 30) {                                                                               \
				printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                    \
				printf(__VA_ARGS__);                                                                           \
				printf("\n");                                                                                  \
			}                                                                                                  \
		}                                                                                                      \
	} while (0)

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
	return rng_next(&rng);
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static float unit(void)
{
	return rng_unit(&rng);
}

#define GUARD 8
#define SENTINEL 0x7fa5a5a5u

static size_t elem_size(embstore_dtype dt)
{
	return dt == EMBSTORE_F32 ? 4 : dt == EMBSTORE_INT8_ROWWISE ? 1 : 2;
}

/* rows x dim of dtype, `pad` extra elements per row; raw: any bits, else finite |v| < 4. Returns the memory. */
static unsigned char *make_table(embstore_matrix *m, embstore_dtype dt, uint64_t rows, uint32_t dim, size_t pad,
                                 int raw)
{
	size_t stride = (size_t)embstore_row_bytes(dt, dim) + pad * elem_size(dt);
	unsigned char *mem = malloc(rows * stride + GUARD);
	if (!mem)
		abort();
	for (size_t i = 0; i < rows * stride + GUARD; i++)
		mem[i] = (unsigned char)rnd();
	for (uint64_t r = 0; r < rows; r++) {
		unsigned char *row = mem + r * stride;
		for (uint32_t j = 0; j < dim; j++) {
			if (dt == EMBSTORE_F32) {
				uint32_t u = raw ? (uint32_t)rnd() : (uint32_t)(below(2) << 31 | below(129) << 23 | (rnd() & 0x7fffff));
				memcpy(row + 4 * (size_t)j, &u, 4);
			} else if (dt == EMBSTORE_F16) {
				uint16_t h = raw ? (uint16_t)rnd() : (uint16_t)(below(2) << 15 | below(17) << 10 | (rnd() & 0x3ff));
				memcpy(row + 2 * (size_t)j, &h, 2);
			} else if (dt == EMBSTORE_BF16) {
				uint16_t h = raw ? (uint16_t)rnd() : (uint16_t)(below(2) << 15 | below(129) << 7 | (rnd() & 0x7f));
				memcpy(row + 2 * (size_t)j, &h, 2);
			}
		}
		if (dt == EMBSTORE_INT8_ROWWISE) {
			float scale = unit() * 0.05f, bias = unit() * 3.0f;
			memcpy(row + dim, &scale, 4);
			memcpy(row + dim + 4, &bias, 4);
		}
	}
	*m = (embstore_matrix){.data = mem, .rows = rows, .row_stride = stride, .dim = dim, .dtype = dt};
	return mem;
}

static void *make_ids(size_t n, uint64_t rows, int wide)
{
	void *ids = malloc((n ? n : 1) * 8);
	if (!ids)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (wide)
			((int64_t *)ids)[i] = (int64_t)below(rows);
		else
			((int32_t *)ids)[i] = (int32_t)below(rows);
	}
	return ids;
}

static void put_id(void *ids, int wide, size_t i, int64_t v)
{
	if (wide)
		((int64_t *)ids)[i] = v;
	else
		((int32_t *)ids)[i] = (int32_t)v;
}

/* n floats at base + GUARD + 1 (4-byte aligned only), sentinels around. */
static float *make_out(size_t n, float **base)
{
	*base = malloc((n + 2 * GUARD + 1) * 4);
	if (!*base)
		abort();
	for (size_t i = 0; i < n + 2 * GUARD + 1; i++) {
		uint32_t s = SENTINEL;
		memcpy(&(*base)[i], &s, 4);
	}
	return *base + GUARD + 1;
}

static int sentinels_intact(const float *base, size_t n)
{
	for (size_t i = 0; i < n + 2 * GUARD + 1; i++) {
		if (i >= GUARD + 1 && i < GUARD + 1 + n)
			continue;
		uint32_t u;
		memcpy(&u, &base[i], 4);
		if (u != SENTINEL)
			return 0;
	}
	return 1;
}

static int close_enough(const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double x = a[i], y = b[i];
		if (!(fabs(x - y) <= 1e-5 * fmax(fabs(x), fabs(y)) + 1e-6) && !(isnan(x) && isnan(y)))
			return 0;
	}
	return 1;
}

static const embstore_dtype dtypes[4] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE};
static const uint32_t big_dims[] = {127, 128, 129, 257, 1031};

static uint32_t dim_at(size_t i)
{
	return i < 70 ? (uint32_t)i + 1 : big_dims[i - 70];
}
#define N_DIMS (70 + sizeof big_dims / sizeof big_dims[0])

static void check_gather(const embstore_kernel_table *s, const embstore_kernel_table *k)
{
	for (size_t d = 0; d < N_DIMS; d++) {
		for (int ti = 0; ti < 4; ti++) {
			for (int wide = 0; wide < 2; wide++) {
				uint32_t dim = dim_at(d);
				embstore_matrix m;
				unsigned char *mem = make_table(&m, dtypes[ti], 1 + below(50), dim, below(3), (int)below(2));
				size_t n = below(30), bad;
				void *ids = make_ids(n, m.rows, wide);
				float *wb, *gb;
				float *want = make_out(n * dim, &wb), *got = make_out(n * dim, &gb);
				embstore_id_type it = wide ? EMBSTORE_ID64 : EMBSTORE_ID32;
				CHECK(s->gather(&m, ids, it, n, want, &bad) == EMBSTORE_OK, "scalar gather");
				CHECK(k->gather(&m, ids, it, n, got, &bad) == EMBSTORE_OK, "neon gather");
				CHECK(memcmp(want, got, n * dim * 4) == 0, "gather %s dim %u id%d differs",
				      embstore_dtype_name(dtypes[ti]), dim, wide ? 64 : 32);
				CHECK(sentinels_intact(gb, n * dim), "gather %s dim %u wrote outside the output",
				      embstore_dtype_name(dtypes[ti]), dim);
				free(wb);
				free(gb);
				free(ids);
				free(mem);
			}
		}
	}
}

static void check_bags(const embstore_kernel_table *s, const embstore_kernel_table *k)
{
	for (size_t d = 0; d < N_DIMS; d++) {
		for (int ti = 0; ti < 4; ti++) {
			for (int mode = 0; mode < 3; mode++) {
				uint32_t dim = dim_at(d);
				int wide = (int)below(2), weighted = (int)below(2);
				embstore_matrix m;
				unsigned char *mem = make_table(&m, dtypes[ti], 1 + below(40), dim, below(2), 0);
				size_t n_bags = below(8);
				int64_t offsets[9] = {0};
				for (size_t b = 0; b < n_bags; b++)
					offsets[b + 1] = offsets[b] + (int64_t)below(7);
				size_t n_ids = (size_t)offsets[n_bags], bad;
				void *ids = make_ids(n_ids, m.rows, wide);
				float weights[64];
				for (size_t i = 0; i < n_ids; i++)
					weights[i] = unit() * 2.0f;
				float *wb, *gb;
				float *want = make_out(n_bags * dim, &wb), *got = make_out(n_bags * dim, &gb);
				embstore_id_type it = wide ? EMBSTORE_ID64 : EMBSTORE_ID32;
				const float *w = weighted ? weights : NULL;
				CHECK(s->gather_bag(&m, ids, it, offsets, n_bags, w, (embstore_bag_mode)mode, want, &bad) ==
				          EMBSTORE_OK, "scalar bag");
				CHECK(k->gather_bag(&m, ids, it, offsets, n_bags, w, (embstore_bag_mode)mode, got, &bad) ==
				          EMBSTORE_OK, "neon bag");
				CHECK(close_enough(want, got, n_bags * dim), "bag %s dim %u mode %d weighted %d differs",
				      embstore_dtype_name(dtypes[ti]), dim, mode, weighted);
				CHECK(sentinels_intact(gb, n_bags * dim), "bag wrote outside the output");
				free(wb);
				free(gb);
				free(ids);
				free(mem);
			}
		}
	}
	/* NaN and signed zeros: max and sum follow scalar.c bit for bit. */
	static const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7fc00000u, 0xffc00001u, 0x7f800000u,
	                                    0x3f800000u, 0xbf800000u};
	float table[5][7];
	for (int r = 0; r < 5; r++)
		for (int j = 0; j < 7; j++)
			memcpy(&table[r][j], &specials[(r * 3 + j) % 7], 4);
	embstore_matrix m = {.data = table, .rows = 5, .row_stride = 28, .dim = 7, .dtype = EMBSTORE_F32};
	int32_t ids[8] = {0, 1, 2, 3, 4, 4, 2, 0};
	int64_t offsets[3] = {0, 3, 8};
	for (int mode = 0; mode < 3; mode++) {
		float want[14], got[14];
		size_t bad;
		s->gather_bag(&m, ids, EMBSTORE_ID32, offsets, 2, NULL, (embstore_bag_mode)mode, want, &bad);
		k->gather_bag(&m, ids, EMBSTORE_ID32, offsets, 2, NULL, (embstore_bag_mode)mode, got, &bad);
		CHECK(memcmp(want, got, sizeof want) == 0, "bag mode %d with NaN / signed zeros differs", mode);
	}
}

static void check_scatter(const embstore_kernel_table *s, const embstore_kernel_table *k)
{
	for (size_t d = 0; d < N_DIMS; d++) {
		for (int wide = 0; wide < 2; wide++) {
			uint32_t dim = dim_at(d);
			embstore_matrix a, b;
			unsigned char *ma = make_table(&a, EMBSTORE_F32, 1 + below(20), dim, below(3), 0);
			size_t bytes = (size_t)(a.rows * a.row_stride) + GUARD;
			unsigned char *mb = malloc(bytes);
			if (!mb)
				abort();
			memcpy(mb, ma, bytes);
			b = a;
			b.data = mb;
			size_t n = below(80), bad;
			void *ids = make_ids(n, a.rows, wide);
			float *grads = malloc((n * dim + 1) * 4);
			if (!grads)
				abort();
			for (size_t i = 0; i < n * dim; i++)
				grads[i] = unit();
			uint64_t lo = below(a.rows), hi = d & 1 ? a.rows : lo + below(a.rows - lo + 1);
			embstore_id_type it = wide ? EMBSTORE_ID64 : EMBSTORE_ID32;
			CHECK(s->scatter_add(&a, ids, it, n, grads, -0.37f, lo, hi, &bad) == EMBSTORE_OK, "scalar scatter");
			CHECK(k->scatter_add(&b, ids, it, n, grads, -0.37f, lo, hi, &bad) == EMBSTORE_OK, "neon scatter");
			CHECK(memcmp(ma, mb, bytes) == 0, "scatter-add dim %u id%d differs", dim, wide ? 64 : 32);
			free(grads);
			free(ids);
			free(ma);
			free(mb);
		}
	}
}

static void check_out_of_range(const embstore_kernel_table *k)
{
	static const int64_t bads[] = {-1, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, (int64_t)1 << 32};
	for (int ti = 0; ti < 4; ti++) {
		for (int wide = 0; wide < 2; wide++) {
			for (size_t bi = 0; bi < (wide ? 7u : 4u); bi++) {
				uint32_t dim = 1 + (uint32_t)below(30);
				embstore_matrix m;
				unsigned char *mem = make_table(&m, dtypes[ti], 1 + below(10), dim, 0, 0);
				int64_t badv = bi == 0 ? (int64_t)m.rows : bads[bi - 1];
				size_t bytes = (size_t)(m.rows * m.row_stride) + GUARD;
				unsigned char *orig = malloc(bytes);
				if (!orig)
					abort();
				memcpy(orig, mem, bytes);
				size_t n = 1 + below(20), pos = below(n), bad = SIZE_MAX;
				void *ids = make_ids(n, m.rows, wide);
				put_id(ids, wide, pos, badv);
				embstore_id_type it = wide ? EMBSTORE_ID64 : EMBSTORE_ID32;
				float *base;
				float *out = make_out(n * dim, &base);
				CHECK(k->gather(&m, ids, it, n, out, &bad) == EMBSTORE_ID_OUT_OF_RANGE && bad == pos,
				      "gather bad id %lld at %zu: bad_index %zu", (long long)badv, pos, bad);
				int untouched = sentinels_intact(base, n * dim);
				for (size_t i = pos * dim; i < n * dim; i++) {
					uint32_t u;
					memcpy(&u, &out[i], 4);
					untouched &= u == SENTINEL;
				}
				CHECK(untouched, "gather wrote for or after the bad id");
				int64_t offsets[2] = {0, (int64_t)n};
				for (int mode = 0; mode < 3; mode++) {
					bad = SIZE_MAX;
					CHECK(k->gather_bag(&m, ids, it, offsets, 1, NULL, (embstore_bag_mode)mode, out, &bad) ==
					              EMBSTORE_ID_OUT_OF_RANGE && bad == pos,
					      "bag bad id at %zu: %zu", pos, bad);
					CHECK(sentinels_intact(base, n * dim), "bag wrote outside the output");
				}
				if (dtypes[ti] == EMBSTORE_F32) {
					float *grads = malloc(n * dim * 4);
					if (!grads)
						abort();
					for (size_t i = 0; i < n * dim; i++)
						grads[i] = 1.0f;
					bad = SIZE_MAX;
					embstore_matrix ref = m;
					unsigned char *refmem = malloc(bytes);
					if (!refmem)
						abort();
					memcpy(refmem, orig, bytes);
					ref.data = refmem;
					size_t ignored;
					if (pos > 0)
						embstore_kernels_scalar.scatter_add(&ref, ids, it, pos, grads, 1.0f, 0, m.rows, &ignored);
					CHECK(k->scatter_add(&m, ids, it, n, grads, 1.0f, 0, m.rows, &bad) == EMBSTORE_ID_OUT_OF_RANGE &&
					          bad == pos,
					      "scatter bad id at %zu: %zu", pos, bad);
					CHECK(memcmp(refmem, mem, bytes) == 0, "scatter-add wrote for or after the bad id");
					free(refmem);
					free(grads);
				} else {
					CHECK(memcmp(orig, mem, bytes) == 0, "gather or bag wrote to the table");
				}
				free(base);
				free(ids);
				free(orig);
				free(mem);
			}
		}
	}
}

/* The public calls (the active set), parallel against one thread. */
static void check_mt(void)
{
	static const unsigned threads[] = {0, 2, 3, 7};
	enum { DIM = 24 };
	for (int ti = 0; ti < 4; ti++) {
		embstore_matrix m;
		unsigned char *mem = make_table(&m, dtypes[ti], 500, DIM, 0, 0);
		size_t n = 12000, bad;
		void *ids = make_ids(n, m.rows, ti & 1);
		embstore_id_type it = ti & 1 ? EMBSTORE_ID64 : EMBSTORE_ID32;
		float *want = malloc(n * DIM * 4), *got = malloc(n * DIM * 4);
		if (!want || !got)
			abort();
		int64_t offsets[1001];
		offsets[0] = 0;
		for (int b = 0; b < 1000; b++)
			offsets[b + 1] = b == 999 ? (int64_t)n : offsets[b] + (int64_t)below(20);
		CHECK(embstore_gather(&m, ids, it, n, want, &bad) == EMBSTORE_OK, "gather");
		for (size_t t = 0; t < 4; t++) {
			CHECK(embstore_gather_mt(&m, ids, it, n, got, &bad, threads[t]) == EMBSTORE_OK, "gather_mt");
			CHECK(memcmp(want, got, n * DIM * 4) == 0, "gather_mt %u threads differs", threads[t]);
		}
		for (int mode = 0; mode < 3; mode++) {
			CHECK(embstore_gather_bag(&m, ids, it, n, offsets, 1000, NULL, (embstore_bag_mode)mode, want, &bad) ==
			          EMBSTORE_OK, "bag");
			for (size_t t = 0; t < 4; t++) {
				CHECK(embstore_gather_bag_mt(&m, ids, it, n, offsets, 1000, NULL, (embstore_bag_mode)mode, got, &bad,
				                             threads[t]) == EMBSTORE_OK, "bag_mt");
				CHECK(memcmp(want, got, 1000 * DIM * 4) == 0, "gather_bag_mt %u threads mode %d differs", threads[t],
				      mode);
			}
		}
		put_id(ids, ti & 1, 9000, -1);
		put_id(ids, ti & 1, 5000, 500);
		for (size_t t = 0; t < 4; t++) {
			bad = 0;
			CHECK(embstore_gather_mt(&m, ids, it, n, got, &bad, threads[t]) == EMBSTORE_ID_OUT_OF_RANGE && bad == 5000,
			      "gather_mt bad id: %zu", bad);
		}
		free(want);
		free(got);
		free(ids);
		free(mem);
	}
	/* Scatter-add with many duplicates, bitwise. */
	embstore_matrix base;
	unsigned char *bmem = make_table(&base, EMBSTORE_F32, 37, DIM, 1, 0);
	size_t bytes = (size_t)(base.rows * base.row_stride), n = 20000, bad;
	void *ids = make_ids(n, base.rows, 1);
	float *grads = malloc(n * DIM * 4);
	unsigned char *want = malloc(bytes), *got = malloc(bytes);
	if (!grads || !want || !got)
		abort();
	for (size_t i = 0; i < n * DIM; i++)
		grads[i] = unit();
	embstore_matrix m = base;
	memcpy(want, bmem, bytes);
	m.data = want;
	CHECK(embstore_scatter_add(&m, ids, EMBSTORE_ID64, n, grads, -0.5f, &bad) == EMBSTORE_OK, "scatter_add");
	for (size_t t = 0; t < 4; t++) {
		memcpy(got, bmem, bytes);
		m.data = got;
		CHECK(embstore_scatter_add_mt(&m, ids, EMBSTORE_ID64, n, grads, -0.5f, &bad, threads[t]) == EMBSTORE_OK,
		      "scatter_add_mt");
		CHECK(memcmp(want, got, bytes) == 0, "scatter_add_mt %u threads differs", threads[t]);
	}
	put_id(ids, 1, 15000, 37);
	put_id(ids, 1, 7000, -3);
	for (size_t t = 0; t < 4; t++) {
		bad = 0;
		CHECK(embstore_scatter_add_mt(&m, ids, EMBSTORE_ID64, n, grads, -0.5f, &bad, threads[t]) ==
		              EMBSTORE_ID_OUT_OF_RANGE && bad == 7000,
		      "scatter_add_mt bad id: %zu", bad);
	}
	free(grads);
	free(want);
	free(got);
	free(ids);
	free(bmem);
}

int main(void)
{
	const embstore_kernel_table *s = embstore_kernels_for(EMBSTORE_ISA_SCALAR);
	const embstore_kernel_table *k = embstore_kernels_for(EMBSTORE_ISA_NEON);
	embstore_isa active;
	const char *env = getenv("EMBSTORE_ISA");
	CHECK(s != NULL, "scalar kernels missing");
	CHECK(k != NULL, "neon kernels missing or not supported");
	CHECK(embstore_isa_active(&active) == EMBSTORE_OK, "no active kernel set");
	printf("active kernel set: %s (EMBSTORE_ISA=%s)\n", embstore_isa_name(active), env ? env : "unset");
	if (!env)
		CHECK(active == EMBSTORE_ISA_NEON, "neon should be the default");
	CHECK(embstore_isa_set(EMBSTORE_ISA_AVX2) == EMBSTORE_UNSUPPORTED_ISA, "avx2 accepted on AArch64");
	CHECK(embstore_isa_active(&active) == EMBSTORE_OK, "active after refused set");
	if (s && k) {
		check_gather(s, k);
		check_bags(s, k);
		check_scatter(s, k);
		check_out_of_range(k);
		check_out_of_range(s);
		check_mt();
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
