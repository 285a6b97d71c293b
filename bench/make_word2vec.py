#!/usr/bin/python3
"""make_word2vec.py: writes a synthetic word2vec binary file of any size, streaming (memory stays small whatever
the row count), for measuring imports at the scale of GoogleNews (3,000,000 x 300, 3.6 GB).

The layout is the original word2vec tool's, as GoogleNews-vectors-negative300.bin has it: a "rows dim" line, then
per row the word, a space, dim little-endian f32 and a newline. Words are "w<row>" followed by 0 to 5 "_x" (2 to
19 bytes, all distinct); values are normal with sigma 0.1 from numpy's generator seeded with --seed.

    /usr/bin/python3 bench/make_word2vec.py --rows 3000000 --dim 300 OUT.bin
"""
import argparse
import sys

import numpy as np

CHUNK_ROWS = 16384


def write(path, rows, dim, seed):
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(b"%d %d\n" % (rows, dim))
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            values = rng.standard_normal((n, dim), dtype=np.float32)
            values *= np.float32(0.1)
            data = values.astype("<f4").tobytes()
            step = 4 * dim
            f.write(b"".join(b"w%d%s %s\n" % (start + i, b"_x" * ((start + i) % 6), data[i * step:(i + 1) * step])
                             for i in range(n)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=3000000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--seed", type=int, default=9)
    a = ap.parse_args()
    if a.rows < 1 or a.dim < 1:
        sys.exit("--rows and --dim must be at least 1")
    write(a.out, a.rows, a.dim, a.seed)


if __name__ == "__main__":
    main()
