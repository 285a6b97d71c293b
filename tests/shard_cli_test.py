#!/usr/bin/python3
"""shard_cli_test.py: `embstore build --shards` and the commands that take a shard set, end to end.

Usage: /usr/bin/python3 tests/shard_cli_test.py PATH/TO/embstore [unittest options]

Builds a store whole and as sets of shards from the same inputs, then checks that every shard verifies on its own,
that verify, inspect, get and export treat the files as one set (get's output equal byte for byte to get on the
whole store, export's merge equal to the whole build), and that a missing shard or one of another set is named.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

BIN = None


def run(*args, stdin=None):
    return subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=120)


class ShardCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        rng = np.random.default_rng(5)
        np.save(os.path.join(d, "big.npy"), rng.standard_normal((101, 7)).astype(np.float32))
        np.save(os.path.join(d, "small.npy"), rng.standard_normal((3, 4)).astype(np.float16))
        with open(os.path.join(d, "words.vec"), "w") as f:
            f.write("9 3\n")
            for i in range(9):
                f.write(f"w{i} {i * 0.5} {-i} {i / 7}\n")
        cls.inputs = [os.path.join(d, n) for n in ("big.npy", "small.npy", "words.vec")]
        cls.whole = os.path.join(d, "whole.emb")
        r = run("build", "-q", "-o", cls.whole, *cls.inputs)
        assert r.returncode == 0, r.stderr

    def build_set(self, name, n, by="rows"):
        out = os.path.join(self.tmp.name, name + ".emb")
        r = run("build", "-q", "--shards", str(n), "--shard-by", by, "-o", out, *self.inputs)
        self.assertEqual(r.returncode, 0, r.stderr)
        files = sorted(glob.glob(os.path.join(self.tmp.name, name + "-*-of-*.emb")))
        self.assertEqual([os.path.basename(f) for f in files],
                         [f"{name}-{i:05d}-of-{n:05d}.emb" for i in range(n)])
        return files

    def test_build_verify_inspect(self):
        files = self.build_set("v", 4)
        for f in files:
            r = run("verify", f)
            self.assertEqual(r.returncode, 1, "one shard alone is an incomplete set")
            self.assertIn(b"ok: " + f.encode(), r.stdout)
        r = run("verify", *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"ok: set [0-9a-f]{32} \(4 shards by rows, 3 tables\)")
        r = run("inspect", files[3])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"shard:           3 of 4", r.stdout)
        self.assertIn(b"big  rows 76-100 of 101 (table 0 of the set)", r.stdout)
        r = run("inspect", "--json", *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        shards = json.loads(r.stdout)
        self.assertEqual([s["metadata"]["embstore.shard.index"] for s in shards], ["0", "1", "2", "3"])

    def test_get_equals_the_whole_store(self):
        for by, n in (("rows", 4), ("table", 3)):
            files = self.build_set("g" + by, n, by)
            for table, ids in (("big", "100,0,25,26,51,50,76,75,3,3"), ("small", "2,0,1"), ("words", "8,0,4")):
                want = run("get", "--table", table, "--ids", ids, self.whole)
                self.assertEqual(want.returncode, 0, want.stderr)
                got = run("get", "--table", table, "--ids", ids, *reversed(files))
                self.assertEqual(got.returncode, 0, got.stderr)
                self.assertEqual(got.stdout, want.stdout, f"{by}: table {table}")
            want = run("get", "--table", "words", "--with-keys", "--key", "w7", "--key", "w1", self.whole)
            got = run("get", "--table", "words", "--with-keys", "--key", "w7", "--key", "w1", *files)
            self.assertEqual(got.stdout, want.stdout)
            r = run("get", "--table", "big", "--ids", "101", *files)
            self.assertEqual(r.returncode, 2)
            self.assertIn(b"id #1 (101) is out of range", r.stderr)

    def test_export_merges_back(self):
        for by, n in (("rows", 4), ("table", 2)):
            files = self.build_set("e" + by, n, by)
            merged = os.path.join(self.tmp.name, f"merged-{by}.emb")
            r = run("export", *files, "--to", "emb", "-o", merged)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(merged, "rb") as a, open(self.whole, "rb") as b:
                self.assertEqual(a.read(), b.read(), by)
            npy = os.path.join(self.tmp.name, f"big-{by}.npy")
            r = run("export", *files, "--table", "big", "--to", "npy", "-o", npy)
            self.assertEqual(r.returncode, 0, r.stderr)
            np.testing.assert_array_equal(np.load(npy), np.load(self.inputs[0]))
        self.assertEqual(glob.glob(os.path.join(self.tmp.name, ".*tmp")), [], "no temporary left")

    def test_missing_and_foreign_shards_are_named(self):
        files = self.build_set("m", 4)
        other = self.build_set("o", 4)
        for cmd in (["verify"], ["inspect"], ["get", "--table", "big", "--ids", "1"]):
            r = run(*cmd, files[0], files[1], files[3])
            self.assertEqual(r.returncode, 1, cmd)
            self.assertIn(b"shard 2 of 4 is missing (expected '" + files[2].encode() + b"')", r.stderr)
            r = run(*cmd, files[0], files[1], other[2], files[3])
            self.assertEqual(r.returncode, 1, cmd)
            self.assertIn(b"of set", r.stderr)

    def test_refusals(self):
        out = os.path.join(self.tmp.name, "x.emb")
        r = run("build", "-q", "--shards", "102", "-o", out, *self.inputs)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"largest table has 101", r.stderr)
        r = run("build", "-q", "--shards", "4", "--shard-by", "table", "-o", out, *self.inputs)
        self.assertEqual(r.returncode, 2)
        for bad in ("0", "65537", "+2", "x"):
            r = run("build", "-q", "--shards", bad, "-o", out, *self.inputs)
            self.assertEqual(r.returncode, 2, bad)
        r = run("build", "-q", "--shard-by", "rows", "-o", out, *self.inputs)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(glob.glob(os.path.join(self.tmp.name, "x*")), [], "a refused build leaves nothing")
        files = self.build_set("f", 2)
        r = run("build", "-q", "--shards", "2", "-o", os.path.join(self.tmp.name, "f.emb"), *self.inputs)
        self.assertEqual(r.returncode, 2, "existing shards need --force")
        self.assertIn(b"already exists", r.stderr)


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main()
