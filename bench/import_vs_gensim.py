#!/usr/bin/python3
"""import_vs_gensim.py: the word-vector parsers against gensim's KeyedVectors.load_word2vec_format on the same
files (issue 9's import target: at least 3x faster, text and binary).

Writes a rows x dim table of random vectors (numpy, seeded; keys w0, w1, ...) with gensim's own
save_word2vec_format, binary and text, plus the text without its header line as GloVe, into --dir (kept and
reused while rows, dim and seed stay the same). Then, per file, per loader and per repetition: reads the file once to warm
the page cache and times the loader in a child process: gensim (binary=..., no_header=True for GloVe), and
build/parse_vectors with a sink that counts the rows and with one that also copies them into a matrix, as gensim
does. Prints the best time of each, the ratios, the peak RSS, and whether every loader read the same keys and the
same bits (checksums); exits 1 when they did not.

    /usr/bin/python3 bench/import_vs_gensim.py --driver build/parse_vectors --dir build/vectors
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

GENSIM_CHILD = r"""
import re, sys, time
import numpy as np
from gensim.models import KeyedVectors
path, binary, no_header = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
t0, u0 = time.perf_counter(), time.process_time()
kv = KeyedVectors.load_word2vec_format(path, binary=binary, no_header=no_header)
t1, u1 = time.perf_counter(), time.process_time()
# parse_vectors' checksum: keys by FNV-1a, values by their bits, each weighted by its odd position, mod 2^64.
M = (1 << 64) - 1
h = 0
for i, w in enumerate(kv.index_to_key):
    f = 0xcbf29ce484222325
    for c in w.encode():
        f = ((f ^ c) * 0x100000001b3) & M
    h = (h + f * (2 * i + 1)) & M
step = max(1, (1 << 22) // kv.vector_size)
with np.errstate(over="ignore"):
    for r in range(0, len(kv), step):
        bits = kv.vectors[r:r + step].view(np.uint32).ravel().astype(np.uint64)
        k = np.arange(r * kv.vector_size, r * kv.vector_size + bits.size, dtype=np.uint64)
        h = (h + int(np.sum(bits * (2 * k + 1), dtype=np.uint64))) & M
rss = re.search(r"VmHWM:\s*(\d+)", open("/proc/self/status").read()).group(1)
print(f"rows={len(kv)} dim={kv.vector_size} seconds={t1 - t0:.4f} cpu_seconds={u1 - u0:.4f} checksum={h:016x}"
      f" peak_rss_mib={int(rss) / 1024:.1f}")
"""


def generate(d, rows, dim, seed):
    stamp = os.path.join(d, "stamp.json")
    want = {"rows": rows, "dim": dim, "seed": seed}
    paths = {f: os.path.join(d, f"vectors.{f}") for f in ("bin", "txt", "glove")}
    if os.path.exists(stamp) and json.load(open(stamp)) == want and all(os.path.exists(p) for p in paths.values()):
        return paths
    from gensim.models import KeyedVectors

    os.makedirs(d, exist_ok=True)
    print(f"writing {rows} x {dim} vectors with gensim into {d} (once)", file=sys.stderr)
    rng = np.random.default_rng(seed)
    kv = KeyedVectors(dim)
    kv.add_vectors([f"w{i}" for i in range(rows)], (rng.standard_normal((rows, dim)) * 0.1).astype(np.float32))
    kv.save_word2vec_format(paths["bin"], binary=True)
    kv.save_word2vec_format(paths["txt"], binary=False)
    with open(paths["txt"], "rb") as src, open(paths["glove"], "wb") as dst:
        src.readline()
        while chunk := src.read(1 << 24):
            dst.write(chunk)
    json.dump(want, open(stamp, "w"))
    return paths


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def measure(cmd, path, repeat):
    """The child's result line of its last run, with the best wall and processor times and the largest peak RSS
    of all its runs."""
    best = None
    for _ in range(repeat):
        warm(path)
        m = run(cmd)
        for key, pick in (("seconds", min), ("cpu_seconds", min), ("peak_rss_mib", max)):
            m[key] = pick(float(m[key]), best[key]) if best else float(m[key])
        best = m
    return best


def run(cmd):
    """Runs a child to its end; returns its result line as a dict."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return dict(re.findall(r"(\w+)=(\S+)", p.stdout))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", default="build/parse_vectors")
    ap.add_argument("--dir", default="build/vectors")
    ap.add_argument("--rows", type=int, default=400000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    paths = generate(a.dir, a.rows, a.dim, a.seed)
    cases = [("word2vec binary", "word2vec", paths["bin"], "1", "0"),
             ("word2vec text", "word2vec-text", paths["txt"], "0", "0"),
             ("GloVe text", "glove", paths["glove"], "0", "1")]
    results = []
    print(f"{a.rows} x {a.dim}, best of {a.repeat}, warm page cache; seconds as wall clock (processor time)\n")
    print("| file | MB | gensim s | embstore s | ratio | embstore + matrix s | ratio | peak RSS MiB gensim / embstore "
          "| same bits |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|:-:|")
    for name, fmt, path, binary, no_header in cases:
        g = measure([sys.executable, "-c", GENSIM_CHILD, path, binary, no_header], path, a.repeat)
        e = measure([a.driver, fmt, path], path, a.repeat)
        k = measure([a.driver, "--keep", fmt, path], path, a.repeat)
        same = "yes" if (g["rows"], g["checksum"]) == (e["rows"], e["checksum"]) == (k["rows"], k["checksum"]) else "NO"
        t = lambda m: f"{m['seconds']:.2f} ({m['cpu_seconds']:.2f})"
        r = lambda m: f"{g['seconds'] / m['seconds']:.1f} ({g['cpu_seconds'] / m['cpu_seconds']:.1f})"
        mb = os.path.getsize(path) / 1e6
        print(f"| {name} | {mb:.0f} | {t(g)} | {t(e)} | {r(e)} | {t(k)} | {r(k)} "
              f"| {g['peak_rss_mib']:.0f} / {e['peak_rss_mib']:.0f} | {same} |", flush=True)
        results.append({"file": name, "mb": mb, "gensim": g, "embstore": e, "embstore_matrix": k, "same": same})
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)
    if any(r["same"] == "NO" for r in results):
        sys.exit("the parsers and gensim read different vectors")


if __name__ == "__main__":
    main()
