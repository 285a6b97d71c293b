#!/usr/bin/python3
"""import_vs_gensim.py: the full import of word vectors into a store (`embstore build`) against gensim's
KeyedVectors.load_word2vec_format on the same files (issue 9's import target: at least 3x faster, text and
binary), with the peak memory of both; optionally the parsers alone as well.

Writes a rows x dim table of random vectors (numpy, seeded; keys w0, w1, ...) with gensim's own
save_word2vec_format, binary and text, plus the text without its header line as GloVe, into --dir (kept and
reused while rows, dim and seed stay the same). Then, per file and per repetition, in turn: gensim
(binary=..., no_header=True for GloVe) in a child process, timed around the call alone; and the real CLI,
`embstore build -q -o OUT --from FORMAT words=FILE`, timed as a whole process (parse, vocabulary, rows written,
directory, fsync of the file and of its directory, rename). Before each run the input is read once, so that both
find it in the page cache, and the previous output is deleted. Each child is sampled every 10 ms through
/proc/PID/status (VmRSS, RssAnon, RssFile); its processor time and ru_maxrss come from wait4. Prints the best and
the median of each time, the ratios, the peak resident memory split into anonymous and file-backed pages, and
whether the store holds the keys and bits gensim read (checksums); exits 1 when it does not.

With --driver build/parse_vectors, a second table times the parsers alone (a sink that counts rows, and one that
also copies them into a matrix as gensim does) against the same gensim runs.

    /usr/bin/python3 bench/import_vs_gensim.py --cli build/embstore --dir build/vectors --repeat 5
"""
import argparse
import ctypes
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

GENSIM_CHILD = r"""
import sys, time
import numpy as np
from gensim.models import KeyedVectors
path, binary, no_header = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
t0, u0 = time.perf_counter(), time.process_time()
kv = KeyedVectors.load_word2vec_format(path, binary=binary, no_header=no_header)
t1, u1 = time.perf_counter(), time.process_time()
print(f"rows={len(kv)} dim={kv.vector_size} seconds={t1 - t0:.4f} cpu_seconds={u1 - u0:.4f}", flush=True)
if sys.argv[4] == "1":
    sys.path.insert(0, sys.argv[5])
    from import_vs_gensim import checksum
    print(f"checksum={checksum(kv.index_to_key, kv.vectors):016x}")
"""

M64 = (1 << 64) - 1
TMP = None  # main's temporary directory


