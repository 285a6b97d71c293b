/* mpi_check.c: libembstore_mpi under mpirun with any number of ranks (ctest runs it with 1 to 4). Rank 0
 * writes a store and splits it into sets (by rows, by table, uneven); every rank opens the unsharded store too,
 * and every collective result must equal, bit for bit, the core call on it: gathers, bags pooled by the
 * requester, bags pooled by the owners (bitwise where the docs promise it, else within a tolerance), scatter-add
 * over the concatenation of all ranks' gradients. Then the failures: a bad id on one rank, different calls on
 * different ranks; lookups by key against the unsharded vocabulary, an unknown key on one rank; a shard missing, held twice, of another set, a file that does not open; every rank must get
 * the same status and nothing may be written. Plain C (Criterion forks, which MPI ranks must not); prints what
 * failed on stderr and exits 1. */
#include <embstore_mpi.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rank, size, failures;

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "rank %d/%d: FAIL: ", rank, size);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

#define CHECK(cond, ...)                                                                                        \
	do {                                                                                                        \
		if (!(cond))                                                                                            \
			fail(__VA_ARGS__);                                                                                  \
	} while (0)

/* Stops every rank at once when a step that the rest depends on failed on one. */
static void require(embstore_status st, const char *what)
{
	int bad = st != EMBSTORE_OK, any = 0;
	MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (bad)
		fprintf(stderr, "rank %d: %s: %s (%s / %s)\n", rank, what, embstore_status_name(st), embstore_error_detail(),
		        embstore_mpi_error_detail());
	if (any) {
		MPI_Finalize();
		exit(1);
	}
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Uniform in [-1, 1), never zero: max pooling then has no tie between -0 and +0. */
static float rng_float(uint64_t *s)
{
	float x = (float)(rng_next(s) >> 40) / 8388608.0f - 1.0f;
	return x == 0.0f ? 0.5f : x;
}

static char dir[256];

static char *path_of(const char *name)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static const struct {
	const char *name;
	embstore_dtype dtype;
	uint64_t rows;
	uint32_t dim;
	int keyed;
} tables[] = {
	{"f", EMBSTORE_F32, 1000, 16, 0}, {"h", EMBSTORE_F16, 37, 8, 0}, {"q", EMBSTORE_INT8_ROWWISE, 50, 12, 0},
	{"s", EMBSTORE_F32, 3, 4, 0}, /* fewer rows than shards: some shards of a split by rows lack it */
	{"v", EMBSTORE_F16, 90, 6, 1}, /* a vocabulary: row r's key is "key-r" */
};
#define N_TABLES 5
#define KEYED 4

static embstore_status write_whole(const char *path)
{
	uint64_t rng = 7;
	float v[64];
	embstore_writer *w;
	embstore_status st = embstore_writer_create(path, &w);
	for (int t = 0; st == EMBSTORE_OK && t < N_TABLES; t++) {
		st = embstore_writer_begin_table(w, tables[t].name, tables[t].dtype, tables[t].rows, tables[t].dim);
		for (uint64_t r = 0; st == EMBSTORE_OK && r < tables[t].rows; r++) {
			for (uint32_t j = 0; j < tables[t].dim; j++)
				v[j] = rng_float(&rng) * 4.0f;
			char key[32];
			const char *k = key;
			size_t len = (size_t)snprintf(key, sizeof key, "key-%llu", (unsigned long long)r);
			st = tables[t].keyed ? embstore_writer_append_keyed(w, v, EMBSTORE_F32, 1, 0, &k, &len)
			                     : embstore_writer_append(w, v, EMBSTORE_F32, 1, 0);
		}
	}
	if (st == EMBSTORE_OK)
		st = embstore_writer_finish(w);
	embstore_writer_free(w);
	return st;
}

static embstore_status split(const char *whole, const char *out, uint32_t count, embstore_shard_by by)
{
	embstore *s;
	embstore_status st = embstore_open(whole, 0, &s);
	if (st == EMBSTORE_OK)
		st = embstore_shard_split(s, path_of(out), count, by, 0);
	embstore_close(s);
	return st;
}

/* Rank 0 makes the files; the directory's name goes to every rank. */
static void make_files(void)
{
	embstore_status st = EMBSTORE_OK;
	if (rank == 0) {
		snprintf(dir, sizeof dir, "%s/embstore-mpi-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (mkdtemp(dir) == NULL)
			st = EMBSTORE_IO;
		if (st == EMBSTORE_OK)
			st = write_whole(path_of("w.emb"));
		if (st == EMBSTORE_OK)
			st = split(path_of("w.emb"), "rows.emb", 4, EMBSTORE_SHARD_BY_ROWS);
		if (st == EMBSTORE_OK)
			st = split(path_of("w.emb"), "table.emb", 4, EMBSTORE_SHARD_BY_TABLE);
		if (st == EMBSTORE_OK)
			st = split(path_of("w.emb"), "five.emb", 5, EMBSTORE_SHARD_BY_ROWS);
		if (st == EMBSTORE_OK)
			st = split(path_of("w.emb"), "train.emb", 4, EMBSTORE_SHARD_BY_ROWS);
	}
	MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
	require(st, "making the test files");
}

static void remove_files(void)
{
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank != 0)
		return;
	const char *sets[] = {"rows", "table", "train"};
	char name[64];
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof name, "%s-%05d-of-00004.emb", sets[s], i);
			unlink(path_of(name));
		}
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "five-%05d-of-00005.emb", i);
		unlink(path_of(name));
	}
	unlink(path_of("w.emb"));
	rmdir(dir);
}

