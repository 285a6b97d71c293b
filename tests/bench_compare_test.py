#!/usr/bin/python3
"""bench_compare_test.py: `embstore bench --compare A.json B.json` on two runs written here (the shape of
`embstore bench --json`, with made-up figures, so nothing is measured): the machine lines, each figure matched by
kernel set, operation, dtype and table with its ratio, figures only one run has, and the errors for a missing
file, a file that is not JSON and JSON that is not a bench run.

Usage: /usr/bin/python3 tests/bench_compare_test.py PATH/TO/embstore [unittest options]
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

BIN = None
TMP = None


def run(*args):
    p = subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def tmp(name):
    return os.path.join(TMP.name, name)


def result(isa, op, dtype, table, rows):
    return {"isa": isa, "operation": op, "dtype": dtype, "table": table, "rows_per_second": rows,
            "bytes_per_second": rows * 512}


def bench_run(model, compiler, pages, results, dim=128):
    return {"embstore_version": "0.1.0", "cpu": {"model": model, "arch": "x86-64", "features": ["avx2"]},
            "compiler": compiler, "kernel_set": "avx2",
            "page_state": {"in_cache": pages, "out_of_cache": pages}, "dim": dim, "bag_length": 32,
            "tables": {}, "results": results}


def write(name, obj):
    with open(tmp(name), "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return tmp(name)


A = bench_run("Machine A", "gcc 12.2.0", "anonymous memory, 100% in 2 MiB pages", [
    result("none", "memcpy", "f32", "out_of_cache", 20e6),
    result("avx2", "gather", "f32", "out_of_cache", 10e6),
    result("avx2", "gather", "f16", "out_of_cache", 16e6),
    result("avx2", "bag_sum", "f32", "in_cache", 40e6),
])
B = bench_run("Machine B", "clang 14.0.6", "anonymous memory, 0% in 2 MiB pages", [
    result("avx2", "gather", "f16", "out_of_cache", 8e6),  # order differs from A's
    result("avx2", "gather", "f32", "out_of_cache", 15e6),
    result("none", "memcpy", "f32", "out_of_cache", 30e6),
    result("avx512", "gather", "f32", "out_of_cache", 25e6),  # only in B
])


def figure_line(out, isa, name, table):
    return [line for line in out.splitlines() if re.match(r"%s +%s +%s " % (isa, re.escape(name), table), line)]


class TestCompare(unittest.TestCase):
    def test_side_by_side(self):
        rc, out, err = run("bench", "--compare", write("a.json", A), write("b.json", B))
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        for text in ("Machine A", "Machine B", "gcc 12.2.0", "clang 14.0.6", "100% in 2 MiB pages",
                     "0% in 2 MiB pages", tmp("a.json"), tmp("b.json")):
            self.assertIn(text, out)
        self.assertRegex(out, r"(?m)^compiler +A: gcc 12.2.0\n +B: clang 14.0.6$")
        expected = {("none", "memcpy f32", "out_of_cache"): ("20.0", "30.0", "1.50x"),
                    ("avx2", "gather f32", "out_of_cache"): ("10.0", "15.0", "1.50x"),
                    ("avx2", "gather f16", "out_of_cache"): ("16.0", "8.0", "0.50x"),
                    ("avx2", "bag_sum f32", "in_cache"): ("40.0", "-", "-"),
                    ("avx512", "gather f32", "out_of_cache"): ("-", "25.0", "-")}
        for (isa, name, table), cells in expected.items():
            lines = figure_line(out, isa, name, table)
            self.assertEqual(len(lines), 1, (isa, name, table, out))
            self.assertEqual(lines[0].split()[-3:], list(cells), lines[0])

    def test_a_run_against_itself(self):
        path = write("same.json", A)
        rc, out, _ = run("bench", "--compare", path, path)
        self.assertEqual(rc, 0)
        ratios = re.findall(r" ([0-9.]+)x$", out, re.M)
        self.assertEqual(ratios, ["1.00"] * 4)

    def test_other_dims_match_nothing(self):
        rc, out, _ = run("bench", "--compare", write("a.json", A), write("b64.json", dict(B, dim=64)))
        self.assertEqual(rc, 0)
        self.assertIn("dim 128 in A, 64 in B", out)
        self.assertNotRegex(out, r"[0-9]x$")

    def test_older_runs_lack_fields(self):
        old = {k: v for k, v in A.items() if k not in ("compiler", "kernel_set", "page_state")}
        rc, out, _ = run("bench", "--compare", write("old.json", old), write("b.json", B))
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^compiler +A: \?$")

    def test_bad_files(self):
        good = write("a.json", A)
        cases = [(tmp("missing.json"), 2, "No such file"),
                 (write("truncated.json", json.dumps(A)[:40]), 1, "not JSON"),
                 (write("other.json", {"results": []}), 1, "not the output of 'embstore bench --json'"),
                 (write("list.json", [1, 2]), 1, "not the output"),
                 (write("badrow.json", dict(A, results=[{"isa": "avx2"}])), 1, "result 1 lacks")]
        for path, code, message in cases:
            for args in ((good, path), (path, good)):
                rc, out, err = run("bench", "--compare", *args)
                self.assertEqual(rc, code, (path, err))
                self.assertEqual(out, "")
                self.assertIn("embstore: bench: %s: " % path, err)
                self.assertIn(message, err)

    def test_usage(self):
        good = write("a.json", A)
        for args in (["--compare", good], ["--compare", good, good, good], ["--compare", "--json", good, good],
                     ["--compare", "--size", "64M", good, good], [good, good]):
            rc, out, err = run("bench", *args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(out, "")
            self.assertTrue(err.startswith("embstore: bench: "), err)


def main():
    global BIN, TMP
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    BIN = os.path.abspath(sys.argv.pop(1))
    TMP = tempfile.TemporaryDirectory()
    try:
        unittest.main(verbosity=1)
    finally:
        TMP.cleanup()


if __name__ == "__main__":
    main()
