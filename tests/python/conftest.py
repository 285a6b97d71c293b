"""Shared helpers of the package's tests. They import embstore as a user would: from PYTHONPATH (python/), with
the library named by EMBSTORE_LIBRARY (ctest sets both to this tree's)."""

import os

import numpy as np
import pytest

import embstore

DTYPES = ("f32", "f16", "bf16", "int8")

# test_mpi.py runs under mpirun, every rank a pytest of its own (run_mpi.sh sets EMBSTORE_TEST_MPI).
collect_ignore = [] if os.environ.get("EMBSTORE_TEST_MPI") else ["test_mpi.py"]


def bf16_round(w):
    """float32 -> the nearest bfloat16 (ties to even), widened back to float32: what an f16 store holds."""
    b = w.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint32) << 16
    return r.view(np.float32)


def stored_values(table):
    """The values a table holds as float32, computed from its raw array() (not through the kernels)."""
    a = table.array()
    if table.dtype == "f32":
        return np.array(a)
    if table.dtype == "f16":
        return a.astype(np.float32)
    if table.dtype == "bf16":
        return (a.astype(np.uint32) << 16).view(np.float32)
    # int8: q * scale + bias, computed once in float64 (exact product) and rounded to float32 as fmaf does
    return (a["q"] * a["scale"][:, None].astype(np.float64) + a["bias"][:, None]).astype(np.float32)


def summed(ids, grads, dim):
    """{id: the sum of its gradient rows, in float64}, the first step of both optimizers."""
    g = {}
    for i, row in zip(ids.reshape(-1).tolist(), grads.reshape(-1, dim).astype(np.float64)):
        g[i] = g[i] + row if i in g else row.copy()
    return g


def sgd_reference(w, ids, grads, lr):
    w = w.astype(np.float64)
    for i, g in summed(ids, grads, w.shape[1]).items():
        w[i] -= lr * g
    return w


def adagrad_reference(w, s, ids, grads, lr, eps, wd):
    """FBGEMM's rowwise_adagrad as include/embstore.h writes it, in float64."""
    w, s = w.astype(np.float64), s.astype(np.float64).reshape(-1)
    for i, g in summed(ids, grads, w.shape[1]).items():
        g = g + wd * w[i]
        s[i] += np.mean(g * g)
        w[i] -= lr / (np.sqrt(s[i]) + eps) * g
    return w, s


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def weights(rng):
    return rng.standard_normal((300, 24)).astype(np.float32)


@pytest.fixture
def store_path(tmp_path, weights):
    """A store with one table per dtype, all from `weights`, and a keyed f32 table 'voc'."""
    p = tmp_path / "t.emb"
    tables = {d: weights for d in DTYPES}
    tables["voc"] = weights
    keys = {"voc": [f"w{i}" for i in range(len(weights))]}
    embstore.build(p, tables, dtype={d: d for d in DTYPES}, metadata={"origin": "test", "n": "300"}, keys=keys)
    return p


@pytest.fixture
def cli():
    """The embstore tool that tests/python/run.sh was given (ctest gives this tree's)."""
    path = os.environ.get("EMBSTORE_CLI")
    if not path:
        pytest.skip("no embstore tool given (tests/python/run.sh PYTHON LIBRARY CLI)")
    return path
