#!/usr/bin/python3
"""make_vectors.py: writes the word-vector fixtures of tests/test_vecparse.c into tests/data/vectors/, and beside
each the vectors gensim loads from it (FILE.expect), which the tests compare with the parsers' bit for bit.

    /usr/bin/python3 tests/data/make_vectors.py [DIR]     # needs python3-numpy and python3-gensim

The fixtures are committed (a few KiB), so the tests need neither; run this again only to change them.

FILE.expect: u32 rows, u32 dim, then per row u32 key length, the key's UTF-8 bytes and dim f32, all little-endian.
"""
import os
import struct
import sys

import numpy as np
from gensim.models import KeyedVectors

DIM = 4
WORDS = ["the", "café", "日本語", "😀", "New_York", "</s>", "x"]


def expect(path, kv):
    with open(path + ".expect", "wb") as f:
        f.write(struct.pack("<II", len(kv), kv.vector_size))
        for i, w in enumerate(kv.index_to_key):
            k = w.encode("utf-8")
            f.write(struct.pack("<I", len(k)) + k + kv.vectors[i].astype("<f4").tobytes())


def load(path, **kw):
    return KeyedVectors.load_word2vec_format(path, **kw)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def f32(*values):
    return np.array(values, dtype="<f4").tobytes()


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors")
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)
    rng = np.random.default_rng(9)

    # Written by gensim itself, binary and text: gensim's repr() values, no newline after binary vectors.
    kv = KeyedVectors(DIM)
    kv.add_vectors(WORDS, rng.standard_normal((len(WORDS), DIM)).astype(np.float32))
    kv.save_word2vec_format(p("gensim.bin"), binary=True)
    kv.save_word2vec_format(p("gensim.txt"), binary=False)
    for name, binary in (("gensim.bin", True), ("gensim.txt", False)):
        got = load(p(name), binary=binary)
        assert got.index_to_key == WORDS and np.array_equal(got.vectors.view(np.uint32), kv.vectors.view(np.uint32))
        expect(p(name), got)

    # As the original word2vec tool writes binary files: a newline after each vector.
    write(p("newlines.bin"), b"3 2\n" + b"".join(w + b" " + f32(i, -i / 8) + b"\n"
                                                   for i, w in enumerate([b"a", b"b\xc3\xa9", b"c"])))
    expect(p("newlines.bin"), load(p("newlines.bin"), binary=True))

    # A word with a space, "New York", whose two values have the bytes "wxyz" and "abcd": gensim ends the word at
    # the space and reads "York", " wxy" as its values; the next word then starts inside that vector and runs to
    # the next space: "zabcdb".
    write(p("space.bin"), b"3 2\n" + b"a " + f32(1, 2) + b"New York " + b"wxyz" + b"abcd" + b"b " + f32(5, 6))
    got = load(p("space.bin"), binary=True)
    assert got.index_to_key == ["a", "New", "zabcdb"], got.index_to_key
    expect(p("space.bin"), got)

    # Words cut inside a character, as the original tool cuts long words, and other invalid UTF-8; loaded with
    # unicode_errors="replace".
    bad = [b"caf\xc3", b"\xe6\x97", b"ok", b"\xff\xfex", b"\xed\xa0\x80", b"\xf0\x9f\x98z"]
    write(p("replace.bin"), f"{len(bad)} 2\n".encode() + b"".join(w + b" " + f32(i, i) for i, w in enumerate(bad)))
    expect(p("replace.bin"), load(p("replace.bin"), binary=True, unicode_errors="replace"))

    # fastText .vec: a blank after each line's last value; values as fastText and GloVe print them.
    rows = [("the", "0.4180 0.2497 -0.4124 0.1217"), ("über", "-1.5e-3 7 1e+02 -0.0000"),
            ("日本", "0.0000001 -3.4028234e38 1.17549435e-38 0.5")]
    write(p("fasttext.vec"), f"{len(rows)} {DIM}\n".encode() + "".join(f"{w} {v} \n" for w, v in rows).encode())
    expect(p("fasttext.vec"), load(p("fasttext.vec")))

    # word2vec text with CRLF line ends and a blank line at the end.
    write(p("crlf.txt"), f"{len(rows)} {DIM}\r\n".encode() + "".join(f"{w} {v}\r\n" for w, v in rows).encode()
          + b"\r\n")
    expect(p("crlf.txt"), load(p("crlf.txt")))

    # GloVe: no header, no newline after the last line.
    write(p("glove.txt"), "\n".join(f"{w} {v}" for w, v in rows).encode())
    expect(p("glove.txt"), load(p("glove.txt"), no_header=True))


if __name__ == "__main__":
    main()