def checksum(keys, vectors):
    """parse_vectors' checksum: keys (str or bytes) by FNV-1a, values by their bits, each weighted by its odd
    position, mod 2^64."""
    h = 0
    for i, w in enumerate(keys):
        f = 0xcbf29ce484222325
        for c in w.encode() if isinstance(w, str) else w:
            f = ((f ^ c) * 0x100000001b3) & M64
        h = (h + f * (2 * i + 1)) & M64
    dim = vectors.shape[1]
    step = max(1, (1 << 22) // dim)
    with np.errstate(over="ignore"):
        for r in range(0, len(vectors), step):
            bits = np.ascontiguousarray(vectors[r:r + step]).view(np.uint32).ravel().astype(np.uint64)
            k = np.arange(r * dim, r * dim + bits.size, dtype=np.uint64)
            h = (h + int(np.sum(bits * (2 * k + 1), dtype=np.uint64))) & M64
    return h


def store_checksum(lib_path, store_path):
    """The checksum of the store's first table: its keys through embstore_table_key, its rows as a numpy view."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import embstore_ctypes as ec

    lib = ec.Library(lib_path)
    key_of = lib._c.embstore_table_key
    key_of.restype = ctypes.c_int
    key_of.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.POINTER(ctypes.c_char_p),
                       ctypes.POINTER(ctypes.c_size_t)]
    with lib.open(store_path) as s:
        t = s.tables()[0]
        kp, kn = ctypes.c_char_p(), ctypes.c_size_t()

        def keys():
            for r in range(t.rows):
                lib._check(key_of(s._handle, 0, r, ctypes.byref(kp), ctypes.byref(kn)), "key")
                yield ctypes.string_at(kp, kn.value)

        return checksum(keys(), t.array())


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


def status_kib(pid):
    """VmRSS, RssAnon and RssFile of a running process in KiB; None once it has exited."""
    try:
        text = open(f"/proc/{pid}/status").read()
    except OSError:
        return None
    got = dict(re.findall(r"^(VmRSS|RssAnon|RssFile):\s*(\d+) kB", text, re.M))
    return (int(got["VmRSS"]), int(got["RssAnon"]), int(got["RssFile"])) if len(got) == 3 else None


def child_of(pid):
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def sampled(cmd):
    """Runs cmd to its end, sampling its memory every 10 ms. Returns its result line as a dict, plus wall
    (seconds, the whole process), cpu (user + system, from wait4), maxrss_mib (ru_maxrss) and the largest
    RssAnon and RssFile seen (MiB), with anon_at_peak / file_at_peak at the sample of largest VmRSS.
    cmd runs under /usr/bin/time, which reports its ru_maxrss: a process's ru_maxrss includes the pages of
    the process that forked it (this Python, with numpy), and time is small."""
    t0 = time.perf_counter()
    rss_file = os.path.join(TMP, "maxrss")
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    peak = (0, 0, 0)
    most_anon = most_file = 0
    kid = None
    while True:
        kid = kid or child_of(p.pid)
        s = status_kib(kid) if kid else None
        if s:
            peak = max(peak, s)
            most_anon, most_file = max(most_anon, s[1]), max(most_file, s[2])
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    p.stdout.close()
    p.stderr.close()
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    m = dict(re.findall(r"(\w+)=(\S+)", out))
    m.update(wall=wall, cpu=ru.ru_utime + ru.ru_stime, maxrss_mib=int(open(rss_file).read()) / 1024, anon_mib=most_anon / 1024,
             file_mib=most_file / 1024, anon_at_peak=peak[1] / 1024, file_at_peak=peak[2] / 1024)
    return m


def summary(runs, key):
    v = [float(r[key]) for r in runs]
    return min(v), statistics.median(v)


def fmt_times(runs, key):
    best, med = summary(runs, key)
    return f"{best:.2f} / {med:.2f}"


def fmt_ratio(base, runs, bkey, key):
    (gb, gm), (eb, em) = summary(base, bkey), summary(runs, key)
    return f"{gb / eb:.1f} / {gm / em:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/embstore", help="the embstore tool")
    ap.add_argument("--lib", help="libembstore.so, to check the store's keys and bits (default: beside --cli)")
    ap.add_argument("--driver", help="build/parse_vectors: add the parser-only table")
    ap.add_argument("--dir", default="build/vectors", help="input files (written once) and the output store")
    ap.add_argument("--rows", type=int, default=400000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", help="comma-separated subset of: binary,text,glove")
    ap.add_argument("--json", help="also write every run here")
    a = ap.parse_args()
    global TMP
    TMP = tempfile.mkdtemp(prefix="import_vs_gensim.")
    lib = a.lib or os.path.join(os.path.dirname(a.cli), "libembstore.so")
    paths = generate(a.dir, a.rows, a.dim, a.seed)
    out = os.path.join(a.dir, "import_vs_gensim.emb")
    here = os.path.dirname(os.path.abspath(__file__))
    cases = [("binary", "word2vec binary", "word2vec", paths["bin"], "1", "0"),
             ("text", "word2vec text", "word2vec-text", paths["txt"], "0", "0"),
             ("glove", "GloVe text", "glove", paths["glove"], "0", "1")]
    if a.only:
        cases = [c for c in cases if c[0] in a.only.split(",")]
    results = []
    for key, name, fmt, path, binary, no_header in cases:
        r = {"file": name, "mb": os.path.getsize(path) / 1e6, "gensim": [], "embstore": [], "parser": [],
             "parser_matrix": []}
        for i in range(a.repeat):
            last = i == a.repeat - 1
            warm(path)
            r["gensim"].append(sampled([sys.executable, "-c", GENSIM_CHILD, path, binary, no_header,
                                        "1" if last else "0", here]))
            if os.path.exists(out):
                os.unlink(out)
            warm(path)
            r["embstore"].append(sampled([a.cli, "build", "-q", "-o", out, "--from", fmt, "words=" + path]))
            if a.driver:
                warm(path)
                r["parser"].append(sampled([a.driver, fmt, path]))
                warm(path)
                r["parser_matrix"].append(sampled([a.driver, "--keep", fmt, path]))
            print(f"{name} {i + 1}/{a.repeat}: gensim {r['gensim'][-1]['seconds']} s, embstore build "
                  f"{r['embstore'][-1]['wall']:.2f} s", file=sys.stderr, flush=True)
        g = r["gensim"][-1]
        r["store_checksum"] = f"{store_checksum(lib, out):016x}"
        os.unlink(out)
        r["same"] = g["checksum"] == r["store_checksum"] and int(g["rows"]) == a.rows
        if a.driver:
            r["same"] = r["same"] and all(m["checksum"] == g["checksum"] for m in (r["parser"][-1],
                                                                                r["parser_matrix"][-1]))
        results.append(r)

    print(f"\n{a.rows} x {a.dim}, {a.repeat} runs each, input in the page cache; best / median seconds; gensim: "
          "the load_word2vec_format call alone; embstore: the whole `embstore build` process, fsync included\n")
    print("| file | MB | gensim wall | embstore wall | ratio | gensim processor | embstore processor | ratio "
          "| same keys and bits |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|:-:|")
    for r in results:
        g, e = r["gensim"], r["embstore"]
        print(f"| {r['file']} | {r['mb']:.0f} | {fmt_times(g, 'seconds')} | {fmt_times(e, 'wall')} "
              f"| {fmt_ratio(g, e, 'seconds', 'wall')} | {fmt_times(g, 'cpu_seconds')} | {fmt_times(e, 'cpu')} "
              f"| {fmt_ratio(g, e, 'cpu_seconds', 'cpu')} | {'yes' if r['same'] else 'NO'} |")

    print("\nPeak resident memory, MiB (largest of the runs): ru_maxrss, and the anonymous and file-backed parts at "
          "the sampled peak\n")
    print("| file | gensim ru_maxrss | gensim anon / file | embstore ru_maxrss | embstore anon / file "
          f"| 100 MB + 32 B x {a.rows} keys |")
    print("|---|--:|--:|--:|--:|--:|")
    for r in results:
        g = max(r["gensim"], key=lambda m: m["maxrss_mib"])
        e = max(r["embstore"], key=lambda m: m["maxrss_mib"])
        print(f"| {r['file']} | {g['maxrss_mib']:.0f} | {g['anon_at_peak']:.0f} / {g['file_at_peak']:.0f} "
              f"| {e['maxrss_mib']:.0f} | {e['anon_at_peak']:.0f} / {e['file_at_peak']:.0f} "
              f"| {(100e6 + 32 * a.rows) / 2**20:.0f} |")

    if a.driver:
        print("\nThe parsers alone (bench/parse_vectors, in-process times), same gensim runs; best / median "
              "seconds, wall (processor)\n")
        print("| file | parser | ratio | parser + matrix | ratio |")
        print("|---|--:|--:|--:|--:|")
        for r in results:
            g = r["gensim"]
            cells = []
            for k in ("parser", "parser_matrix"):
                cells.append(f"{fmt_times(r[k], 'seconds')} ({fmt_times(r[k], 'cpu_seconds')})")
                cells.append(f"{fmt_ratio(g, r[k], 'seconds', 'seconds')} "
                             f"({fmt_ratio(g, r[k], 'cpu_seconds', 'cpu_seconds')})")
            print(f"| {r['file']} | " + " | ".join(cells) + " |")
    os.unlink(os.path.join(TMP, "maxrss"))
    os.rmdir(TMP)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)
    if not all(r["same"] for r in results):
        sys.exit("the store (or the parsers) and gensim hold different keys or vectors")


if __name__ == "__main__":
    main()
