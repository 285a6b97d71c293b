#!/usr/bin/python3
"""cli_test.py: drives the embstore command-line tool end to end.

Usage: /usr/bin/python3 tests/cli_test.py PATH/TO/embstore [unittest options]

Builds stores from numpy-written files, reads them back with `get` and compares bit for bit, checks inspect's
text and JSON, corrupts files for verify, feeds garbage and mutated files to every reader (which must answer
with an exit status, never die by a signal), and checks every documented exit status. Runs under whatever
EMBSTORE_ISA the environment sets, and compares `get` across every kernel set this CPU supports.
"""
import ctypes
import ctypes.util
import json
import os
import pty
import random
import re
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np

BIN = None
TMP = None  # a tempfile.TemporaryDirectory for the whole module
ISAS = ("scalar", "avx2", "avx512", "neon")


def run(*args, stdin=None, env=None, cwd=None, timeout=60):
    """Runs the tool; returns (returncode, stdout bytes, stderr text). stdin: bytes, or an open file."""
    full_env = dict(os.environ)
    if env is not None:
        full_env.update(env)
    feed = {"stdin": stdin} if hasattr(stdin, "fileno") else {"input": stdin}
    p = subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=full_env, cwd=cwd, timeout=timeout, **feed)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def tmp(name):
    return os.path.join(TMP.name, name)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def parse_rows(out):
    """`get` output -> float32 matrix (one line per row, values separated by one space)."""
    text = out.decode("ascii")
    lines = text.split("\n")
    assert lines[-1] == "", "output does not end with a newline"
    rows = [line.split(" ") for line in lines[:-1]]
    for r in rows:
        assert all(v != "" for v in r), "values must be separated by exactly one space"
    return np.array(rows, dtype=np.float64).astype(np.float32)


