#!/usr/bin/python3
"""keys_vs_dict.py: what gensim does for a lookup by word - a Python dict from word to index (KeyedVectors.
key_to_index), then a row of a numpy array - timed on the same keys as build/bench_keys, to compare with its
ns per key. Usage: /usr/bin/python3 bench/keys_vs_dict.py [KEYS] [DIM]   (defaults 3,000,000 and 32)."""
import sys
import time

import numpy as np


def mix(x):
    m = (1 << 64) - 1
    x = (x + 0x9e3779b97f4a7c15) & m
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & m
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & m
    return x ^ (x >> 31)


def key_of(r):
    return "w%d_%x" % (r, mix(r) & 0xffff)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000000
    dim = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    t = time.perf_counter()
    index = {key_of(r): r for r in range(n)}
    vectors = np.arange(n, dtype=np.float32)[:, None] + np.arange(dim, dtype=np.float32)[None, :]
    print("built a dict of %d keys and a %d x %d array in %.1f s" % (n, n, dim, time.perf_counter() - t))
    lookups = 1 << 20
    queries = [key_of(mix(i ^ 0x5555) % n) for i in range(lookups)]
    best_dict, best_row = 1e9, 1e9
    for _ in range(5):
        t = time.perf_counter()
        for q in queries:
            index[q]
        best_dict = min(best_dict, time.perf_counter() - t)
        t = time.perf_counter()
        for q in queries:
            vectors[index[q]]
        best_row = min(best_row, time.perf_counter() - t)
    print("dict lookup: %.0f ns/key; dict lookup + row (gensim's kv[word]): %.0f ns/key (%d random keys, best of 5)"
          % (best_dict * 1e9 / lookups, best_row * 1e9 / lookups, lookups))


if __name__ == "__main__":
    main()
