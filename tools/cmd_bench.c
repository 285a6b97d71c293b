/* cmd_bench.c: `embstore bench`: a quick throughput table of the kernels, for every kernel set this CPU runs. */

/* MAP_ANONYMOUS and MADV_HUGEPAGE, which -std=c11 hides unless a feature macro asks for them. */
#define _DEFAULT_SOURCE

#include "bench_compare.h"
#include "cli.h"
#include "workload.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"Usage: embstore bench [--json] [--size SIZE]\n"
	"       embstore bench --compare A.json B.json\n"
	"\n"
	"Measures, in 15 to 30 seconds, the rows per second and bytes per second of the kernels at dim 128 with\n"
	"random ids, for every kernel set this CPU and build can run: gather of f32, f16, bf16 and int8 rows into f32\n"
	"and into f16 output, bag sum (f32, bags of 32) and scatter-add (f32), on a table that fits in the L2 cache\n"
	"and on one several times the last-level cache; plus, as the baseline, a memcpy of the bytes of as many f32\n"
	"rows. Prints the CPU model and the features embstore detected first. Tables live in anonymous memory (no\n"
	"file is written). Each figure is the best of 7 runs of about 30 ms: on a busy machine, run it twice.\n"
	"\n"
	"Options:\n"
	"  --json       print one JSON object: embstore_version, cpu (model, arch, features), compiler,\n"
	"               kernel_set (the one chosen for this CPU), page_state (of each table), dim, bag_length,\n"
	"               tables (bytes and ids_per_call of each), results (list of objects with isa, operation,\n"
	"               dtype, table, rows_per_second, bytes_per_second; bytes are those of the table rows read;\n"
	"               operation gather_f16_out: a gather into f16 output)\n"
	"  --compare A.json B.json\n"
	"               measure nothing: print two runs of --json side by side (CPU, compiler, kernel set, page\n"
	"               state, then every figure's Mrows/s in each and the ratio B / A), figures matched by kernel\n"
	"               set, operation, dtype and table\n"
	"  --size SIZE  bytes of the large table, from 64M to 1024G (K, M, G suffixes; default 4 x the last-level\n"
	"               cache, at least 256M, at most a quarter of the RAM)\n"
	"  -h, --help   print this help\n"
	"\n"
	"Exit status:\n"
	"  0  success\n"
	"  1  --compare: a file is not the output of 'embstore bench --json'\n"
	"  2  usage error (bad option or size), the tables could not be allocated, a kernel failed, or output\n"
	"     error\n";

enum { OPT_JSON = CLI_LONG_ONLY, OPT_SIZE, OPT_COMPARE };