def to_bf16(a):
    """float32 -> bf16 (as float32) rounding to nearest, ties to even; no NaN in the inputs used here."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    return (r.astype(np.uint32) << 16).view(np.float32)


_XXH3 = None


def xxh3(data):
    """XXH3-64 (seed 0) through the system libxxhash the library itself links; None when it is not found."""
    global _XXH3
    if _XXH3 is None:
        name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
        try:
            fn = ctypes.CDLL(name).XXH3_64bits
        except (OSError, AttributeError):
            _XXH3 = False
            return None
        fn.restype = ctypes.c_uint64
        fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        _XXH3 = fn
    if _XXH3 is False:
        return None
    return _XXH3(bytes(data), len(data))


def u64(data, at):
    return int.from_bytes(data[at:at + 8], "little")


def u32(data, at):
    return int.from_bytes(data[at:at + 4], "little")


def reseal(data):
    """Recomputes the header checksum (docs/FORMAT.md) of a store image in place, so that a mutated directory
    reaches the field checks instead of stopping at the checksum. Returns False when the directory bounds
    do not lie inside the data (nothing to seal)."""
    if len(data) < 128:
        return False
    off, size = u64(data, 24), u64(data, 32)
    if off > len(data) or size > len(data) - off:
        return False
    h = xxh3(bytes(data[:120]) + bytes(data[off:off + size]))
    if h is None:
        return False
    data[120:128] = h.to_bytes(8, "little")
    return True


def reseal_chunk(data, table_index, chunk):
    """Recomputes one chunk checksum (in both checksum slots, or in a 1.0 directory and then the header checksum)
    after table data was changed on purpose."""
    dir_off = u64(data, 24)
    table_count, meta_count = u32(data, 40), u32(data, 44)
    e = dir_off + 128 * table_index
    rows, chunk_rows, stride = u64(data, e + 16), u32(data, e + 28), u64(data, e + 32)
    data_offset, chunk_first = u64(data, e + 40), u64(data, e + 56)
    first = chunk * chunk_rows
    n = min(chunk_rows, rows - first)
    start = data_offset + first * stride
    value = xxh3(bytes(data[start:start + n * stride])).to_bytes(8, "little")
    count = u64(data, 48)
    if u32(data, 64) & 1:  # SUM_SLOTS (1.1): the checksums live in two slots that end the file; reseal both
        size = 32 + 8 * count
        for slot in (len(data) - 2 * size, len(data) - size):
            at = slot + 32 + 8 * (chunk_first + chunk)
            data[at:at + 8] = value
            data[slot + 24:slot + 32] = xxh3(bytes(data[slot:slot + 24]) +
                                             bytes(data[slot + 32:slot + size])).to_bytes(8, "little")
    else:
        sums = dir_off + 128 * table_count + 16 * meta_count
        at = sums + 8 * (chunk_first + chunk)
        data[at:at + 8] = value
        reseal(data)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def supported_isas():
    return [isa for isa in ISAS if run("cpu", "--check", isa)[0] == 0]


def make_f32(rng, rows, dim):
    a = (rng.standard_normal((rows, dim)) * rng.choice([1e-3, 1.0, 30.0], size=(rows, 1))).astype(np.float32)
    # Values that exercise conversions: signed zero, subnormals (f32 and f16), f16 overflow and its edge,
    # bf16 ties, infinities (f32, f16 and bf16 tables; never int8).
    specials = np.array([0.0, -0.0, 1e-40, -3e-39, 6e-8, 1e-5, 65504.0, 65519.0, 65520.0, 1e30,
                         np.float32(1.0 + 2.0 ** -8), np.float32(1.0 + 3 * 2.0 ** -8), np.inf, -np.inf],
                        dtype=np.float32)
    a[0, :min(dim, len(specials))] = specials[:dim]
    a[1, :] = 2.5  # a constant row: int8 stores it exactly
    return a


def setUpModule():
    global TMP
    TMP = tempfile.TemporaryDirectory(prefix="embstore_cli_test_")
    rng = np.random.default_rng(20240611)
    a = make_f32(rng, 300, 37)
    np.save(tmp("words.npy"), a)
    b = (rng.standard_normal((1000, 8)) * 4).astype(np.float16)
    b[0, :4] = np.array([np.inf, -np.inf, 6e-8, -0.0], dtype=np.float16)
    np.save(tmp("half.npy"), b)
    c = rng.standard_normal((5, 1)).astype(np.float32)
    np.save(tmp("one.col.npy"), c)
    Data.words, Data.half, Data.onecol = a, b, c
    # Finite values only, for int8.
    q = (rng.standard_normal((200, 19)) * rng.choice([0.01, 1.0, 100.0], size=(200, 1))).astype(np.float32)
    q[3, :] = -7.25
    np.save(tmp("quant.npy"), q)
    Data.quant = q


def tearDownModule():
    TMP.cleanup()


class Data:
    words = half = onecol = quant = None


class Base(unittest.TestCase):
    maxDiff = None

    def ok(self, *args, **kw):
        rc, out, err = run(*args, **kw)
        self.assertEqual(rc, 0, "embstore %s failed (%d): %s" % (" ".join(map(str, args)), rc, err))
        return out, err

    def fails(self, code, *args, **kw):
        rc, out, err = run(*args, **kw)
        self.assertEqual(rc, code, "embstore %s: expected exit %d, got %d; stderr: %s"
                         % (" ".join(map(str, args)), code, rc, err))
        self.assertTrue(err.startswith("embstore: "), "no 'embstore: ' message on stderr: %r" % err)
        return out, err

    def build(self, out, *args):
        self.ok("build", "-o", out, *args)
        return out

    def inspect(self, path):
        out, _ = self.ok("inspect", "--json", path)
        return json.loads(out.decode("utf-8"))

    def get(self, path, ids, table=None, env=None):
        args = ["get", path, "--ids", ",".join(str(i) for i in ids)]
        if table is not None:
            args += ["--table", table]
        out, _ = self.ok(*args, env=env)
        return out


class TestGeneral(Base):
    def test_help(self):
        out, _ = self.ok("--help")
        text = out.decode()
        for word in ("build", "inspect", "verify", "get", "cpu", "Exit status", "EMBSTORE_ISA"):
            self.assertIn(word, text)
        self.ok("-h")
        self.ok("help")
        for cmd in ("build", "inspect", "verify", "get", "cpu", "bench"):
            for flag in ("--help", "-h"):
                out, _ = self.ok(cmd, flag)
                self.assertIn("Usage: embstore " + cmd, out.decode())
                self.assertIn("Exit status", out.decode())
            out2, _ = self.ok("help", cmd)
            self.assertEqual(out, out2)

    def exit_lines(self, cmd):
        """The lines of the 'Exit status' section of a --help text, by status: {0: "...", 1: "...", 2: "..."}."""
        text = self.ok(cmd, "--help")[0].decode() if cmd else self.ok("--help")[0].decode()
        section = text[text.index("Exit status"):].split("\n\n")[0]
        lines = {}
        for line in section.rstrip("\n").split("\n")[1:]:
            m = re.match(r"^  ([0-9])  (.*)$", line)
            if m:
                lines[int(m.group(1))] = m.group(2)
            else:
                self.assertTrue(line.startswith("     "), "%s: %r" % (cmd, line))
                lines[max(lines)] += " " + line.strip()
        return lines

    def test_help_says_what_is_true_of_each_command(self):
        top = self.ok("--help")[0].decode()
        self.assertNotIn("docs/", top)  # not installed
        self.assertIn("embstore(1)", top)
        env = top[top.index("Environment:"):]
        self.assertNotRegex(env, r"for get\b", env)  # not get's alone: the library's, in any program
        self.assertIn("any program", env)
        # Each command's own exit statuses; verify's "intact" belongs to verify alone.
        for cmd in ("build", "inspect", "get", "cpu", "bench"):
            lines = self.exit_lines(cmd)
            self.assertNotIn("verify", " ".join(lines.values()), cmd)
            self.assertNotIn("intact", " ".join(lines.values()), cmd)
        self.assertIn("intact", self.exit_lines("verify")[0])
        build = self.exit_lines("build")
        self.assertIn("written", build[0])
        self.assertIn("INPUT", build[1])
        self.assertIn("--force", build[2])
        self.assertIn("rows were printed", self.exit_lines("get")[0])
        self.assertIn("ISA cannot run here", self.exit_lines("cpu")[1])
        self.assertIn("--compare", self.exit_lines("bench")[1])  # only --compare blames a file
        text = self.ok("build", "--help")[0].decode()
        self.assertRegex(text, r"\n  -f, --force ")
        self.assertRegex(text, r"\n      --from FORMAT ")  # long only: -f is --force

    def test_version(self):
        out, _ = self.ok("--version")
        self.assertRegex(out.decode(), r"^embstore \d+\.\d+\.\d+\S* \(file format 1\.2\)\n$")
        self.assertEqual(out, self.ok("-V")[0])

    def test_usage_errors(self):
        self.fails(2)
        self.fails(2, "frobnicate")
        self.fails(2, "--frobnicate")
        self.fails(2, "help", "frobnicate")
        for cmd in ("build", "inspect", "verify", "get", "cpu"):
            _, err = self.fails(2, cmd, "--no-such-option")
            self.assertIn("--no-such-option", err)
            self.assertIn("Try 'embstore %s --help'" % cmd, err)
            self.fails(2, cmd, "-Z")
        self.fails(2, "inspect")                       # missing FILE
        self.fails(2, "verify")
        self.fails(2, "inspect", "--json=yes", tmp("x"))  # flag with a value
        self.fails(2, "get", tmp("x"))                 # missing --ids
        self.fails(2, "get", "--ids")                  # option without its value
        self.fails(2, "inspect", tmp("a"), tmp("b"))   # two files
        self.fails(2, "cpu", "extra")

    def test_missing_file_is_io_error(self):
        for cmd in (["inspect"], ["verify"], ["get", "--ids", "0"]):
            _, err = self.fails(2, *cmd, tmp("does-not-exist.emb"))
            self.assertIn("does-not-exist.emb", err)
            self.assertIn("No such file or directory", err)


class TestCpu(Base):
    def test_cpu(self):
        out, _ = self.ok("cpu")
        text = out.decode()
        self.assertIn("cpu features:", text)
        for isa in ISAS:
            self.assertRegex(text, r"\n  %s +(supported|not supported)\n" % isa)
        m = re.search(r"\nactive: +(\w+)", text)
        self.assertIsNotNone(m, text)
        self.assertIn(m.group(1), supported_isas())
        forced = os.environ.get("EMBSTORE_ISA")
        if forced:
            self.assertEqual(m.group(1), forced)

    def test_check(self):
        self.assertEqual(run("cpu", "--check", "scalar")[0], 0)
        for isa in ISAS:
            rc, out, _ = run("cpu", "--check", isa)
            self.assertIn(rc, (0, 1))
            self.assertEqual(out.decode(), "%s: %s\n" % (isa, "supported" if rc == 0 else "not supported"))
            self.assertRegex(self.ok("cpu")[0].decode(),
                             r"\n  %s +%s\n" % (isa, "supported" if rc == 0 else "not supported"))
        _, err = self.fails(2, "cpu", "--check", "bogus")
        self.assertIn("bogus", err)
        self.fails(2, "cpu", "--check", "")

    def test_unusable_isa_env(self):
        _, err = self.fails(2, "cpu", env={"EMBSTORE_ISA": "bogus"})
        self.assertIn("EMBSTORE_ISA", err)
        path = self.build(tmp("isa_env.emb"), tmp("words.npy"))
        out, err = self.fails(2, "get", path, "--ids", "0", env={"EMBSTORE_ISA": "bogus"})
        self.assertEqual(out, b"")
        self.assertIn("EMBSTORE_ISA", err)
        unsupported = [isa for isa in ISAS if isa not in supported_isas()]
        for isa in unsupported:
            self.fails(2, "cpu", env={"EMBSTORE_ISA": isa})
            self.fails(2, "get", path, "--ids", "0", env={"EMBSTORE_ISA": isa})


class TestBuildAndGet(Base):
    def test_f32_roundtrip_exact(self):
        path = self.build(tmp("f32.emb"), tmp("words.npy"))
        a = Data.words
        ids = list(range(len(a))) + [0, 299, 5, 5]
        got = parse_rows(self.get(path, ids))
        self.assertEqual(got.shape, (len(ids), a.shape[1]))
        np.testing.assert_array_equal(bits(got), bits(a[ids]))
        info = self.inspect(path)
        self.assertEqual([(t["name"], t["dtype"], t["rows"], t["dim"]) for t in info["tables"]],
                         [("words", "f32", 300, 37)])

    def test_f16_input_keeps_dtype(self):
        path = self.build(tmp("f16.emb"), tmp("half.npy"))
        b = Data.half
        self.assertEqual(self.inspect(path)["tables"][0]["dtype"], "f16")
        ids = [999, 0, 1, 500, 0]
        got = parse_rows(self.get(path, ids))
        np.testing.assert_array_equal(bits(got), bits(b[ids].astype(np.float32)))

    def test_dtype_conversions(self):
        a = Data.words
        ids = list(range(0, 300, 7)) + [0, 1]
        # f32 -> f16 and bf16: round to nearest even, exactly as numpy does.
        # 65520 and 1e30 do not fit f16: refused, or with --saturate stored as +-65504 (infinities stay).
        _, err = self.fails(1, "build", "-o", tmp("conv_refused.emb"), "--dtype", "f16", tmp("words.npy"))
        self.assertIn("does not fit f16", err)
        self.assertFalse(os.path.exists(tmp("conv_refused.emb")))
        clipped = np.where(np.isfinite(a), np.clip(a, -65504, 65504), a)
        as_f16 = clipped.astype(np.float16).astype(np.float32)
        for dtype, expect in (("f16", as_f16), ("bf16", to_bf16(a)),
                              ("f32", a)):
            path = self.build(tmp("conv_%s.emb" % dtype), "--dtype", dtype, "--saturate", tmp("words.npy"))
            t = self.inspect(path)["tables"][0]
            self.assertEqual(t["dtype"], dtype)
            self.assertGreaterEqual(t["row_stride"], {"f32": 4, "f16": 2, "bf16": 2}[dtype] * 37)
            got = parse_rows(self.get(path, ids))
            np.testing.assert_array_equal(bits(got), bits(expect[ids]), "dtype " + dtype)
        # f16 input -> f32 widens exactly; -> bf16 from the widened values.
        b = Data.half
        path = self.build(tmp("conv_h32.emb"), "-d", "f32", tmp("half.npy"))
        np.testing.assert_array_equal(bits(parse_rows(self.get(path, [0, 7]))), bits(b[[0, 7]].astype(np.float32)))
        path = self.build(tmp("conv_hbf.emb"), "--dtype=bf16", tmp("half.npy"))
        np.testing.assert_array_equal(bits(parse_rows(self.get(path, [0, 7]))),
                                      bits(to_bf16(b[[0, 7]].astype(np.float32))))

    def test_int8_within_half_a_step(self):
        q = Data.quant
        path = self.build(tmp("int8.emb"), "--dtype", "int8", tmp("quant.npy"))
        t = self.inspect(path)["tables"][0]
        self.assertEqual((t["dtype"], t["rows"], t["dim"]), ("int8", 200, 19))
        self.assertGreaterEqual(t["row_stride"], 19 + 8)
        ids = list(range(200))
        got = parse_rows(self.get(path, ids)).astype(np.float64)
        x = q.astype(np.float64)
        lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
        scale = (hi - lo) / 255
        tol = scale / 2 * (1 + 1e-4) + 1e-6 * np.maximum(abs(lo), abs(hi))
        err = np.abs(got - x)
        self.assertTrue((err <= tol).all(), "worst row %d: error %g > %g" % (
            int(np.argmax((err - tol).max(axis=1))), float(err.max()), float(tol.max())))
        np.testing.assert_array_equal(got[3], x[3])  # constant row: exact

    def test_int8_refuses_non_finite(self):
        out = tmp("int8_inf.emb")
        _, err = self.fails(1, "build", "-o", out, "--dtype", "int8", tmp("words.npy"))  # row 0 holds inf
        self.assertIn("words.npy", err)
        self.assertFalse(os.path.exists(out))

    def test_several_inputs_names_and_stems(self):
        sub = tmp("sub")
        os.makedirs(sub, exist_ok=True)
        np.save(os.path.join(sub, "archive.tar.npy"), Data.onecol)
        path = self.build(tmp("multi.emb"), tmp("words.npy"), "vecs=" + tmp("half.npy"),
                          os.path.join(sub, "archive.tar.npy"), "--meta", "licence=CC0", "-m", "empty=")
        info = self.inspect(path)
        self.assertEqual([t["name"] for t in info["tables"]], ["words", "vecs", "archive.tar"])
        self.assertEqual([t["dtype"] for t in info["tables"]], ["f32", "f16", "f32"])
        version = self.ok("--version")[0].decode().split()[1]
        self.assertEqual(info["metadata"], {
            "creator": "embstore " + version,
            "source.words": tmp("words.npy"),
            "source.vecs": tmp("half.npy"),
            "source.archive.tar": os.path.join(sub, "archive.tar.npy"),
            "licence": "CC0",
            "empty": "",
        })
        np.testing.assert_array_equal(bits(parse_rows(self.get(path, [4, 2], table="archive.tar"))),
                                      bits(Data.onecol[[4, 2]]))
        np.testing.assert_array_equal(bits(parse_rows(self.get(path, [9], table="vecs"))),
                                      bits(Data.half[[9]].astype(np.float32)))
        # A user-given creator replaces the automatic one; a repeated key is refused.
        path2 = self.build(tmp("multi2.emb"), "--meta", "creator=me", tmp("words.npy"))
        self.assertEqual(self.inspect(path2)["metadata"]["creator"], "me")
        self.fails(2, "build", "-o", tmp("dupmeta.emb"), "-m", "k=1", "-m", "k=2", tmp("words.npy"))
        self.fails(2, "build", "-o", tmp("badmeta.emb"), "-m", "novalue", tmp("words.npy"))
        self.fails(2, "build", "-o", tmp("badmeta.emb"), "-m", "=v", tmp("words.npy"))
        self.assertFalse(os.path.exists(tmp("dupmeta.emb")))

    def test_build_usage_errors(self):
        out = tmp("usage.emb")
        w = tmp("words.npy")
        cases = [
            [w],                                              # no -o
            ["-o", out],                                      # no input
            ["-o", out, "--dtype", "f64", w],
            ["-o", out, "--from", "csv", w],
            ["-o", out, w, w],                                # two tables named words
            ["-o", out, "=" + w],                             # empty name
            ["-o", out, "--rows", "3", w],                    # --rows without raw
            ["-o", out, "--align", "1000", w],
            ["-o", out, "--align", "x", w],
            ["-o", out, "--chunk-bytes", "0", w],
            ["-o", out, "--chunk-bytes", "-5", w],
            ["-o", out, tmp("no_suffix")],                    # format unknown
        ]
        for args in cases:
            self.fails(2, "build", *args)
            self.assertFalse(os.path.exists(out), args)
        _, err = self.fails(2, "build", "-o", out, tmp("missing.npy"))
        self.assertIn("missing.npy", err)
        self.assertIn("No such file or directory", err)
        self.fails(2, "build", "-o", tmp("no/such/dir/x.emb"), w)

    def test_alignment_and_chunks(self):
        path = self.build(tmp("aligned.emb"), "--align", "8K", "--chunk-bytes", "1000", tmp("words.npy"),
                          tmp("half.npy"))
        info = self.inspect(path)
        self.assertEqual(info["data_alignment"], 8192)
        for t in info["tables"]:
            self.assertEqual(t["data_offset"] % 8192, 0)
            self.assertGreaterEqual(t["chunk_rows"], 1)
            self.assertLessEqual(t["chunk_rows"] * t["row_stride"], max(1000, t["row_stride"]))
            self.assertEqual(t["chunk_count"], -(-t["rows"] // t["chunk_rows"]))
        self.assertEqual(self.ok("verify", path)[0].decode().split()[0], "ok:")

    def test_raw(self):
        a = Data.words[2:]  # finite rows
        raw = tmp("vectors.f32")
        a.astype("<f4").tofile(raw)
        path = self.build(tmp("raw.emb"), "--from", "raw", "--rows", 298, "--dim", 37, raw)
        t = self.inspect(path)["tables"][0]
        self.assertEqual((t["name"], t["dtype"], t["rows"], t["dim"]), ("vectors", "f32", 298, 37))
        np.testing.assert_array_equal(bits(parse_rows(self.get(path, [0, 297, 100]))), bits(a[[0, 297, 100]]))
        path = self.build(tmp("raw16.emb"), "--from=raw", "--rows=298", "--dim=37", "--dtype=f16", "v=" + raw)
        self.assertEqual(self.inspect(path)["tables"][0]["dtype"], "f16")
        # Wrong sizes are the input's fault (exit 1); missing sizes are a usage error.
        out = tmp("raw_bad.emb")
        for rows, dim in ((299, 37), (298, 36), (1, 37)):
            _, err = self.fails(1, "build", "-o", out, "--from", "raw", "--rows", rows, "--dim", dim, raw)
            self.assertIn("vectors.f32", err)
        self.fails(2, "build", "-o", out, "--from", "raw", "--rows", 298, raw)
        self.fails(2, "build", "-o", out, "--from", "raw", "--dim", 37, raw)
        self.fails(2, "build", "-o", out, "--from", "raw", "--rows", 0, "--dim", 37, raw)
        self.fails(2, "build", "-o", out, "--from", "raw", "--rows", 298, "--dim", "3x", raw)
        # no --from raw: raw cannot be told from its content (it is only numbers), and the content is no format
        _, err = self.fails(1, "build", "-o", out, raw)
        self.assertIn("cannot tell the format", err)
        self.assertFalse(os.path.exists(out))

    def test_bad_npy_inputs(self):
        good = read_bytes(tmp("words.npy"))
        bad = {}
        np.save(tmp("bad_fortran.npy"), np.asfortranarray(np.ones((6, 5), dtype=np.float32)))
        np.save(tmp("bad_int32.npy"), np.ones((6, 5), dtype=np.int32))
        np.save(tmp("bad_3d.npy"), np.ones((2, 3, 4), dtype=np.float32))
        np.save(tmp("bad_1d.npy"), np.ones(7, dtype=np.float32))
        np.save(tmp("bad_bigendian.npy"), np.ones((6, 5), dtype=">f4"))
        bad["truncated"] = good[:-10]
        bad["header_only"] = good[:128]
        bad["garbage_header"] = b"\x93NUMPY\x01\x00\x76\x00" + b"{'descr': what is this" + b" " * 90 + b"\n"
        bad["junk"] = bytes(random.Random(5).getrandbits(8) for _ in range(500))
        bad["empty"] = b""
        for name, data in bad.items():
            write_bytes(tmp("bad_%s.npy" % name), data)
        names = sorted(bad) + ["fortran", "int32", "3d", "1d", "bigendian"]

        out = tmp("precious.emb")
        self.build(out, tmp("half.npy"))
        before = read_bytes(out)
        listing = sorted(os.listdir(TMP.name))
        for name in names:
            src = tmp("bad_%s.npy" % name)
            # Also as the second input, after a good table was already streamed into the temporary file.
            for args in ([src], [tmp("words.npy"), src]):
                _, err = self.fails(1, "build", "-f", "-o", out, *args)
                self.assertIn("bad_%s.npy" % name, err)
                self.assertEqual(read_bytes(out), before, "OUT changed after a failed build (%s)" % name)
                self.assertEqual(sorted(os.listdir(TMP.name)), listing, "a temporary file was left behind")
                new = tmp("new_%s.emb" % name)
                self.fails(1, "build", "-o", new, *args)
                self.assertFalse(os.path.exists(new))
        # A successful build replaces OUT.
        self.ok("build", "--force", "-o", out, tmp("words.npy"))
        self.assertNotEqual(read_bytes(out), before)


class TestGetErrors(Base):
    @classmethod
    def setUpClass(cls):
        cls.multi = tmp("get_multi.emb")
        cls.single = tmp("get_single.emb")
        run("build", "-o", cls.multi, tmp("words.npy"), tmp("half.npy"))
        run("build", "-o", cls.single, tmp("words.npy"))

    def test_table_selection(self):
        out, err = self.fails(2, "get", self.multi, "--ids", "0")
        self.assertEqual(out, b"")
        self.assertIn('"words"', err)
        self.assertIn('"half"', err)
        self.assertIn("--table", err)
        out, err = self.fails(2, "get", self.multi, "--table", "nope", "--ids", "0")
        self.assertIn('no table "nope"', err)
        self.assertIn('"half"', err)
        self.fails(2, "get", self.single, "-t", "half", "--ids", "0")
        self.ok("get", self.single, "-t", "words", "--ids", "0")
        self.ok("get", self.multi, "-t", "half", "-i", "0")

    def test_bad_ids(self):
        for ids in ("300", "0,1,300", "-1", "5,-3", "-9223372036854775808", "9223372036854775807"):
            out, err = self.fails(2, "get", self.single, "--ids", ids)
            self.assertEqual(out, b"", "nothing may be printed when an id is bad")
            self.assertIn("out of range", err)
        _, err = self.fails(2, "get", self.single, "--ids", "1,2,300")
        self.assertIn("#3", err)
        self.assertIn("300", err)
        for ids in ("", "1,,2", "1, ,2", "1,", ",1", " ", "x", "1,2x", "0x10", "+1", "1 2", "1.0", "--", "- 1",
                    "1\n", "99999999999999999999", "18446744073709551615", "-9223372036854775809"):
            out, err = self.fails(2, "get", self.single, "--ids", ids)
            self.assertEqual(out, b"")
            self.assertNotIn("out of range", err)
        _, err = self.fails(2, "get", self.single, "--ids", "4,5,abc")
        self.assertIn("#3", err)
        self.assertIn("abc", err)

    def test_ids_with_blanks(self):
        expect = self.get(self.single, [1, 2, 299])
        for ids in ("1, 2, 299", " 1 ,2,299 ", "1,\t2,\t299", "\t1 , 2 ,  299\t"):
            self.assertEqual(self.ok("get", self.single, "--ids", ids)[0], expect, repr(ids))
        _, err = self.fails(2, "get", self.single, "--ids", "1, ,2")
        self.assertIn("id #2 is empty", err)

    def test_ids_from_stdin(self):
        rng = np.random.default_rng(7)
        ids = rng.integers(0, 300, size=5000)
        text = ""
        seps = [" ", "\n", ",", "\t", " ,\n", "\r\n"]
        for i, v in enumerate(ids):
            text += str(int(v)) + seps[i % len(seps)]
        out, _ = self.ok("get", self.single, "--ids", "-", stdin=text.encode())
        np.testing.assert_array_equal(bits(parse_rows(out)), bits(Data.words[ids]))
        # Ids from the command line come first, then standard input's.
        out, _ = self.ok("get", self.single, "--ids", "-", "--ids", "7,8", stdin=b"3\n")
        np.testing.assert_array_equal(bits(parse_rows(out)), bits(Data.words[[7, 8, 3]]))
        self.assertEqual(self.ok("get", self.single, "--ids", "-", stdin=b"")[0], b"")
        for bad in (b"1 2 x", b"1\x00", b"5 -1", b"300", b"1" * 40, b"12345678901234567890123"):
            out, _ = self.fails(2, "get", self.single, "--ids", "-", stdin=bad)
            self.assertEqual(out, b"")

    def test_big_rows_in_batches(self):
        # dim 262145: the CLI gathers 3 rows per batch; 7 ids take 3 batches.
        rng = np.random.default_rng(11)
        a = rng.standard_normal((7, 262145)).astype(np.float32)
        np.save(tmp("wide.npy"), a)
        path = self.build(tmp("wide.emb"), tmp("wide.npy"))
        ids = [6, 0, 3, 3, 1, 5, 2]
        np.testing.assert_array_equal(bits(parse_rows(self.get(path, ids))), bits(a[ids]))

    def test_closed_pipe(self):
        full_env = dict(os.environ)
        ids = (",".join(["0"] * 20000)).encode()
        p = subprocess.Popen([BIN, "get", self.single, "--ids", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=full_env)
        p.stdin.write(ids)
        p.stdin.close()
        p.stdout.read(100)
        p.stdout.close()
        self.assertGreaterEqual(p.wait(timeout=60), 0, "killed by a signal")


class TestOutputSafety(Base):
    def test_output_that_is_an_input_is_refused(self):
        src = tmp("own.npy")
        np.save(src, Data.onecol)
        before = read_bytes(src)
        os.link(src, tmp("own_hard.npy"))
        os.symlink(src, tmp("own_sym.npy"))
        os.symlink(src, tmp("own_sym.emb"))
        cases = [(src, src),                   # the same path
                 (src, "./" + os.path.relpath(src, TMP.name)),  # another spelling (run from TMP)
                 (tmp("own_hard.npy"), src),   # a hard link to the input
                 (src, tmp("own_hard.npy")),
                 (tmp("own_sym.emb"), src),    # a symbolic link to the input
                 (src, tmp("own_sym.npy")),
                 (src, "t=" + src)]
        for out, inp in cases:
            for force in ([], ["-f"], ["--force"]):
                rc, _, err = run("build", *force, "-o", out, tmp("words.npy"), inp, cwd=TMP.name)
                self.assertEqual(rc, 2, "build -o %s %s %s: %s" % (out, inp, force, err))
                self.assertIn("embstore: build: %s: " % out, err)
                self.assertIn("input", err)
                self.assertEqual(read_bytes(src), before, "the input changed")
        self.assertTrue(os.path.islink(tmp("own_sym.emb")))
        self.assertEqual(os.stat(src).st_nlink, 2)

    def test_existing_output_needs_force(self):
        out = tmp("exists.emb")
        self.build(out, tmp("half.npy"))
        before = read_bytes(out)
        _, err = self.fails(2, "build", "-o", out, tmp("words.npy"))
        self.assertEqual(err, "embstore: build: %s: already exists; use -f/--force to replace it\n" % out)
        self.assertEqual(read_bytes(out), before)
        # Any file, not only a store.
        write_bytes(tmp("notes.txt"), b"keep me")
        self.fails(2, "build", "-o", tmp("notes.txt"), tmp("words.npy"))
        self.assertEqual(read_bytes(tmp("notes.txt")), b"keep me")
        for force in ("-f", "--force"):
            self.ok("build", force, "-o", out, tmp("words.npy"))
            self.assertEqual([t["name"] for t in self.inspect(out)["tables"]], ["words"])
            self.ok("build", "-o", out, tmp("half.npy"), force)
            self.assertEqual(read_bytes(out), before)


class TestOptions(Base):
    @classmethod
    def setUpClass(cls):
        cls.store = tmp("options.emb")
        run("build", "-o", cls.store, tmp("words.npy"), tmp("half.npy"))

    def test_value_forms(self):
        rows = self.get(self.store, [3, 4], table="words")
        for args in (["--table", "words", "--ids", "3,4"], ["--table=words", "--ids=3,4"], ["-t", "words", "-i3,4"],
                     ["-twords", "-i", "3,4"], ["--ids", "3", "--ids=4", "-twords"], ["--tab=words", "--id=3,4"]):
            self.assertEqual(self.ok("get", self.store, *args)[0], rows, args)
            self.assertEqual(self.ok("get", *args, self.store)[0], rows, args)  # operands anywhere
        for args in (["-o" + tmp("attached.emb")], ["--output=" + tmp("attached.emb"), "-f"],
                     ["--out", tmp("attached.emb"), "--force"]):
            self.ok("build", tmp("words.npy"), *args, "-m", "k=v")
            self.assertEqual(self.inspect(tmp("attached.emb"))["metadata"]["k"], "v")
        # A value is taken whatever it looks like.
        _, err = self.fails(2, "get", self.store, "-t", "words", "--ids", "-5")
        self.assertIn("(-5) is out of range", err)
        self.ok("build", "-o", tmp("dash.emb"), "-m", "--=-x", tmp("words.npy"))
        self.assertEqual(self.inspect(tmp("dash.emb"))["metadata"]["--"], "-x")

    def test_double_dash_and_permutation(self):
        dashed = tmp("-dashed.emb")
        os.link(self.store, dashed)
        name = os.path.basename(dashed)
        rc, out, err = run("inspect", "--json", "--", name, cwd=TMP.name)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(json.loads(out)["tables"]), 2)
        rc, _, err = run("inspect", name, cwd=TMP.name)
        self.assertEqual(rc, 2)
        self.assertIn("unknown option '-d'", err)
        rc, out, err = run("verify", "--", name, "-q", cwd=TMP.name)  # after --, -q is a file
        self.assertEqual(rc, 2, err)
        self.assertIn("ok: " + name, out.decode())
        self.assertIn("-q", err)
        out, _ = self.ok("verify", self.store, "-q", self.store)
        self.assertEqual(out.decode(), ("ok: %s (2 tables, %d bytes checked)\n" % (
            self.store, os.path.getsize(self.store))) * 2)
        # build: tables follow the operands' order, wherever the options are.
        out = tmp("permuted.emb")
        self.ok("build", tmp("half.npy"), "-o", out, "w=" + tmp("words.npy"), "-d", "f32", tmp("one.col.npy"))
        self.assertEqual([(t["name"], t["dtype"]) for t in self.inspect(out)["tables"]],
                         [("half", "f32"), ("w", "f32"), ("one.col", "f32")])

    def test_messages(self):
        def usage_error(args, message):
            rc, out, err = run(*args)
            self.assertEqual((rc, out), (2, b""), args)
            cmd = args[0]
            self.assertEqual(err, "embstore: %s: %s\nTry 'embstore %s --help'.\n" % (cmd, message, cmd))
        usage_error(["inspect", "--nope", self.store], "unknown option '--nope'")
        usage_error(["inspect", "--nope=3", self.store], "unknown option '--nope'")
        usage_error(["inspect", "-Z", self.store], "unknown option '-Z'")
        usage_error(["verify", "-qZ", self.store], "unknown option '-Z'")
        usage_error(["verify", "-q\x01", self.store], "unknown option character 0x01")
        usage_error(["inspect", "--json=yes", self.store], "option '--json' takes no value")
        usage_error(["verify", "--quiet=1", self.store], "option '--quiet' takes no value")
        usage_error(["get", self.store, "--ids"], "option '--ids' needs a value")
        usage_error(["get", self.store, "-i"], "option '-i' needs a value")
        usage_error(["build", "-o"], "option '-o' needs a value")
        usage_error(["build", "-fo"], "option '-o' needs a value")
        usage_error(["build", "-o", tmp("x.emb"), "--rows"], "option '--rows' needs a value")
        usage_error(["build", "-o", tmp("x.emb"), "--d=f16"], "option '--d' is ambiguous; it could be '--dtype' "
                    "'--dim'")
        # get takes the files of a shard set: a second FILE is opened as one, and named when it cannot be
        rc, _, err = run("get", self.store, "--ids", "0", "extra")
        self.assertEqual(rc, 2)
        self.assertIn("'extra'", err)
        rc, _, err = run("--frobnicate")
        self.assertEqual((rc, err), (2, "embstore: unknown option '--frobnicate'\nTry 'embstore --help'.\n"))
        # `help COMMAND` parses the command's options after main parsed its own.
        self.assertEqual(self.ok("help", "get")[0], self.ok("get", "--help")[0])
        self.assertEqual(self.ok("--vers")[0], self.ok("--version")[0])


class TestStreams(Base):
    def test_standard_input(self):
        out = tmp("stdin.emb")
        self.ok("build", "-o", out, "w=-", tmp("half.npy"), stdin=read_bytes(tmp("words.npy")))
        info = self.inspect(out)
        self.assertEqual([(t["name"], t["rows"], t["dim"]) for t in info["tables"]],
                         [("w", 300, 37), ("half", 1000, 8)])
        self.assertEqual(info["metadata"]["source.w"], "-")
        np.testing.assert_array_equal(bits(parse_rows(self.get(out, [0, 299], table="w"))),
                                      bits(Data.words[[0, 299]]))
        # Through a pipe, which cannot seek; and raw input.
        raw = Data.words[2:].astype("<f4").tobytes()
        with open(tmp("stdin.f32"), "wb") as f:
            f.write(raw)
        cat = subprocess.Popen(["cat", tmp("stdin.f32")], stdout=subprocess.PIPE)
        self.ok("build", "-f", "-o", out, "--from", "raw", "--rows", 298, "--dim", 37, "v=-", stdin=cat.stdout)
        cat.stdout.close()
        self.assertEqual(cat.wait(), 0)
        np.testing.assert_array_equal(bits(parse_rows(self.get(out, [0, 297]))), bits(Data.words[[2, 299]]))

    def test_standard_input_errors(self):
        out = tmp("stdin_bad.emb")
        data = read_bytes(tmp("words.npy"))
        _, err = self.fails(2, "build", "-o", out, "-", stdin=data)
        self.assertIn("NAME=-", err)
        self.assertIn("Try 'embstore build --help'", err)
        self.fails(2, "build", "-o", out, "a=-", "b=-", stdin=data)
        for bad in (b"", b"junk", data[:-4], data + b"\0"):
            _, err = self.fails(1, "build", "-o", out, "w=-", stdin=bad)
            self.assertIn("embstore: build: standard input: ", err)
        self.fails(1, "build", "-o", out, "--from", "raw", "--rows", 10, "--dim", 37, "v=-", stdin=data[:100])
        self.assertFalse(os.path.exists(out))
        # Standard input redirected from OUT itself is OUT's input.
        self.build(out, tmp("words.npy"))
        before = read_bytes(out)
        with open(out, "rb") as f:
            _, err = self.fails(2, "build", "-f", "-o", out, "--from", "raw", "--rows", 1, "--dim", 1, "w=-",
                                stdin=f)
        self.assertIn("standard input", err)
        self.assertEqual(read_bytes(out), before)

    def test_fifo(self):
        fifo = tmp("fifo.npy")
        os.mkfifo(fifo)
        data = read_bytes(tmp("words.npy"))

        def feed():
            with open(fifo, "wb") as f:  # blocks until the tool opens the FIFO for reading
                f.write(data)
        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            rc, _, err = run("build", "-o", tmp("fifo.emb"), fifo)
        finally:
            if writer.is_alive():  # the tool never opened it: let the writer's open return
                os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
            writer.join()
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.inspect(tmp("fifo.emb"))["tables"][0]["name"], "fifo")
        np.testing.assert_array_equal(bits(parse_rows(self.get(tmp("fifo.emb"), [5, 6]))), bits(Data.words[[5, 6]]))


class TestValueRanges(Base):
    def test_f64_input(self):
        rng = np.random.default_rng(64)
        a = rng.standard_normal((40, 11)) * 1e3
        a[0, :4] = [1e-300, -0.0, np.float32(1.5) + 2.0 ** -40, 3.4028234663852886e38]  # the last: f32's max
        np.save(tmp("f64.npy"), a)
        path = self.build(tmp("f64.emb"), tmp("f64.npy"))
        t = self.inspect(path)["tables"][0]
        self.assertEqual((t["name"], t["dtype"], t["rows"], t["dim"]), ("f64", "f32", 40, 11))
        np.testing.assert_array_equal(bits(parse_rows(self.get(path, range(40)))), bits(a.astype(np.float32)))
        # A finite f64 beyond f32: the input's fault, unless --saturate.
        a[7, 3] = -1e300
        np.save(tmp("f64_big.npy"), a)
        _, err = self.fails(1, "build", "-o", tmp("f64_big.emb"), tmp("f64_big.npy"))
        self.assertRegex(err, r"row 7\b.*column 3\b")
        self.assertIn("--saturate", err)
        self.assertFalse(os.path.exists(tmp("f64_big.emb")))
        path = self.build(tmp("f64_big.emb"), "--saturate", tmp("f64_big.npy"))
        got = parse_rows(self.get(path, [7]))
        self.assertEqual(got[0, 3], -np.finfo(np.float32).max)

    def test_huge_pages_write_the_same_file(self):
        # 3 MiB of rows: the 2 MiB writes and the staged rest both happen.
        np.save(tmp("huge_in.npy"), make_f32(np.random.default_rng(3), 7000, 128))
        plain = self.build(tmp("plain.emb"), "-m", "creator=x", tmp("huge_in.npy"))
        huge = self.build(tmp("huge.emb"), "-m", "creator=x", "--huge-pages", tmp("huge_in.npy"))
        self.assertGreater(os.path.getsize(plain), 3 << 20)
        self.assertEqual(read_bytes(huge), read_bytes(plain))

    def test_saturate(self):
        a = np.ones((5, 9), dtype=np.float32)
        a[3, 7] = 1e6
        a[4, 0] = -70000.0
        a[2, 2] = np.inf  # not finite: stays infinite either way
        np.save(tmp("big.npy"), a)
        out = tmp("big.emb")
        _, err = self.fails(1, "build", "-o", out, "--dtype", "f16", tmp("big.npy"))
        self.assertIn("embstore: build: %s: value out of range" % tmp("big.npy"), err)
        self.assertRegex(err, r"row 3\b.*column 7\b")
        self.assertFalse(os.path.exists(out))
        self.build(out, "--dtype", "f16", "--saturate", tmp("big.npy"))
        got = parse_rows(self.get(out, [2, 3, 4]))
        self.assertEqual((got[1, 7], got[2, 0], got[0, 2]), (65504.0, -65504.0, np.inf))
        self.assertEqual(got[1, 6], 1.0)
        # bf16 holds 1e6 but not 1e39 (f64 input).
        b = np.ones((2, 3))
        b[1, 2] = 1e39
        np.save(tmp("big64.npy"), b)
        self.fails(1, "build", "-o", tmp("big_bf.emb"), "--dtype", "bf16", tmp("big64.npy"))
        path = self.build(tmp("big_bf.emb"), "--dtype", "bf16", "--saturate", tmp("big64.npy"))
        bf16_max = np.array([0x7F7F0000], dtype=np.uint32).view(np.float32)[0]
        self.assertEqual(parse_rows(self.get(path, [1]))[0, 2], bf16_max)


class TestDetail(Base):
    def test_corrupt_store_names_the_field(self):
        if xxh3(b"") is None:
            self.fail("libxxhash not found (a build dependency): cannot reseal a changed directory")
        src = self.build(tmp("detail_src.emb"), tmp("words.npy"), tmp("half.npy"))
        data = bytearray(read_bytes(src))
        e = u64(data, 24) + 128  # the second table's directory entry
        data[e + 40:e + 48] = (u64(data, e + 40) + 4).to_bytes(8, "little")  # data_offset
        reseal(data)
        bad = tmp("detail_bad.emb")
        write_bytes(bad, bytes(data))
        for args in (["inspect", bad], ["verify", bad], ["get", bad, "-t", "words", "--ids", "0"]):
            out, err = self.fails(1, *args)
            m = re.match(r"^embstore: %s: %s: ([^:\n]+): (.+)\n$" % (args[0], re.escape(bad)), err)
            self.assertIsNotNone(m, err)
            self.assertIn("data_offset", m.group(2))
            self.assertIn(str(u64(data, e + 40)), m.group(2))
        write_bytes(bad, b"\0" * 200)
        _, err = self.fails(1, "inspect", bad)
        self.assertRegex(err, r"^embstore: inspect: %s: not an embstore file \(bad magic\): .+\n$" % re.escape(bad))
        # A detail quoting a hostile table name reaches the terminal without its control characters.
        src = self.build(tmp("detail_esc.emb"), "e\x1b[31m=" + tmp("words.npy"))
        data = bytearray(read_bytes(src))
        e = u64(data, 24)
        data[e + 24:e + 28] = (0).to_bytes(4, "little")  # dim
        reseal(data)
        write_bytes(bad, bytes(data))
        _, err = self.fails(1, "inspect", bad)
        self.assertIn("table 'e\\x1b[31m': dim 0", err)
        self.assertNotIn("\x1b", err)

    def test_bad_npy_input_names_the_problem(self):
        np.save(tmp("detail_i4.npy"), np.ones((3, 2), dtype="<i4"))
        _, err = self.fails(1, "build", "-o", tmp("detail.emb"), tmp("detail_i4.npy"))
        self.assertIn("'<i4'", err)
        np.save(tmp("detail_3d.npy"), np.ones((2, 3, 4), dtype="<f4"))
        _, err = self.fails(1, "build", "-o", tmp("detail.emb"), tmp("detail_3d.npy"))
        self.assertIn("(2, 3, 4)", err)


class TestInspect(Base):
    def test_json_and_text(self):
        np.save(tmp("plain.npy"), Data.onecol)
        odd_name = 'we"ird\\näme 漢🙂'
        meta = {"q": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f', "unicode": "é漢🙂",
                "k=with=equals": "v=1"}
        args = []
        for k, v in meta.items():
            args += ["--meta", "%s=%s" % (k, v)]
        path = self.build(tmp("inspect.emb"), "--chunk-bytes", "64K", tmp("words.npy"),
                          odd_name + "=" + tmp("half.npy"), tmp("quant.npy"), "-d", "f16", "--saturate", *args)
        # k=with=equals: the key ends at the first '='.
        meta = {"q": meta["q"], "unicode": meta["unicode"], "k": "with=equals=v=1"}
        info = self.inspect(path)
        self.assertEqual(set(info), {"format_version", "file_size", "data_alignment", "shard", "metadata", "tables"})
        self.assertIsNone(info["shard"], "an ordinary store")
        self.assertEqual(info["format_version"], "1.2")
        self.assertEqual(info["file_size"], os.path.getsize(path))
        self.assertEqual(info["data_alignment"], 4096)
        for k, v in meta.items():
            self.assertEqual(info["metadata"][k], v)
        self.assertEqual(info["metadata"]["source." + odd_name], tmp("half.npy"))
        expect = [("words", 300, 37), (odd_name, 1000, 8), ("quant", 200, 19)]
        self.assertEqual(len(info["tables"]), 3)
        end = 128
        for t, (name, rows, dim) in zip(info["tables"], expect):
            self.assertEqual(set(t), {"name", "dtype", "rows", "dim", "row_stride", "data_offset", "chunk_rows",
                                      "chunk_count", "has_vocab", "vocab_size", "first_keys", "shard"})
            self.assertIsNone(t["shard"])
            self.assertEqual((t["name"], t["dtype"], t["rows"], t["dim"]), (name, "f16", rows, dim))
            self.assertIs(t["has_vocab"], False)
            self.assertEqual((t["vocab_size"], t["first_keys"]), (0, []))
            self.assertGreaterEqual(t["row_stride"], 2 * dim)
            self.assertEqual(t["row_stride"] % 2, 0)
            self.assertEqual(t["data_offset"] % 4096, 0)
            self.assertGreaterEqual(t["data_offset"], end)
            end = t["data_offset"] + t["rows"] * t["row_stride"]
            # 64 KiB per chunk by default, in whole rows, or the whole table when it is smaller.
            self.assertEqual(t["chunk_rows"], min(rows, max(1, 65536 // t["row_stride"])))
            self.assertEqual(t["chunk_count"], -(-rows // t["chunk_rows"]))
        self.assertLessEqual(end, info["file_size"])

        out, _ = self.ok("inspect", path)
        text = out.decode("utf-8")
        self.assertIn("format version:  1.2\n", text)
        self.assertIn("file size:       %d bytes\n" % info["file_size"], text)
        # Control characters and backslashes are escaped (one entry per line); quotes need not be.
        self.assertIn('quote " backslash \\\\ tab \\t newline \\n bell \\x07 del \\x7f\n', text)
        self.assertNotIn("\x07", text)
        self.assertIn("é漢🙂", text)    # UTF-8 passes through
        lines = text.split("\n")
        head = [i for i, l in enumerate(lines) if l.lstrip().startswith("table ")]
        self.assertEqual(len(head), 1, text)
        rows = lines[head[0] + 1:head[0] + 4]
        for col in ("dtype", "rows", "dim", "row stride", "data offset", "chunk rows", "vocab"):
            self.assertIn(col, lines[head[0]])
        for line, t in zip(rows, info["tables"]):
            self.assertEqual(line.split()[-6:], [str(t[k]) for k in ("rows", "dim", "row_stride", "data_offset",
                                                                     "chunk_rows")] + ["no"])
        # Columns line up: "f16" starts at the same column on every table line (ASCII names here differ in
        # length, the odd one is escaped and wider; columns are counted in code points).
        starts = [len(l[:l.index(" f16 ") + 1]) for l in rows]
        self.assertEqual(len(set(starts)), 1, "\n".join(rows))
        self.assertEqual(lines[head[0]].index("dtype"), starts[0])
        self.assertNotIn("vocabularies:", text)  # no table has one


class KeyedStores:
    """Stores with vocabularies, written through the library itself (ctypes over the libembstore.so that the build
    puts beside the tool), since no importer of the tool writes keys yet."""
    F32 = 1  # embstore_dtype

    def __init__(self):
        # EMBSTORE_TEST_LIBRARY: a library Python can load when the one beside the tool cannot (the ASan build's
        # needs the sanitizer runtime loaded first; tools/test-sanitizers.sh points here at the ordinary build's)
        path = os.environ.get("EMBSTORE_TEST_LIBRARY") or os.path.join(os.path.dirname(BIN), "libembstore.so")
        if not os.path.exists(path):
            raise AssertionError("%s is missing: the build puts the shared library beside the tool" % path)
        c = ctypes.CDLL(path)
        vp, u32, u64 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64
        for name, args in (("embstore_writer_create", [ctypes.c_char_p, ctypes.POINTER(vp)]),
                           ("embstore_writer_begin_table", [vp, ctypes.c_char_p, ctypes.c_int, u64, u32]),
                           ("embstore_writer_append", [vp, vp, ctypes.c_int, u64, u64]),
                           ("embstore_writer_append_keyed", [vp, vp, ctypes.c_int, u64, u64,
                                                             ctypes.POINTER(ctypes.c_char_p),
                                                             ctypes.POINTER(ctypes.c_size_t)]),
                           ("embstore_writer_finish", [vp])):
            getattr(c, name).argtypes = args
            getattr(c, name).restype = ctypes.c_int
        c.embstore_writer_free.argtypes = [vp]
        c.embstore_writer_free.restype = None
        c.embstore_error_detail.argtypes = []
        c.embstore_error_detail.restype = ctypes.c_char_p
        self.c = c

    def check(self, status, what):
        if status != 0:
            raise AssertionError("%s: status %d: %s" % (what, status, self.c.embstore_error_detail()))

    def write(self, path, tables):
        """tables: [(name, f32 array, list of key bytes or None)]."""
        w = ctypes.c_void_p()
        self.check(self.c.embstore_writer_create(path.encode(), ctypes.byref(w)), path)
        try:
            for name, a, keys in tables:
                a = np.ascontiguousarray(a, dtype=np.float32)
                rows, dim = a.shape
                self.check(self.c.embstore_writer_begin_table(w, name.encode(), self.F32, rows, dim), name)
                if keys is None:
                    self.check(self.c.embstore_writer_append(w, a.ctypes.data, self.F32, rows, 0), name)
                else:
                    ptrs = (ctypes.c_char_p * rows)(*keys)
                    lens = (ctypes.c_size_t * rows)(*[len(k) for k in keys])
                    self.check(self.c.embstore_writer_append_keyed(w, a.ctypes.data, self.F32, rows, 0, ptrs, lens),
                               name)
            self.check(self.c.embstore_writer_finish(w), path)
        finally:
            self.c.embstore_writer_free(w)
        return path


class TestKeys(Base):
    """get --key / --keys-from / --with-keys and inspect's vocabulary lines, on stores with vocabularies."""
    DIM = 5
    # The first keys: UTF-8, a space, a control character, a backslash, a quote; then plain ones up to 1000.
    SPECIAL = ["the", "new york", "esc\x1b[31mred", "back\\slash", "münchen", "漢字🙂", 'quo"te']

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(99)
        cls.keys = cls.SPECIAL + ["w%d" % i for i in range(1000 - len(cls.SPECIAL))]
        cls.data = rng.standard_normal((1000, cls.DIM)).astype(np.float32)
        cls.plain = rng.standard_normal((3, cls.DIM)).astype(np.float32)
        stores = KeyedStores()
        cls.path = stores.write(tmp("keyed.emb"), [("w", cls.data, [k.encode() for k in cls.keys]),
                                                   ("plain", cls.plain, None)])
        cls.long_keys = ["漢" * 60, "x" * 39 + "\x1by", "a" * 40, "b" * 41, "\u0085c1", "end"]
        cls.long = stores.write(tmp("long_keys.emb"), [("long", np.zeros((6, 2)), [k.encode() for k in
                                                                                 cls.long_keys])])

    def rows(self, *args, **kw):
        out, _ = self.ok("get", self.path, "-t", "w", *args, **kw)
        return parse_rows(out)

    def rows_of(self, keys):
        return self.data[[self.keys.index(k) for k in keys]]

    def assert_rows(self, got, keys):
        np.testing.assert_array_equal(bits(got), bits(self.rows_of(keys)))

    def test_keys_in_the_order_given(self):
        keys = ["漢字🙂", "the", "new york", "the", "esc\x1b[31mred", "w992", "münchen", "the"]
        args = []
        for k in keys:
            args += ["--key", k]
        self.assert_rows(self.rows(*args), keys)
        self.assert_rows(self.rows("-k", "quo\"te", "--key=back\\slash", "-kw5"), ['quo"te', "back\\slash", "w5"])
        # The same rows as by id.
        self.assertEqual(self.ok("get", self.path, "-t", "w", "--key", "new york", "--key", "w0")[0],
                         self.ok("get", self.path, "-t", "w", "--ids", "1,7")[0])

    def test_keys_from_a_file_and_standard_input(self):
        rng = np.random.default_rng(5)
        keys = [self.keys[i] for i in rng.integers(0, 1000, size=3000)]
        ends = ["\n", "\r\n", "\n\n", "\r\n\r\n", "\n\r\n"]  # empty lines, LF and CRLF ones, are skipped
        text = b"".join(k.encode() + ends[i % len(ends)].encode() for i, k in enumerate(keys))
        write_bytes(tmp("keys.txt"), text)
        self.assert_rows(self.rows("--keys-from", tmp("keys.txt")), keys)
        self.assert_rows(self.rows("--keys-from", "-", stdin=text), keys)
        # No final newline; a lone "\r" is part of its line (so that key is unknown); a key with a space.
        self.assert_rows(self.rows("--keys-from", "-", stdin=b"\n\nnew york\r\nthe"), ["new york", "the"])
        _, err = self.fails(1, "get", self.path, "-t", "w", "--keys-from", "-", stdin=b"the\r\r\n")
        self.assertIn("key #1 'the\\r'", err)
        # --key and --keys-from in the order of the options.
        write_bytes(tmp("two.txt"), "w1\nmünchen\n".encode())
        self.assert_rows(self.rows("--key", "the", "--keys-from", tmp("two.txt"), "--key", "w3",
                                   "--keys-from", "-", stdin=b"w4\n"), ["the", "w1", "münchen", "w3", "w4"])
        self.assertEqual(self.ok("get", self.path, "-t", "w", "--keys-from", "-", stdin=b"\n\r\n")[0], b"")
        _, err = self.fails(2, "get", self.path, "-t", "w", "--keys-from", tmp("no-such-keys.txt"))
        self.assertIn("no-such-keys.txt: No such file or directory", err)
        _, err = self.fails(2, "get", self.path, "-t", "w", "--keys-from", TMP.name)
        self.assertIn("Is a directory", err)
        self.fails(2, "get", self.path, "-t", "w", "--keys-from", "-", "--keys-from", "-", stdin=b"the\n")

    def test_unknown_key_names_it_and_its_position(self):
        out, err = self.fails(1, "get", self.path, "-t", "w", "--key", "the", "--key", "w1", "--key", "foo",
                              "--key", "the")
        self.assertEqual(out, b"", "nothing may be printed when a key is unknown")
        self.assertIn("key #3 'foo' is not in table \"w\"", err)
        self.assertNotIn("more unknown", err)
        _, err = self.fails(1, "get", self.path, "-t", "w", "--key", "nope", "--key", "the", "--key", "Nope",
                            "--key", "THE")
        self.assertIn("key #1 'nope' is not in table \"w\" (and 2 more unknown keys)", err)
        # Near misses: a prefix, a longer key, another case, a key with a trailing blank.
        for key in ("th", "thee", "The", "the ", "new  york", "w1000"):
            _, err = self.fails(1, "get", self.path, "-t", "w", "--key", key)
            self.assertIn("key #1 '%s' is not" % key, err)
        # From a file: the line too. Control characters, zero bytes and bytes that are not UTF-8 are escaped.
        write_bytes(tmp("bad_keys.txt"), b"the\n\nred\x1b[0m\n")
        _, err = self.fails(1, "get", self.path, "-t", "w", "--keys-from", tmp("bad_keys.txt"))
        self.assertIn("key #2 'red\\x1b[0m' is not in table \"w\" (line 3 of %s)" % tmp("bad_keys.txt"), err)
        self.assertNotIn("\x1b", err)
        _, err = self.fails(1, "get", self.path, "-t", "w", "--keys-from", "-", stdin=b"a\x00b\nzz\xff\xc2\x9b\n")
        self.assertIn("key #1 'a\\x00b' is not in table \"w\" (line 1 of standard input) (and 1 more unknown key)",
                      err)
        _, err = self.fails(1, "get", self.path, "-t", "w", "--key", "zz\udcff\u009b")  # argv bytes zz ff c2 9b
        self.assertIn("'zz\\xff\\xc2\\x9b'", err)
        # A long key is cut in the message.
        _, err = self.fails(1, "get", self.path, "-t", "w", "--key", "k" * 5000)
        self.assertIn("'" + "k" * 99 + "\u2026' is not in", err)

    def test_tables_without_vocabulary(self):
        for args in (["--key", "the"], ["--keys-from", "-"], ["--ids", "0", "--with-keys"]):
            out, err = self.fails(2, "get", self.path, "-t", "plain", *args, stdin=b"the\n")
            self.assertEqual(out, b"")
            self.assertIn('table "plain" has no vocabulary', err)
        self.assertIn("--with-keys needs one", err)
        self.ok("get", self.path, "-t", "plain", "--ids", "0,2")

    def test_with_keys(self):
        ids = [1, 0, 2, 3, 6, 5, 4, 999, 1]
        out, _ = self.ok("get", self.path, "-t", "w", "--with-keys", "--ids", ",".join(map(str, ids)))
        text = out.decode("utf-8")
        lines = text.split("\n")
        self.assertEqual(lines[-1], "")
        shown = [line.rsplit(" ", self.DIM)[0] for line in lines[:-1]]
        # The key escaped as in messages: control characters and backslashes; quotes and UTF-8 as they are.
        self.assertEqual(shown, ["new york", "the", "esc\\x1b[31mred", "back\\\\slash", 'quo"te', "漢字🙂",
                                 "münchen", self.keys[999], "new york"])
        self.assertNotIn("\x1b", text)
        values = np.array([line.rsplit(" ", self.DIM)[1:] for line in lines[:-1]], dtype=np.float64)
        np.testing.assert_array_equal(bits(values.astype(np.float32)), bits(self.data[ids]))
        # The rest of each line is exactly what get prints without --with-keys.
        plain = self.ok("get", self.path, "-t", "w", "--ids", ",".join(map(str, ids)))[0].decode().split("\n")
        self.assertEqual([line[len(key) + 1:] for line, key in zip(lines, shown)], plain[:-1])
        # By key: the table's keys, in the order given.
        by_key = []
        for i in ids:
            by_key += ["--key", self.keys[i]]
        self.assertEqual(self.ok("get", self.path, "-t", "w", "--with-keys", *by_key)[0], out)
        self.assertEqual(self.ok("get", self.path, "-t", "w", "--with-keys", "--ids", "-", stdin=b"")[0], b"")

    def test_ids_and_keys_do_not_mix(self):
        for args in (["--ids", "0", "--key", "the"], ["--key", "the", "--ids", "0"],
                     ["--ids", "-", "--keys-from", "-"], ["--keys-from", tmp("keys.txt"), "-i", "1"]):
            out, err = self.fails(2, "get", self.path, "-t", "w", *args, stdin=b"0\n")
            self.assertEqual(out, b"")
            self.assertIn("--ids cannot be mixed with --key or --keys-from", err)
        _, err = self.fails(2, "get", self.path, "-t", "w", "--key", "")
        self.assertIn("--key", err)
        _, err = self.fails(2, "get", self.path, "-t", "w")
        self.assertIn("missing --ids, --key or --keys-from", err)
        self.fails(2, "get", self.path, "-t", "w", "--keys-from")
        self.fails(2, "get", self.path, "-t", "w", "--with-keys=yes", "--ids", "0")

    def test_help(self):
        text = self.ok("get", "--help")[0].decode()
        for option in ("--key", "--keys-from", "--with-keys"):
            self.assertIn(option, text)
        self.assertIn("not in the table's vocabulary", TestGeneral.exit_lines(self, "get")[1])
        self.assertIn("space", text[text.index("--with-keys"):])

    def test_inspect(self):
        info = self.inspect(self.path)
        w, plain = info["tables"]
        self.assertEqual((w["has_vocab"], w["vocab_size"], w["first_keys"]), (True, 1000, self.keys[:5]))
        self.assertEqual((plain["has_vocab"], plain["vocab_size"], plain["first_keys"]), (False, 0, []))
        raw = self.ok("inspect", "--json", self.path)[0]
        self.assertIn('"esc\\u001b[31mred", "back\\\\slash", "münchen"]'.encode(), raw)
        self.assertNotIn(b"\x1b", raw)
        info = self.inspect(self.long)
        self.assertEqual(info["tables"][0]["first_keys"], self.long_keys[:5], "whole keys in JSON")

        text = self.ok("inspect", self.path)[0].decode("utf-8")
        self.assertNotIn("\x1b", text)
        vocab = text[text.index("\nvocabularies:\n") + 1:].split("\n")
        self.assertEqual(vocab[1], '  w  1000 keys: "the", "new york", "esc\\x1b[31mred", "back\\\\slash", '
                                   '"münchen", ...')
        self.assertEqual(vocab[2], "", "only tables with a vocabulary are listed")
        # Each key cut to 40 columns (code points; an escape counts in full), the last one an ellipsis.
        text = self.ok("inspect", self.long)[0].decode("utf-8")
        line = text[text.index("\nvocabularies:\n") + 1:].split("\n")[1]
        self.assertEqual(line, '  long  6 keys: "%s", "%s", "%s", "%s", "\\xc2\\x85c1", ...'
                         % ("漢" * 39 + "\u2026", "x" * 39 + "\u2026", "a" * 40, "b" * 39 + "\u2026"))