/* The shards of set `base` (of `count`) that this rank takes: index % size == rank, or all on rank 0. */
static size_t my_shards(const char *base, int count, int all_on_zero, const char **paths)
{
	size_t n = 0;
	char name[64];
	for (int i = 0; i < count; i++) {
		if (all_on_zero ? rank != 0 : i % size != rank)
			continue;
		snprintf(name, sizeof name, "%s-%05d-of-%05d.emb", base, i, count);
		paths[n++] = path_of(name);
	}
	return n;
}

static embstore_mpi *open_set(const char *base, int count, int all_on_zero, unsigned flags)
{
	const char *paths[8];
	size_t n = my_shards(base, count, all_on_zero, paths);
	embstore_mpi *h = NULL;
	require(embstore_mpi_open(MPI_COMM_WORLD, paths, n, flags, &h), base);
	return h;
}

/* This rank's ids for a table of `rows`: rank 1 has none (when there are several), the others some hundreds,
 * with repeats, in a random order. */
static size_t my_ids(uint64_t rows, int64_t *ids, uint64_t seed)
{
	if (size > 1 && rank == 1)
		return 0;
	uint64_t s = seed * 1000003u + (uint64_t)rank * 7919u + 1;
	size_t n = 150 + 37 * (size_t)rank;
	for (size_t i = 0; i < n; i++)
		ids[i] = (int64_t)(rng_next(&s) % rows);
	return n;
}

/* Bags over n ids: lengths 0 to 9, the first one empty. */
static size_t my_bags(size_t n, int64_t *offsets, uint64_t seed)
{
	uint64_t s = seed + (uint64_t)rank + 11;
	size_t b = 0;
	offsets[0] = 0;
	offsets[++b] = 0;
	while ((size_t)offsets[b] < n) {
		size_t len = (size_t)(rng_next(&s) % 10);
		offsets[b + 1] = offsets[b] + (int64_t)(len < n - (size_t)offsets[b] ? len : n - (size_t)offsets[b]);
		b++;
	}
	return b;
}

enum { MAX_IDS = 400, MAX_DIM = 16 };
static int64_t ids[MAX_IDS], offsets[MAX_IDS + 2];
static int32_t ids32[MAX_IDS];
static float weights[MAX_IDS], want[MAX_IDS * MAX_DIM], got[MAX_IDS * MAX_DIM];

