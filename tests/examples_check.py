#!/usr/bin/python3
"""examples_check.py: runs the programs of examples/ (which the README shows) and checks what they do.

Usage: /usr/bin/python3 tests/examples_check.py EMBSTORE LOOKUP BUILD_STORE TRAIN SENTIMENT [unittest options]

build_store writes a store from examples/sample.npy; lookup must print exactly the rows numpy computes from
sample.npy (and the same text as `embstore get`); train must take one SGD step that numpy reproduces bit for
bit and leave a store that `embstore verify` passes. Every error path must end with status 1 and a message,
never with a signal. sentiment must train a table made by `embstore create` with a falling loss, while this
process, mapping the same file, sees its rows change epoch after epoch, and leave a store that verify passes.
Not named *_test.py: tests/CMakeLists.txt registers it with the examples' paths.
"""
import os
import json
import mmap
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "sample.npy")
CLI = LOOKUP = BUILD_STORE = TRAIN = SENTIMENT = None
TMP = None
LEARNING_RATE = np.float32(0.25)  # train.c's LEARNING_RATE


def run(*args):
    """Runs a program; returns (returncode, stdout text, stderr text)."""
    p = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("ascii"), p.stderr.decode("utf-8", "replace")


def tmp(name):
    return os.path.join(TMP.name, name)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def parse_rows(text):
    """Rows printed one per line, values separated by one space, as %.9g."""
    return np.array([line.split(" ") for line in text.splitlines()], dtype=np.float64).astype(np.float32)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


