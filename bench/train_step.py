#!/usr/bin/python3
"""train_step.py: one training step of an embedding bag layer, embstore.torch against torch, one thread.

A step is what a training loop does for the layer: zero_grad, forward (bag sums of the batch), backward of a
given output gradient, optimizer step. The contenders, on the same tables' values and the same batches:
  embstore   embstore.torch.EmbeddingBag over a store's table (opened writable) + embstore.torch.RowWiseAdagrad
             (one f32 state per row, in the store): the update lands in the mapped file
  torch      torch.nn.EmbeddingBag(sparse=True) over an in-memory copy + torch.optim.Adagrad (its sparse path;
             element-wise: one state value per element, a dense tensor the size of the table)
for each table size (rows x 128 f32) and batch shape (bags x ids per bag, uniform random ids, a new batch each
repetition, the same sequence for both; WARMUP untimed steps first). Each repetition runs the contenders one
after the other (the order alternates), so noise from other work on a shared machine falls on both alike; the
script reports the median step time of each, the median of each phase (forward, backward, optimizer step), and
the ratio of the medians.
The stores are written into --dir with embstore.create (normal, std 0.1) at each run.

Usage: /usr/bin/python3 bench/train_step.py --lib build/libembstore.so [--dir build] [--reps 15] [--json OUT]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

DIM = 128
TABLES = (1_000_000, 65_536)
BATCHES = ((2048, 32), (256, 8))  # (bags, ids per bag)
MODE = "sum"
LR = 0.01
# Untimed steps first. They also make the first write faults of the store's pages: a page of a shared file mapping
# faults on its first write after being clean (docs/BENCHMARKS.md, "Training step"), which the later steps of a
# training run mostly do not pay.
WARMUP = 3


def embstore_contender(es, et, torch, path, rows):
    es.create(path, "emb", rows, DIM, std=0.1, seed=1, adagrad_state=True, overwrite=True)
    store = es.open(path, writable=True)
    table = store["emb"]
    values = table.array()
    float(values.sum())  # every page resident before timing, as the copy of the other contender is
    layer = et.EmbeddingBag(table, mode=MODE)
    opt = et.RowWiseAdagrad(layer, lr=LR)
    return store, layer, opt, np.array(values)


def torch_contender(torch, values):
    layer = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(values), freeze=False, sparse=True, mode=MODE)
    opt = torch.optim.Adagrad(layer.parameters(), lr=LR)
    return layer, opt


def step(layer, opt, ids, offsets, grad):
    """(forward, backward, optimizer) seconds of one step."""
    t0 = time.perf_counter()
    opt.zero_grad()
    out = layer(ids, offsets)
    t1 = time.perf_counter()
    out.backward(grad)
    t2 = time.perf_counter()
    opt.step()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def measure(torch, contenders, rows, bags, per_bag, reps):
    rng = np.random.default_rng(7)
    offsets = torch.arange(0, bags * per_bag, per_bag)
    grad = torch.from_numpy(rng.standard_normal((bags, DIM)).astype(np.float32))
    batches = [torch.from_numpy(rng.integers(0, rows, bags * per_bag)) for _ in range(reps + WARMUP)]
    times = {name: [] for name in contenders}
    names = list(contenders)
    for k, ids in enumerate(batches):
        order = names if k % 2 == 0 else names[::-1]
        for name in order:
            layer, opt = contenders[name]
            phases = step(layer, opt, ids, offsets, grad)
            if k >= WARMUP:
                times[name].append(phases)
    return times


def summary(times):
    med = lambda xs: statistics.median(xs) * 1e3  # noqa: E731
    total = [sum(p) for p in times]
    return {"step_ms": med(total), "best_ms": min(total) * 1e3, "forward_ms": med([p[0] for p in times]),
            "backward_ms": med([p[1] for p in times]), "optimizer_ms": med([p[2] for p in times])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="the shared library (build/libembstore.so)")
    ap.add_argument("--dir", default="build", help="where the stores are written")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    os.environ["EMBSTORE_LIBRARY"] = os.path.abspath(a.lib)
    import torch
    import embstore as es
    import embstore.torch as et
    torch.set_num_threads(1)
    results = []
    print(f"embstore {es.version()} ({es.isa_active()}), torch {torch.__version__}, numpy {np.__version__}, "
          f"{platform.machine()}, one thread, dim {DIM}, mode {MODE!r}, lr {LR}, medians of {a.reps} steps (ms)")
    print(f"{'table':>12} {'batch':>9}  {'contender':<10} {'step':>8} {'best':>8} {'forward':>8} {'backward':>9} "
          f"{'optimizer':>9}  embstore faster by")
    for rows in TABLES:
        path = os.path.join(a.dir, f"train_step_{rows}x{DIM}.emb")
        store, layer, opt, values = embstore_contender(es, et, torch, path, rows)
        contenders = {"embstore": (layer, opt), "torch": torch_contender(torch, values)}
        del values
        for bags, per_bag in BATCHES:
            times = measure(torch, contenders, rows, bags, per_bag, a.reps)
            s = {name: summary(t) for name, t in times.items()}
            ratio = s["torch"]["step_ms"] / s["embstore"]["step_ms"]
            for name in ("embstore", "torch"):
                r = s[name]
                tail = f"  {ratio:.2f}x" if name == "embstore" else ""
                print(f"{rows:>12,} {bags:>4}x{per_bag:<4}  {name:<10} {r['step_ms']:8.2f} {r['best_ms']:8.2f} "
                      f"{r['forward_ms']:8.2f} {r['backward_ms']:9.2f} {r['optimizer_ms']:9.2f}{tail}")
            results.append({"rows": rows, "dim": DIM, "bags": bags, "ids_per_bag": per_bag, "results": s,
                            "ratio_of_medians": ratio})
        del contenders, layer, opt
        store.close()
        os.unlink(path)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "isa": es.isa_active(), "reps": a.reps, "runs": results}, f,
                      indent=1)


if __name__ == "__main__":
    main()
