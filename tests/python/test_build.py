"""embstore.build: batches, dtypes, the float64 rule, metadata, keys, overwrite."""

import numpy as np
import pytest

import embstore
from conftest import bf16_round


def test_batches_stream_into_one_table(tmp_path, rng):
    w = rng.standard_normal((1000, 8)).astype(np.float32)
    p = tmp_path / "b.emb"

    def batches():
        for lo in range(0, 1000, 97):
            yield w[lo:lo + 97]
    embstore.build(p, {"a": batches(), "b": [w[:10].astype(np.float16), w[10:20].astype(np.float16)],
                       "c": w}, dtype={"c": "bf16"}, metadata={"k": "v", "é": "ü"})
    with embstore.open(p) as s:
        assert s.tables == ["a", "b", "c"]
        assert [s[n].dtype for n in s.tables] == ["f32", "f16", "bf16"]
        assert s.metadata == {"k": "v", "é": "ü"}
        np.testing.assert_array_equal(s["a"].array(), w)
        np.testing.assert_array_equal(s["b"].array(), w[:20].astype(np.float16))
        np.testing.assert_array_equal(s["c"].lookup(np.arange(1000)), bf16_round(w))
        s.verify()


def test_float64_is_rounded_to_float32(tmp_path, rng):
    w = rng.standard_normal((5, 3))
    embstore.build(tmp_path / "d.emb", {"d": w})
    with embstore.open(tmp_path / "d.emb") as s:
        assert s["d"].dtype == "f32"
        np.testing.assert_array_equal(s["d"].array(), w.astype(np.float32))
    w[2, 1] = 1e300
    with pytest.raises(embstore.Error, match=r"row 2, column 1") as e:
        embstore.build(tmp_path / "e.emb", {"e": w})
    assert e.value.status == "RANGE"
    assert not (tmp_path / "e.emb").exists()


def test_writer_errors_carry_status_and_detail(tmp_path):
    w = np.full((2, 2), 1e6, dtype=np.float32)
    with pytest.raises(embstore.Error) as e:
        embstore.build(tmp_path / "f.emb", {"f": w}, dtype="f16")
    assert e.value.status == "RANGE" and "f16" in e.value.detail
    with pytest.raises(embstore.Error) as e:
        embstore.build(tmp_path / "k.emb", {"k": np.eye(2, dtype=np.float32)}, keys={"k": ["a", "a"]})
    assert e.value.status == "DUPLICATE_NAME"


def test_keys_must_match_rows(tmp_path):
    w = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="keys"):
        embstore.build(tmp_path / "k.emb", {"k": w}, keys={"k": ["a", "b"]})
    with pytest.raises(ValueError, match="keys"):
        embstore.build(tmp_path / "k.emb", {"k": w}, keys={"k": ["a", "b", "c", "d"]})
    with pytest.raises(ValueError, match="keys"):
        embstore.build(tmp_path / "k.emb", {"k": w}, keys={"other": ["a"]})


def test_shapes_and_overwrite(tmp_path):
    p = tmp_path / "o.emb"
    with pytest.raises(ValueError, match="2-D"):
        embstore.build(p, {"x": np.ones(4, np.float32)})
    with pytest.raises(ValueError, match="columns"):
        embstore.build(p, {"x": [np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)]})
    with pytest.raises(ValueError, match="no rows"):
        embstore.build(p, {"x": []})
    embstore.build(p, {"x": np.ones((2, 3), np.float32)})
    with pytest.raises(FileExistsError):
        embstore.build(p, {"x": np.zeros((2, 3), np.float32)})
    embstore.build(p, {"x": np.zeros((2, 3), np.float32)}, overwrite=True)
    with embstore.open(p) as s:
        assert not s["x"].array().any()
