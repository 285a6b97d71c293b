#!/usr/bin/python3
"""peers.py: embstore against numpy and torch on the same table file, the same ids, one thread each.

Every number the issue's targets need comes from this one run (docs/BENCHMARKS.md):
  gather            table.lookup (the Python package) vs numpy.take on an np.memmap of the table's data, torch
                    embedding, memcpy; and the cost of a call for one id
  bag sum (32)      embstore_gather_bag vs torch.nn.functional.embedding_bag(mode="sum")
  scatter-add       embstore_scatter_add vs torch.Tensor.index_add_, on the same in-memory copy
  dtypes            f16 / bf16 / int8 gather vs f32 gather, same ids; and every dtype's gather into f16 output
                    (table.lookup(dtype=numpy.float16)) vs the f32 gather
  in-cache          64K x 128 table: every kernel set this CPU runs vs scalar
  open, verify      a 2 GiB store: embstore_open time and resident-memory growth; open + verify throughput

Each contender is timed over --reps calls after two warm-up calls, the contenders of one operation in
interleaved rounds (measure() says why the peers that allocate 128 MB per call run last, on their own); the best
call is reported, since noise from other work on a shared machine only ever adds time, and the median beside it.
Stores are written once into --dir and reused by later runs. Exit status 0, or with --strict 1 if a target is
missed.

Usage: /usr/bin/python3 bench/peers.py --lib build/libembstore.so [--dir build] [--json OUT] [--strict]
"""

import argparse
import ctypes
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

# The package of this source tree (python/embstore); main() points it at --lib before importing it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
es = None

MB = 1e6
GiB = 1 << 30
STORE_VERSION = "peers v1"


# ------------------------------------------------------------------------------------------------------------
# Timing

def measure(contenders, reps, settle, interleave=True):
    """contenders: {label: fn}. After a pause of `settle` seconds, two warm-up calls of each, then `reps` timed
    calls of each: in rounds (a, b, c, a, b, c, ...) so that noise from other work on the machine falls on all
    alike, or, with interleave=False, one contender after the other with a pause before each. Returns
    {label: [seconds]}.

    Why not always interleave: a peer that allocates its output (numpy.take, torch embedding) maps and frees
    128 MB per call, and on a virtual machine the hypervisor's work on that memory (page faults, free-page
    reporting) slows whatever runs in the next second or so; interleaved, that would be charged to the
    contender after it. run() measures those peers last, on their own."""
    time.sleep(settle)
    for fn in contenders.values():
        fn()
        fn()
    times = {k: [] for k in contenders}

    def timed(k, fn):
        t0 = time.perf_counter()
        fn()
        times[k].append(time.perf_counter() - t0)

    if interleave:
        for _ in range(reps):
            for k, fn in contenders.items():
                timed(k, fn)
    else:
        for k, fn in contenders.items():
            time.sleep(settle)
            for _ in range(reps):
                timed(k, fn)
    return times


def wait_for_quiet(fn, limit_s=40.0, calls=5, slack=1.3):
    """Calls fn until `calls` calls in a row each take at most `slack` x the fastest call seen (or `limit_s`
    passes). The first passes over freshly mapped tables, and the hypervisor's work after them, can slow a
    virtual machine for many seconds; measuring starts when that has passed. Returns (seconds waited, quiet)."""
    t_start = time.perf_counter()
    best, streak = float("inf"), 0
    while time.perf_counter() - t_start < limit_s:
        t0 = time.perf_counter()
        fn()
        d = time.perf_counter() - t0
        best = min(best, d)
        streak = streak + 1 if d <= slack * best else 0
        if streak >= calls:
            return time.perf_counter() - t_start, True
    return time.perf_counter() - t_start, False


class Results:
    def __init__(self):
        self.rows = []    # one per (operation, contender)
        self.targets = []

    def add(self, op, contender, times, rows, nbytes, note=""):
        best, med = min(times), statistics.median(times)
        r = {"operation": op, "contender": contender, "note": note, "rows": rows, "bytes": nbytes,
             "times_s": times, "best_s": best, "median_s": med,
             "rows_per_s": rows / best, "bytes_per_s": nbytes / best,
             "rows_per_s_median": rows / med}
        self.rows.append(r)
        return r

    def target(self, name, measured, need, unit="x", detail=""):
        """need: (comparison, threshold): ('>=', 3.0) or ('<', 1e-3)."""
        cmp, thr = need
        met = measured >= thr if cmp == ">=" else measured < thr
        self.targets.append({"target": name, "measured": measured, "need": f"{cmp} {thr:g}{unit}",
                             "unit": unit, "met": bool(met), "detail": detail})


