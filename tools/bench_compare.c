/* bench_compare.c: `embstore bench --compare A.json B.json`: two runs of `embstore bench --json` (two machines,
 * compilers or page states) side by side, the ratio B/A per figure, figures matched by kernel set, operation,
 * dtype and table. */
#include "bench_compare.h"
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* One run: the parsed JSON, or NULL after the problem was reported (*rc set). */
static json_t *load_run(const char *path, int *rc)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		cli_error("bench", path, "%s", strerror(errno));
		*rc = CLI_EXIT_USAGE;
		return NULL;
	}
	json_error_t err;
	json_t *run = json_loadf(f, 0, &err);
	fclose(f);
	if (run == NULL) {
		cli_error("bench", path, "not JSON: %s (line %d)", err.text, err.line);
		*rc = CLI_EXIT_INVALID;
		return NULL;
	}
	json_t *results = json_object_get(run, "results");
	if (!json_is_object(run) || !json_is_array(results) || !json_is_integer(json_object_get(run, "dim"))) {
		cli_error("bench", path, "not the output of 'embstore bench --json' (no dim or results)");
		json_decref(run);
		*rc = CLI_EXIT_INVALID;
		return NULL;
	}
	size_t i;
	json_t *r;
	json_array_foreach(results, i, r) {
		if (!json_is_string(json_object_get(r, "isa")) || !json_is_string(json_object_get(r, "operation")) ||
		    !json_is_string(json_object_get(r, "dtype")) || !json_is_string(json_object_get(r, "table")) ||
		    !json_is_number(json_object_get(r, "rows_per_second"))) {
			cli_error("bench", path, "result %zu lacks isa, operation, dtype, table or rows_per_second", i + 1);
			json_decref(run);
			*rc = CLI_EXIT_INVALID;
			return NULL;
		}
	}
	return run;
}

/* The string at key (in `object`, or in run's "cpu" object for the cpu keys), "?" when the run lacks it (older
 * versions wrote no compiler, kernel set or page state). */
static const char *field(json_t *object, const char *key)
{
	const char *s = json_string_value(json_object_get(object, key));
	return s != NULL ? s : "?";
}

static void print_line(const char *label, const char *a, const char *b)
{
	printf("%-18s A: ", label);
	cli_put_escaped(stdout, a, CLI_ESCAPE_PLAIN);
	printf("\n%-18s B: ", "");
	cli_put_escaped(stdout, b, CLI_ESCAPE_PLAIN);
	putchar('\n');
}

static void print_page_state(json_t *a, json_t *b)
{
	json_t *pa = json_object_get(a, "page_state"), *pb = json_object_get(b, "page_state");
	static const char *const tables[] = {"in_cache", "out_of_cache"};
	for (int t = 0; t < 2; t++) {
		char label[40];
		snprintf(label, sizeof label, "pages %s", tables[t]);
		print_line(label, field(pa, tables[t]), field(pb, tables[t]));
	}
}

static int same_figure(json_t *x, json_t *y)
{
	static const char *const keys[] = {"isa", "operation", "dtype", "table"};
	for (int k = 0; k < 4; k++)
		if (strcmp(field(x, keys[k]), field(y, keys[k])) != 0)
			return 0;
	return 1;
}

static json_t *find_figure(json_t *results, json_t *like)
{
	size_t i;
	json_t *r;
	json_array_foreach(results, i, r) {
		if (same_figure(r, like))
			return r;
	}
	return NULL;
}

static void print_figure(json_t *a, json_t *b)
{
	json_t *any = a != NULL ? a : b;
	char name[96];
	snprintf(name, sizeof name, "%s %s", field(any, "operation"), field(any, "dtype"));
	printf("%-8s %-20s %-13s", field(any, "isa"), name, field(any, "table"));
	double ra = a != NULL ? json_number_value(json_object_get(a, "rows_per_second")) : NAN;
	double rb = b != NULL ? json_number_value(json_object_get(b, "rows_per_second")) : NAN;
	if (a != NULL)
		printf(" %10.1f", ra / 1e6);
	else
		printf(" %10s", "-");
	if (b != NULL)
		printf(" %10.1f", rb / 1e6);
	else
		printf(" %10s", "-");
	if (a != NULL && b != NULL && ra > 0)
		printf(" %8.2fx\n", rb / ra);
	else
		printf(" %9s\n", "-");
}

int bench_compare(const char *path_a, const char *path_b)
{
	int rc = CLI_EXIT_OK;
	json_t *a = load_run(path_a, &rc);
	json_t *b = a != NULL ? load_run(path_b, &rc) : NULL;
	if (b == NULL) {
		json_decref(a);
		return rc;
	}
	json_t *cpu_a = json_object_get(a, "cpu"), *cpu_b = json_object_get(b, "cpu");
	print_line("file", path_a, path_b);
	print_line("embstore", field(a, "embstore_version"), field(b, "embstore_version"));
	print_line("cpu", field(cpu_a, "model"), field(cpu_b, "model"));
	print_line("arch", field(cpu_a, "arch"), field(cpu_b, "arch"));
	print_line("compiler", field(a, "compiler"), field(b, "compiler"));
	print_line("kernel set", field(a, "kernel_set"), field(b, "kernel_set"));
	print_page_state(a, b);
	json_int_t dim_a = json_integer_value(json_object_get(a, "dim")), dim_b = json_integer_value(json_object_get(b, "dim"));
	printf("\ndim %lld; Mrows/s of each figure (best of its runs), and B / A\n\n", (long long)dim_a);
	if (dim_a != dim_b)
		printf("(dim %lld in A, %lld in B: no figure matches)\n", (long long)dim_a, (long long)dim_b);
	printf("%-8s %-20s %-13s %10s %10s %9s\n", "set", "operation", "table", "A", "B", "B/A");
	json_t *ra = json_object_get(a, "results"), *rb = json_object_get(b, "results");
	size_t i;
	json_t *r;
	json_array_foreach(ra, i, r) {
		print_figure(r, dim_a == dim_b ? find_figure(rb, r) : NULL);
	}
	json_array_foreach(rb, i, r) {
		if (dim_a != dim_b || find_figure(ra, r) == NULL)
			print_figure(NULL, r);
	}
	json_decref(a);
	json_decref(b);
	return cli_finish_output("bench");
}
