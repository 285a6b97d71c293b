#!/usr/bin/python3
"""mpi_lookup_test.py: examples/mpi_lookup under mpirun prints exactly what `embstore get` prints on the whole store.

Usage: /usr/bin/python3 tests/mpi/mpi_lookup_test.py MPIEXEC PATH/TO/mpi_lookup PATH/TO/embstore [unittest options]

Builds a store whole and as sets of shards (by rows and by table, one uneven), then runs mpi_lookup with 1 to 4
ranks over each set and compares its output byte for byte with `embstore get` on the whole store; a bad id and a
missing shard must fail on every rank with get's exit status and no output. The environment lets Open MPI run as
root and oversubscribe (tests/mpi/CMakeLists.txt sets it).
"""
import glob
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

MPIEXEC = LOOKUP = CLI = None


def run(*args):
    return subprocess.run(list(args), capture_output=True, timeout=60)


class MpiLookup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        rng = np.random.default_rng(12)
        np.save(os.path.join(d, "big.npy"), rng.standard_normal((103, 9)).astype(np.float32))
        np.save(os.path.join(d, "small.npy"), rng.standard_normal((5, 4)).astype(np.float16))
        cls.inputs = [os.path.join(d, n) for n in ("big.npy", "small.npy")]
        cls.whole = os.path.join(d, "whole.emb")
        r = run(CLI, "build", "-q", "-o", cls.whole, *cls.inputs)
        assert r.returncode == 0, r.stderr
        cls.ids = os.path.join(d, "ids.txt")
        ids = [int(i) for i in rng.integers(0, 103, 250)] + [0, 102, 102, 51]
        with open(cls.ids, "w") as f:
            f.write(" ".join(map(str, ids[:100])) + "\n" + ",".join(map(str, ids[100:])) + "\n")
        cls.id_list = ids

    def build_set(self, name, n, by):
        out = os.path.join(self.tmp.name, name + ".emb")
        r = run(CLI, "build", "-q", "--shards", str(n), "--shard-by", by, "-o", out, *self.inputs)
        self.assertEqual(r.returncode, 0, r.stderr)
        return sorted(glob.glob(os.path.join(self.tmp.name, name + "-*-of-*.emb")))

    def lookup(self, np_, table, ids_file, files):
        return run(MPIEXEC, "-np", str(np_), LOOKUP, "--table", table, "--ids-from", ids_file, *files)

    def test_output_equals_get_on_the_whole_store(self):
        want = run(CLI, "get", "--table", "big", "--ids", ",".join(map(str, self.id_list)), self.whole)
        self.assertEqual(want.returncode, 0, want.stderr)
        self.assertEqual(want.stdout.count(b"\n"), len(self.id_list))
        for name, n, by in (("rows", 4, "rows"), ("table", 2, "table"), ("five", 5, "rows")):
            files = self.build_set(name, n, by)
            for ranks in (1, 2, 3, 4):
                got = self.lookup(ranks, "big", self.ids, list(reversed(files)))
                self.assertEqual(got.returncode, 0, got.stderr)
                self.assertEqual(got.stdout, want.stdout, f"{name} with {ranks} ranks")
        small = run(CLI, "get", "--table", "small", "--ids", "4,0,3,3", self.whole)
        ids = os.path.join(self.tmp.name, "small.txt")
        with open(ids, "w") as f:
            f.write("4\n0\n3\n3\n")
        got = self.lookup(3, "small", ids, self.build_set("s", 4, "rows"))
        self.assertEqual((got.returncode, got.stdout), (0, small.stdout), got.stderr)

    def test_bad_id_and_missing_shard(self):
        files = self.build_set("bad", 4, "rows")
        ids = os.path.join(self.tmp.name, "bad.txt")
        with open(ids, "w") as f:
            f.write("1 2 3 103 5\n")
        got = self.lookup(2, "big", ids, files)
        self.assertEqual(got.returncode, 2)
        self.assertEqual(got.stdout, b"")
        self.assertIn(b"id #4 (103) is out of range", got.stderr)
        got = self.lookup(2, "big", self.ids, files[:2] + files[3:])
        self.assertEqual(got.returncode, 1)
        self.assertEqual(got.stdout, b"")
        self.assertIn(b"shard 2 of 4 is missing (expected '" + files[2].encode() + b"')", got.stderr)


if __name__ == "__main__":
    MPIEXEC, LOOKUP, CLI = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:])