class TestVerify(Base):
    def test_intact(self):
        path = self.build(tmp("verify_ok.emb"), tmp("words.npy"), tmp("half.npy"))
        out, _ = self.ok("verify", path)
        self.assertEqual(out.decode(), "ok: %s (2 tables, %d bytes checked)\n" % (path, os.path.getsize(path)))
        out, _ = self.ok("verify", "-q", path, path)
        self.assertEqual(len(out.decode().splitlines()), 2)

    def flip(self, src, dst, offset, xor=0x40):
        data = bytearray(read_bytes(src))
        data[offset] ^= xor
        write_bytes(dst, bytes(data))

    def test_flipped_data_byte(self):
        src = self.build(tmp("verify_src.emb"), "--chunk-bytes", "4096", tmp("words.npy"), tmp("half.npy"))
        info = self.inspect(src)
        for ti, row, col in ((0, 0, 0), (0, 150, 3), (0, 299, 36), (1, 777, 5), (1, 999, 0)):
            t = info["tables"][ti]
            offset = t["data_offset"] + row * t["row_stride"] + col * (4 if t["dtype"] == "f32" else 2)
            bad = tmp("verify_bad.emb")
            self.flip(src, bad, offset)
            rc, out, err = run("verify", bad)
            self.assertEqual(rc, 1, err)
            text = out.decode()
            m = re.search(r'^corrupt: table "%s" rows? (\d+)(?:-(\d+))? \(checksum mismatch\)$' % t["name"],
                          text, re.M)
            self.assertIsNotNone(m, text)
            first = int(m.group(1))
            last = int(m.group(2) or first)
            self.assertTrue(first <= row <= last, "row %d not in %d-%d" % (row, first, last))
            self.assertLessEqual(last - first + 1, t["chunk_rows"])
            self.assertTrue(text.endswith("%s: 1 problem\n" % bad), text)
            # The header is intact: inspect still works.
            self.ok("inspect", bad)
        # Two corrupt chunks in two tables.
        t0, t1 = info["tables"]
        data = bytearray(read_bytes(src))
        data[t0["data_offset"]] ^= 1
        data[t1["data_offset"] + 900 * t1["row_stride"]] ^= 1
        write_bytes(tmp("verify_bad2.emb"), bytes(data))
        rc, out, _ = run("verify", tmp("verify_bad2.emb"))
        self.assertEqual(rc, 1)
        self.assertEqual(len(re.findall("^corrupt: ", out.decode(), re.M)), 2)
        self.assertIn("2 problems", out.decode())
        # -q: the summary only.
        rc, out, _ = run("verify", "-q", tmp("verify_bad2.emb"))
        self.assertEqual((rc, out.decode().count("\n")), (1, 1))

    def test_padding_and_int8_scale(self):
        src = self.build(tmp("verify_i8.emb"), "--dtype", "int8", tmp("quant.npy"))
        t = self.inspect(src)["tables"][0]
        # Padding between the superblock and the first table.
        if t["data_offset"] > 200:
            bad = tmp("verify_pad.emb")
            self.flip(src, bad, 200)
            rc, out, _ = run("verify", bad)
            self.assertEqual(rc, 1)
            self.assertIn("padding", out.decode())
        # A non-finite scale in row 17: a checksum mismatch for its chunk...
        data = bytearray(read_bytes(src))
        at = t["data_offset"] + 17 * t["row_stride"] + t["dim"]
        data[at:at + 4] = np.array([np.inf], dtype="<f4").tobytes()
        write_bytes(tmp("verify_scale.emb"), bytes(data))
        rc, out, _ = run("verify", tmp("verify_scale.emb"))
        self.assertEqual(rc, 1)
        self.assertRegex(out.decode(), r'corrupt: table "quant" rows 0-\d+ \(checksum mismatch\)')
        # ... and with the checksums made to match (as a buggy writer would), the row itself is named.
        if xxh3(b"") is None:
            self.fail("libxxhash not found (a build dependency): cannot rewrite checksums")
        reseal_chunk(data, 0, 17 // t["chunk_rows"])
        write_bytes(tmp("verify_scale.emb"), bytes(data))
        self.ok("inspect", tmp("verify_scale.emb"))
        rc, out, _ = run("verify", tmp("verify_scale.emb"))
        self.assertEqual(rc, 1, out)
        self.assertEqual(out.decode(), 'corrupt: table "quant" row 17 (int8 scale or bias is not finite)\n'
                         '%s: 1 problem\n' % tmp("verify_scale.emb"))


class TestTrainingSafety(Base):
    """One writer at a time (a flock held by whoever trains) and reseal after a crash."""

    def test_build_refuses_a_file_being_trained_unless_waiting(self):
        import fcntl
        import threading
        path = self.build(tmp("trained.emb"), tmp("half.npy"))
        before = read_bytes(path)
        with open(path, "rb") as held:  # what embstore_open(..., WRITABLE) takes
            fcntl.flock(held, fcntl.LOCK_EX)
            _, err = self.fails(2, "build", "-f", "-o", path, tmp("words.npy"))
            self.assertIn("open for writing by process %d" % os.getpid(), err)
            self.assertEqual(read_bytes(path), before)
            threading.Timer(0.3, lambda: fcntl.flock(held, fcntl.LOCK_UN)).start()
            self.ok("build", "-f", "--wait", "-o", path, tmp("words.npy"))
        self.assertEqual(self.inspect(path)["tables"][0]["name"], "words")
        with open(path, "rb") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            _, err = self.fails(2, "reseal", path)
            self.assertIn("open for writing", err)

    def test_reseal_accepts_rows_changed_without_a_sync(self):
        path = self.build(tmp("crashed.emb"), tmp("words.npy"))
        t = self.inspect(path)["tables"][0]
        data = bytearray(read_bytes(path))
        at = t["data_offset"] + 5 * t["row_stride"]
        data[at:at + 4] = np.array([42.0], dtype="<f4").tobytes()  # a row a killed trainer changed
        write_bytes(path, bytes(data))
        rc, out, _ = run("verify", path)
        self.assertEqual(rc, 1)
        self.assertIn(b'corrupt: table "words" rows 0-', out)
        out, _ = self.ok("reseal", path)
        self.assertEqual(out.decode(), "resealed: %s\n" % path)
        self.ok("verify", path)
        self.assertEqual(parse_rows(self.get(path, [5]))[0][0], 42.0)
        # reseal repairs checksums, never structure
        bad = tmp("crashed_bad.emb")
        write_bytes(bad, b"\x89EMB\r\n\x1a\n" + bytes(200))
        self.fails(1, "reseal", bad)
        self.fails(2, "reseal", tmp("no_such.emb"))


class TestFullDisk(Base):
    def test_full_disk_names_the_output(self):
        small = tmp("small_fs")
        os.makedirs(small, exist_ok=True)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small],
                          stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("cannot mount a small tmpfs here (needs root)")
        try:
            out = os.path.join(small, "x.emb")
            _, err = self.fails(2, "build", "-o", out, tmp("words.npy"), tmp("half.npy"))
            self.assertIn("embstore: build: %s: I/O or system error: No space left on device" % out, err)
            self.assertEqual(os.listdir(small), [], "a failed build left a file behind")
        finally:
            subprocess.run(["umount", small])


VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "vectors")


def read_expect(path):
    """FILE.expect (tests/data/make_vectors.py): what gensim loads from FILE, as [(key bytes, f32 row)]."""
    data = read_bytes(path)
    rows, dim = int.from_bytes(data[0:4], "little"), int.from_bytes(data[4:8], "little")
    at, out = 8, []
    for _ in range(rows):
        n = int.from_bytes(data[at:at + 4], "little")
        key = data[at + 4:at + 4 + n]
        at += 4 + n
        out.append((key, np.frombuffer(data[at:at + 4 * dim], dtype="<f4").copy()))
        at += 4 * dim
    return out


class TestWordVectors(Base):
    """build from word2vec binary / text, fastText .vec and GloVe: every row found by its word, bit for bit what
    gensim loads from the same file (tests/data/vectors/*.expect)."""

    def keyed_rows(self, path, keys):
        keyfile = tmp("keys.txt")
        write_bytes(keyfile, b"".join(k + b"\n" for k in keys))
        return parse_rows(self.ok("get", path, "--keys-from", keyfile)[0])

    def test_every_fixture_equals_gensim(self):
        cases = {"gensim.bin": "word2vec", "gensim.txt": "word2vec-text", "fasttext.vec": "word2vec-text",
                 "glove.txt": "glove", "crlf.txt": "word2vec-text", "newlines.bin": "word2vec",
                 "space.bin": "word2vec"}
        for name, fmt in cases.items():
            src = os.path.join(VECTORS, name)
            out = tmp("wv_%s.emb" % name.replace(".", "_"))
            _, err = self.ok("build", "-f", "-o", out, "t=" + src)
            self.assertIn("%s (detected)" % fmt, err, name)
            want = read_expect(src + ".expect")
            got = self.keyed_rows(out, [k for k, _ in want])
            np.testing.assert_array_equal(bits(got), bits(np.array([v for _, v in want])), name)
            self.assertEqual(self.inspect(out)["tables"][0]["vocab_size"], len(want), name)

    def test_stdin_limit_duplicates_and_refusals(self):
        src = os.path.join(VECTORS, "gensim.txt")
        want = read_expect(src + ".expect")
        out = tmp("wv_stdin.emb")
        with open(src, "rb") as f:
            _, err = self.ok("build", "-o", out, "--limit", 3, "w=-", stdin=f.read())
        self.assertIn("word2vec-text (detected), 3 rows", err)
        self.assertEqual(self.inspect(out)["tables"][0]["rows"], 3)
        # a repeated word: the first is kept, the count said
        dup = tmp("dup.txt")
        write_bytes(dup, b"3 2\nx 1 2\ny 3 4\nx 5 6\n")
        _, err = self.ok("build", "-f", "-o", out, "--from", "word2vec-text", dup)
        self.assertIn("1 repeated words dropped", err)
        np.testing.assert_array_equal(self.keyed_rows(out, [b"x"]), [[1, 2]])
        # refusals name the line, and leave no output
        bad = {b"2 2\nx 1 2\ny 3\n": "line 3", b"2 2\nx 1 nan\ny 3 4\n": "line 2",
               b"2 2\nx 1 2\n\xff 3 4\n": "line 3", b"3 2\nx 1 2\ny 3 4\n": "header"}
        for data, where in bad.items():
            write_bytes(dup, data)
            fresh = tmp("wv_refused.emb")
            _, err = self.fails(1, "build", "-o", fresh, "--from", "word2vec-text", dup)
            self.assertIn(where, err, data)
            self.assertFalse(os.path.exists(fresh))
        write_bytes(dup, b"2 2\nx 1 nan\ny 3 4\n")
        self.ok("build", "-f", "-o", out, "--from", "word2vec-text", "--allow-nonfinite", dup)
        write_bytes(dup, b"2 2\nx 1 2\n\xff 3 4\n")
        self.ok("build", "-f", "-o", out, "--from", "word2vec-text", "--unicode-errors", "replace", dup)
        np.testing.assert_array_equal(self.keyed_rows(out, ["\ufffd".encode()]), [[3, 4]])


    def test_repeated_words_across_batches(self):
        # words go to the vocabulary in batches of rows: a repeat in the same batch or in a later one drops its
        # row, the first is kept, and the rows after it keep their words
        words = ["w%d" % i for i in range(2500)]
        order = words[:1500] + ["w5", "w1499"] + words[1500:] + ["w2499", "w0"]
        lines = [("%s %d %d\n" % (w, i, -i)).encode() for i, w in enumerate(order)]
        src = tmp("repeats.glove")
        write_bytes(src, b"".join(lines))
        out = tmp("repeats.emb")
        _, err = self.ok("build", "-f", "-o", out, src)
        self.assertIn("2500 rows x 2", err)
        self.assertIn("4 repeated words dropped", err)
        first = {}
        for i, w in enumerate(order):
            first.setdefault(w, i)
        keys = [w.encode() for w in words]
        want = np.array([[first[w], -first[w]] for w in words], dtype=np.float32)
        np.testing.assert_array_equal(self.keyed_rows(out, keys), want)
        rows = self.get(out, range(2500))
        np.testing.assert_array_equal(parse_rows(rows), want)  # row order: the input's, repeats left out

    def on_terminal(self, *args, feed=None):
        """Runs the tool with standard error on a pseudo-terminal (standard output a pipe, standard input a pipe
        fed `feed`); returns (returncode, everything written to the terminal)."""
        master, slave = pty.openpty()
        p = subprocess.Popen([BIN] + [str(a) for a in args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=slave)
        os.close(slave)

        def write_all():
            with p.stdin:
                p.stdin.write(feed or b"")
        feeder = threading.Thread(target=write_all)
        feeder.start()
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            seen += chunk
        os.close(master)
        feeder.join()
        p.stdout.read()
        p.stdout.close()
        return p.wait(timeout=60), seen.decode("utf-8", "replace")

    def test_progress_line_on_a_terminal_only(self):
        # 70,000 rows: one progress line on the way (every 65,536 rows) and the last one, each redrawn in place
        src = tmp("progress.glove")
        write_bytes(src, b"".join(b"w%d %d\n" % (i, i % 7) for i in range(70000)))
        out = tmp("progress.emb")
        rc, seen = self.on_terminal("build", "-f", "-o", out, src)
        self.assertEqual(rc, 0, seen)
        lines = re.findall(r"\r([^\r\n]*) rows/s([^\r\n]*)\x1b\[K", seen)
        self.assertEqual(len(lines), 2, seen)
        for (head, tail), rows in zip(lines, (65536, 70000)):
            self.assertEqual(head.rsplit(",", 1)[0], "%s: %d rows" % (src, rows), seen)
            m = re.fullmatch(r", (\d+)%, (\d+) s left", tail)
            self.assertIsNotNone(m, seen)
        self.assertLess(int(re.search(r"(\d+)%", lines[0][1]).group(1)), 100)
        self.assertEqual(lines[1][1], ", 100%, 0 s left")
        self.assertIn("\r\x1b[K", seen)  # erased before the note that follows
        self.assertIn("glove (detected), 70000 rows x 1", seen)
        # from a pipe the size is unknown: rows and rows/s, no percent and no time left
        rc, seen = self.on_terminal("build", "-f", "-o", out, "--from", "glove", "w=-", feed=read_bytes(src))
        self.assertEqual(rc, 0, seen)
        self.assertRegex(seen, r"\rstandard input: 70000 rows, \d+ rows/s\x1b\[K")
        self.assertNotIn("%", seen)
        # --quiet: nothing on the terminal
        rc, seen = self.on_terminal("build", "-f", "-q", "-o", out, src)
        self.assertEqual((rc, seen), (0, ""))
        # standard error not a terminal: the note, no progress line
        _, err = self.ok("build", "-f", "-o", out, src)
        self.assertNotIn("rows/s", err)
        self.assertNotIn("\r", err)
        self.assertIn("glove (detected), 70000 rows x 1", err)

    def test_byte_order_mark_skipped(self):
        # a UTF-8 byte order mark before the first line (Windows editors write one): the first word as written
        out = tmp("bom.emb")
        for name, data in {"bom.txt": b"2 2\nthe 1 2\nof 3 4\n", "bom.vec": b"2 2\r\nthe 1 2 \r\nof 3 4\r\n",
                           "bom.glove": b"the 1 2\nof 3 4\n"}.items():
            write_bytes(tmp(name), b"\xef\xbb\xbf" + data)
            _, err = self.ok("build", "-f", "-o", out, tmp(name))
            self.assertIn("(detected), 2 rows x 2", err, name)
            np.testing.assert_array_equal(self.keyed_rows(out, [b"the", b"of"]), [[1, 2], [3, 4]], name)


class TestExport(Base):
    """export: npy, word2vec binary and text; built again, value-exact and key-exact."""

    def test_round_trips(self):
        src = os.path.join(VECTORS, "gensim.txt")
        store = tmp("ex_src.emb")
        self.ok("build", "-f", "-q", "-o", store, "w=" + src)
        want = read_expect(src + ".expect")
        keys = [k for k, _ in want]
        rows = np.array([v for _, v in want])
        for fmt in ("word2vec", "word2vec-text", "fasttext"):
            out = tmp("ex_out." + fmt)
            self.ok("export", store, "--to", fmt, "-o", out)
            again = tmp("ex_again.emb")
            self.ok("build", "-f", "-q", "-o", again, "--from", fmt, "w=" + out)
            keyfile = tmp("ex_keys.txt")
            write_bytes(keyfile, b"".join(k + b"\n" for k in keys))
            got = parse_rows(self.ok("get", again, "--keys-from", keyfile)[0])
            np.testing.assert_array_equal(bits(got), bits(rows), fmt)
            out_keys = self.ok("get", again, "--with-keys", "--ids", ",".join(map(str, range(len(keys)))))[0]
            self.assertEqual([line.split(b" ")[0] for line in out_keys.split(b"\n")[:-1]], keys, fmt)
        # npy: f32 as <f4, f16 as <f2, exactly
        out = tmp("ex_out.npy")
        self.ok("export", store, "--to", "npy", "-o", out)
        np.testing.assert_array_equal(bits(np.load(out)), bits(rows))
        half = self.build(tmp("ex_half.emb"), tmp("half.npy"))
        self.ok("export", half, "--to", "npy", "-o", tmp("ex_half.npy"))
        self.assertEqual(read_bytes(tmp("ex_half.npy"))[10:], read_bytes(tmp("half.npy"))[10:])

    def test_refusals(self):
        plain = self.build(tmp("ex_plain.emb"), tmp("words.npy"))
        out = tmp("ex_refused.txt")
        _, err = self.fails(2, "export", plain, "--to", "word2vec", "-o", out)
        self.assertIn("no vocabulary", err)
        self.assertFalse(os.path.exists(out))
        blank = tmp("ex_blank.txt")
        write_bytes(blank, b"1 2\nok 1 2\n")
        store = tmp("ex_keyed.emb")
        self.ok("build", "-q", "-f", "-o", store, blank)
        self.fails(2, "export", store, "--to", "npy", "-o", store, "-f")  # never the store itself
        write_bytes(out, b"precious")
        self.fails(2, "export", store, "--to", "npy", "-o", out)  # exists, no -f
        self.assertEqual(read_bytes(out), b"precious")
        self.fails(2, "export", store, "-o", out, "-f")  # no --to
        self.fails(2, "export", store, "--to", "glove", "-o", out, "-f")


class TestHostileFiles(Base):
    def readers(self, path):
        return (["inspect", path], ["inspect", "--json", path], ["verify", path], ["get", path, "--ids", "0"])

    def test_garbage_empty_truncated(self):
        good = read_bytes(self.build(tmp("hostile_src.emb"), tmp("words.npy"), tmp("half.npy")))
        cases = {
            "empty": b"",
            "short": b"\x89EMB",
            "magic_only": b"\x89EMB\r\n\x1a\n",
            "garbage": bytes(random.Random(1).getrandbits(8) for _ in range(10000)),
            "zeros": bytes(8192),
            "truncated_header": good[:100],
            "truncated_half": good[:len(good) // 2],
            "truncated_one": good[:-1],
            "appended": good + b"\0",
            "npy": read_bytes(tmp("words.npy")),
        }
        for name, data in cases.items():
            path = tmp("hostile_%s.emb" % name)
            write_bytes(path, data)
            for args in self.readers(path):
                out, err = self.fails(1, *args)
                self.assertIn(path, err)
                if args[0] != "verify":
                    self.assertEqual(out, b"")
        # A directory is not a store either, but that is an I/O error.
        for args in self.readers(TMP.name):
            rc, _, _ = run(*args)
            self.assertIn(rc, (1, 2))

    def test_mutations_never_kill(self):
        src = self.build(tmp("mut_src.emb"), "--meta", "note=hello", tmp("words.npy"), tmp("half.npy"),
                         tmp("one.col.npy"))
        good = read_bytes(src)
        info = self.inspect(src)
        dir_start = max(t["data_offset"] + t["rows"] * t["row_stride"] for t in info["tables"])
        rng = random.Random(12345)
        path = tmp("mut.emb")
        codes = {}
        for i in range(240):
            data = bytearray(good)
            kind = i % 6
            if kind == 5:
                data = data[:rng.randrange(len(data))]
            else:
                for _ in range(rng.choice((1, 1, 2, 8))):
                    r = rng.random()
                    if r < 0.4:
                        pos = rng.randrange(128)                       # superblock
                    elif r < 0.8:
                        pos = rng.randrange(dir_start, len(data))      # directory
                    else:
                        pos = rng.randrange(len(data))                 # anywhere
                    data[pos] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
            # Every other mutant gets a valid header checksum, so that the reader's field checks see it.
            if i % 2 == 0:
                reseal(data)
            write_bytes(path, bytes(data))
            commands = [["inspect", "--json", path], ["verify", path]]
            if i % 3 == 0:
                commands.append(["get", path, "--table", "words", "--ids", "0,299"])
            for args in commands:
                rc, out, err = run(*args)
                self.assertGreaterEqual(rc, 0, "mutation %d: embstore %s killed by signal %d"
                                        % (i, " ".join(args), -rc))
                self.assertIn(rc, (0, 1, 2), "mutation %d: %s: exit %d" % (i, args, rc))
                codes[rc] = codes.get(rc, 0) + 1
                if rc == 0 and args[1] == "--json":
                    json.loads(out.decode("utf-8"))
                if rc == 2 and args[0] != "get":  # get: a mangled table name is "no such table"
                    self.fail("mutation %d: embstore %s: exit 2 on a corrupt file: %s" % (i, " ".join(args), err))
        self.assertIn(1, codes)


class TestAcrossIsas(Base):
    def test_same_output_on_every_isa(self):
        isas = supported_isas()
        self.assertIn("scalar", isas)
        stores = {}
        for dtype in ("f32", "f16", "bf16", "int8"):
            src = "quant.npy" if dtype == "int8" else "words.npy"
            stores[dtype] = self.build(tmp("isa_%s.emb" % dtype), "--dtype", dtype, "--saturate", tmp(src))
        stores["f16-native"] = self.build(tmp("isa_h.emb"), tmp("half.npy"))
        rng = np.random.default_rng(3)
        for name, path in stores.items():
            rows = self.inspect(path)["tables"][0]["rows"]
            stdin = " ".join(str(int(i)) for i in rng.integers(0, rows, size=700)).encode()
            outputs = {}
            for isa in isas:
                out, _ = self.ok("get", path, "--ids", "-", stdin=stdin, env={"EMBSTORE_ISA": isa})
                outputs[isa] = out
            for isa in isas:
                self.assertEqual(outputs[isa], outputs["scalar"], "%s table: %s differs from scalar" % (name, isa))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: cli_test.py PATH/TO/embstore [unittest options]\n")
        sys.exit(2)
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
