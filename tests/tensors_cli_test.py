#!/usr/bin/python3
"""tensors_cli_test.py: `embstore build` from safetensors and .npz files and `embstore export --to safetensors`,
end to end (the cases of cli_test.py for these formats, kept apart to keep that file's size in hand).

Usage: /usr/bin/python3 tests/tensors_cli_test.py PATH/TO/embstore [unittest options]

Inputs are written here with numpy (np.savez, np.savez_compressed) and with the safetensors writer of
tests/data/make_safetensors.py (Debian has no safetensors package); every value read back with `get` is compared
with the source bit for bit.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
from make_safetensors import bf16_bytes, safetensors, values  # noqa: E402

BIN = None
TMP = None


def run(*args, stdin=None):
    p = subprocess.run([BIN] + [str(a) for a in args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def tmp(name):
    return os.path.join(TMP.name, name)


def rows_of(out):
    return np.array([[np.float32(v) for v in line.split(" ")] for line in out.decode().splitlines()],
                    dtype=np.float32)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def read_safetensors(path):
    """header dict, data bytes"""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw)
    return json.loads(raw[8:8 + n]), raw[8 + n:]


class Tensors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emb = values(6, 4, 1).astype("<f4")
        cls.half = values(3, 5, 2).astype("<f2")
        cls.brain = values(4, 3, 3).astype("<f4")  # held exactly by bf16
        cls.wide = (values(2, 6, 4) / 3).astype("<f8")
        safetensors(tmp("model.safetensors"), [
            ("emb", "F32", cls.emb.shape, cls.emb.tobytes()),
            ("vec", "F32", (4,), values(1, 4, 9).astype("<f4").tobytes()),
            ("half", "F16", cls.half.shape, cls.half.tobytes()),
            ("cube", "F32", (2, 2, 2), values(2, 4, 8).astype("<f4").tobytes()),
            ("brain", "BF16", cls.brain.shape, bf16_bytes(cls.brain)),
            ("wide", "F64", cls.wide.shape, cls.wide.tobytes()),
        ], {"format": "pt", "licence": "CC0"})
        cls.arrays = {"a": values(6, 3, 1).astype("<f4"), "h": values(4, 2, 2).astype("<f2"),
                      "v": values(1, 5, 4).astype("<f4").reshape(5)}
        np.savez(tmp("stored.npz"), **cls.arrays)
        np.savez_compressed(tmp("deflated.npz"), **cls.arrays)

    def ok(self, *args, stdin=None):
        rc, out, err = run(*args, stdin=stdin)
        self.assertEqual(rc, 0, "embstore %s failed (%d): %s" % (" ".join(map(str, args)), rc, err))
        return out, err

    def fails(self, code, *args):
        rc, out, err = run(*args)
        self.assertEqual(rc, code, "embstore %s: exit %d, not %d; stderr: %s" % (" ".join(map(str, args)), rc,
                                                                               code, err))
        return err

    def inspect(self, path):
        return json.loads(self.ok("inspect", "--json", path)[0])

    def table(self, path, name, rows):
        out, _ = self.ok("get", path, "--table", name, "--ids", ",".join(str(i) for i in range(rows)))
        return rows_of(out)

    def test_every_tensor(self):
        out = tmp("all.emb")
        _, err = self.ok("build", "-o", out, tmp("model.safetensors"))
        self.assertIn("model.safetensors: safetensors (detected), 4 tables made (15 rows); 2 tensors skipped", err)
        info = self.inspect(out)
        self.assertEqual([(t["name"], t["dtype"]) for t in info["tables"]],
                         [("emb", "f32"), ("half", "f16"), ("brain", "bf16"), ("wide", "f32")])
        self.assertEqual(info["metadata"]["licence"], "CC0")
        self.assertEqual(info["metadata"]["source.emb"], tmp("model.safetensors"))
        np.testing.assert_array_equal(bits(self.table(out, "emb", 6)), bits(self.emb))
        np.testing.assert_array_equal(bits(self.table(out, "half", 3)), bits(self.half.astype(np.float32)))
        np.testing.assert_array_equal(bits(self.table(out, "brain", 4)), bits(self.brain))
        np.testing.assert_array_equal(bits(self.table(out, "wide", 2)), bits(self.wide.astype(np.float32)))

    def test_one_tensor(self):
        out = tmp("one.emb")
        self.ok("build", "-o", out, "-q", "--tensor", "half", "--dtype", "f32", "--limit", "2",
                "t=" + tmp("model.safetensors"))
        info = self.inspect(out)
        self.assertEqual([(t["name"], t["dtype"], t["rows"]) for t in info["tables"]], [("t", "f32", 2)])
        np.testing.assert_array_equal(bits(self.table(out, "t", 2)), bits(self.half[:2].astype(np.float32)))

    def test_refusals(self):
        st = tmp("model.safetensors")
        err = self.fails(2, "build", "-o", tmp("r.emb"), "t=" + st)
        self.assertIn("holds 4 tensors that can be tables ('emb', 'half', 'brain', 'wide'): pick one", err)
        self.assertIn("--tensor NAME", err)
        err = self.fails(1, "build", "-o", tmp("r.emb"), "--tensor", "cube", st)
        self.assertIn("safetensors tensor 'cube' is 3-D", err)
        err = self.fails(2, "build", "-o", tmp("r.emb"), "--tensor", "nope", st)
        self.assertIn("has no tensor 'nope'; it holds 'emb', 'vec', 'half', 'cube', ...", err)
        err = self.fails(2, "build", "-o", tmp("r.emb"), "--tensor", "x", "--from", "npy", "t=" + st)
        self.assertIn("npy input has no tensors to pick 'x' from", err)
        err = self.fails(2, "build", "-o", tmp("r.emb"), "--tensor", "a", tmp("stored.npz") + ":h")
        self.assertIn("names a member and --tensor another", err)
        self.assertFalse(os.path.exists(tmp("r.emb")))

    def test_standard_input(self):
        with open(tmp("model.safetensors"), "rb") as f:
            data = f.read()
        out = tmp("stdin.emb")
        self.ok("build", "-o", out, "-q", "--tensor", "brain", "b=-", stdin=data)
        np.testing.assert_array_equal(bits(self.table(out, "b", 4)), bits(self.brain))
        with open(tmp("stored.npz"), "rb") as f:
            rc, _, err = run("build", "-o", tmp("stdin2.emb"), "a=-", stdin=f.read())
        self.assertEqual(rc, 1, err)
        self.assertIn("a .npz archive is read by seeking", err)

    def test_npz(self):
        for archive in ("stored.npz", "deflated.npz"):
            out = tmp("npz-" + archive + ".emb")
            _, err = self.ok("build", "-o", out, tmp(archive))
            self.assertIn("npz (detected), 2 tables made (10 rows); 1 member skipped", err)
            self.assertEqual([t["name"] for t in self.inspect(out)["tables"]], ["a", "h"])
            np.testing.assert_array_equal(bits(self.table(out, "a", 6)), bits(self.arrays["a"]))
            np.testing.assert_array_equal(bits(self.table(out, "h", 4)), bits(self.arrays["h"].astype(np.float32)))
            # a member by FILE.npz:MEMBER (with or without .npy) or --tensor
            out = tmp("member-" + archive + ".emb")
            self.ok("build", "-o", out, "-q", tmp(archive) + ":h.npy", "x=" + tmp(archive) + ":a")
            self.assertEqual([t["name"] for t in self.inspect(out)["tables"]], ["h", "x"])
            np.testing.assert_array_equal(bits(self.table(out, "x", 6)), bits(self.arrays["a"]))
            out = tmp("tensor-" + archive + ".emb")
            self.ok("build", "-o", out, "-q", "--tensor", "h", "y=" + tmp(archive))
            np.testing.assert_array_equal(bits(self.table(out, "y", 4)), bits(self.arrays["h"].astype(np.float32)))
        err = self.fails(2, "build", "-o", tmp("n.emb"), tmp("stored.npz") + ":zz")
        self.assertIn("has no member 'zz' nor 'zz.npy'; it holds 'a.npy', 'h.npy', 'v.npy'", err)
        err = self.fails(1, "build", "-o", tmp("n.emb"), tmp("stored.npz") + ":v")
        self.assertIn("member 'v': .npy array is 1-D", err)
        self.assertFalse(os.path.exists(tmp("n.emb")))

    def test_npz_file_with_a_colon(self):
        # An existing file whose name has a ':' is that file, not FILE.npz:MEMBER.
        odd = tmp("odd.npz:a")
        np.save(tmp("plain.npy"), self.arrays["a"])
        os.rename(tmp("plain.npy"), odd)
        out = tmp("colon.emb")
        self.ok("build", "-o", out, "--from", "npy", "t=" + odd)
        np.testing.assert_array_equal(bits(self.table(out, "t", 6)), bits(self.arrays["a"]))

    def test_detection_by_extension(self):
        with open(tmp("empty.npz"), "wb"):
            pass
        err = self.fails(1, "build", "-o", tmp("e.emb"), tmp("empty.npz"))
        self.assertIn("not a zip archive", err)

    def test_export_round_trip(self):
        src = tmp("src.emb")
        self.ok("build", "-o", src, "-q", "--meta", "licence=CC0", tmp("model.safetensors"))
        q = tmp("q.emb")
        np.save(tmp("q.npy"), self.emb)
        self.ok("build", "-o", q, "--dtype", "int8", tmp("q.npy"))
        st = tmp("out.safetensors")
        _, err = self.ok("export", src, "--to", "safetensors", "-o", st)
        self.assertEqual(err, "")
        header, data = read_safetensors(st)
        self.assertEqual(header["__metadata__"]["licence"], "CC0")
        self.assertEqual({k: v["dtype"] for k, v in header.items() if k != "__metadata__"},
                         {"emb": "F32", "half": "F16", "brain": "BF16", "wide": "F32"})
        lo, hi = header["half"]["data_offsets"]
        self.assertEqual(data[lo:hi], self.half.tobytes())
        back = tmp("back.emb")
        self.ok("build", "-o", back, "-q", st)
        for name, rows in (("emb", 6), ("half", 3), ("brain", 4), ("wide", 2)):
            np.testing.assert_array_equal(bits(self.table(back, name, rows)), bits(self.table(src, name, rows)))
        # one table; int8 dequantised to F32, as get reads it
        self.ok("export", q, "--to", "safetensors", "-o", tmp("q.safetensors"))
        header, data = read_safetensors(tmp("q.safetensors"))
        self.assertEqual(header["q"]["dtype"], "F32")
        self.assertEqual(header["q"]["shape"], [6, 4])
        np.testing.assert_array_equal(np.frombuffer(data, dtype="<f4").reshape(6, 4), self.table(q, "q", 6))
        self.ok("export", src, "--table", "half", "--to", "safetensors", "-o", tmp("h.safetensors"))
        header, _ = read_safetensors(tmp("h.safetensors"))
        self.assertEqual(sorted(header), ["__metadata__", "half"])

    def test_export_notes_vocabularies(self):
        with open(tmp("words.txt"), "w") as f:
            f.write("2 3\ncat 1 2 3\ndog 4 5 6\n")
        store = tmp("words.emb")
        self.ok("build", "-o", store, "-q", tmp("words.txt"))
        _, err = self.ok("export", store, "--to", "safetensors", "-o", tmp("words.safetensors"))
        self.assertIn('note: safetensors holds no strings; the vocabulary of table "words" is not exported '
                      '(--to word2vec keeps it)', err)
        self.assertEqual(len(err.splitlines()), 1)


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