def ratio_of(a, b, key="best_s"):
    """How many times faster a is than b (both Results rows over the same rows)."""
    return (b[key] / b["rows"]) / (a[key] / a["rows"])


# ------------------------------------------------------------------------------------------------------------
# Stores

def store_is_current(path, meta):
    """True when `path` is a store an earlier run wrote with the same `meta` (so it can be reused)."""
    if not os.path.exists(path):
        return False
    try:
        with es.open(path) as s:
            return s.metadata.get("embstore_peers") == meta
    except es.Error:
        return False


def build_peer_store(path, rows, dim, small_rows, seed):
    """Tables f32, f16, bf16, int8 (rows x dim) and small_* (small_rows x dim) from the same random f32 values."""
    meta = f"{STORE_VERSION} rows={rows} dim={dim} small_rows={small_rows} seed={seed}"
    if store_is_current(path, meta):
        return
    print(f"peers: writing {path} (once; reused by later runs)", file=sys.stderr, flush=True)
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((rows, dim), dtype=np.float32)
    tables, dtypes = {}, {}
    for prefix, n in (("", rows), ("small_", small_rows)):
        for name in ("f32", "f16", "bf16", "int8"):
            tables[prefix + name] = weights[:n]
            dtypes[prefix + name] = name
    es.build(path, tables, dtype=dtypes, metadata={"embstore_peers": meta}, overwrite=True)


def build_open_store(path, nbytes):
    """A store of `nbytes` of f32 zeros in one table (dim 128), for the open and verify measurements."""
    dim = 128
    rows = nbytes // (dim * 4)
    meta = f"{STORE_VERSION} open rows={rows}"
    if store_is_current(path, meta):
        return
    print(f"peers: writing {path} ({nbytes / GiB:.1f} GiB, once; reused by later runs)", file=sys.stderr,
          flush=True)
    zeros = np.zeros((65536, dim), dtype=np.float32)
    batches = (zeros[:min(len(zeros), rows - lo)] for lo in range(0, rows, len(zeros)))
    es.build(path, {"zeros": batches}, metadata={"embstore_peers": meta}, overwrite=True)


def touch(a):
    """Reads one byte of every page of array `a` (so later timed calls take no page faults on it)."""
    flat = np.asarray(a).reshape(-1).view(np.uint8)
    return int(flat[::4096].sum())


