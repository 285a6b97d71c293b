#!/usr/bin/python3
"""shard_cli_test.py: `embstore build --shards` and the commands that take a shard set, end to end.

Usage: /usr/bin/python3 tests/shard_cli_test.py PATH/TO/embstore [unittest options]

Builds a store whole and as sets of shards from the same inputs, then checks that every shard verifies on its own,
that verify, inspect, get and export treat the files as one set (get's output equal byte for byte to get on the
whole store, export's merge equal to the whole build), and that a missing shard or one of another set is named.
Then what a build of a set must not do: replace a set a trainer holds a shard of (unless --wait), run out of open
files on the way, or write a table whose shard key is too long.
"""
import fcntl
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

BIN = None


def run(*args, stdin=None, preexec_fn=None):
    return subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=120, preexec_fn=preexec_fn)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def someone_waits_for(path):
    """Whether /proc/locks lists a process blocked on a flock of `path` ("N: -> FLOCK ... DEV:INODE ...")."""
    ino = os.stat(path).st_ino
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if fields[1:3] == ["->", "FLOCK"] and int(fields[6].rsplit(":", 1)[1]) == ino:
                return True
    return False


def open_files_limit(soft, hard):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


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

    def test_inspect_json_parses_the_shard_keys(self):
        files = self.build_set("j", 4)
        r = run("inspect", "--json", *reversed(files))
        self.assertEqual(r.returncode, 0, r.stderr)
        shards = json.loads(r.stdout)
        set_id = shards[0]["shard"]["set_id"]
        self.assertRegex(set_id, r"^[0-9a-f]{32}$")
        # big: 101 rows as 26 + 25 + 25 + 25; small: 3 rows, none in shard 3; words: 9 rows as 3 + 2 + 2 + 2
        parts = [{"big": (0, 26), "small": (0, 1), "words": (0, 3)}, {"big": (26, 25), "small": (1, 1), "words": (3, 2)},
                 {"big": (51, 25), "small": (2, 1), "words": (5, 2)}, {"big": (76, 25), "words": (7, 2)}]
        totals = {"big": 101, "small": 3, "words": 9}
        positions = {"big": 0, "small": 1, "words": 2}
        for i, s in enumerate(shards):
            self.assertEqual(s["shard"], {"set_id": set_id, "index": i, "count": 4, "by": "rows", "tables": 3})
            self.assertEqual(s["metadata"]["embstore.shard.set"], set_id)
            got = {t["name"]: (t["shard"]["first"], t["rows"]) for t in s["tables"]}
            self.assertEqual(got, parts[i], f"shard {i}")
            for t in s["tables"]:
                self.assertEqual(t["shard"], {"position": positions[t["name"]], "first": parts[i][t["name"]][0],
                                              "total": totals[t["name"]]})
        r = run("inspect", "--json", files[3])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["shard"]["index"], 3, "one shard alone has its object too")
        files = self.build_set("jt", 2, "table")
        for s in json.loads(run("inspect", "--json", *files).stdout):
            self.assertEqual(s["shard"]["by"], "table")
            for t in s["tables"]:
                self.assertEqual((t["shard"]["first"], t["shard"]["total"]), (0, t["rows"]), "whole tables")
        plain = json.loads(run("inspect", "--json", self.whole).stdout)
        self.assertIsNone(plain["shard"])
        self.assertEqual([t["shard"] for t in plain["tables"]], [None, None, None])

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


    def test_a_shard_open_for_writing_stops_the_build_unless_waiting(self):
        files = self.build_set("l", 3)
        before = [read_bytes(f) for f in files]
        out = os.path.join(self.tmp.name, "l.emb")
        args = [BIN, "build", "-q", "-f", "--shards", "3", "-o", out, *self.inputs]
        with open(files[2], "rb") as held:  # the lock a trainer's embstore_open(..., WRITABLE) takes
            fcntl.flock(held, fcntl.LOCK_EX)
            r = run(*args[1:])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"'{files[2]}' is open for writing by process {os.getpid()}".encode(), r.stderr)
            self.assertEqual([read_bytes(f) for f in files], before, "the old set is left whole")
            p = subprocess.Popen([*args[:3], "--wait", *args[3:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # No timed assertion: the build is known to wait once the kernel lists it as blocked on the lock.
            while not someone_waits_for(files[2]):
                self.assertIsNone(p.poll(), "the build ended instead of waiting")
                time.sleep(0.01)
            self.assertEqual([read_bytes(f) for f in files], before, "nothing replaced while it waits")
            fcntl.flock(held, fcntl.LOCK_UN)
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        self.assertTrue(all(read_bytes(f) != b for f, b in zip(files, before)), "a new set is in place")
        self.assertEqual(run("verify", *files).returncode, 0)

    def test_open_files_limit(self):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY and hard < 128:
            self.skipTest(f"the hard limit of open files is {hard}")
        # 60 shards with a soft limit of 32: the build lifts it (no root needed below the hard limit).
        out = os.path.join(self.tmp.name, "n.emb")
        r = run("build", "-q", "--shards", "60", "-o", out, *self.inputs, preexec_fn=open_files_limit(32, hard))
        self.assertEqual(r.returncode, 0, r.stderr)
        files = sorted(glob.glob(os.path.join(self.tmp.name, "n-*-of-00060.emb")))
        self.assertEqual(len(files), 60)
        self.assertEqual(run("verify", "-q", *files).returncode, 0)
        # A hard limit of 64: 60 shards need 76 descriptors; refused before anything is built, the most that fit said.
        out = os.path.join(self.tmp.name, "few.emb")
        r = run("build", "-q", "--shards", "60", "-o", out, *self.inputs, preexec_fn=open_files_limit(32, 64))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--shards 60 is too many here: it needs 76 files open at once (one per shard, one per file it "
                      b"replaces, 16 more), over the hard limit of 64 (ulimit -Hn); at most 48 shards fit (24 when "
                      b"replacing a set of as many)", r.stderr)
        self.assertEqual([n for n in os.listdir(self.tmp.name) if "few" in n], [], "nothing written")
        r = run("build", "-q", "--shards", "48", "-o", out, *self.inputs, preexec_fn=open_files_limit(32, 64))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("build", "-q", "-f", "--shards", "48", "-o", out, *self.inputs, preexec_fn=open_files_limit(64, 64))
        self.assertEqual(r.returncode, 2, "replacing 48 shards needs 112")
        self.assertIn(b"it needs 112 files open at once", r.stderr)
        for force in ([], ["-f"]):  # 24 shards, then 24 replaced: 24 + 24 + 16 = 64
            r = run("build", "-q", *force, "--shards", "24", "-o", out, *self.inputs,
                    preexec_fn=open_files_limit(64, 64))
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_table_name_too_long_for_its_shard_key(self):
        out = os.path.join(self.tmp.name, "name.emb")
        r = run("build", "-q", "--shards", "2", "-o", out, "n" * 1004 + "=" + self.inputs[0])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"has a name of 1004 bytes: its shard key 'embstore.shard.table.NAME' would be 1025 bytes, over "
                      b"the cap of 1024 on metadata keys, so a table of a sharded set has a name of at most 1003 bytes",
                      r.stderr)
        self.assertEqual([n for n in os.listdir(self.tmp.name) if "name" in n], [], "nothing left")
        r = run("build", "-q", "--shards", "2", "-o", out, "n" * 1003 + "=" + self.inputs[0])
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main()
