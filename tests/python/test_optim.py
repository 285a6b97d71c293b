"""The sparse optimizer steps (Table.sgd_update, Table.rowwise_adagrad_update, and the forms on arrays of one's
own) against references in numpy, duplicates included; embstore.create against `embstore create`."""

import subprocess
import sys

import numpy as np
import pytest

import embstore
from conftest import adagrad_reference, bf16_round, sgd_reference, stored_values


def round_to(dtype, w):
    w = w.astype(np.float32)
    return {"f32": w, "f16": w.astype(np.float16).astype(np.float32), "bf16": bf16_round(w)}[dtype]


@pytest.fixture
def trainable(tmp_path, weights):
    p = tmp_path / "opt.emb"
    zeros = np.zeros((len(weights), 1), np.float32)
    embstore.build(p, {"f32": weights, "f16": weights, "bf16": weights, "int8": weights, "f32.adagrad_state": zeros,
                       "f16.adagrad_state": zeros, "bf16.adagrad_state": zeros, "small": weights[:10]},
                   dtype={"f16": "f16", "bf16": "bf16", "int8": "int8"})
    return p


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_sgd_sums_duplicates_then_steps(trainable, rng, dtype):
    with embstore.open(trainable, writable=True) as s:
        t = s[dtype]
        w = stored_values(t)
        ids = rng.integers(0, 30, (25, 3)).astype(np.int32)  # many duplicates, 2-D ids
        grads = rng.standard_normal(ids.shape + (t.dim,)).astype(np.float32)
        t.sgd_update(ids, grads, lr=0.25)
        want = round_to(dtype, sgd_reference(w, ids, grads, 0.25))
        tol = {"f32": 1e-6, "f16": 1e-3, "bf16": 8e-3}[dtype]  # one rounding of the stored dtype
        np.testing.assert_allclose(stored_values(t), want, rtol=tol, atol=tol)
        untouched = np.setdiff1d(np.arange(t.rows), ids)
        np.testing.assert_array_equal(stored_values(t)[untouched], w[untouched])
        s.sync()
    with embstore.open(trainable) as s:
        s.verify()  # the rows were marked for the sync


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_rowwise_adagrad_matches_numpy(trainable, rng, dtype, weight_decay):
    with embstore.open(trainable, writable=True) as s:
        t, state = s[dtype], s[dtype + ".adagrad_state"]
        w, acc = stored_values(t).astype(np.float64), np.zeros(t.rows)
        for _ in range(3):  # the state carries over from step to step
            ids = rng.integers(0, 40, 50)
            grads = rng.standard_normal((50, t.dim)).astype(np.float32)
            t.rowwise_adagrad_update(state, ids, grads, lr=0.1, eps=1e-8, weight_decay=weight_decay)
            w, acc = adagrad_reference(round_to(dtype, w), acc, ids, grads, 0.1, 1e-8, weight_decay)
        tol = {"f32": 1e-5, "f16": 2e-3, "bf16": 1e-2}[dtype]
        np.testing.assert_allclose(stored_values(t), round_to(dtype, w), rtol=tol, atol=tol)
        np.testing.assert_allclose(state.array()[:, 0], acc, rtol=1e-5)
        s.sync()
    with embstore.open(trainable) as s:
        s.verify()