static void lookups(embstore_mpi *h, const embstore *whole, const char *label, int by_table)
{
	for (uint32_t t = 0; t < N_TABLES; t++) {
		embstore_table ref;
		embstore_set_table info;
		embstore_table_at(whole, t, &ref);
		CHECK(embstore_mpi_table_find(h, ref.name, &info) == EMBSTORE_OK && info.index == t &&
		      info.rows == ref.matrix.rows && info.dim == ref.matrix.dim, "%s: table %s", label, ref.name);
		size_t n = my_ids(ref.matrix.rows, ids, t), dim = ref.matrix.dim;
		for (size_t i = 0; i < n; i++)
			ids32[i] = (int32_t)ids[i];
		embstore_gather(&ref.matrix, ids, EMBSTORE_ID64, n, want, NULL);
		memset(got, 0, sizeof got);
		embstore_status st = embstore_mpi_gather(h, t, ids32, EMBSTORE_ID32, n, got, NULL);
		CHECK(st == EMBSTORE_OK && memcmp(want, got, n * dim * 4) == 0, "%s: gather of %s: %s", label, ref.name,
		      embstore_status_name(st));
		size_t bags = my_bags(n, offsets, t);
		for (size_t i = 0; i < n; i++)
			weights[i] = rng_float(&(uint64_t){i + 3});
		for (int mode = 0; mode < 3; mode++)
			for (int weighted = 0; weighted < 2; weighted++)
				for (unsigned flags = 0; flags <= EMBSTORE_MPI_POOL_ON_OWNER; flags++) {
					/* weights on some ranks only: the others' bags are unweighted */
					const float *w = weighted && rank % 2 == 0 ? weights : NULL;
					embstore_gather_bag(&ref.matrix, ids, EMBSTORE_ID64, n, offsets, bags, w, (embstore_bag_mode)mode,
					                    want, NULL);
					memset(got, 0xff, sizeof got);
					st = embstore_mpi_gather_bag(h, t, ids, EMBSTORE_ID64, n, offsets, bags, w, (embstore_bag_mode)mode,
					                             flags, got, NULL);
					int bitwise = flags == 0 || by_table || info.parts == 1 || mode == EMBSTORE_BAG_MAX;
					int same = memcmp(want, got, bags * dim * 4) == 0;
					if (!bitwise) /* partial sums of a bag split over owners: another order of additions */
						for (size_t j = 0; j < bags * dim; j++)
							same = (j == 0 || same) && fabsf(want[j] - got[j]) <= 1e-4f * (1.0f + fabsf(want[j]));
					CHECK(st == EMBSTORE_OK && same, "%s: bag of %s, mode %d, weights %d, flags %u: %s", label,
					      ref.name, mode, weighted, flags, embstore_status_name(st));
				}
	}
}

enum { KEY_LEN = 32 };
static char key_text[MAX_IDS][KEY_LEN];
static const char *keys[MAX_IDS];
static size_t key_lens[MAX_IDS];

/* This rank's keys: those of my_ids' rows in the keyed table (rank 1 has none), repeats included. */
static size_t my_keys(uint64_t seed)
{
	size_t n = my_ids(tables[KEYED].rows, ids, seed);
	for (size_t i = 0; i < n; i++) {
		key_lens[i] = (size_t)snprintf(key_text[i], KEY_LEN, "key-%lld", (long long)ids[i]);
		keys[i] = key_text[i];
	}
	return n;
}

