"""Vocabularies: find, key, lookup_keys on a store built with keys."""

import numpy as np
import pytest

import embstore


def test_find_key_and_lookup_keys(store_path, weights):
    with embstore.open(store_path) as s:
        t = s["voc"]
        assert t.has_vocab and not s["f32"].has_vocab
        assert t.find("w17") == 17
        assert t.find(b"w0") == 0
        assert t.find("nope") is None
        assert [t.key(r) for r in (0, 5, 299)] == ["w0", "w5", "w299"]
        np.testing.assert_array_equal(t.lookup_keys(["w3", b"w1", "w3"]), weights[[3, 1, 3]])
        assert t.lookup_keys([]).shape == (0, t.dim)


def test_unknown_key_names_it_and_its_position(store_path):
    with embstore.open(store_path) as s:
        with pytest.raises(KeyError, match=r"'zebra' at position 2"):
            s["voc"].lookup_keys(["w1", "w2", "zebra", "w4"])


def test_no_vocabulary(store_path):
    with embstore.open(store_path) as s:
        with pytest.raises(embstore.Error) as e:
            s["f32"].find("w1")
        assert e.value.status == "NO_VOCAB"
        with pytest.raises(IndexError):
            s["voc"].key(300)


def test_unicode_keys(tmp_path):
    p = tmp_path / "u.emb"
    words = ["café", "naïve", "日本", "x"]
    embstore.build(p, {"u": np.eye(4, dtype=np.float32)}, keys={"u": words})
    with embstore.open(p) as s:
        t = s["u"]
        assert [t.key(i) for i in range(4)] == words
        assert t.find("日本") == 2
        np.testing.assert_array_equal(t.lookup_keys(["naïve"]), [[0, 1, 0, 0]])
