"""table.bag against a numpy reference (always) and torch.nn.functional.embedding_bag (when torch is there)."""

import numpy as np
import pytest

import embstore
from conftest import DTYPES, stored_values

MODES = ("sum", "mean", "max")


def numpy_bag(w, ids, csr, mode, weights):
    """The reference: bag b reduces rows ids[csr[b]:csr[b+1]], each times its weight; empty bags give zeros."""
    out = np.zeros((len(csr) - 1, w.shape[1]), dtype=np.float64)
    for b in range(len(csr) - 1):
        lo, hi = csr[b], csr[b + 1]
        if hi == lo:
            continue
        rows = w[ids[lo:hi]].astype(np.float64)
        if weights is not None:
            rows = rows * weights[lo:hi, None]
        out[b] = {"sum": rows.sum(0), "mean": rows.sum(0) / (hi - lo), "max": rows.max(0)}[mode]
    return out


def random_bags(rng, rows, n_bags, max_len):
    lens = rng.integers(0, max_len + 1, n_bags)
    lens[0] = 0  # an empty bag at the start, and one in the middle
    lens[n_bags // 2] = 0
    csr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    ids = rng.integers(0, rows, csr[-1])
    return ids, csr


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("weighted", [False, True])
def test_bag_equals_numpy(store_path, rng, dtype, mode, weighted):
    with embstore.open(store_path) as s:
        t = s[dtype]
        w = stored_values(t)
        ids, csr = random_bags(rng, t.rows, 40, 9)
        psw = rng.standard_normal(len(ids)).astype(np.float32) if weighted else None
        ref = numpy_bag(w, ids, csr, mode, psw)
        for id_dtype in (np.int32, np.int64):
            got = t.bag(ids.astype(id_dtype), csr[:-1], mode=mode, per_sample_weights=psw)
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
            got = t.bag(ids.astype(id_dtype), csr, mode=mode, per_sample_weights=psw, include_last_offset=True,
                        threads=2)
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_bag_2d_ids_are_equal_bags(store_path, rng):
    with embstore.open(store_path) as s:
        t = s["f32"]
        w = stored_values(t)
        ids = rng.integers(0, t.rows, (6, 4))
        psw = rng.random((6, 4)).astype(np.float32)
        for mode in MODES:
            ref = numpy_bag(w, ids.reshape(-1), np.arange(7) * 4, mode, psw.reshape(-1))
            np.testing.assert_allclose(t.bag(ids, mode=mode, per_sample_weights=psw), ref, rtol=1e-5, atol=1e-5)


def test_bag_refuses_bad_offsets_and_modes(store_path):
    with embstore.open(store_path) as s:
        t = s["f32"]
        ids = np.array([1, 2, 3])
        for offsets in ([1, 2], [0, 2, 1], [0, 5]):
            with pytest.raises(ValueError, match="offsets"):
                t.bag(ids, offsets)
        # torch sums such a last bag up to offsets[-1] but divides its mean by the count up to the end
        with pytest.raises(ValueError, match="offsets"):
            t.bag(ids, [0, 1, 2], include_last_offset=True)
        with pytest.raises(ValueError, match="mode"):
            t.bag(ids, [0], mode="median")
        with pytest.raises(ValueError, match="2-D"):
            t.bag(ids)
        with pytest.raises(ValueError, match="per_sample_weights"):
            t.bag(ids, [0], per_sample_weights=np.ones(2, np.float32))


@pytest.mark.parametrize("dtype", ("f32", "f16"))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_bag_equals_torch(store_path, rng, dtype, mode, weighted, include_last_offset):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    if weighted and mode != "sum":
        pytest.skip("torch takes per_sample_weights with mode='sum' only (the numpy test covers the others)")
    with embstore.open(store_path) as s:
        t = s[dtype]
        w = torch.from_numpy(stored_values(t))
        ids, csr = random_bags(rng, t.rows, 40, 9)
        offsets = csr if include_last_offset else csr[:-1]
        psw = rng.standard_normal(len(ids)).astype(np.float32) if weighted else None
        ref = F.embedding_bag(torch.from_numpy(ids), w, torch.from_numpy(offsets), mode=mode,
                              per_sample_weights=None if psw is None else torch.from_numpy(psw),
                              include_last_offset=include_last_offset).numpy()
        got = t.bag(ids, offsets, mode=mode, per_sample_weights=psw, include_last_offset=include_last_offset)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
        # 2-D input without offsets, as torch.nn.EmbeddingBag takes it
        ids2 = rng.integers(0, t.rows, (5, 3))
        ref2 = F.embedding_bag(torch.from_numpy(ids2), w, mode=mode).numpy()
        np.testing.assert_allclose(t.bag(ids2, mode=mode), ref2, rtol=1e-5, atol=1e-5)


def test_lookup_equals_torch_embedding(store_path, rng):
    torch = pytest.importorskip("torch")
    with embstore.open(store_path) as s:
        for dtype in ("f32", "f16", "bf16"):
            t = s[dtype]
            ids = rng.integers(0, t.rows, (3, 7))
            ref = torch.nn.functional.embedding(torch.from_numpy(ids), torch.from_numpy(stored_values(t)))
            np.testing.assert_array_equal(t.lookup(ids), ref.numpy())
