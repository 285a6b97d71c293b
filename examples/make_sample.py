#!/usr/bin/env python3
"""Writes examples/sample.npy: the small embedding table the README's demo runs on.

1000 rows x 16 f32 columns of deterministic pseudo-random values in [-1, 1), written with the standard library
only (the .npy layout is numpy's NEP 1 format, version 1.0), so the file can be regenerated anywhere and compared
byte for byte: `python3 examples/make_sample.py && git diff --exit-code examples/sample.npy`.
"""
import os
import struct

ROWS, DIM = 1000, 16


def values():
    state = 0x2545F4914F6CDD1D
    for _ in range(ROWS * DIM):
        # xorshift64*: tiny, deterministic, good enough for sample data
        state ^= (state >> 12) & 0xFFFFFFFFFFFFFFFF
        state ^= (state << 25) & 0xFFFFFFFFFFFFFFFF
        state ^= (state >> 27) & 0xFFFFFFFFFFFFFFFF
        r = (state * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF
        yield (r >> 40) / float(1 << 23) - 1.0


def main():
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (ROWS, DIM)
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample.npy")
    with open(out, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("ascii"))
        f.write(struct.pack("<%df" % (ROWS * DIM), *values()))


if __name__ == "__main__":
    main()
