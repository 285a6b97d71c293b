"""Every error path: IndexError with the position, FileNotFoundError, PermissionError, READ_ONLY, TypeError,
format errors with their status and detail, and a library that cannot be found."""

import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import embstore


def test_bad_id_names_value_and_position(store_path):
    with embstore.open(store_path) as s:
        t = s["f16"]
        with pytest.raises(IndexError, match=r"id 300 at position 2 is out of range \(0 <= id < 300\)"):
            t.lookup([0, 1, 300, 2])
        with pytest.raises(IndexError, match=r"id -1 at position \(1, 0\)"):
            t.lookup(np.array([[0, 1], [-1, 5]], dtype=np.int32))
        with pytest.raises(IndexError, match=r"id 400 at position 3 "):  # the smallest bad position
            t.lookup(np.r_[np.zeros(3, np.int64), 400, np.zeros(5000, np.int64), 500], threads=4)
        with pytest.raises(IndexError, match=r"id 999 at position 4"):
            t.bag([0, 1, 2, 3, 999], [0, 2])
        big = np.array([1, 2**63 + 5], dtype=np.uint64)
        with pytest.raises(IndexError, match="position 1"):
            t.lookup(big)


def test_bad_id_in_scatter_add_stops_before_it(tmp_path, weights):
    p = tmp_path / "w.emb"
    embstore.build(p, {"w": weights})
    with embstore.open(p, writable=True) as s:
        t = s["w"]
        with pytest.raises(IndexError, match="id 1000 at position 1"):
            t.scatter_add([0, 1000, 2], np.ones((3, 24), np.float32))
        np.testing.assert_array_equal(t.array()[0], weights[0] + 1)
        np.testing.assert_array_equal(t.array()[2], weights[2])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        embstore.open(tmp_path / "absent.emb")
    assert e.value.filename == str(tmp_path / "absent.emb")


def test_permission_denied(store_path):
    if os.geteuid() != 0:
        os.chmod(store_path, 0)
        with pytest.raises(PermissionError):
            embstore.open(store_path)
        return
    # root reads any file: the open runs in a child that drops to user nobody, on a copy in a directory it can
    # enter
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        p = os.path.join(d, "secret.emb")
        with open(store_path, "rb") as src, open(p, "wb") as dst:
            dst.write(src.read())
        os.chmod(p, 0o600)
        code = ("import embstore, sys\n"
                "try:\n    embstore.open(sys.argv[1])\n"
                "except PermissionError as e:\n    print('PermissionError', e.filename)\n")
        try:
            r = subprocess.run([sys.executable, "-c", code, p], capture_output=True, text=True, user=65534,
                               env={"PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                                    "EMBSTORE_LIBRARY": embstore._lib.C._name})
        except PermissionError:
            pytest.skip("cannot switch to user nobody here")
        if "No module named" in r.stderr or "cannot load" in r.stderr:
            pytest.skip("user nobody cannot read the package or library here")
        assert r.stdout.split() == ["PermissionError", p], r.stderr


def test_read_only_store_refuses_writes(store_path):
    with embstore.open(store_path) as s:
        t = s["f32"]
        for call in (lambda: t.scatter_add([1], np.zeros((1, 24), np.float32)), s.sync, lambda: t.mark_rows(0)):
            with pytest.raises(embstore.Error) as e:
                call()
            assert e.value.status == "READ_ONLY" and "READ_ONLY" in str(e.value)
        a = t.array()
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0, 0] = 1


def test_wrong_dtypes(store_path, tmp_path):
    with embstore.open(store_path) as s:
        t = s["f32"]
        for ids in (np.array([1.0]), np.array([True]), ["a"]):
            with pytest.raises(TypeError, match="ids"):
                t.lookup(ids)
        with pytest.raises(TypeError, match="per_sample_weights"):
            t.bag([[1, 2]], per_sample_weights=np.array([["a", "b"]]))
    for bad in (np.ones((2, 2), np.int32), np.ones((2, 2), np.complex64)):
        with pytest.raises(TypeError, match="dtype"):
            embstore.build(tmp_path / "x.emb", {"x": bad})
    with pytest.raises(TypeError, match="table dtype"):
        embstore.build(tmp_path / "x.emb", {"x": np.ones((2, 2))}, dtype="f64")
    assert not (tmp_path / "x.emb").exists()


def test_unknown_table_and_bad_files(store_path, tmp_path):
    with embstore.open(store_path) as s:
        with pytest.raises(KeyError, match="no table 'nope'"):
            s["nope"]
    junk = tmp_path / "junk.emb"
    junk.write_bytes(b"not a store" * 1000)
    with pytest.raises(embstore.Error) as e:
        embstore.open(junk)
    assert e.value.status == "BAD_MAGIC" and e.value.code == 5
    data = bytearray(store_path.read_bytes())
    data[100] ^= 0xFF  # inside the header
    bad = tmp_path / "bad.emb"
    bad.write_bytes(bytes(data))
    with pytest.raises(embstore.Error) as e:
        embstore.open(bad)
    assert e.value.status in ("HEADER_CHECKSUM", "CORRUPT")


def test_library_not_found_says_where_it_looked(tmp_path):
    env = dict(os.environ, EMBSTORE_LIBRARY=str(tmp_path / "nowhere.so"))
    r = subprocess.run([sys.executable, "-c", "import embstore"], capture_output=True, text=True, env=env)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "EMBSTORE_LIBRARY" in r.stderr and "nowhere.so" in r.stderr
