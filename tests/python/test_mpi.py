"""embstore.mpi under mpirun (run_mpi.sh: every rank runs these cases in the same order): collective lookups,
bags and scatter-adds over a set whose shards the ranks hold, bit for bit the unsharded store's results; uneven
shards, a rank with no shard, a rank with no ids, a bad id on one rank, lookups by key and an unknown key on one
rank, errors that reach every rank.

Each case makes all its collective calls before asserting anything, so that a failed assertion on one rank
cannot leave the others waiting in a collective that rank never reaches."""

import os
import tempfile

import numpy as np
import pytest

MPI = pytest.importorskip("mpi4py.MPI")
import embstore  # noqa: E402 (after the skip)

try:
    import embstore.mpi as emb_mpi  # noqa: E402
except ImportError as e:
    pytest.skip(f"embstore.mpi cannot be imported: {e}", allow_module_level=True)

DTYPES = ("f32", "f16", "bf16", "int8")
ROWS, DIM = 1000, 24
SPLITS = [(1, "rows"), (2, "rows"), (3, "rows"), (5, "rows"), (2, "table"), (5, "table")]


@pytest.fixture(scope="module")
def comm():
    return MPI.COMM_WORLD


def on_rank0(comm, make):
    """make() on rank 0, its result (or its failure) on every rank."""
    result = failure = None
    if comm.Get_rank() == 0:
        try:
            result = make()
        except Exception as e:  # noqa: BLE001 (sent to every rank, raised there)
            failure = repr(e)
    result, failure = comm.bcast((result, failure))
    if failure:
        raise RuntimeError(f"rank 0 failed: {failure}")
    return result


