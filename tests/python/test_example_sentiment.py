"""examples/sentiment.py, the README's Python example: trains a table made by `embstore create` with a falling
loss, while this process, reading the same store, sees its rows change; the trained file passes `embstore
verify`."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import embstore

pytest.importorskip("torch")

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "sentiment.py")


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)


def create(cli, path, *more):
    p = run(cli, "create", "-o", path, "--table", "words", "--rows", "1000", "--dim", "16", "--std", "0.1",
            "--seed", "1", *more)
    assert p.returncode == 0, p.stderr


def test_sentiment_trains_in_place(tmp_path, cli):
    store = tmp_path / "sentiment.emb"
    create(cli, store, "--adagrad-state")
    with embstore.open(store) as reader:  # another process' view of the rows, mapped before training starts
        rows = reader["words"].array()
        seen = [rows.copy()]
        trainer = subprocess.Popen([sys.executable, EXAMPLE, str(store), "words", "10"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        losses = []
        for line in trainer.stdout:
            if line.startswith("epoch "):
                m = re.fullmatch(r"epoch (\d+): loss (\d+\.\d+), training accuracy (\d\.\d+)\n", line)
                assert m, line
                losses.append(float(m.group(2)))
                seen.append(rows.copy())
            else:
                last = line
        assert trainer.wait(timeout=300) == 0, trainer.stderr.read()
        # Printed after the first epoch's sync, so the rows this process maps had changed by then.
        assert not np.array_equal(seen[1], seen[0]), "no change seen in another process after epoch 1"
        np.testing.assert_array_equal(rows, embstore.open(store)["words"].array())
    assert last == f"{store}: every checksum verified\n"
    assert len(losses) == 10
    assert losses[-1] < losses[0] / 4, losses
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    p = run(cli, "verify", store)
    assert p.returncode == 0, p.stdout + p.stderr


def test_sentiment_errors(tmp_path, cli):
    def fails(*args, says):
        p = run(sys.executable, EXAMPLE, *args)
        assert (p.returncode, p.stdout) == (1, ""), p.stderr
        assert says in p.stderr

    fails(tmp_path / "missing.emb", "words", says="No such file or directory")
    store = tmp_path / "plain.emb"
    create(cli, store)  # without --adagrad-state
    fails(store, "words", says="embstore create --adagrad-state")
