"""Sharded sets: embstore.shard splits a store, embstore.open_set serves the set over global ids, and every result
equals the unsharded store's bit for bit (lookups, bags, scatter-add, keys); errors, lifetime and merge."""

import gc
import os
import shutil
import subprocess
import threading

import numpy as np
import pytest

import embstore

from conftest import DTYPES
from test_lifetime import mapped

SPLITS = [(1, "rows"), (2, "rows"), (3, "rows"), (7, "rows"), (2, "table"), (4, "table")]


def split(path, tmp_path, count, by):
    out = tmp_path / f"{by}{count}" / "s.emb"
    out.parent.mkdir()
    return embstore.shard(path, out, count, by=by)


@pytest.fixture(params=SPLITS, ids=[f"{b}{c}" for c, b in SPLITS])
def shards(request, store_path, tmp_path):
    count, by = request.param
    return split(store_path, tmp_path, count, by)


def bits(a):
    """The bytes of an array, for comparisons where -0.0 != 0.0 and NaN == NaN."""
    return np.ascontiguousarray(a).view(np.uint8)


def test_shard_names_and_keys(store_path, tmp_path):
    paths = split(store_path, tmp_path, 3, "rows")
    assert [os.path.basename(p) for p in paths] == [f"s-0000{i}-of-00003.emb" for i in range(3)]
    assert paths[2] == embstore.shard_path(tmp_path / "rows3" / "s.emb", 2, 3)
    firsts = []
    for i, p in enumerate(paths):
        with embstore.open(p) as s:
            sh = s.shard
            assert (sh.index, sh.count, sh.tables, sh.by) == (i, 3, 5, "rows")
            assert len(sh.set_id) == 32 and int(sh.set_id, 16) >= 0
            assert s.metadata["origin"] == "test"  # the store's metadata is kept
            t = s["f16"].shard
            assert (t.position, t.total) == (1, 300) and s["f16"].rows == 100
            firsts.append(t.first)
    assert firsts == [0, 100, 200]
    with embstore.open(store_path) as s:
        assert s.shard is None and s["f32"].shard is None


def test_shard_by_table_puts_whole_tables(store_path, tmp_path):
    paths = split(store_path, tmp_path, 2, "table")
    seen = {}
    for p in paths:
        with embstore.open(p) as s:
            assert s.shard.by == "table"
            for name in s:
                assert s[name].shard.first == 0 and s[name].shard.total == s[name].rows
                seen[name] = s[name].shard.position
    assert seen == {name: i for i, name in enumerate(DTYPES + ("voc",))}


def test_set_describes_itself(store_path, shards):
    with embstore.open(store_path) as one, embstore.open_set(shards[::-1]) as s:
        assert s.tables == one.tables and len(s) == len(one) and list(s) == one.tables and "voc" in s
        assert s.shard_count == len(shards) and s.paths == shards
        assert s.set_id == embstore.open(shards[0]).shard.set_id
        for name in one:
            t, u = s[name], one[name]
            assert (t.name, t.rows, t.dim, t.dtype, t.has_vocab) == (u.name, u.rows, u.dim, u.dtype, u.has_vocab)
            assert 1 <= t.parts <= len(shards) and t.set is s
        with pytest.raises(KeyError, match="no table 'nope'"):
            s["nope"]