/* Lookups by key against the unsharded store's embstore_table_find_key and embstore_gather_keys. */
static void key_lookups(embstore_mpi *h, const embstore *whole, const char *label)
{
	size_t n = my_keys(21), dim = tables[KEYED].dim;
	uint64_t rows[MAX_IDS], want_row;
	memset(rows, 0xff, sizeof rows);
	embstore_status st = embstore_mpi_find_keys(h, KEYED, keys, key_lens, n, rows, NULL);
	CHECK(st == EMBSTORE_OK, "%s: find_keys: %s (%s)", label, embstore_status_name(st), embstore_mpi_error_detail());
	for (size_t i = 0; st == EMBSTORE_OK && i < n; i++) {
		embstore_status want_st = embstore_table_find_key(whole, KEYED, keys[i], key_lens[i], &want_row);
		CHECK(want_st == EMBSTORE_OK && rows[i] == want_row && rows[i] == (uint64_t)ids[i],
		      "%s: key %s: row %llu, want %llu", label, keys[i], (unsigned long long)rows[i],
		      (unsigned long long)want_row);
	}
	memset(want, 0, sizeof want);
	memset(got, 0xff, sizeof got);
	st = embstore_gather_keys(whole, KEYED, keys, key_lens, n, want, NULL);
	CHECK(st == EMBSTORE_OK, "%s: gather_keys on the unsharded store: %s", label, embstore_status_name(st));
	st = embstore_mpi_gather_keys(h, KEYED, keys, key_lens, n, got, NULL);
	CHECK(st == EMBSTORE_OK && memcmp(want, got, n * dim * 4) == 0, "%s: gather_keys: %s (%s)", label,
	      embstore_status_name(st), embstore_mpi_error_detail());
	st = embstore_mpi_find_keys(h, 0, keys, key_lens, n, rows, NULL);
	CHECK(st == EMBSTORE_NO_VOCAB, "%s: find_keys in a table without vocabulary: %s", label,
	      embstore_status_name(st));
}

/* A key in no vocabulary on the last rank: UNKNOWN_KEY everywhere, its position there, nothing written. */
static void bad_key(embstore_mpi *h)
{
	int bad_rank = size == 2 ? 0 : size - 1; /* rank 1 has no keys */
	size_t n = my_keys(22);
	if (rank == bad_rank) {
		keys[n / 3] = "key-90"; /* the table has rows 0-89 */
		key_lens[n / 3] = 6;
	}
	uint64_t rows[MAX_IDS];
	memset(rows, 0xab, sizeof rows);
	size_t where = 777;
	embstore_status st = embstore_mpi_find_keys(h, KEYED, keys, key_lens, n, rows, &where);
	CHECK(st == EMBSTORE_UNKNOWN_KEY, "bad key: find_keys gave %s", embstore_status_name(st));
	CHECK(rank == bad_rank ? where == n / 3 : where == 777, "bad key: bad_index %zu", where);
	int untouched = 1;
	for (size_t i = 0; i < MAX_IDS; i++)
		untouched = untouched && rows[i] == 0xababababababababull;
	CHECK(untouched, "bad key: rows written");
	memset(got, 0x7f, sizeof got);
	where = 777;
	st = embstore_mpi_gather_keys(h, KEYED, keys, key_lens, n, got, &where);
	CHECK(st == EMBSTORE_UNKNOWN_KEY, "bad key: gather_keys gave %s", embstore_status_name(st));
	CHECK(rank == bad_rank ? where == n / 3 : where == 777, "bad key: gather_keys bad_index %zu", where);
	untouched = 1;
	for (size_t i = 0; i < MAX_IDS * MAX_DIM; i++)
		untouched = untouched && ((const unsigned char *)got)[4 * i] == 0x7f;
	CHECK(untouched, "bad key: gather_keys output written");
	if (size > 1) {
		st = rank == 0 ? embstore_mpi_find_keys(h, KEYED, keys, key_lens, 0, rows, NULL)
		               : embstore_mpi_gather_keys(h, KEYED, keys, key_lens, 0, got, NULL);
		CHECK(st == EMBSTORE_INVALID_ARGUMENT, "find_keys against gather_keys: %s", embstore_status_name(st));
	}
}

/* The model of docs/DISTRIBUTED.md, checked exactly: a gather moves 8 bytes per id that another rank owns, and
 * that id's stored row back. */
