#!/usr/bin/python3
"""Writes import.safetensors, the safetensors fixture of tests/test_import_tensors.c (the .npz fixtures are
arrays.npz and arrays_deflated.npz of make_safetensors.py, whose writer this uses).

Run with Debian's python3 and python3-numpy:  /usr/bin/python3 tests/data/make_import_fixtures.py
The file is committed; rerun only to change it, and update the test with it.

Tables of every dtype a table is read from, tensors that cannot be tables (1-D, 3-D, an integer dtype, no rows),
and __metadata__. Values are value(r, c, salt) of make_safetensors.py, which f16 and bf16 hold exactly; the F64
tensor holds value / 3, which f32 does not, so that its rounding is seen.
"""
import os
import sys

import numpy as np

from make_safetensors import HERE, bf16_bytes, safetensors, values


def main():
    safetensors(
        os.path.join(HERE, "import.safetensors"),
        [
            ("emb", "F32", (6, 4), values(6, 4, 1).astype("<f4").tobytes()),
            ("vec", "F32", (4,), values(1, 4, 9).astype("<f4").tobytes()),
            ("half", "F16", (3, 5), values(3, 5, 2).astype("<f2").tobytes()),
            ("cube", "F32", (2, 2, 2), values(2, 4, 8).astype("<f4").tobytes()),
            ("brain", "BF16", (4, 3), bf16_bytes(values(4, 3, 3))),
            ("ids", "I32", (2, 2), np.arange(4, dtype="<i4").tobytes()),
            ("wide", "F64", (2, 6), (values(2, 6, 4) / 3).astype("<f8").tobytes()),
            ("none", "F32", (0, 3), b""),
        ],
        {"format": "pt", "licence": "CC0"},
    )


if __name__ == "__main__":
    sys.exit(main())