def test_one_store_is_a_set_of_one(store_path, weights):
    with embstore.Set(store_path) as s:
        assert (s.shard_count, s.set_id, s.by, s.paths) == (1, None, None, [str(store_path)])
        assert bits(s["f32"].lookup([3, 1])).tobytes() == bits(weights[[3, 1]]).tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_lookup_equals_the_unsharded_store(store_path, shards, weights, dtype, rng):
    ids = rng.integers(0, 300, (13, 17))
    ids[0, :3] = [0, 299, 0]
    with embstore.open(store_path) as one, embstore.open_set(shards) as s:
        want = one[dtype].lookup(ids)
        for i in (ids, ids.astype(np.int32), ids.astype(np.uint16), ids.tolist()):
            assert bits(s[dtype].lookup(i)).tobytes() == bits(want).tobytes()
        out = np.full((13, 17, 24), np.nan, np.float32)
        assert s[dtype].lookup(ids, out=out) is out
        assert bits(out).tobytes() == bits(want).tobytes()
        if dtype == "f32":
            assert bits(s[dtype].lookup(ids)).tobytes() == bits(np.take(weights, ids, axis=0)).tobytes()
        assert s[dtype].lookup(np.zeros((0, 4), np.int64)).shape == (0, 4, 24)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bag_equals_the_unsharded_store(store_path, shards, dtype, mode, rng):
    ids = rng.integers(0, 300, 400)
    offsets = np.array([0, 0, 3, 150, 150, 151, 399])  # empty bags, a bag of one, long bags across shards
    w = rng.standard_normal(400).astype(np.float32)
    with embstore.open(store_path) as one, embstore.open_set(shards) as s:
        t, u = s[dtype], one[dtype]
        for kwargs in ({}, {"per_sample_weights": w}):
            want = u.bag(ids, offsets, mode=mode, **kwargs)
            assert bits(t.bag(ids, offsets, mode=mode, **kwargs)).tobytes() == bits(want).tobytes()
        last = np.append(offsets, 400)
        assert bits(t.bag(ids, last, mode=mode, include_last_offset=True)).tobytes() == \
            bits(u.bag(ids, last, mode=mode, include_last_offset=True)).tobytes()
        square = ids[:396].reshape(36, 11)
        out = np.empty((36, 24), np.float32)
        assert t.bag(square, mode=mode, out=out) is out
        assert bits(out).tobytes() == bits(u.bag(square, mode=mode)).tobytes()


def test_bag_argument_errors(shards):
    with embstore.open_set(shards) as s:
        t = s["f32"]
        with pytest.raises(ValueError, match="mode"):
            t.bag([[1]], mode="min")
        with pytest.raises(ValueError, match="offsets\\[0\\] must be 0"):
            t.bag([1, 2], [1])
        with pytest.raises(ValueError, match="per_sample_weights"):
            t.bag([[1, 2]], per_sample_weights=[1.0])
        with pytest.raises(IndexError, match=r"id 300 at position 4"):
            t.bag([0, 1, 2, 3, 300], [0, 2])


def writable_pair(store_path, tmp_path, count, by):
    """A copy of the store and a set split from another copy, both writable: the same table twice."""
    one = tmp_path / "one.emb"
    shutil.copyfile(store_path, one)
    paths = split(store_path, tmp_path, count, by)
    return embstore.open(one, writable=True), embstore.open_set(paths, writable=True), paths


@pytest.mark.parametrize("count,by", [(1, "rows"), (3, "rows"), (4, "table")])
def test_scatter_add_equals_the_unsharded_store(store_path, tmp_path, rng, count, by):
    one, s, paths = writable_pair(store_path, tmp_path, count, by)
    for step in range(3):
        ids = rng.integers(0, 300, (50, 3))
        ids[0] = [299, 299, 0]  # repeated ids accumulate in order
        g = rng.standard_normal((50, 3, 24)).astype(np.float32)
        for tab in ("f32", "voc"):
            one[tab].scatter_add(ids, g, alpha=-0.25)
            s[tab].scatter_add(ids.astype(np.int32), g, alpha=-0.25)
    every = np.arange(300)
    for tab in ("f32", "voc"):
        assert bits(s[tab].lookup(every)).tobytes() == bits(one[tab].lookup(every)).tobytes()
    s["f32"].sync()
    one.sync()
    s.close()
    one.close()
    with embstore.open_set(paths, verify=True) as again:  # every shard's checksums match the synced rows
        again.merge(tmp_path / "merged.emb")
    with embstore.open_set(tmp_path / "one.emb", verify=True) as again:  # a synced file has a newer commit
        again.merge(tmp_path / "one-merged.emb")  # record than a new one: both written anew to compare
    with open(tmp_path / "merged.emb", "rb") as a, open(tmp_path / "one-merged.emb", "rb") as b:
        assert a.read() == b.read()