static void bytes_of_gather(embstore_mpi *h, const embstore *whole)
{
	embstore_table ref;
	embstore_table_at(whole, 0, &ref);
	size_t n = my_ids(ref.matrix.rows, ids, 9);
	uint64_t remote = 0;
	for (size_t i = 0; i < n; i++) {
		int owner = -1;
		embstore_mpi_owner(h, 0, (uint64_t)ids[i], &owner);
		remote += owner != rank;
	}
	embstore_mpi_reset_stats(h);
	CHECK(embstore_mpi_gather(h, 0, ids, EMBSTORE_ID64, n, got, NULL) == EMBSTORE_OK, "gather for the bytes");
	embstore_mpi_stats stats;
	embstore_mpi_get_stats(h, &stats);
	uint64_t mine[3] = {remote, stats.bytes_sent, stats.bytes_received}, all[3];
	MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	uint64_t model = all[0] * (8 + embstore_row_bytes(ref.matrix.dtype, ref.matrix.dim));
	CHECK(all[1] == model && all[2] == model, "bytes moved: %llu sent, %llu received, model %llu",
	      (unsigned long long)all[1], (unsigned long long)all[2], (unsigned long long)model);
}

static void same_everywhere(embstore_status st, const char *what)
{
	int mine = (int)st, lo = 0, hi = 0;
	MPI_Allreduce(&mine, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	MPI_Allreduce(&mine, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	CHECK(lo == hi, "%s: statuses differ between ranks (%d to %d)", what, lo, hi);
}

static void bad_id(embstore_mpi *h)
{
	int bad_rank = 0;
	size_t n = my_ids(1000, ids, 5);
	if (rank == bad_rank)
		ids[n / 2] = 1000;
	float sentinel;
	memset(&sentinel, 0x7f, sizeof sentinel);
	for (size_t i = 0; i < MAX_IDS * MAX_DIM; i++)
		got[i] = sentinel;
	size_t where = 12345;
	embstore_status st = embstore_mpi_gather(h, 0, ids, EMBSTORE_ID64, n, got, &where);
	CHECK(st == EMBSTORE_ID_OUT_OF_RANGE, "bad id: gather gave %s", embstore_status_name(st));
	CHECK(rank == bad_rank ? where == n / 2 : where == 12345, "bad id: bad_index %zu", where);
	int untouched = 1;
	for (size_t i = 0; i < MAX_IDS * MAX_DIM; i++)
		untouched = untouched && memcmp(&got[i], &sentinel, 4) == 0;
	CHECK(untouched, "bad id: output written");
	size_t bags = my_bags(n, offsets, 5);
	for (unsigned flags = 0; flags <= EMBSTORE_MPI_POOL_ON_OWNER; flags++) {
		st = embstore_mpi_gather_bag(h, 0, ids, EMBSTORE_ID64, n, offsets, bags, NULL, EMBSTORE_BAG_SUM, flags, got,
		                             NULL);
		CHECK(st == EMBSTORE_ID_OUT_OF_RANGE, "bad id: bag (flags %u) gave %s", flags, embstore_status_name(st));
	}
	untouched = 1;
	for (size_t i = 0; i < MAX_IDS * MAX_DIM; i++)
		untouched = untouched && memcmp(&got[i], &sentinel, 4) == 0;
	CHECK(untouched, "bad id: bag output written");
	if (size > 1) {
		st = embstore_mpi_gather(h, rank == 0 ? 0 : 1, ids, EMBSTORE_ID64, 0, got, NULL);
		CHECK(st == EMBSTORE_INVALID_ARGUMENT, "different tables: %s", embstore_status_name(st));
		st = embstore_mpi_gather_bag(h, 0, ids, EMBSTORE_ID64, 0, offsets, 0, NULL, EMBSTORE_BAG_SUM,
		                             rank == 0 ? EMBSTORE_MPI_POOL_ON_OWNER : 0, got, NULL);
		CHECK(st == EMBSTORE_INVALID_ARGUMENT, "different bag flags: %s", embstore_status_name(st));
	}
}

/* Rank r's gradient step: ids among the first 100 rows (so that ranks update the same rows) and their rows. */
static size_t step_of(int r, int64_t *step_ids, float *grads)
{
	uint64_t s = 99 + (uint64_t)r;
	size_t n = r == 1 ? 0 : 60 + 13 * (size_t)r;
	for (size_t i = 0; i < n; i++) {
		step_ids[i] = (int64_t)(rng_next(&s) % 100);
		for (size_t j = 0; j < 16; j++)
			grads[i * 16 + j] = rng_float(&s);
	}
	return n;
}

static void training(const embstore *whole)
{
	embstore_table ref;
	embstore_table_at(whole, 0, &ref);
	size_t rows = ref.matrix.rows, dim = ref.matrix.dim;
	float *expect = malloc(rows * dim * 4), *seen = malloc(rows * dim * 4), *grads = malloc(MAX_IDS * dim * 4);
	int64_t *all = malloc(rows * sizeof *all);
	for (size_t i = 0; i < rows; i++)
		all[i] = (int64_t)i;
	embstore_gather(&ref.matrix, all, EMBSTORE_ID64, rows, expect, NULL);
	embstore_matrix copy = {expect, rows, dim * 4, (uint32_t)dim, EMBSTORE_F32, 0};
	for (int r = 0; r < size; r++) {
		size_t n = step_of(r, ids, grads);
		embstore_scatter_add(&copy, ids, EMBSTORE_ID64, n, grads, -0.5f, NULL);
	}
	embstore_mpi *h = open_set("train", 4, 0, EMBSTORE_OPEN_WRITABLE);
	size_t n = step_of(rank, ids, grads);
	/* First a step with a bad id on the last rank that has ids: nothing may change anywhere. */
	int bad_rank = size == 2 ? 0 : size - 1;
	int64_t saved = ids[0];
	if (rank == bad_rank)
		ids[0] = -1;
	size_t where = 99;
	embstore_status st = embstore_mpi_scatter_add(h, 0, ids, EMBSTORE_ID64, n, grads, -0.5f, &where);
	CHECK(st == EMBSTORE_ID_OUT_OF_RANGE, "scatter-add with a bad id gave %s", embstore_status_name(st));
	CHECK(rank == bad_rank ? where == 0 : where == 99, "scatter-add bad_index %zu", where);
	ids[0] = saved;
	st = embstore_mpi_gather(h, 0, all, EMBSTORE_ID64, rows, seen, NULL);
	CHECK(st == EMBSTORE_OK && memcmp(seen, ref.matrix.data, rows * dim * 4) == 0, "a refused scatter-add wrote");
	st = embstore_mpi_scatter_add(h, 0, ids, EMBSTORE_ID64, n, grads, -0.5f, NULL);
	CHECK(st == EMBSTORE_OK, "scatter-add: %s (%s)", embstore_status_name(st), embstore_mpi_error_detail());
	st = embstore_mpi_sync(h);
	CHECK(st == EMBSTORE_OK, "sync: %s", embstore_status_name(st));
	st = embstore_mpi_gather(h, 0, all, EMBSTORE_ID64, rows, seen, NULL);
	CHECK(st == EMBSTORE_OK && memcmp(seen, expect, rows * dim * 4) == 0,
	      "scatter-add differs from the unsharded one over all ranks' steps in rank order");
	embstore_mpi_close(h);
	/* A read-only set refuses, on every rank. */
	h = open_set("rows", 4, 0, 0);
	st = embstore_mpi_scatter_add(h, 0, ids, EMBSTORE_ID64, n, grads, -0.5f, NULL);
	CHECK(st == EMBSTORE_READ_ONLY, "scatter-add on a read-only set gave %s", embstore_status_name(st));
	embstore_mpi_close(h);
	free(expect);
	free(seen);
	free(grads);
	free(all);
}

/* Opens the given files and expects `want` with `detail` in the detail, the same on every rank. */
static void expect_refused(const char **paths, size_t n, embstore_status want, const char *detail, const char *label)
{
	embstore_mpi *h = NULL;
	embstore_status st = embstore_mpi_open(MPI_COMM_WORLD, paths, n, 0, &h);
	CHECK(st == want && h == NULL, "%s: open gave %s (%s)", label, embstore_status_name(st),
	      embstore_mpi_error_detail());
	CHECK(strstr(embstore_mpi_error_detail(), detail) != NULL, "%s: detail '%s' lacks '%s'", label,
	      embstore_mpi_error_detail(), detail);
	same_everywhere(st, label);
	if (st == EMBSTORE_OK)
		embstore_mpi_close(h);
}

static void bad_sets(void)
{
	const char *paths[8];
	char name[64];
	size_t n = 0;
	for (int i = 0; i < 4; i++)
		if (i % size == rank && i != 2) {
			snprintf(name, sizeof name, "rows-%05d-of-00004.emb", i);
			paths[n++] = path_of(name);
		}
	expect_refused(paths, n, EMBSTORE_BAD_SET, "shard 2 of 4 is missing (expected '", "missing shard");
	n = my_shards("rows", 4, 0, paths);
	if (rank == size - 1)
		paths[n++] = path_of("rows-00000-of-00004.emb");
	expect_refused(paths, n, EMBSTORE_BAD_SET, "are both shard 0 of 4", "duplicate shard");
	n = my_shards("rows", 4, 0, paths);
	if (rank == size - 1)
		paths[n - 1] = path_of("table-00003-of-00004.emb");
	expect_refused(paths, n, EMBSTORE_BAD_SET, "of set", "foreign shard");
	n = my_shards("rows", 4, 0, paths);
	if (rank == size - 1)
		paths[n++] = path_of("no-such-file.emb");
	char who[64];
	snprintf(who, sizeof who, "rank %d: '", size - 1);
	expect_refused(paths, n, EMBSTORE_IO, who, "missing file");
	expect_refused(paths, 0, EMBSTORE_BAD_SET, "no rank gave a file", "no files");
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	make_files();
	embstore *whole;
	require(embstore_open(path_of("w.emb"), 0, &whole), "opening the unsharded store");
	struct {
		const char *base;
		int count, all_on_zero, by_table;
	} sets[] = {{"rows", 4, 0, 0}, {"table", 4, 0, 1}, {"five", 5, 0, 0}, {"rows", 4, 1, 0}};
	for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
		embstore_mpi *h = open_set(sets[s].base, sets[s].count, sets[s].all_on_zero, 0);
		embstore_mpi_info info;
		embstore_mpi_get_info(h, &info);
		CHECK(info.rank == rank && info.size == size && info.set.shard_count == (uint32_t)sets[s].count &&
		      info.set.table_count == N_TABLES, "%s: info", sets[s].base);
		char label[64];
		snprintf(label, sizeof label, "%s%s", sets[s].base, sets[s].all_on_zero ? " (all on rank 0)" : "");
		lookups(h, whole, label, sets[s].by_table);
		key_lookups(h, whole, label);
		if (s == 0) {
			bytes_of_gather(h, whole);
			bad_id(h);
			bad_key(h);
		}
		embstore_mpi_close(h);
	}
	/* One ordinary store on rank 0: a set of one. */
	const char *one = path_of("w.emb");
	embstore_mpi *h = NULL;
	require(embstore_mpi_open(MPI_COMM_WORLD, &one, rank == 0, 0, &h), "a store as a set of one");
	lookups(h, whole, "set of one", 1);
	key_lookups(h, whole, "set of one");
	embstore_mpi_close(h);
	training(whole);
	bad_sets();
	embstore_close(whole);
	int all = 0;
	MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	remove_files();
	if (rank == 0)
		printf("mpi_check with %d rank%s: %s (%d failure%s)\n", size, size > 1 ? "s" : "", all ? "FAILED" : "passed",
		       all, all == 1 ? "" : "s");
	MPI_Finalize();
	return all ? 1 : 0;
}
