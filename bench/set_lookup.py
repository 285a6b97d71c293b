"""set_lookup.py: a gather over a set of shards against the same gather over the unsharded store, through the
Python package: the store of bench/peers.py (which writes it first) split by rows into --shards shards beside
it (once; reused), the same random ids into the same output, best of --reps calls, alternating the two.

  /usr/bin/python3 bench/set_lookup.py --lib build/libembstore.so --dir build [--shards 2] [--reps 7]
"""
import argparse
import os
import sys
import time

import numpy as np


def best(f, reps):
    b = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t0)
    return b


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lib", required=True, help="path of libembstore.so")
    p.add_argument("--dir", required=True, help="where peers.py wrote peers_1000000x128.emb")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--ids", type=int, default=262_144)
    p.add_argument("--reps", type=int, default=7)
    args = p.parse_args()
    os.environ["EMBSTORE_LIBRARY"] = args.lib
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import embstore

    src = os.path.join(args.dir, "peers_1000000x128.emb")
    if not os.path.exists(src):
        raise SystemExit(f"set_lookup: {src} is missing: run bench/peers.py --dir {args.dir} first")
    base = os.path.join(args.dir, "set_lookup.emb")
    paths = [embstore.shard_path(base, i, args.shards) for i in range(args.shards)]
    with embstore.open(src) as store:
        if not all(os.path.exists(q) for q in paths):
            embstore.shard(store, base, args.shards)
        with embstore.open_set(paths) as st:
            t, u = store["f32"], st["f32"]
            ids = np.random.default_rng(1).integers(0, t.rows, args.ids)
            out = np.empty((args.ids, t.dim), np.float32)
            a = b = float("inf")
            for _ in range(3):
                a = min(a, best(lambda: t.lookup(ids, out=out), args.reps))
                b = min(b, best(lambda: u.lookup(ids, out=out), args.reps))
            want = t.lookup(ids)
            if not np.array_equal(u.lookup(ids), want):
                raise SystemExit("set_lookup: the set's rows differ from the store's")
            n = args.ids
            print(f"store {n / a / 1e6:.2f} Mrows/s; set of {args.shards} shards {n / b / 1e6:.2f} Mrows/s "
                  f"(set / store {a / b:.2f}x)")
            for k in (1, 8, 64):
                i, o = ids[:k], out[:k]
                a1 = best(lambda: t.lookup(i, out=o), 2001)
                b1 = best(lambda: u.lookup(i, out=o), 2001)
                print(f"{k} ids per call: store {a1 * 1e6:.2f} us, set {b1 * 1e6:.2f} us")


if __name__ == "__main__":
    main()
