"""scatter_add against numpy.add.at, in a writable store and on the caller's own arrays; sync and verify."""

import subprocess
import sys

import numpy as np
import pytest

import embstore


def f32_store(path, w):
    embstore.build(path, {"w": w, "h": w}, dtype={"h": "f16"})


@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("threads", [None, 3])
def test_scatter_add_accumulates_duplicates_like_add_at(tmp_path, weights, rng, id_dtype, threads):
    p = tmp_path / "w.emb"
    f32_store(p, weights)
    ids = rng.integers(0, 20, (30, 4)).astype(id_dtype)  # many duplicates
    grads = rng.standard_normal(ids.shape + (weights.shape[1],)).astype(np.float32)
    ref = weights.copy()
    np.add.at(ref, ids.reshape(-1), np.float32(-0.5) * grads.reshape(-1, weights.shape[1]))
    with embstore.open(p, writable=True) as s:
        t = s["w"]
        t.scatter_add(ids, grads, alpha=-0.5, threads=threads)
        # fmaf(alpha, g, row) vs numpy's product then sum: within rounding
        np.testing.assert_allclose(t.array(), ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(t.lookup(np.arange(len(weights))), ref, rtol=1e-5, atol=1e-6)
        s.sync()
    with embstore.open(p) as s:
        s.verify()
        np.testing.assert_allclose(s["w"].array(), ref, rtol=1e-5, atol=1e-6)


def test_unsynced_update_fails_verify_until_sync(tmp_path, weights):
    p = tmp_path / "w.emb"
    f32_store(p, weights)
    s = embstore.open(p, writable=True)
    s["w"].scatter_add([3], np.ones((1, weights.shape[1]), np.float32))
    # another process sees the new row, and a verify that names the changed chunk, before the sync
    probe = ("import sys, embstore\n"
             "s = embstore.open(sys.argv[1])\n"
             "print(s['w'].lookup([3])[0, 0].tobytes().hex())\n"
             "try:\n    s.verify()\nexcept embstore.Error as e:\n    print(e.status)\n")
    out = subprocess.run([sys.executable, "-c", probe, str(p)], capture_output=True, text=True, check=True).stdout
    assert out.split() == [(weights[3, 0] + np.float32(1)).tobytes().hex(), "DATA_CHECKSUM"]
    s.sync()
    s.close()
    embstore.open(p).verify()


def test_writes_through_the_array_are_synced_once_marked(tmp_path, weights):
    p = tmp_path / "w.emb"
    f32_store(p, weights)
    with embstore.open(p, writable=True) as s:
        a = s["w"].array()
        assert a.flags.writeable
        a[7] = 2.5
        s["w"].mark_rows(7)
        s.sync()
        del a
    with embstore.open(p) as s:
        s.verify()
        assert (s["w"].lookup([7]) == 2.5).all()


def test_scatter_add_refuses_other_dtypes(tmp_path, weights):
    p = tmp_path / "w.emb"
    f32_store(p, weights)
    with embstore.open(p, writable=True) as s:
        with pytest.raises(embstore.Error) as e:
            s["h"].scatter_add([1], np.zeros((1, weights.shape[1]), np.float32))
        assert e.value.status == "BAD_DTYPE"
        with pytest.raises(ValueError, match="shape"):
            s["w"].scatter_add([1, 2], np.zeros((1, weights.shape[1]), np.float32))
        with pytest.raises(TypeError):
            s["w"].scatter_add([1], np.zeros((1, weights.shape[1]), np.int32))


def test_scatter_add_on_own_array(weights, rng):
    w = weights.copy()
    ids = rng.integers(0, 5, 50)
    grads = rng.standard_normal((50, w.shape[1])).astype(np.float32)
    ref = weights.copy()
    np.add.at(ref, ids, grads)
    embstore.scatter_add(w, ids, grads)
    np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-6)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        embstore.scatter_add(w, ids, grads)
