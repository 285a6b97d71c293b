"""table.lookup against numpy.take, for every dtype, both id dtypes and random shapes."""

import numpy as np
import pytest

import embstore
from conftest import DTYPES, bf16_round, stored_values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
def test_lookup_equals_take(store_path, rng, dtype, id_dtype):
    with embstore.open(store_path) as s:
        t = s[dtype]
        ref = stored_values(t)
        for shape in [(), (1,), (7,), (3, 5), (2, 3, 4), (0,), (4, 0, 2), (1000,)]:
            ids = rng.integers(0, t.rows, shape).astype(id_dtype)
            got = t.lookup(ids)
            assert got.dtype == np.float32 and got.shape == ids.shape + (t.dim,)
            if dtype == "int8":  # fmaf vs one float64 rounding and one float32 rounding: within one ulp
                np.testing.assert_allclose(got, np.take(ref, ids, axis=0), rtol=2e-7, atol=1e-7)
            else:
                np.testing.assert_array_equal(got, np.take(ref, ids, axis=0))


def test_dtypes_hold_the_rounded_weights(store_path, weights):
    with embstore.open(store_path) as s:
        all_ids = np.arange(len(weights))
        np.testing.assert_array_equal(s["f32"].lookup(all_ids), weights)
        np.testing.assert_array_equal(s["f16"].lookup(all_ids), weights.astype(np.float16).astype(np.float32))
        np.testing.assert_array_equal(s["bf16"].lookup(all_ids), bf16_round(weights))
        q = s["int8"].array()
        err = np.abs(s["int8"].lookup(all_ids) - weights)
        assert (err <= q["scale"][:, None] * 0.5 + 1e-6).all()


def test_ids_of_other_forms(store_path, weights):
    with embstore.open(store_path) as s:
        t = s["f32"]
        np.testing.assert_array_equal(t.lookup([3, 1, 4]), weights[[3, 1, 4]])
        np.testing.assert_array_equal(t.lookup(np.array([3, 1], dtype=np.uint16)), weights[[3, 1]])
        strided = np.arange(20, dtype=np.int64)[::3]
        np.testing.assert_array_equal(t.lookup(strided), weights[strided])
        assert t.lookup([]).shape == (0, t.dim)
        np.testing.assert_array_equal(t.lookup(5), weights[5])


def test_out_and_threads(store_path, weights, rng):
    with embstore.open(store_path) as s:
        t = s["f32"]
        ids = rng.integers(0, t.rows, (50, 9))
        out = np.full(ids.shape + (t.dim,), np.nan, dtype=np.float32)
        assert t.lookup(ids, out=out) is out
        np.testing.assert_array_equal(out, weights[ids])
        np.testing.assert_array_equal(t.lookup(ids, threads=3), weights[ids])
        with pytest.raises(ValueError):
            t.lookup(ids, out=np.empty((50, t.dim), np.float32))
        with pytest.raises(TypeError):
            t.lookup(ids, out=np.empty(ids.shape + (t.dim,), np.float64))


def test_lookup_on_own_array(weights, rng):
    ids = rng.integers(0, len(weights), (4, 6))
    np.testing.assert_array_equal(embstore.lookup(weights, ids), np.take(weights, ids, axis=0))
    with pytest.raises(TypeError):
        embstore.lookup(weights.astype(np.float64), ids)


def test_kernel_sets_agree(store_path, rng):
    sets = [i for i in ("scalar", "avx2", "avx512", "neon") if embstore.isa_supported(i)]
    active = embstore.isa_active()
    assert active in sets
    ids = rng.integers(0, 300, 500)
    try:
        with embstore.open(store_path) as s:
            results = []
            for isa in sets:
                embstore.isa_set(isa)
                results.append([s[d].lookup(ids) for d in DTYPES])
        for r in results[1:]:
            for a, b in zip(results[0], r):
                np.testing.assert_array_equal(a, b)
    finally:
        embstore.isa_set(active)