def aligned_zeros(shape, dtype):
    """Zeros on a 64-byte boundary, as a program that reuses an output buffer would allocate it (numpy's own large
    arrays sit 16 bytes past one, where the library's streaming gather has to shift every vector)."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    raw = np.zeros(nbytes + 64, dtype=np.uint8)
    skip = -raw.ctypes.data % 64
    return raw[skip:skip + nbytes].view(dtype).reshape(shape)


def drop_and_read_back(path):
    """Writes the file's pages back, drops them from the page cache and reads the file again, so that its pages
    come back the way a reader after a reboot finds them (large folios where the file system gives them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while os.read(fd, 8 << 20):
            pass
    finally:
        os.close(fd)


def huge_share(path):
    """Of this process's resident bytes of mappings of `path`, the share mapped with 2 MiB entries (smaps'
    FilePmdMapped): the page state the random-row figures depend on."""
    rss = pmd = 0
    inside = False
    real = os.path.realpath(path)
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if len(head) >= 5 and "-" in head[0] and len(head[1]) == 4:  # a mapping's first line
                inside = head[-1] == real
            elif inside and head[0] == "Rss:":
                rss += int(head[1])
            elif inside and head[0] == "FilePmdMapped:":
                pmd += int(head[1])
    return pmd / rss if rss else 0.0


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown"
    for line in info.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    imp = [ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("CPU implementer")]
    part = [ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("CPU part")]
    if imp and part:
        return f"implementer {imp[0]} part {part[0]}"
    return platform.processor() or "unknown"


# ------------------------------------------------------------------------------------------------------------
# Measurements

def run(args):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    os.makedirs(args.dir, exist_ok=True)
    rows, dim, n = args.rows, args.dim, args.ids
    best_isa = es.isa_active()
    isas = [i for i in ("scalar", "avx2", "avx512", "neon") if es.isa_supported(i)]
    R, S = args.reps, args.settle

    store_path = os.path.join(args.dir, f"peers_{rows}x{dim}.emb")
    build_peer_store(store_path, rows, dim, args.small_rows, args.seed)
    open_path = None
    if args.open_gib > 0:
        open_path = os.path.join(args.dir, f"peers_open_{args.open_gib:g}g.emb")
        build_open_store(open_path, int(args.open_gib * GiB))
    if args.read_back:
        drop_and_read_back(store_path)
    store = es.open(store_path)
    tab = {name: store[name] for name in store.tables}
    t32 = tab["f32"]
    row_bytes = {k: {"f32": 4 * dim, "f16": 2 * dim, "bf16": 2 * dim, "int8": dim + 8}[t.dtype] for k, t in tab.items()}

    # numpy's and torch's view of the f32 table: a memmap of the same file's data region (the table's data
    # offset, as `embstore inspect --json` prints it).
    mm = np.memmap(store_path, dtype=np.float32, mode="r", offset=t32.data_offset, shape=(rows, dim))
    if t32.row_stride != dim * 4:
        raise SystemExit("peers: f32 rows are not packed; numpy would need a strided view")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that the memmap is read-only; nothing writes to it
        w_t = torch.from_numpy(mm)
    for t in tab.values():
        touch(t.array())
    touch(mm)
    a32 = t32.array()  # the mapping's rows, for the memcpy baseline

    rng = np.random.default_rng(args.seed + 1)
    ids = rng.integers(0, rows, n, dtype=np.int64)
    ids_small = rng.integers(0, args.small_rows, n, dtype=np.int64)
    ids_t = torch.from_numpy(ids)
    out_e = aligned_zeros((n, dim), np.float32)
    out_h = aligned_zeros((n, dim), np.float16)
    out_np = np.zeros((n, dim), dtype=np.float32)
    out_t = torch.zeros((n, dim), dtype=torch.float32)
    bag = 32
    offsets = np.arange(0, n + 1, bag, dtype=np.int64)
    offsets_t = torch.from_numpy(offsets[:-1].copy())
    bag_out = np.zeros((n // bag, dim), dtype=np.float32)
    dts = ("f32", "f16", "bf16", "int8")

    def batched_gather(table, ids_arr, batch, out=out_e, dtype=None):
        """Gathers `ids_arr` `batch` ids per call (table.lookup, out=) into the same first rows of `out` (which
        then stay cached), of `dtype`."""
        calls = [(ids_arr[lo:lo + batch], out[:min(batch, len(ids_arr) - lo)])
                 for lo in range(0, len(ids_arr), batch)]

        def go():
            for i, o in calls:
                table.lookup(i, out=o, dtype=dtype)
        return go

    def one_id_calls(out):
        """1000 calls of table.lookup for one id (a new one each time), with or without out=."""
        one = [ids[i:i + 1] for i in range(1000)]
        if out:
            o = np.empty((1, dim), dtype=np.float32)
            return lambda: [t32.lookup(i, out=o) for i in one]
        return lambda: [t32.lookup(i) for i in one]

    def bag_sum(table, ids_arr):
        return table.bag(ids_arr, offsets, mode="sum", include_last_offset=True, out=bag_out)

    # Same answers first (outside any timing).
    if not np.array_equal(t32.lookup(ids, out=out_e), np.take(mm, ids, axis=0)):
        raise SystemExit("peers: embstore gather differs from numpy.take")
    bag_sum(t32, ids)
    if not np.allclose(bag_out, F.embedding_bag(ids_t, w_t, offsets_t, mode="sum").numpy(), rtol=1e-4, atol=1e-4):
        raise SystemExit("peers: embstore bag sum differs from torch embedding_bag")

    waited, quiet = wait_for_quiet(lambda: t32.lookup(ids, out=out_e))
    print(f"peers: machine {'quiet' if quiet else 'still noisy'} after {waited:.1f} s of warm-up", file=sys.stderr,
          flush=True)

    # Everything is measured first, in an order that keeps peers that allocate 128 MB per call (numpy.take
    # without out=, torch embedding) for the end, then reported.
    T = {}
    # gather f32: embstore, the memcpy limit, and the peers' forms that write into a given buffer
    T.update(measure({
        "gather": lambda: t32.lookup(ids, out=out_e),
        "memcpy": lambda: ctypes.memmove(out_np.ctypes.data, a32.ctypes.data, n * row_bytes["f32"]),
        "torch index_select out=": lambda: torch.index_select(w_t, 0, ids_t, out=out_t),
    }, R, S))

    # every dtype, same ids: one call (a 128 MB output, written back to memory), and calls of 4096 ids whose
    # output rows are reused (so they stay in cache)
    T.update(measure({f"gather {k}": (lambda t=tab[k]: t.lookup(ids, out=out_e)) for k in dts}, R, S))
    T.update(measure({f"gather {k} b": batched_gather(tab[k], ids, 4096) for k in dts}, R, S))
    # the same into f16 output, which halves the bytes written; measured beside the f32 gather again, since the
    # machine's load may have changed since
    half = {f"gather {k} f16 out": (lambda t=tab[k]: t.lookup(ids, out=out_h, dtype=np.float16)) for k in dts}
    half["gather f32 again"] = lambda: t32.lookup(ids, out=out_e)
    T.update(measure(half, R, S))
    T.update(measure({f"gather {k} f16 out b": batched_gather(tab[k], ids, 4096, out_h, np.float16) for k in dts},
                     R, S))
    # the cost of a call: 1000 lookups of one id each
    T.update(measure({"one id out=": one_id_calls(True), "one id": one_id_calls(False)}, R, S))
    # bag sum, bags of 32
    # and the same kernel over rows in order, which the hardware prefetchers stream: the read ceiling of one thread
    in_order = (np.arange(n, dtype=np.int64) + (rows - n) // 2) if rows >= n else ids
    T.update(measure({
        "bag": lambda: bag_sum(t32, ids),
        "torch embedding_bag": lambda: F.embedding_bag(ids_t, w_t, offsets_t, mode="sum"),
        "bag in order": lambda: bag_sum(t32, in_order),
    }, R, S))
    # scatter-add: both update the same in-memory copy of the table (freed when measured)
    grads = rng.standard_normal((n, dim), dtype=np.float32) * np.float32(1e-3)
    T.update(measure_scatter_add(torch, np.array(mm), ids, grads, R, S))
    # in-cache table, every kernel set (switched through the public embstore_isa_set)
    cases = {}
    for isa in isas:
        for k in dts:
            cases[(isa, "gather " + k)] = (lambda isa=isa, t=tab["small_" + k]: (
                es.isa_set(isa), t.lookup(ids_small, out=out_e)))
        cases[(isa, "bag sum f32")] = (lambda isa=isa, t=tab["small_f32"]: (
            es.isa_set(isa), bag_sum(t, ids_small)))
        cases[(isa, "gather f32 b")] = (lambda isa=isa, go=batched_gather(tab["small_f32"], ids_small, 4096): (
            es.isa_set(isa), go()))
    T.update(measure(cases, R, S / 4))
    es.isa_set(best_isa)
    del a32
    store.close()
    # opening a large store, verifying it
    if open_path is not None:
        T["open"], T["open rss"] = measure_open(open_path, args.open_reps)

        def open_verify():
            with es.open(open_path) as s2:
                s2.verify()
        T.update(measure({"verify": open_verify}, max(3, R // 3), S))
        with es.open(open_path) as s2:  # the checksum loop alone: the mapping's pages already touched
            T.update(measure({"verify again": s2.verify}, max(3, R // 3), 0))
    # last, the peers that allocate an output-sized buffer per call
    # (numpy.take with out= and the default mode="raise" still goes through a temporary buffer of the output's
    # size: numpy's documentation says so, and it shows.)
    T.update(measure({
        "numpy.take": lambda: np.take(mm, ids, axis=0),
        "numpy.take out=": lambda: np.take(mm, ids, axis=0, out=out_np),
        "torch embedding": lambda: F.embedding(ids_t, w_t),
    }, R, S, interleave=False))


    # ---- results, in reading order ----
    res = Results()
    gb = n * row_bytes["f32"]
    e = f"embstore ({best_isa})"
    g = res.add("gather f32", e, T["gather"], n, gb)
    mc = res.add("gather f32", "memcpy of the same bytes", T["memcpy"], n, gb,
                 note="libc memmove of n contiguous rows of the same mapping into a buffer")
    np1 = res.add("gather f32", "numpy.take(memmap, ids, axis=0)", T["numpy.take"], n, gb)
    np2 = res.add("gather f32", "numpy.take(memmap, ids, axis=0, out=buf)", T["numpy.take out="], n, gb)
    te = res.add("gather f32", "torch.nn.functional.embedding", T["torch embedding"], n, gb)
    res.add("gather f32", "torch.index_select(weight, 0, ids, out=buf)", T["torch index_select out="], n, gb)
    one = {k: res.add(f"gather {k} (one call)", e, T[f"gather {k}"], n, n * row_bytes[k]) for k in dts}
    c1 = res.add("table.lookup of 1 id (1000 calls)", "out= given", T["one id out="], 1000, 1000 * row_bytes["f32"])
    c2 = res.add("table.lookup of 1 id (1000 calls)", "output allocated", T["one id"], 1000, 1000 * row_bytes["f32"])
    bat = {k: res.add(f"gather {k} (4096 ids/call)", e, T[f"gather {k} b"], n, n * row_bytes[k],
                      note="calls of 4096 ids into the same output rows") for k in dts}
    again = res.add("gather f32 (one call)", e + ", measured with the f16 outputs", T["gather f32 again"], n,
                    n * row_bytes["f32"])
    half = {k: res.add(f"gather {k} (f16 out)", e, T[f"gather {k} f16 out"], n, n * row_bytes[k],
                       note="table.lookup(ids, out=, dtype=numpy.float16)") for k in dts}
    half_b = {k: res.add(f"gather {k} (f16 out, 4096 ids/call)", e, T[f"gather {k} f16 out b"], n,
                         n * row_bytes[k], note="calls of 4096 ids into the same f16 output rows") for k in dts}
    b = res.add("bag sum, bags of 32", e, T["bag"], n, gb)
    bt = res.add("bag sum, bags of 32", "torch.nn.functional.embedding_bag(sum)", T["torch embedding_bag"], n, gb)
    res.add("bag sum, bags of 32", "embstore, ids in order (rows streamed)", T["bag in order"], n, gb,
            note="the same kernel over consecutive rows: what one thread reads when no row waits on a miss")
    sc = res.add("scatter-add f32", e, T["scatter"], n, gb)
    st = res.add("scatter-add f32", "torch.Tensor.index_add_", T["torch index_add_"], n, gb)
    inc = {}
    for op in ("gather f32", "gather f16", "gather bf16", "gather int8", "bag sum f32", "gather f32 b"):
        k = op.split()[-2] if op.endswith(" b") else op.split()[-1]
        label = op[:-2] + " (4096 ids/call)" if op.endswith(" b") else op
        for isa in isas:
            inc[(isa, op)] = res.add(f"in-cache {label}", isa, T[(isa, op)], n, n * row_bytes[k])
    if open_path is not None:
        size = os.path.getsize(open_path)
        res.rows.append({"operation": "open", "contender": "embstore_open", "file_bytes": size,
                         "times_s": T["open"], "best_s": min(T["open"]), "median_s": statistics.median(T["open"]),
                         "rss_growth_bytes": T["open rss"]})
        v = res.add("verify 2 GiB, page cache warm", "open + verify + close", T["verify"], size // 512, size,
                    note="what `embstore verify FILE` does")
        v2 = res.add("verify 2 GiB, page cache warm", "verify again, same mapping", T["verify again"],
                     size // 512, size, note="pages already mapped: the checksum loop alone")

    np_best = max((np1, np2), key=lambda r: r["rows_per_s"])
    res.target("gather >= 3x numpy.take", ratio_of(g, np_best), (">=", 3.0),
               detail=f"faster numpy form: {np_best['contender']}; vs torch embedding {ratio_of(g, te):.1f}x")
    res.target("table.lookup >= 2.5x numpy.take (Python package)", ratio_of(g, np_best), (">=", 2.5))
    res.target("table.lookup >= 2x torch embedding (Python package)", ratio_of(g, te), (">=", 2.0))
    res.target("table.lookup of 1 id: time per call", c1["best_s"] / c1["rows"] * 1e6, ("<", 5.0), unit=" us",
               detail=f"output allocated per call: {c2['best_s'] / c2['rows'] * 1e6:.2f} us")
    res.target("gather >= 0.35x memcpy of the same bytes", ratio_of(g, mc), (">=", 0.35))
    for k in dts[1:]:
        res.target(f"{k} gather >= 1.4x f32 gather rows/s", ratio_of(one[k], one["f32"]), (">=", 1.4),
                   detail=f"in calls of 4096 ids: {ratio_of(bat[k], bat['f32']):.2f}x")
    for k in dts[1:]:
        res.target(f"{k} gather with f16 output >= 1.6x f32 gather rows/s", ratio_of(half[k], again), (">=", 1.6),
                   detail=f"vs the first f32 measurement {ratio_of(half[k], one['f32']):.2f}x; in calls of 4096 "
                          f"ids: {ratio_of(half_b[k], bat['f32']):.2f}x")
    res.target("bag sum (32) >= 1.3x torch embedding_bag", ratio_of(b, bt), (">=", 1.3))
    res.target("scatter-add >= 4x torch index_add_", ratio_of(sc, st), (">=", 4.0))
    for op in ("gather f32", "gather f16", "gather bf16", "gather int8", "bag sum f32", "gather f32 b"):
        best = max((inc[(i, op)] for i in isas if i != "scalar"), key=lambda r: r["rows_per_s"],
                   default=inc[("scalar", op)])
        label = op[:-2] + " (4096 ids/call)" if op.endswith(" b") else op
        res.target(f"in-cache {label}: best set >= 1.5x scalar", ratio_of(best, inc[("scalar", op)]),
                   (">=", 1.5), detail=f"best set: {best['contender']}")
    if open_path is not None:
        res.target(f"open a {size / GiB:.0f} GiB store: median time", statistics.median(T["open"]) * 1e3,
                   ("<", 1.0), unit=" ms", detail=f"best {min(T['open']) * 1e6:.0f} us")
        res.target(f"open a {size / GiB:.0f} GiB store: resident memory growth", max(T["open rss"]) / MB,
                   ("<", 1.0), unit=" MB", detail="largest of the opens")
        res.target("verify from the page cache", v["bytes_per_s"] / 1e9, (">=", 5.0), unit=" GB/s",
                   detail=f"open + verify + close; on a mapping already touched: {v2['bytes_per_s'] / 1e9:.1f} GB/s")
    page_state = {"read_back": bool(args.read_back), "huge_share": huge_share(store_path)}
    return res, {"isas": isas, "best_isa": best_isa, "store": store_path, "page_state": page_state, "torch": torch.__version__,
                 "warm_up_s": waited, "quiet": quiet}


def measure_scatter_add(torch, table, ids, grads, reps, settle):
    """embstore.scatter_add and torch.Tensor.index_add_ (alpha 1), both into `table` (an in-memory copy)."""
    w = torch.from_numpy(table)
    ids_t, grads_t = torch.from_numpy(ids), torch.from_numpy(grads)
    return measure({
        "scatter": lambda: es.scatter_add(table, ids, grads, 1.0),
        "torch index_add_": lambda: w.index_add_(0, ids_t, grads_t),
    }, reps, settle)


def measure_open(path, reps):
    """embstore.open of `path` (embstore_open and a few microseconds of Python): seconds per open and
    resident-memory growth (bytes) from before the open to after it, each open closed again before the next. One
    untimed open first (header pages into the page cache)."""
    times, growth = [], []
    for i in range(reps + 1):
        r0 = resident_bytes()
        t0 = time.perf_counter()
        s = es.open(path)
        t1 = time.perf_counter()
        r1 = resident_bytes()
        s.close()
        if i > 0:
            times.append(t1 - t0)
            growth.append(r1 - r0)
    return times, growth


# ------------------------------------------------------------------------------------------------------------
# Report

def print_report(res, ctx, args, lib_version):
    print(f"embstore {lib_version} vs peers: {cpu_model()}; kernel sets {', '.join(ctx['isas'])} "
          f"(best: {ctx['best_isa']}); numpy {np.__version__}; torch {ctx['torch']} (1 thread)")
    print(f"table {args.rows} x {args.dim} f32 ({args.rows * args.dim * 4 / MB:.0f} MB) and its f16/bf16/int8 "
          f"copies in {ctx['store']}; {args.ids} uniform random int64 ids; best of {args.reps} calls "
          f"(median in brackets)")
    ps = ctx["page_state"]
    print(f"page state: {'dropped and read back from disk' if ps['read_back'] else 'as the page cache holds it'}; "
          f"{ps['huge_share'] * 100:.0f}% of the store's resident bytes mapped with 2 MiB entries (numpy and torch "
          f"map the same file); output buffers 64-byte aligned")
    print()
    print(f"{'operation':<36} {'contender':<44} {'Mrows/s':>8} {'GB/s':>6} {'vs first':>15}")
    last_op, first = None, None
    for r in res.rows:
        if "rows_per_s" not in r:
            continue
        if r["operation"] != last_op:
            last_op, first = r["operation"], r
            op = r["operation"]
            rel = ""
        else:
            op = ""
            rel = f"{ratio_of(first, r):6.2f}x [{ratio_of(first, r, 'median_s'):.2f}x]"
        print(f"{op:<36} {r['contender']:<44} {r['rows_per_s'] / 1e6:8.2f} {r['bytes_per_s'] / 1e9:6.2f} {rel:>15}")
    for r in res.rows:
        if r["operation"] == "open":
            print(f"\nopen {r['file_bytes'] / GiB:.2f} GiB store: median {r['median_s'] * 1e6:.0f} us, best "
                  f"{r['best_s'] * 1e6:.0f} us; resident memory growth per open: median "
                  f"{statistics.median(r['rss_growth_bytes']) / 1024:.0f} KiB, largest "
                  f"{max(r['rss_growth_bytes']) / 1024:.0f} KiB")
    print("\n'vs first': how many times the operation's first contender (embstore) is faster than this one.")
    print()
    print(f"{'target':<62} {'measured':>12} {'need':>12}  result")
    for t in res.targets:
        unit = t["unit"]
        meas = f"{t['measured']:.2f}{unit}"
        print(f"{t['target']:<62} {meas:>12} {t['need']:>12}  {'met' if t['met'] else 'MISSED'}"
              f"{'  (' + t['detail'] + ')' if t['detail'] else ''}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lib", required=True, help="path of libembstore.so")
    p.add_argument("--dir", help="where the stores are written and reused (default: the library's directory)")
    p.add_argument("--json", metavar="OUT", help="also write every measurement and target to OUT")
    p.add_argument("--reps", type=int, default=15, help="timed calls per contender (default 15)")
    p.add_argument("--settle", type=float, default=1.5,
                   help="seconds of pause before each contender (default 1.5; see measure())")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--ids", type=int, default=262_144)
    p.add_argument("--small-rows", type=int, default=65_536, help="rows of the in-cache table")
    p.add_argument("--open-gib", type=float, default=2.0, help="size of the store to open and verify; 0: skip")
    p.add_argument("--open-reps", type=int, default=21)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--read-back", action="store_true",
                   help="drop the store from the page cache and read it back first (the state after a reboot)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args()
    if args.dir is None:
        args.dir = os.path.dirname(os.path.abspath(args.lib))
    if args.ids % 32 or args.ids <= 0 or args.reps < 1:
        p.error("--ids must be a positive multiple of 32 and --reps at least 1")

    global es
    os.environ["EMBSTORE_LIBRARY"] = os.path.abspath(args.lib)
    import embstore
    es = embstore
    res, ctx = run(args)
    lib_version = es.version()
    print_report(res, ctx, args, lib_version)
    if args.json:
        doc = {"machine": {"cpu": cpu_model(), "python": platform.python_version(), "numpy": np.__version__,
                           "torch": ctx["torch"], "embstore": lib_version, "kernel_sets": ctx["isas"],
                           "best_kernel_set": ctx["best_isa"], "warm_up_s": ctx["warm_up_s"],
                           "quiet_after_warm_up": ctx["quiet"], "page_state": ctx["page_state"]},
               "config": vars(args), "results": res.rows, "targets": res.targets}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    return 1 if args.strict and not all(t["met"] for t in res.targets) else 0


if __name__ == "__main__":
    sys.exit(main())