def test_scatter_add_errors_change_nothing(store_path, tmp_path, weights):
    one, s, _ = writable_pair(store_path, tmp_path, 3, "rows")
    one.close()
    t = s["f32"]
    before = t.lookup(np.arange(300))
    with pytest.raises(IndexError, match=r"id 300 at position \(1, 0\)"):
        t.scatter_add([[250], [300], [2]], np.ones((3, 1, 24), np.float32))
    assert bits(t.lookup(np.arange(300))).tobytes() == bits(before).tobytes()
    with pytest.raises(ValueError, match="grads has shape"):
        t.scatter_add([1, 2], np.ones((2, 23)))
    with pytest.raises(embstore.Error, match="BAD_DTYPE") as e:
        s["bf16"].scatter_add([1], np.ones((1, 24)))
    assert e.value.status == "BAD_DTYPE"
    s.close()
    with embstore.open_set(split(store_path, tmp_path, 2, "table")) as ro:
        with pytest.raises(embstore.Error) as e:
            ro["f32"].scatter_add([1], np.ones((1, 24)))
        assert e.value.status == "READ_ONLY"
        with pytest.raises(embstore.Error) as e:
            ro.sync()
        assert e.value.status == "READ_ONLY"


def test_bad_id_leaves_out_untouched(shards):
    with embstore.open_set(shards) as s:
        out = np.full((4, 24), 7.0, np.float32)
        with pytest.raises(IndexError, match=r"table 'int8': id -1 at position 3 is out of range \(0 <= id < 300\)"):
            s["int8"].lookup([299, 0, 150, -1], out=out)
        assert (out == 7.0).all()
        with pytest.raises(TypeError, match="ids must be int32 or int64"):
            s["f32"].lookup([1.5])
        with pytest.raises(ValueError, match="out has shape"):
            s["f32"].lookup([1], out=np.empty((2, 24), np.float32))


def test_keys_across_parts(store_path, shards, weights):
    with embstore.open_set(shards) as s:
        t = s["voc"]
        for row in (0, 101, 299):
            assert t.find(f"w{row}") == row and t.find(f"w{row}".encode()) == row and t.key(row) == f"w{row}"
        assert t.find("nope") is None
        keys = ["w299", "w0", "w150", "w150"]
        assert bits(t.lookup_keys(keys)).tobytes() == bits(weights[[299, 0, 150, 150]]).tobytes()
        with pytest.raises(KeyError, match="key 'x' at position 1"):
            t.lookup_keys(["w1", "x"])
        with pytest.raises(IndexError, match="row 300 is out of range"):
            t.key(300)
        with pytest.raises(embstore.Error) as e:
            s["f32"].find("w1")
        assert e.value.status == "NO_VOCAB"


def test_merge_gives_back_the_store(store_path, shards, tmp_path):
    with embstore.open_set(shards) as s:
        s.merge(tmp_path / "back.emb")
    with open(tmp_path / "back.emb", "rb") as a, open(store_path, "rb") as b:
        assert a.read() == b.read()


def test_missing_shard_is_named(store_path, tmp_path):
    paths = split(store_path, tmp_path, 4, "rows")
    with pytest.raises(embstore.Error, match=r"s-00002-of-00004\.emb") as e:
        embstore.open_set(paths[:2] + paths[3:])
    assert e.value.status == "BAD_SET" and e.value.code == 26 and "shard 2 of 4 is missing" in e.value.detail
    os.remove(paths[1])
    with pytest.raises(FileNotFoundError) as e:
        embstore.open_set(paths)
    assert e.value.filename == paths[1] and e.value.status == "IO"


def test_files_that_are_not_one_set(store_path, tmp_path):
    a = split(store_path, tmp_path, 2, "rows")
    b = split(store_path, tmp_path, 2, "table")
    for paths in ([a[0], b[1]], [a[0], a[0], a[1]], [a[0], a[1], str(store_path)]):
        with pytest.raises(embstore.Error) as e:
            embstore.open_set(paths)
        assert e.value.status == "BAD_SET", paths
    with pytest.raises(ValueError, match="at least one path"):
        embstore.open_set([])