class Examples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sample = np.load(SAMPLE)
        cls.store = tmp("built.emb")
        rc, out, err = run(BUILD_STORE, cls.store, SAMPLE)
        assert (rc, out, err) == (0, "", ""), "build_store failed: %d %s" % (rc, err)

    def assert_fails(self, program, *args, says):
        rc, out, err = run(program, *args)
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        self.assertIn(says, err)

    def test_built_store_verifies(self):
        rc, out, err = run(CLI, "verify", self.store)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(run(CLI, "inspect", "--json", self.store)[0], 0)

    def test_lookup_words_are_the_sample_rounded_to_f16(self):
        ids = [0, 17, 999, 17]
        rc, out, err = run(LOOKUP, self.store, "words", *ids)
        self.assertEqual((rc, err), (0, ""))
        want = self.sample[ids].astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(bits(parse_rows(out)), bits(want))
        rc, get_out, err = run(CLI, "get", self.store, "--table", "words", "--ids", ",".join(map(str, ids)))
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, get_out)

    def test_lookup_grid_rows_are_streamed_in_order(self):
        ids = [0, 31, 32, 99]  # both sides of a batch boundary (32 rows) and the short last batch
        rc, out, err = run(LOOKUP, self.store, "grid", *ids)
        self.assertEqual((rc, err), (0, ""))
        want = np.array([[r + c / 8 for c in range(8)] for r in ids], dtype=np.float32)
        np.testing.assert_array_equal(parse_rows(out), want)
        rc, out, err = run(LOOKUP, self.store, "grid", 100)
        self.assertEqual(rc, 1)
        self.assertIn("id out of range: 100 (table 'grid' has 100 rows)", err)

    def test_lookup_errors(self):
        self.assert_fails(LOOKUP, tmp("missing.emb"), "words", 1, says="No such file or directory")
        self.assert_fails(LOOKUP, SAMPLE, "words", 1, says="not an embstore file")
        self.assert_fails(LOOKUP, self.store, "nosuch", 1, says="no such table")
        self.assert_fails(LOOKUP, self.store, "words", 3, 1000,
                          says="id out of range: 1000 (table 'words' has 1000 rows)")
        self.assert_fails(LOOKUP, self.store, "words", -1, says="id out of range: -1")
        self.assert_fails(LOOKUP, self.store, "words", "1x", says="'1x' is not a decimal id")
        self.assert_fails(LOOKUP, self.store, "words", "99999999999999999999", says="is not a decimal id")
        self.assert_fails(LOOKUP, self.store, "words", says="usage")

    def test_lookup_reports_a_failed_write(self):
        with open("/dev/full", "w") as full:
            p = subprocess.run([LOOKUP, self.store, "words", "1"], stdout=full, stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"standard output", p.stderr)

    def test_build_store_failure_leaves_nothing(self):
        before = sorted(os.listdir(TMP.name))
        self.assert_fails(BUILD_STORE, tmp("never.emb"), tmp("missing.npy"), says="No such file or directory")
        self.assertEqual(sorted(os.listdir(TMP.name)), before)  # neither the store nor a temporary file
        self.assert_fails(BUILD_STORE, tmp("never.emb"), says="usage")

    def test_build_store_failure_keeps_the_old_store(self):
        out = tmp("kept.emb")
        shutil.copyfile(self.store, out)
        before = read_bytes(out)
        self.assert_fails(BUILD_STORE, out, self.store, says="input file is malformed")
        self.assertEqual(read_bytes(out), before)

    def test_train_takes_one_sgd_step(self):
        store = tmp("train.emb")
        self.assertEqual(run(CLI, "build", "-o", store, "--chunk-bytes", "4K", "words=" + SAMPLE)[0], 0)
        ids = [3, 500, 3, 999]  # row 3 twice: two updates, both with the gradient of the row as it was
        rc, out, err = run(TRAIN, store, "words", *ids)
        self.assertEqual((rc, out, err), (0, "", ""))
        want = self.sample.copy()
        for i in ids:
            # train.c: row += -lr * grad with grad = the original row; -lr * grad is exact (lr = 1/4), so the
            # library's fused multiply-add rounds like this f32 addition.
            want[i] = want[i] + (-LEARNING_RATE) * self.sample[i]
        rc, out, err = run(CLI, "verify", store)
        self.assertEqual(rc, 0, out + err)  # embstore_sync rewrote the checksums of the changed chunks
        rc, out, err = run(CLI, "get", store, "--ids", ",".join(str(i) for i in range(len(want))))
        self.assertEqual((rc, err), (0, ""))
        np.testing.assert_array_equal(bits(parse_rows(out)), bits(want))

    def test_train_errors_leave_the_store_intact(self):
        store = tmp("train_errors.emb")
        self.assertEqual(run(CLI, "build", "-o", store, "words=" + SAMPLE)[0], 0)
        before = read_bytes(store)
        self.assert_fails(TRAIN, store, "words", 5, 1000, says="id out of range: 1000 (table 'words' has 1000 rows)")
        self.assert_fails(TRAIN, store, "nosuch", 1, says="no such table")
        self.assert_fails(TRAIN, self.store, "words", 1, says="one this call does not take")
        self.assert_fails(TRAIN, tmp("missing.emb"), "words", 1, says="No such file or directory")
        self.assertEqual(read_bytes(store), before)

    def test_sentiment_trains_in_place(self):
        store = tmp("sentiment.emb")
        rc, out, err = run(CLI, "create", "-o", store, "--table", "words", "--rows", "1000", "--dim", "16", "--std",
                           "0.1", "--seed", "1")
        self.assertEqual(rc, 0, err)
        # The table's bytes as another process sees them: this one maps the file before training starts.
        rc, out, err = run(CLI, "inspect", "--json", store)
        table = json.loads(out)["tables"][0]
        start, size = table["data_offset"], table["rows"] * table["row_stride"]
        with open(store, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as view:
            seen = [view[start:start + size]]
            trainer = subprocess.Popen([SENTIMENT, store, "words", "10"], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            losses = []
            for line in trainer.stdout:
                m = re.fullmatch(r"epoch (\d+): loss (\d+\.\d+), training accuracy (\d\.\d+)\n", line)
                self.assertIsNotNone(m, line)
                losses.append(float(m.group(2)))
                seen.append(view[start:start + size])
            self.assertEqual(trainer.wait(timeout=60), 0, trainer.stderr.read())
            # Printed after the first epoch's sync, so this mapping, made before training, already showed
            # trained rows then (the trainer may have gone further by the time it was read); at the end it shows
            # the rows the file holds.
            self.assertTrue(seen[1] != seen[0], "no change seen in another mapping after epoch 1")
            with open(store, "rb") as again:
                again.seek(start)
                self.assertTrue(view[start:start + size] == again.read(size), "mapping and file differ")
        self.assertEqual(len(losses), 10)
        self.assertLess(losses[-1], losses[0] / 4, losses)
        self.assertTrue(all(b < a for a, b in zip(losses[2:], losses[3:])), losses)
        rc, out, err = run(CLI, "verify", store)
        self.assertEqual(rc, 0, out + err)

    def test_sentiment_errors(self):
        self.assert_fails(SENTIMENT, tmp("missing.emb"), "words", says="No such file or directory")
        self.assert_fails(SENTIMENT, self.store, "words", says="must be f32")  # the sample's words are f16
        self.assert_fails(SENTIMENT, self.store, "words", "0", says="EPOCHS")


if __name__ == "__main__":
    if len(sys.argv) < 6:
        sys.stderr.write("usage: examples_check.py EMBSTORE LOOKUP BUILD_STORE TRAIN SENTIMENT [unittest options]\n")
        sys.exit(2)
    CLI, LOOKUP, BUILD_STORE, TRAIN, SENTIMENT = (os.path.abspath(a) for a in sys.argv[1:6])
    del sys.argv[1:6]
    TMP = tempfile.TemporaryDirectory(prefix="embstore-examples-")
    try:
        unittest.main(verbosity=1)
    finally:
        TMP.cleanup()