static const struct option options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"size", required_argument, NULL, OPT_SIZE},
	{"compare", no_argument, NULL, OPT_COMPARE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

#define DIM 128u
#define BAG_LEN 32u
#define BLOCKS 7
#define BLOCK_SECONDS 0.03
#define MiB (1024.0 * 1024.0)

enum { OP_MEMCPY, OP_GATHER, OP_GATHER_F16, OP_BAG_SUM, OP_SCATTER_ADD };
enum { TABLE_SMALL, TABLE_LARGE, TABLE_COUNT };

static const char *const table_names[TABLE_COUNT] = {"in_cache", "out_of_cache"};

typedef struct measurement {
	int isa; /* -1 for memcpy */
	int op;
	embstore_dtype dtype;
	int table;
	double rows_per_second;
	double bytes_per_second;
} measurement;

/* The memory the tables are laid over and what the calls need beside it. */
typedef struct bench {
	unsigned char *region[TABLE_COUNT];
	size_t region_bytes[TABLE_COUNT];
	size_t batch[TABLE_COUNT]; /* ids per call */
	int64_t *ids;
	int64_t *offsets;
	float *out;
	float *grads;
	uint64_t rng;
} bench;

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------------------------------------------
 * The machine
 */

/* "model name" (x86) or "CPU implementer" / "CPU part" (Arm) from /proc/cpuinfo, into buf; "unknown" if none. */
static void cpu_model(char *buf, size_t size)
{
	char line[512], implementer[64] = "", part[64] = "";
	snprintf(buf, size, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		char *value = colon + 1;
		value += strspn(value, " \t");
		value[strcspn(value, "\n")] = 0;
		if (strncmp(line, "model name", 10) == 0 && *value != 0) {
			snprintf(buf, size, "%s", value);
			fclose(f);
			return;
		}
		if (strncmp(line, "CPU implementer", 15) == 0 && implementer[0] == 0)
			snprintf(implementer, sizeof implementer, "%s", value);
		else if (strncmp(line, "CPU part", 8) == 0 && part[0] == 0)
			snprintf(part, sizeof part, "%s", value);
	}
	fclose(f);
	if (implementer[0] != 0)
		snprintf(buf, size, "implementer %s, part %s", implementer, part[0] != 0 ? part : "?");
}

static const char *arch_name(void)
{
#if defined(__x86_64__)
	return "x86-64";
#elif defined(__aarch64__)
	return "aarch64";
#else
	return "other";
#endif
}

/* The compiler that built this tool, and with it the library's kernels (one CMake build). */
static const char *compiler(void)
{
#if defined(__clang__)
	return "clang " __clang_version__;
#elif defined(__GNUC__)
	return "gcc " __VERSION__;
#else
	return "unknown";
#endif
}

/* How the pages under p are mapped, from its mapping's lines in /proc/self/smaps: the share of its resident bytes
 * in 2 MiB pages decides how many TLB misses random rows take, which moves every out-of-cache figure. */
static void page_state(const void *p, char *buf, size_t size)
{
	snprintf(buf, size, "anonymous memory, page sizes unknown");
	FILE *f = fopen("/proc/self/smaps", "r");
	if (f == NULL)
		return;
	char line[256];
	int inside = 0;
	unsigned long rss = 0, huge = 0, kb;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (inside && sscanf(line, "Rss: %lu kB", &kb) == 1)
			rss = kb;
		else if (inside && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			huge = kb;
	}
	fclose(f);
	if (rss > 0)
		snprintf(buf, size, "anonymous memory, %.0f%% in 2 MiB pages", 100.0 * (double)huge / (double)rss);
}

/* ------------------------------------------------------------------------------------------------------------
 * Tables and measurements
 */

static unsigned char *map_region(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	/* Faulting in gigabytes 4 KiB at a time costs seconds on some virtual machines; huge pages, where the
	 * kernel gives them, keep the command quick. */
	madvise(p, bytes, MADV_HUGEPAGE);
#endif
	return p;
}

static embstore_matrix view(const bench *b, int table, embstore_dtype dtype)
{
	uint64_t row = embstore_row_bytes(dtype, DIM);
	embstore_matrix m = {
		.data = b->region[table],
		.rows = b->region_bytes[table] / row,
		.row_stride = row,
		.dim = DIM,
		.dtype = dtype,
	};
	return m;
}

/* One call of `op` on `n` fresh random ids (chosen before the clock starts). Returns its seconds, or -1 after
 * reporting a failure. */
static double timed_call(bench *b, int op, const embstore_matrix *m, int table, size_t n, size_t *copy_at)
{
	if (op != OP_MEMCPY) {
		workload_random_ids(b->ids, n, m->rows, &b->rng);
	}
	size_t bad = 0;
	embstore_status st = EMBSTORE_OK;
	double t0 = now_seconds();
	switch (op) {
	case OP_MEMCPY: {
		/* The bytes f32 rows of one call take, read in order through the table. */
		size_t bytes = n * DIM * 4;
		if (*copy_at + bytes > b->region_bytes[table])
			*copy_at = 0;
		memcpy(b->out, b->region[table] + *copy_at, bytes);
		*copy_at += bytes;
		break;
	}
	case OP_GATHER:
		st = embstore_gather(m, b->ids, EMBSTORE_ID64, n, b->out, &bad);
		break;
	case OP_GATHER_F16:
		st = embstore_gather_as(m, b->ids, EMBSTORE_ID64, n, EMBSTORE_F16, b->out, &bad);
		break;
	case OP_BAG_SUM:
		st = embstore_gather_bag(m, b->ids, EMBSTORE_ID64, n, b->offsets, n / BAG_LEN, NULL, EMBSTORE_BAG_SUM,
		                         b->out, &bad);
		break;
	case OP_SCATTER_ADD:
	default:
		/* Gradients of 1e-12 leave every table value (all >= 2^-7) unchanged: the gathers that follow read the
		 * same numbers, while the kernel still loads, adds and stores every element. */
		st = embstore_scatter_add(m, b->ids, EMBSTORE_ID64, n, b->grads, 1.0f, &bad);
		break;
	}
	double t = now_seconds() - t0;
	if (st != EMBSTORE_OK) {
		cli_status_error("bench", "kernel", st, 0);
		return -1;
	}
	return t;
}

/* Best rows per second over BLOCKS blocks of calls adding up to BLOCK_SECONDS each; 0 after a failure. */
static double measure(bench *b, int op, const embstore_matrix *m, int table)
{
	size_t n = b->batch[table];
	size_t copy_at = 0;
	double best = 0;
	if (timed_call(b, op, m, table, n, &copy_at) < 0) /* warm-up */
		return 0;
	for (int block = 0; block < BLOCKS; block++) {
		double seconds = 0;
		size_t rows = 0;
		while (seconds < BLOCK_SECONDS) {
			double t = timed_call(b, op, m, table, n, &copy_at);
			if (t < 0)
				return 0;
			seconds += t;
			rows += n;
		}
		double rate = (double)rows / seconds;
		if (rate > best)
			best = rate;
	}
	return best;
}

/* ------------------------------------------------------------------------------------------------------------
 * Output
 */

static const char *op_name(int op)
{
	switch (op) {
	case OP_MEMCPY:
		return "memcpy";
	case OP_GATHER:
		return "gather";
	case OP_GATHER_F16:
		return "gather_f16_out";
	case OP_BAG_SUM:
		return "bag_sum";
	default:
		return "scatter_add";
	}
}

/* One element of the JSON list of CPU features; *ctx is non-zero before the first one. */
static void put_json_feature(void *ctx, const char *name)
{
	int *first = ctx;
	fputs(*first ? "\"" : ", \"", stdout);
	cli_put_escaped(stdout, name, CLI_ESCAPE_JSON);
	fputc('"', stdout);
	*first = 0;
}

static void print_json(const char *model, const bench *b, const measurement *ms, size_t count, const char *isa,
                       char pages[TABLE_COUNT][64])
{
	fputs("{\"embstore_version\": \"", stdout);
	cli_put_escaped(stdout, embstore_version(), CLI_ESCAPE_JSON);
	fputs("\",\n \"cpu\": {\"model\": \"", stdout);
	cli_put_escaped(stdout, model, CLI_ESCAPE_JSON);
	printf("\", \"arch\": \"%s\", \"features\": [", arch_name());
	int first = 1;
	workload_cpu_features(put_json_feature, &first);
	fputs("]},\n \"compiler\": \"", stdout);
	cli_put_escaped(stdout, compiler(), CLI_ESCAPE_JSON);
	printf("\", \"kernel_set\": \"%s\",\n \"page_state\": {", isa);
	for (int t = 0; t < TABLE_COUNT; t++)
		printf("%s\"%s\": \"%s\"", t == 0 ? "" : ", ", table_names[t], pages[t]);
	printf("},\n \"dim\": %u, \"bag_length\": %u,\n \"tables\": {", DIM, BAG_LEN);
	for (int t = 0; t < TABLE_COUNT; t++)
		printf("%s\"%s\": {\"bytes\": %zu, \"ids_per_call\": %zu}", t == 0 ? "" : ", ", table_names[t],
		       b->region_bytes[t], b->batch[t]);
	fputs("},\n \"results\": [", stdout);
	for (size_t i = 0; i < count; i++) {
		const measurement *r = &ms[i];
		printf("%s\n  {\"isa\": \"%s\", \"operation\": \"%s\", \"dtype\": \"%s\", \"table\": \"%s\", "
		       "\"rows_per_second\": %.6g, \"bytes_per_second\": %.6g}",
		       i == 0 ? "" : ",", r->isa < 0 ? "none" : embstore_isa_name((embstore_isa)r->isa), op_name(r->op),
		       embstore_dtype_name(r->dtype), table_names[r->table], r->rows_per_second, r->bytes_per_second);
	}
	fputs("\n ]\n}\n", stdout);
}

static void print_text(const char *model, const bench *b, const measurement *ms, size_t count, uint64_t l2,
                       uint64_t llc, const char *isa, char pages[TABLE_COUNT][64])
{
	printf("embstore %s bench on %s (%s), built by %s; kernel set %s\n", embstore_version(), model, arch_name(),
	       compiler(), isa);
	cli_print_cpu_features();
	printf("pages: in-cache table %s; out-of-cache table %s\n", pages[TABLE_SMALL], pages[TABLE_LARGE]);
	printf("dim %u, uniform random ids; in-cache table %.2f MiB (L2 %.2f MiB), %zu ids per call; "
	       "out-of-cache table %.0f MiB (LLC %.0f MiB), %zu ids per call\n",
	       DIM, (double)b->region_bytes[TABLE_SMALL] / MiB, (double)l2 / MiB, b->batch[TABLE_SMALL],
	       (double)b->region_bytes[TABLE_LARGE] / MiB, (double)llc / MiB, b->batch[TABLE_LARGE]);
	printf("bytes are those of the table rows read (memcpy: of f32 rows); best of %d runs of %.0f ms\n\n", BLOCKS,
	       BLOCK_SECONDS * 1e3);
	printf("%-8s %-18s %21s   %21s\n", "", "", "in-cache", "out-of-cache");
	printf("%-8s %-18s %10s %10s   %10s %10s\n", "set", "operation", "Mrows/s", "GB/s", "Mrows/s", "GB/s");
	/* Results come in pairs: the same measurement on the small, then the large table. */
	for (size_t i = 0; i + 1 < count; i += 2) {
		const measurement *s = &ms[i], *l = &ms[i + 1];
		char op[32];
		if (s->op == OP_GATHER)
			snprintf(op, sizeof op, "gather %s", embstore_dtype_name(s->dtype));
		else if (s->op == OP_GATHER_F16)
			snprintf(op, sizeof op, "gather %s > f16", embstore_dtype_name(s->dtype));
		else if (s->op == OP_BAG_SUM)
			snprintf(op, sizeof op, "bag sum f32 (%u)", BAG_LEN);
		else if (s->op == OP_SCATTER_ADD)
			snprintf(op, sizeof op, "scatter-add f32");
		else
			snprintf(op, sizeof op, "memcpy (baseline)");
		printf("%-8s %-18s %10.1f %10.2f   %10.1f %10.2f\n", s->isa < 0 ? "-" : embstore_isa_name((embstore_isa)s->isa),
		       op, s->rows_per_second / 1e6, s->bytes_per_second / 1e9, l->rows_per_second / 1e6,
		       l->bytes_per_second / 1e9);
	}
}

/* ------------------------------------------------------------------------------------------------------------
 * The command
 */

static int run(int json, uint64_t large_bytes)
{
	uint64_t l2 = workload_l2_bytes(), llc = workload_llc_bytes();
	if (large_bytes == 0) {
		large_bytes = workload_large_bytes();
		long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
		if (pages > 0 && page > 0 && large_bytes > (uint64_t)pages * (uint64_t)page / 4)
			large_bytes = (uint64_t)pages * (uint64_t)page / 4;
	}
	bench b;
	memset(&b, 0, sizeof b);
	b.rng = 0x5eedu;
	/* Whole 2 MiB for the large table, as --size and the RAM cap may give any number of bytes. */
	b.region_bytes[TABLE_SMALL] = (size_t)workload_small_bytes();
	b.region_bytes[TABLE_LARGE] = (size_t)((large_bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20));
	b.batch[TABLE_SMALL] = workload_ids_per_call(1, DIM);
	b.batch[TABLE_LARGE] = workload_ids_per_call(0, DIM);
	size_t max_batch = b.batch[TABLE_LARGE];
	b.ids = malloc(max_batch * sizeof *b.ids);
	b.offsets = malloc((max_batch / BAG_LEN + 1) * sizeof *b.offsets);
	b.out = malloc(max_batch * DIM * sizeof *b.out);
	b.grads = malloc(max_batch * DIM * sizeof *b.grads);
	for (int t = 0; t < TABLE_COUNT; t++)
		b.region[t] = map_region(b.region_bytes[t]);
	int rc = CLI_EXIT_OK;
	/* Per set: gather of each dtype into f32 and into f16, bag sum, scatter-add. */
	enum { KINDS = 2 * 4 + 2 };
	measurement *ms = malloc(sizeof *ms * (2 + EMBSTORE_ISA_COUNT * KINDS * TABLE_COUNT));
	if (b.ids == NULL || b.offsets == NULL || b.out == NULL || b.grads == NULL || b.region[0] == NULL ||
	    b.region[1] == NULL || ms == NULL) {
		cli_error("bench", NULL, "cannot allocate %.0f MiB for the tables (try a smaller --size)",
		          (double)b.region_bytes[TABLE_LARGE] / MiB);
		rc = CLI_EXIT_USAGE;
		goto done;
	}
	/* Filling the tables also faults every page in before anything is timed. */
	for (int t = 0; t < TABLE_COUNT; t++)
		workload_fill(b.region[t], b.region_bytes[t], &b.rng);
	for (size_t i = 0; i <= max_batch / BAG_LEN; i++)
		b.offsets[i] = (int64_t)(i * BAG_LEN);
	for (size_t i = 0; i < max_batch * DIM; i++) {
		b.grads[i] = 1e-12f;
		b.out[i] = 0;
	}

	embstore_isa previous;
	int restore = embstore_isa_active(&previous) == EMBSTORE_OK;
	size_t count = 0;
	for (int t = 0; t < TABLE_COUNT; t++) {
		embstore_matrix m = view(&b, t, EMBSTORE_F32);
		double rows = measure(&b, OP_MEMCPY, &m, t);
		ms[count++] = (measurement){-1, OP_MEMCPY, EMBSTORE_F32, t, rows, rows * DIM * 4};
	}
	static const embstore_dtype dtypes[] = {EMBSTORE_F32, EMBSTORE_F16, EMBSTORE_BF16, EMBSTORE_INT8_ROWWISE};
	for (int isa = 0; isa < EMBSTORE_ISA_COUNT && rc == CLI_EXIT_OK; isa++) {
		if (!embstore_isa_supported((embstore_isa)isa) || embstore_isa_set((embstore_isa)isa) != EMBSTORE_OK)
			continue;
		for (int k = 0; k < KINDS && rc == CLI_EXIT_OK; k++) {
			int op = k < 8 ? (k % 2 ? OP_GATHER_F16 : OP_GATHER) : k == 8 ? OP_BAG_SUM : OP_SCATTER_ADD;
			embstore_dtype dt = k < 8 ? dtypes[k / 2] : EMBSTORE_F32;
			for (int t = 0; t < TABLE_COUNT; t++) {
				embstore_matrix m = view(&b, t, dt);
				double rows = measure(&b, op, &m, t);
				if (rows <= 0) {
					rc = CLI_EXIT_USAGE;
					break;
				}
				ms[count++] = (measurement){isa, op, dt, t, rows, rows * (double)m.row_stride};
			}
		}
	}
	if (restore)
		embstore_isa_set(previous);
	if (rc == CLI_EXIT_OK) {
		char model[256], pages[TABLE_COUNT][64];
		cpu_model(model, sizeof model);
		for (int t = 0; t < TABLE_COUNT; t++)
			page_state(b.region[t], pages[t], sizeof pages[t]);
		const char *isa = restore ? embstore_isa_name(previous) : "none";
		if (json)
			print_json(model, &b, ms, count, isa, pages);
		else
			print_text(model, &b, ms, count, l2, llc, isa, pages);
		rc = cli_finish_output("bench");
	}
done:
	for (int t = 0; t < TABLE_COUNT; t++) {
		if (b.region[t] != NULL)
			munmap(b.region[t], b.region_bytes[t]);
	}
	free(ms);
	free(b.ids);
	free(b.offsets);
	free(b.out);
	free(b.grads);
	return rc;
}

int cli_cmd_bench(int argc, char **argv)
{
	int json = 0, compare = 0;
	uint64_t size = 0;
	cli_getopt_reset();
	for (int opt; (opt = cli_getopt("bench", argc, argv, ":h", options)) != -1;) {
		switch (opt) {
		case OPT_JSON:
			json = 1;
			break;
		case OPT_COMPARE:
			compare = 1;
			break;
		case OPT_SIZE:
			if (!cli_parse_size(optarg, &size) || size < (64u << 20) || size > ((uint64_t)1 << 40))
				return cli_usage_error("bench", "--size needs a size from 64M to 1024G, not '%s'", optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return cli_finish_output("bench");
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (compare) {
		if (json || size != 0)
			return cli_usage_error("bench", "--compare measures nothing: it takes no --json or --size");
		if (argc - optind != 2)
			return cli_usage_error("bench", "--compare needs two files, A.json and B.json");
		return bench_compare(argv[optind], argv[optind + 1]);
	}
	if (optind < argc)
		return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
	return run(json, size);
}
