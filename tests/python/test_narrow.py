"""lookup and bag with dtype=float16 / 'bfloat16': the float32 results rounded to nearest even, bit for bit."""

import numpy as np
import pytest

import embstore
from conftest import DTYPES


def bf16_codes(f32):
    """float32 values (no NaN) rounded to bfloat16, as 16-bit codes."""
    u = np.ascontiguousarray(f32, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def rounded(f32, out):
    return f32.astype(np.float16) if out == "f16" else bf16_codes(f32)


def as_dtype(out):
    return np.float16 if out == "f16" else "bfloat16"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", ["f16", "bf16"])
@pytest.mark.parametrize("threads", [None, 3])
def test_lookup_rounds_the_f32_rows(store_path, rng, dtype, out, threads):
    with embstore.open(store_path) as s:
        t = s[dtype]
        for shape in [(), (7,), (3, 5), (0,), (3000,)]:
            ids = rng.integers(0, t.rows, shape)
            got = t.lookup(ids, dtype=as_dtype(out), threads=threads)
            want = rounded(t.lookup(ids), out)
            assert got.dtype == want.dtype and got.shape == ids.shape + (t.dim,)
            np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", ["f16", "bf16"])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bag_rounds_the_f32_bags(store_path, rng, dtype, out, mode):
    with embstore.open(store_path) as s:
        t = s[dtype]
        ids = rng.integers(0, t.rows, 400)
        offsets = np.sort(rng.integers(0, 400, 60))
        offsets[0] = 0
        weights = rng.standard_normal(400).astype(np.float32)
        for w in (None, weights):
            got = t.bag(ids, offsets, mode=mode, per_sample_weights=w, dtype=as_dtype(out), threads=2)
            want = rounded(t.bag(ids, offsets, mode=mode, per_sample_weights=w), out)
            np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


def test_large_values_overflow_f16_to_infinity(tmp_path):
    w = np.array([[1e5, -7e4, 65504.0, 65520.0], [1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    path = tmp_path / "big.emb"
    embstore.build(path, {"w": w})
    with embstore.open(path) as s:
        got = s["w"].lookup([0], dtype=np.float16)
        np.testing.assert_array_equal(got, [[np.inf, -np.inf, 65504.0, np.inf]])
        np.testing.assert_array_equal(s["w"].lookup([0, 1], dtype="bfloat16"), bf16_codes(w))


def test_out_and_bad_arguments(store_path):
    with embstore.open(store_path) as s:
        t = s["f32"]
        out = np.zeros((2, t.dim), dtype=np.float16)
        assert t.lookup([1, 2], out=out, dtype=np.float16) is out
        np.testing.assert_array_equal(out, t.lookup([1, 2]).astype(np.float16))
        codes = np.zeros((1, t.dim), dtype=np.uint16)
        assert t.bag([[1, 2]], out=codes, dtype="bfloat16") is codes
        assert t.lookup([1], dtype=np.float32).dtype == np.float32
        with pytest.raises(TypeError, match="out must be"):
            t.lookup([1, 2], out=np.zeros((2, t.dim), dtype=np.float32), dtype=np.float16)
        with pytest.raises(TypeError, match="out must be"):
            t.bag([[1, 2]], out=np.zeros((1, t.dim), dtype=np.float16), dtype="bfloat16")
        for bad in (np.int8, np.float64, "int8", "bf16", object()):
            with pytest.raises(TypeError, match="dtype must be"):
                t.lookup([1], dtype=bad)
            with pytest.raises(TypeError, match="dtype must be"):
                t.bag([[1]], dtype=bad)
        with pytest.raises(IndexError, match="position 1"):
            t.lookup([0, t.rows], dtype=np.float16)
        with pytest.raises(IndexError, match="position 2"):
            t.bag([0, 1, -1], [0, 1], dtype="bfloat16")