def test_shard_errors(store_path, tmp_path):
    with pytest.raises(ValueError, match="by must be 'rows' or 'table'"):
        embstore.shard(store_path, tmp_path / "x.emb", 2, by="cols")
    with pytest.raises(embstore.Error) as e:
        embstore.shard(store_path, tmp_path / "x.emb", 301)  # more shards than the largest table has rows
    assert e.value.status == "INVALID_ARGUMENT" and not list(tmp_path.glob("x-*"))
    first = split(store_path, tmp_path, 2, "rows")[0]
    with embstore.open(first) as s:  # a shard is not split again; a Store object is taken as well as a path
        with pytest.raises(embstore.Error) as e:
            embstore.shard(s, tmp_path / "y.emb", 2)
        assert e.value.status == "INVALID_ARGUMENT"
    with pytest.raises(ValueError):
        embstore.shard_path("x.emb", 4, 4)


def test_verify_finds_a_damaged_shard(store_path, tmp_path):
    paths = split(store_path, tmp_path, 2, "rows")
    with embstore.open(paths[1]) as s:
        at = s["f32"].data_offset
    with open(paths[1], "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 1]))
    embstore.open_set(paths).close()  # opening reads no data
    with pytest.raises(embstore.Error) as e:
        embstore.open_set(paths, verify=True)
    assert e.value.status == "DATA_CHECKSUM"


def test_lifetime(store_path, tmp_path, weights):
    paths = split(store_path, tmp_path, 2, "rows")
    t = embstore.open_set(paths)["f32"]  # a table keeps its set
    gc.collect()
    assert mapped(paths[1])
    assert bits(t.lookup([299])).tobytes() == bits(weights[[299]]).tobytes()
    del t
    gc.collect()
    assert not mapped(paths[0]) and not mapped(paths[1])

    s = embstore.open_set(paths, writable=True)
    t, v = s["f32"], s["voc"]
    s.close()
    s.close()
    assert s.closed and not mapped(paths[0]) and "closed" in repr(s)
    for call in (lambda: t.lookup([1]), lambda: t.bag([[1]]), lambda: t.scatter_add([1], np.ones((1, 24))),
                 lambda: v.find("w1"), lambda: v.key(1), lambda: v.lookup_keys(["w1"]), s.sync, t.sync,
                 lambda: s.merge(tmp_path / "m.emb")):
        with pytest.raises(embstore.ClosedError):
            call()


def test_lookups_from_threads_while_closing(store_path, tmp_path):
    paths = split(store_path, tmp_path, 3, "rows")
    s = embstore.open_set(paths)
    t = s["bf16"]
    want = embstore.open(store_path)["bf16"].lookup(np.arange(300))
    errors, results = [], []

    def run():
        for _ in range(200):
            try:
                results.append(bits(t.lookup(np.arange(300))).tobytes() == bits(want).tobytes())
            except embstore.ClosedError:
                return
            except Exception as e:  # noqa: BLE001 (any other failure is the finding)
                errors.append(e)
                return

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    s.close()
    for th in threads:
        th.join()
    assert not errors and all(results)


def test_a_set_built_by_the_tool(cli, store_path, tmp_path):
    src = tmp_path / "w.npy"
    w = np.arange(50 * 6, dtype=np.float32).reshape(50, 6)
    np.save(src, w)
    subprocess.run([cli, "build", "--shards", "3", "-o", str(tmp_path / "cli.emb"), str(src)], check=True,
                   capture_output=True)
    paths = sorted(str(p) for p in tmp_path.glob("cli-*-of-00003.emb"))
    assert len(paths) == 3
    with embstore.open_set(paths) as s:
        assert bits(s["w"].lookup([49, 0, 17])).tobytes() == bits(w[[49, 0, 17]]).tobytes()