@pytest.fixture(scope="module")
def weights():
    return np.random.default_rng(2024).standard_normal((ROWS, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def shared(comm, weights):
    """A directory every rank sees, with the unsharded store one.emb (a table per dtype, and 'voc' with keys)."""
    def make():
        d = tempfile.mkdtemp(dir=os.environ["EMBSTORE_TEST_MPI"])
        tables = {t: weights for t in DTYPES}
        tables["voc"] = weights
        embstore.build(os.path.join(d, "one.emb"), tables, dtype={t: t for t in DTYPES},
                       keys={"voc": [f"w{i}" for i in range(ROWS)]})
        return d
    return on_rank0(comm, make)


def split(comm, shared, count, by, name=None):
    """The paths of a set split from one.emb (made by rank 0), and the ones this rank holds: shard i on rank
    i mod size, so that ranks hold uneven numbers of shards, or none."""
    name = name or f"{by}{count}"

    def make():
        d = os.path.join(shared, name)
        if os.path.isdir(d):  # made for an earlier case: read-only cases share it
            return [embstore.shard_path(os.path.join(d, "s.emb"), i, count) for i in range(count)]
        os.makedirs(d)
        return embstore.shard(os.path.join(shared, "one.emb"), os.path.join(shared, name, "s.emb"), count, by)
    paths = on_rank0(comm, make)
    return paths, paths[comm.Get_rank()::comm.Get_size()]


def my_ids(comm, salt=0, shape=None):
    """This rank's ids: a different number on each rank, none on rank 1."""
    r = comm.Get_rank()
    rng = np.random.default_rng(100 * salt + r)
    n = 0 if r == 1 else 40 + 37 * r
    return rng.integers(0, ROWS, shape or n)


def bits(a):
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


@pytest.fixture(params=SPLITS, ids=[f"{b}{c}" for c, b in SPLITS])
def held(request, comm, shared):
    count, by = request.param
    paths, mine = split(comm, shared, count, by)
    # each bag's rows on one rank: by table, or every shard on one rank
    return paths, mine, by == "table" or count == 1 or comm.Get_size() == 1


def test_handle_describes_the_set(comm, shared, held):
    paths, mine, _ = held
    with emb_mpi.open(comm, mine) as h:
        info = (h.rank, h.size, h.local_shards, h.shard_count, h.tables, h.set_id, h.by)
        tables = [(h[n].rows, h[n].dim, h[n].dtype, h[n].has_vocab) for n in h]
        owners = [h["f32"].owner(r) for r in (0, ROWS // 2, ROWS - 1)]
    with embstore.open(os.path.join(shared, "one.emb")) as one, embstore.open(paths[0]) as first:
        assert info == (comm.Get_rank(), comm.Get_size(), len(mine), len(paths), one.tables,
                        first.shard.set_id, first.shard.by)
        assert tables == [(one[n].rows, one[n].dim, one[n].dtype, one[n].has_vocab) for n in one]
    assert all(0 <= o < comm.Get_size() for o in owners)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lookup_equals_the_unsharded_store(comm, shared, held, dtype):
    _, mine, _ = held
    ids = my_ids(comm)
    square = my_ids(comm, 1, (3, 5))
    with emb_mpi.open(comm, mine) as h:
        got = h[dtype].lookup(ids)
        got32 = h[dtype].lookup(square.astype(np.int32))
        out = np.full((3, 5, DIM), np.nan, np.float32)
        into = h[dtype].lookup(square, out=out)
    with embstore.open(os.path.join(shared, "one.emb")) as one:
        want, want_square = one[dtype].lookup(ids), one[dtype].lookup(square)
    assert got.shape == (ids.size, DIM) and bits(got) == bits(want)
    assert bits(got32) == bits(want_square) and into is out and bits(out) == bits(want_square)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("dtype", ["f32", "int8"])
def test_bag_equals_the_unsharded_store(comm, shared, held, mode, dtype):
    _, mine, one_rank_per_bag = held
    ids = my_ids(comm, 2)
    rng = np.random.default_rng(comm.Get_rank())
    offsets = np.unique(np.r_[0, rng.integers(0, ids.size + 1, 6)]) if ids.size else np.zeros(3, np.int64)
    w = rng.standard_normal(ids.size).astype(np.float32)
    with emb_mpi.open(comm, mine) as h:
        t = h[dtype]
        got = t.bag(ids, offsets, mode=mode)
        weighted = t.bag(ids, offsets, mode=mode, per_sample_weights=w)
        pooled = t.bag(ids, offsets, mode=mode, pool_on_owner=True)
        square = t.bag(my_ids(comm, 3, (4, 6)), mode=mode)
    with embstore.open(os.path.join(shared, "one.emb")) as one:
        u = one[dtype]
        want, want_w = u.bag(ids, offsets, mode=mode), u.bag(ids, offsets, mode=mode, per_sample_weights=w)
        want_square = u.bag(my_ids(comm, 3, (4, 6)), mode=mode)
    assert bits(got) == bits(want) and bits(weighted) == bits(want_w) and bits(square) == bits(want_square)
    if mode == "max" or one_rank_per_bag:
        assert bits(pooled) == bits(want)
    else:  # the partial sums of each owner added in rank order: another order of f32 additions
        np.testing.assert_allclose(pooled, want, rtol=1e-5, atol=1e-5)


def writable_copy(comm, shared, count, by, tag):
    return split(comm, shared, count, by, name=f"{tag}-{by}{count}")


@pytest.mark.parametrize("count,by", [(1, "rows"), (3, "rows"), (5, "rows"), (5, "table")])
def test_scatter_add_equals_the_unsharded_store(comm, shared, weights, count, by):
    paths, mine = writable_copy(comm, shared, count, by, "train")
    size = comm.Get_size()
    steps = []
    for step in range(2):  # every rank knows every rank's ids and gradients, to compute the reference
        per_rank = []
        for r in range(size):
            rng = np.random.default_rng(1000 * step + r)
            n = 0 if r == 1 else 30 + 11 * r
            ids = rng.integers(0, ROWS, n)
            if n:
                ids[: min(3, n)] = ROWS - 1  # repeated ids, also across ranks
            per_rank.append((ids, rng.standard_normal((n, DIM)).astype(np.float32)))
        steps.append(per_rank)
    with emb_mpi.open(comm, mine, writable=True) as h:
        for per_rank in steps:
            ids, grads = per_rank[comm.Get_rank()]
            h["f32"].scatter_add(ids.astype(np.int32), grads, alpha=-0.5)
        h.sync()
        after = h["f32"].lookup(np.arange(ROWS))
    reference = weights.copy()
    for per_rank in steps:
        embstore.scatter_add(reference, np.concatenate([i for i, _ in per_rank]),
                             np.concatenate([g for _, g in per_rank]), alpha=-0.5)
    assert bits(after) == bits(reference)
    with embstore.open_set(paths, verify=True) as s:  # synced: every shard's checksums hold
        assert bits(s["f32"].lookup(np.arange(ROWS))) == bits(reference)


def test_bad_id_on_one_rank_reaches_every_rank(comm, shared):
    _, mine = split(comm, shared, 3, "rows", name="bad")
    last = comm.Get_size() - 1
    ids = my_ids(comm, 4)
    if comm.Get_rank() == last:
        ids = np.r_[ids[:2] if ids.size >= 2 else [0, 0], ROWS, 5]
    out = np.full((ids.size, DIM), 7.0, np.float32)
    with emb_mpi.open(comm, mine, writable=True) as h:
        errors = []
        for call in (lambda: h["f16"].lookup(ids, out=out), lambda: h["f32"].bag(ids, [0]),
                     lambda: h["f32"].scatter_add(ids, np.ones((ids.size, DIM), np.float32))):
            try:
                call()
                errors.append(None)
            except (IndexError, embstore.Error) as e:
                errors.append(e)
        unchanged = h["f32"].lookup(np.arange(ROWS))
    with embstore.open(os.path.join(shared, "one.emb")) as one:
        original = one["f32"].lookup(np.arange(ROWS))
    for e in errors:
        if comm.Get_rank() == last:
            assert isinstance(e, IndexError) and f"id {ROWS} at position 2 is out of range" in str(e), e
        else:
            assert isinstance(e, embstore.Error) and e.status == "ID_OUT_OF_RANGE", e
    assert (out == 7.0).all() and bits(unchanged) == bits(original)


def test_argument_error_on_one_rank_reaches_every_rank(comm, shared):
    _, mine = split(comm, shared, 2, "rows", name="args")
    last = comm.Get_size() - 1
    ids = my_ids(comm, 5)
    bad = comm.Get_rank() == last
    with emb_mpi.open(comm, mine, writable=True) as h:
        t = h["f32"]
        calls = (lambda: t.lookup(ids, out=np.empty((ids.size + bad, DIM), np.float32)),
                 lambda: t.bag(ids, [1] if bad else [0]),
                 lambda: t.scatter_add(ids, np.zeros((ids.size, DIM + bad))))
        errors = []
        for call in calls:
            try:
                call()
                errors.append(None)
            except (ValueError, embstore.Error) as e:
                errors.append(e)
        still = h["f32"].lookup(ids)  # the handle still works after the refused calls
    for e in errors:
        if comm.Get_rank() == last:
            assert isinstance(e, ValueError), e
        else:
            assert isinstance(e, embstore.Error) and e.status == "INVALID_ARGUMENT", e
    assert still.shape == (ids.size, DIM)


def my_keys(comm, salt=0):
    ids = my_ids(comm, salt)
    return ids, [f"w{i}" for i in ids.tolist()]


def test_keys_equal_the_unsharded_store(comm, shared, held):
    _, mine, _ = held
    ids, keys = my_keys(comm, 7)
    mixed = [k.encode() if i % 2 else k for i, k in enumerate(keys)]  # bytes and str alike
    with emb_mpi.open(comm, mine) as h:
        rows = h["voc"].lookup_keys(mixed)
        into = np.full((len(keys), DIM), 3.0, np.float32)
        returned = h["voc"].lookup_keys(keys, out=into)
        one = h["voc"].find(keys[0] if keys else "w3")
        try:
            h["f32"].find("w1")
            no_vocab = None
        except embstore.Error as e:
            no_vocab = e.status
    with embstore.open(os.path.join(shared, "one.emb")) as whole:
        want = whole["voc"].lookup_keys(keys)
        want_one = whole["voc"].find(keys[0] if keys else "w3")
    assert bits(rows) == bits(want) and returned is into and bits(into) == bits(want)
    assert one == want_one == (int(ids[0]) if keys else 3)
    assert no_vocab == "NO_VOCAB"


def test_unknown_key_on_one_rank_reaches_every_rank(comm, shared):
    _, mine = split(comm, shared, 3, "rows", name="badkey")
    last = comm.Get_size() - 1
    _, keys = my_keys(comm, 8)
    if comm.Get_rank() == last:
        keys = keys[:2] + ["nowhere"] + keys[2:]
    out = np.full((len(keys), DIM), 7.0, np.float32)
    with emb_mpi.open(comm, mine) as h:
        errors = []
        for call in (lambda: h["voc"].lookup_keys(keys, out=out),
                     lambda: h["voc"].find("nowhere" if comm.Get_rank() == last else "w5")):
            try:
                errors.append(call())
            except (KeyError, embstore.Error) as e:
                errors.append(e)
    lookup, found = errors
    if comm.Get_rank() == last:
        where = min(2, len(keys) - 1)  # rank 1 has no keys of its own
        assert isinstance(lookup, KeyError) and f"'nowhere' at position {where}" in str(lookup), lookup
        assert found is None
    else:
        assert isinstance(lookup, embstore.Error) and lookup.status == "UNKNOWN_KEY", lookup
        assert isinstance(found, embstore.Error) and found.status == "UNKNOWN_KEY", found
    assert (out == 7.0).all()


def test_errors_of_the_set(comm, shared):
    paths, _ = split(comm, shared, 4, "rows", name="errs")
    size, rank = comm.Get_size(), comm.Get_rank()
    held = [p for i, p in enumerate(paths) if i != 2][rank::size]  # shard 2 on no rank
    try:
        emb_mpi.open(comm, held).close()
        missing = None
    except embstore.Error as e:
        missing = e
    with emb_mpi.open(comm, paths[rank::size]) as h:
        statuses = []
        for call in (lambda: h["f32"].scatter_add([1], np.ones((1, DIM))), h.sync):
            try:
                call()
                statuses.append(None)
            except embstore.Error as e:
                statuses.append(e.status)
    assert missing is not None and missing.status == "BAD_SET" and "s-00002-of-00004.emb" in str(missing)
    assert statuses == ["READ_ONLY", "READ_ONLY"]
    with pytest.raises(TypeError, match="mpi4py communicator"):
        emb_mpi.open(0, paths)


def test_closed_handle_refuses_calls(comm, shared):
    _, mine = split(comm, shared, 2, "table", name="closed")
    h = emb_mpi.open(comm, mine, writable=True)
    t = h["f32"]
    h.close()
    h.close()
    assert h.closed
    for call in (lambda: t.lookup([1]), lambda: t.bag([[1]]), lambda: t.scatter_add([1], np.ones((1, DIM))),
                 h.sync, h.stats, lambda: t.owner(1)):
        with pytest.raises(embstore.ClosedError):
            call()


def test_stats_count_the_bytes_of_the_model(comm, shared):
    paths, mine = split(comm, shared, 5, "rows", name="stats")
    ids = my_ids(comm, 6)
    with emb_mpi.open(comm, mine) as h:
        h.reset_stats()
        h["f32"].lookup(ids)
        s = h.stats()
        remote = sum(h["f32"].owner(i) != comm.Get_rank() for i in ids.tolist())
    sent = comm.allreduce(s.bytes_sent)
    received = comm.allreduce(s.bytes_received)
    total_remote = comm.allreduce(remote)
    # each id that another rank owns goes there (8 bytes) and its row (dim x 4 bytes) comes back
    assert sent == received == total_remote * (8 + DIM * 4)
    assert s.collectives > 0


def test_the_example_of_the_docs(comm, shared, monkeypatch):
    """The ```py block of docs/PYTHON.md, "Across ranks" (test_docs.py runs the ```python blocks, in one
    process), run on every rank over the set it names."""
    def make():
        d = os.path.join(shared, "docs")
        os.makedirs(d)
        w = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
        embstore.build(os.path.join(d, "big.emb"), {"emb": w})
        embstore.shard(os.path.join(d, "big.emb"), os.path.join(d, "big.emb"), 8)
        return d
    d = on_rank0(comm, make)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "PYTHON.md"), encoding="utf-8") as f:
        text = f.read()
    block = text[text.index("## Across ranks"):].split("```py\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(d)
    names = {}
    exec(compile(block, "docs/PYTHON.md, embstore.mpi example", "exec"), names)
    with embstore.open(os.path.join(d, "big.emb")) as one:
        want = one["emb"].lookup(names["ids"])
    assert bits(names["rows"]) == bits(want) and names["bags"].shape == (100, 16)