def test_steps_on_arrays_of_ones_own(weights, rng):
    ids = np.array([4, 9, 4, 4])
    grads = rng.standard_normal((4, weights.shape[1])).astype(np.float32)
    w = weights.copy()
    embstore.sgd_update(w, ids, grads, 0.5)
    np.testing.assert_allclose(w, sgd_reference(weights, ids, grads, 0.5), rtol=1e-6, atol=1e-6)
    w, state = weights.copy(), np.zeros(len(weights), np.float32)
    embstore.rowwise_adagrad_update(w, state, ids, grads, 0.5)
    want_w, want_s = adagrad_reference(weights, np.zeros(len(weights)), ids, grads, 0.5, 1e-10, 0.0)
    np.testing.assert_allclose(w, want_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state, want_s, rtol=1e-5)
    with pytest.raises(TypeError, match="state must be a float32"):
        embstore.rowwise_adagrad_update(w, np.zeros(len(weights)), ids, grads, 0.5)
    ro = np.zeros((3, 2), np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        embstore.sgd_update(ro, [0], np.ones((1, 2)), 1.0)


def test_optimizer_errors_change_nothing(trainable, store_path, rng):
    with embstore.open(trainable, writable=True) as s:
        t, state = s["f32"], s["f32.adagrad_state"]
        before = t.array().copy()
        g = np.ones((3, t.dim), np.float32)
        with pytest.raises(IndexError, match="id 300 at position 1"):
            t.sgd_update([0, 300, 2], g, 0.1)
        with pytest.raises(IndexError, match="id -1 at position 2"):
            t.rowwise_adagrad_update(state, [0, 2, -1], g, 0.1)
        np.testing.assert_array_equal(t.array(), before)  # every id is checked before anything is written
        assert not state.array().any()
        with pytest.raises(embstore.Error) as e:
            s["int8"].sgd_update([0], g[:1], 0.1)
        assert e.value.status == "BAD_DTYPE"
        with pytest.raises(ValueError, match="grads has shape"):
            t.sgd_update([0, 1], g, 0.1)
        with pytest.raises(TypeError, match="ids must be int32 or int64"):
            t.sgd_update(np.array([0.0, 1.0, 2.0]), g, 0.1)
        with pytest.raises(ValueError, match=r"is 10 x 24 f32; row-wise Adagrad needs 300 x 1 f32"):
            t.rowwise_adagrad_update(s["small"], [0], g[:1], 0.1)
        with pytest.raises(TypeError, match="state must be an embstore.Table"):
            t.rowwise_adagrad_update(np.zeros((300, 1), np.float32), [0], g[:1], 0.1)
        with embstore.open(store_path) as other, pytest.raises(ValueError, match="another Store"):
            t.rowwise_adagrad_update(other["f32"], [0], g[:1], 0.1)
    with embstore.open(trainable) as s, pytest.raises(embstore.Error) as e:
        s["f32"].sgd_update([0], np.ones((1, 24), np.float32), 0.1)
    assert e.value.status == "READ_ONLY"


CREATE_CASES = [
    ({}, []),
    ({"std": 0.1, "seed": 1, "adagrad_state": True}, ["--std", "0.1", "--seed", "1", "--adagrad-state"]),
    ({"init": "uniform", "scale": 0.05, "seed": 2**64 - 1, "dtype": "f16"},
     ["--init", "uniform", "--scale", "0.05", "--seed", str(2**64 - 1), "--dtype", "f16"]),
    ({"init": "zeros", "dtype": "bf16"}, ["--init", "zeros", "--dtype", "bf16"]),
    ({"dtype": "int8", "seed": 5}, ["--dtype", "int8", "--seed", "5"]),
]


@pytest.mark.parametrize("kwargs,args", CREATE_CASES)
def test_create_writes_the_bytes_of_the_cli(tmp_path, cli, kwargs, args):
    py, c = tmp_path / "py.emb", tmp_path / "cli.emb"
    embstore.create(py, "words", 3000, 24, **kwargs)
    subprocess.run([cli, "create", "-o", str(c), "--table", "words", "--rows", "3000", "--dim", "24", *args],
                   check=True, capture_output=True)
    assert py.read_bytes() == c.read_bytes()


def test_create_draws_from_the_seed(tmp_path):
    embstore.create(tmp_path / "a.emb", "e", 20000, 16, std=0.5, seed=3, adagrad_state=True)
    embstore.create(tmp_path / "b.emb", "e", 100, 16, std=0.5, seed=3)
    embstore.create(tmp_path / "c.emb", "e", 100, 16, std=0.5, seed=4)
    with embstore.open(tmp_path / "a.emb") as a, embstore.open(tmp_path / "b.emb") as b, \
            embstore.open(tmp_path / "c.emb") as c:
        assert a.tables == ["e", "e.adagrad_state"] and b.tables == ["e"]
        w = a["e"].array()
        assert abs(w.mean()) < 0.01 and abs(w.std() - 0.5) < 0.01
        np.testing.assert_array_equal(b["e"].array(), w[:100])  # a prefix of a larger table from the same seed
        assert not np.array_equal(c["e"].array(), w[:100])
        assert a["e.adagrad_state"].dtype == "f32" and a["e.adagrad_state"].dim == 1
        assert not a["e.adagrad_state"].array().any()
        a.verify()


def test_create_refuses_what_the_cli_refuses(tmp_path):
    p = tmp_path / "x.emb"
    with pytest.raises(ValueError, match="init='uniform' needs scale"):
        embstore.create(p, "e", 10, 4, init="uniform")
    with pytest.raises(ValueError, match="std applies to init='normal'"):
        embstore.create(p, "e", 10, 4, init="uniform", std=1, scale=1)
    with pytest.raises(ValueError, match="scale applies to init='uniform'"):
        embstore.create(p, "e", 10, 4, scale=1)
    with pytest.raises(ValueError, match="init must be"):
        embstore.create(p, "e", 10, 4, init="xavier")
    with pytest.raises(ValueError, match="rows and dim must be positive"):
        embstore.create(p, "e", 0, 4)
    with pytest.raises(TypeError, match="unsupported table dtype"):
        embstore.create(p, "e", 10, 4, dtype="f64")
    with pytest.raises(embstore.Error) as e:
        embstore.create(p, "e", 10, 4, std=-1)
    assert e.value.status == "INVALID_ARGUMENT"
    assert not p.exists()
    embstore.create(p, "e", 10, 4)
    with pytest.raises(FileExistsError):
        embstore.create(p, "e", 10, 4)
    embstore.create(p, "e", 10, 8, overwrite=True)
    with embstore.open(p) as s:
        assert s["e"].dim == 8


def test_import_embstore_does_not_import_torch():
    code = "import sys, embstore; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
