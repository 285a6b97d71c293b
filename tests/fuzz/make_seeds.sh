#!/bin/sh
# make_seeds.sh CLI: (re)writes the seed files of tests/fuzz/corpus/ (seed-*; the crash-* files found by fuzzing
# stay) with python3-numpy and the embstore CLI given (e.g. build/embstore). Seeds are small valid inputs of each
# kind, for the fuzzers to start from: .npy files of f2, f4 and f8 in format versions 1, 2 and 3, with values
# that need --saturate for some dtypes; stores of each dtype, with several tables, metadata and several checksum
# chunks; word2vec binary, word2vec text, fastText and GloVe files. They are kept in the repository: a store
# seed stays in the format version it was written in.
set -eu
cli=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# Debian's python3, which python3-numpy goes with, before any other on PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" - <<'PY'
import numpy as np
from numpy.lib import format as npf

def save(name, a, version):
    with open(name, "wb") as f:
        npf.write_array(f, np.ascontiguousarray(a), version=version, allow_pickle=False)

r = np.random.default_rng(7)
save("f4-v1.npy", r.standard_normal((4, 3)).astype("<f4"), (1, 0))
save("f2-v1.npy", r.standard_normal((3, 5)).astype("<f2"), (1, 0))
save("f8-v1.npy", r.standard_normal((2, 4)).astype("<f8"), (1, 0))
save("f4-v2.npy", np.array([[1e6, -1e6, 3e38], [np.nan, np.inf, -0.0]], "<f4"), (2, 0))
save("f8-v3.npy", np.array([[1e300, -1e300], [1e-300, np.nan]], "<f8"), (3, 0))
save("f2-v3.npy", np.array([[np.inf, 65504, -65504, 6e-8]], "<f2"), (3, 0))
save("words.npy", r.standard_normal((40, 8)).astype("<f4"), (1, 0))
save("small.npy", r.standard_normal((5, 3)).astype("<f4"), (1, 0))
save("wide.npy", r.standard_normal((3, 70)).astype("<f4"), (1, 0))
PY
rm -f "$here"/corpus/npy/seed-* "$here"/corpus/store/seed-*
for f in f4-v1 f2-v1 f8-v1 f4-v2 f8-v3 f2-v3; do
	cp "$f.npy" "$here/corpus/npy/seed-$f.npy"
done
"$cli" build -o f32.emb --meta licence=CC0 words.npy
"$cli" build -o f16.emb --dtype f16 --chunk-bytes 64 words.npy
"$cli" build -o bf16.emb --dtype bf16 small.npy
"$cli" build -o int8.emb --dtype int8 --chunk-bytes 100 words.npy wide.npy
"$cli" build -o tables.emb --meta a=1 --meta empty= small.npy w=words.npy x=wide.npy
for f in f32 f16 bf16 int8 tables; do
	cp "$f.emb" "$here/corpus/store/seed-$f.emb"
done
# The word-vector parsers' seeds are their test fixtures (tests/data/make_vectors.py writes those), and a few
# values the text parser treats specially.
rm -f "$here"/corpus/word2vec/seed-* "$here"/corpus/vectors_text/seed-*
for f in gensim.bin newlines.bin space.bin replace.bin; do
	cp "$here/../data/vectors/$f" "$here/corpus/word2vec/seed-$f"
done
for f in gensim.txt fasttext.vec crlf.txt glove.txt; do
	cp "$here/../data/vectors/$f" "$here/corpus/vectors_text/seed-$f"
done
printf '2 3\nbad 1 nan\nx 1e39 0x1p-3 -0\n' >"$here/corpus/vectors_text/seed-values.txt"

# The descriptions libembstore_mpi's ranks exchange at open (src/mpi/mpi_describe.c writes them, mpi_parse.c
# reads them; host byte order, little-endian here): two shards of a set split by rows, an ordinary store, a rank
# with no file, and a rank whose file did not open.
rm -f "$here"/corpus/mpi_desc/seed-*
mkdir -p "$here/corpus/mpi_desc"
"$py" - "$here/corpus/mpi_desc" <<'PY'
import struct, sys

def s(text):
    b = text.encode() + b"\0"
    return struct.pack("<I", len(b)) + b

def part(name, position, first, total, rows, dim, dtype, vocab):
    return s(name) + struct.pack("<IQQQIII", position, first, total, rows, dim, dtype, vocab)

def file(path, is_shard, set_id, index, count, tables, by, parts):
    head = s(path) + struct.pack("<I", is_shard) + set_id.encode().ljust(33, b"\0")
    return head + struct.pack("<IIIII", index, count, tables, by, len(parts)) + b"".join(parts)

def desc(status, detail, files):
    return struct.pack("<I", status) + s(detail) + struct.pack("<I", len(files)) + b"".join(files)

sid = "0123456789abcdef0123456789abcdef"
seeds = {
    "rows": desc(0, "", [file("w-00000-of-00002.emb", 1, sid, 0, 2, 2, 1,
                              [part("f", 0, 0, 1000, 500, 16, 0, 0), part("v", 1, 0, 90, 45, 6, 1, 1)]),
                         file("w-00001-of-00002.emb", 1, sid, 1, 2, 2, 1,
                              [part("f", 0, 500, 1000, 500, 16, 0, 0), part("v", 1, 45, 90, 45, 6, 1, 1)])]),
    "store": desc(0, "", [file("w.emb", 0, "", 0, 1, 1, 0, [part("t", 0, 0, 3, 3, 4, 3, 0)])]),
    "none": desc(0, "", []),
    "failed": desc(5, "'x.emb': No such file or directory", []),
}
for name, data in seeds.items():
    with open(f"{sys.argv[1]}/seed-{name}.bin", "wb") as f:
        f.write(data)
PY
