#!/usr/bin/python3
"""import_memory.py: the peak memory of a full import (`embstore build`) of word2vec binary files of growing
size, against issue 9's bound of about 100 MB + 32 bytes per key whatever the file size.

For each row count: writes a synthetic rows x dim word2vec binary file (bench/make_word2vec.py) into a fresh
directory under --dir, reads it once (page cache), runs `embstore build -q -o OUT --from word2vec words=FILE`
sampled every 10 ms through /proc/PID/status (RssAnon: heap and buffers; RssFile: mapped files), with its
ru_maxrss from /usr/bin/time and its times, then deletes both files. Refuses to start when the disk lacks room
for the input and the store of the largest size.

    /usr/bin/python3 bench/import_memory.py --cli build/embstore --dir /var/tmp --rows 400000,3000000
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import import_vs_gensim as iv  # noqa: E402
import make_word2vec  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/embstore")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the temporary files go")
    ap.add_argument("--rows", default="400000,3000000", help="comma-separated row counts")
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    counts = [int(r) for r in a.rows.split(",")]
    need = 2 * max(counts) * (4 * a.dim + 40) + (1 << 30)
    free = shutil.disk_usage(a.dir).free
    if free < need:
        sys.exit(f"{a.dir}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB needed")
    iv.TMP = tempfile.mkdtemp(prefix="import_memory.", dir=a.dir)
    results = []
    try:
        for rows in counts:
            src, out = os.path.join(iv.TMP, "vectors.bin"), os.path.join(iv.TMP, "vectors.emb")
            print(f"writing {rows} x {a.dim} into {src}", file=sys.stderr, flush=True)
            make_word2vec.write(src, rows, a.dim, 9)
            size = os.path.getsize(src)
            iv.warm(src)
            m = iv.sampled([a.cli, "build", "-q", "-o", out, "--from", "word2vec", "words=" + src])
            m.update(rows=rows, file_gb=size / 1e9, store_gb=os.path.getsize(out) / 1e9)
            results.append(m)
            os.unlink(src)
            os.unlink(out)
            print(f"{rows} rows: {m['maxrss_mib']:.0f} MiB", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(iv.TMP)

    print(f"\n`embstore build` of word2vec binary files, dim {a.dim}; MiB; anon / file: RssAnon / RssFile at the "
          "sample of largest VmRSS (every 10 ms)\n")
    print("| rows | file GB | store GB | wall s | processor s | ru_maxrss | anon / file at the peak "
          "| bound: 100 MB + 32 B x rows | within |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|:-:|")
    for m in results:
        bound = (100e6 + 32 * m["rows"]) / 2**20
        print(f"| {m['rows']:,} | {m['file_gb']:.2f} | {m['store_gb']:.2f} | {m['wall']:.1f} | {m['cpu']:.1f} "
              f"| {m['maxrss_mib']:.0f} | {m['anon_at_peak']:.0f} / {m['file_at_peak']:.0f} | {bound:.0f} "
              f"| {'yes' if m['maxrss_mib'] <= bound else 'NO'} |")
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
