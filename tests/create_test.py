#!/usr/bin/python3
"""create_test.py: `embstore create` end to end.

Usage: /usr/bin/python3 tests/create_test.py PATH/TO/embstore [unittest options]

The same seed gives the same file, another seed another table; the values follow the distribution asked for
(moments of a 256,000-value table); every dtype and the Adagrad state table; an existing OUT needs --force and
stays as it was otherwise; every usage error exits 2 with a message.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

BIN = None


def run(*args):
    p = subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class TestCreate(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="embstore_create_test_")
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def ok(self, *args):
        rc, out, err = run(*args)
        self.assertEqual(rc, 0, "embstore %s: %s" % (" ".join(map(str, args)), err))
        return out

    def create(self, name, *args):
        out = self.path(name)
        self.ok("create", "-o", out, *args)
        return out

    def values(self, path, table, rows):
        """The table's rows as f32, through `embstore export --to npy`."""
        npy = path + ".%s.npy" % table
        self.ok("export", path, "--table", table, "--to", "npy", "-o", npy)
        a = np.load(npy)
        self.assertEqual(a.shape[0], rows)
        return a.astype(np.float32)

    def test_seed_decides_the_bytes(self):
        a = self.create("a.emb", "--table", "w", "--rows", "500", "--dim", "64", "--seed", "7")
        b = self.create("b.emb", "--table", "w", "--rows", "500", "--dim", "64", "--seed", "7")
        c = self.create("c.emb", "--table", "w", "--rows", "500", "--dim", "64", "--seed", "8")
        with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
            da, db, dc = fa.read(), fb.read(), fc.read()
        self.assertEqual(da, db)
        self.assertNotEqual(da, dc)
        # A smaller table with the same seed starts with the same rows.
        s = self.create("s.emb", "--table", "w", "--rows", "3", "--dim", "64", "--seed", "7")
        np.testing.assert_array_equal(self.values(s, "w", 3), self.values(a, "w", 500)[:3])
        self.ok("verify", a)

    def test_distributions(self):
        n = self.values(self.create("n.emb", "--table", "w", "--rows", "1000", "--dim", "256", "--std", "0.5"),
                        "w", 1000)
        self.assertLess(abs(n.mean()), 0.005)
        self.assertLess(abs(n.std() - 0.5), 0.005)
        u = self.values(self.create("u.emb", "--table", "w", "--rows", "1000", "--dim", "256", "--init", "uniform",
                                    "--scale", "0.05"), "w", 1000)
        self.assertGreaterEqual(u.min(), -0.05)
        self.assertLess(u.max(), 0.05)
        self.assertLess(abs(u.std() - 0.05 / np.sqrt(3)), 0.0005)
        z = self.values(self.create("z.emb", "--table", "w", "--rows", "10", "--dim", "3", "--init", "zeros"), "w",
                        10)
        self.assertFalse(z.any())

    def test_dtypes_and_adagrad_state(self):
        for dtype in ("f32", "f16", "bf16", "int8"):
            p = self.create("%s.emb" % dtype, "--table", "emb", "--rows", "100", "--dim", "12", "-d", dtype,
                            "--adagrad-state")
            info = json.loads(self.ok("inspect", "--json", p))
            tables = {t["name"]: t for t in info["tables"]}
            self.assertEqual(tables["emb"]["dtype"], dtype)
            self.assertEqual((tables["emb"]["rows"], tables["emb"]["dim"]), (100, 12))
            state = tables["emb.adagrad_state"]
            self.assertEqual((state["dtype"], state["rows"], state["dim"]), ("f32", 100, 1))
            self.assertFalse(self.values(p, "emb.adagrad_state", 100).any())
            self.ok("verify", p)

    def test_existing_output_needs_force(self):
        p = self.create("x.emb", "--table", "w", "--rows", "4", "--dim", "4")
        with open(p, "rb") as f:
            before = f.read()
        rc, _, err = run("create", "-o", p, "--table", "w", "--rows", "4", "--dim", "4", "--seed", "1")
        self.assertEqual(rc, 2)
        self.assertIn("already exists", err)
        with open(p, "rb") as f:
            self.assertEqual(f.read(), before)
        self.ok("create", "-f", "-o", p, "--table", "w", "--rows", "4", "--dim", "4", "--seed", "1")
        with open(p, "rb") as f:
            self.assertNotEqual(f.read(), before)

    def test_usage_errors(self):
        out = self.path("never.emb")
        base = ["create", "-o", out, "--table", "w", "--rows", "4", "--dim", "4"]
        cases = [
            (["create", "--table", "w", "--rows", "4", "--dim", "4"], "missing -o"),
            (["create", "-o", out, "--rows", "4", "--dim", "4"], "required"),
            (base + ["--rows", "0"], "--rows '0'"),
            (base + ["--dim", "x"], "--dim 'x'"),
            (base + ["--dim", "4294967296"], "--dim '4294967296'"),
            (base + ["--init", "gaussian"], "--init 'gaussian'"),
            (base + ["--std", "-1"], "--std '-1'"),
            (base + ["--std", "nan"], "--std 'nan'"),
            (base + ["--init", "uniform"], "needs --scale"),
            (base + ["--scale", "0.1"], "--scale applies to --init uniform"),
            (base + ["--init", "uniform", "--scale", "1", "--std", "1"], "--std applies to --init normal"),
            (base + ["--seed", "-3"], "--seed '-3'"),
            (base + ["-d", "f64"], "--dtype 'f64'"),
            (base + ["extra"], "unexpected argument 'extra'"),
        ]
        for args, message in cases:
            rc, _, err = run(*args)
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            self.assertIn(message, err, args)
            self.assertFalse(os.path.exists(out), args)
        rc, _, err = run(*base[:-2], "--dim", "4", "--table", "")
        self.assertEqual(rc, 2)
        self.assertIn("embstore: create: ", err)
        self.assertFalse(os.path.exists(out))

    def test_help(self):
        out = self.ok("create", "--help")
        for option in ("--table", "--rows", "--dim", "--init", "--std", "--scale", "--seed", "--adagrad-state"):
            self.assertIn(option, out)
        self.assertFalse(os.path.exists(self.path("h.emb")))
        self.ok("create", "--help", "-o", self.path("h.emb"), "--table", "w", "--rows", "1", "--dim", "1")
        self.assertFalse(os.path.exists(self.path("h.emb")), "--help wrote a file")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: create_test.py PATH/TO/embstore [unittest options]\n")
        sys.exit(2)
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
