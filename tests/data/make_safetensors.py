#!/usr/bin/env python3
"""Writes the safetensors and .npz fixtures of tests/test_safetensors.c and tests/test_npz.c into this directory,
and the seed corpora of the fuzz targets fuzz_safetensors and fuzz_npz (tests/fuzz/corpus/*/seed-*).

Run with Debian's python3 and python3-numpy:  python3 tests/data/make_safetensors.py
The files are committed; rerun only to change them, and update the tests with them.

Debian has no safetensors package, so the .safetensors files are written here from the format's description with
json, struct and numpy: an 8-byte little-endian header length, the JSON header padded with spaces to a multiple of
8 bytes as the reference implementation writes it, then the tensors' bytes. The good .npz files come from numpy's
own savez and savez_compressed; the hostile ones from zipfile, with the bytes a test needs changed afterwards.

Every table value is value(r, c, salt) below, which f16 and bf16 hold exactly; the tests recompute it.
"""
import io
import json
import os
import struct
import sys
import warnings
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def values(rows, cols, salt):
    r = np.arange(rows).reshape(-1, 1)
    c = np.arange(cols).reshape(1, -1)
    return (((r * 7 + c * 3 + salt) % 41) - 20) * 0.25


def bf16_bytes(a):
    """bfloat16 little-endian bytes of float32 values that bf16 holds exactly (the top half of each)."""
    bits = np.ascontiguousarray(a, dtype="<f4").view("<u4")
    assert np.all(bits & 0xFFFF == 0), "not exact in bf16"
    return (bits >> 16).astype("<u2").tobytes()


def safetensors(path, tensors, metadata):
    """tensors: (name, dtype, shape, bytes) in data order; the header lists them in sorted-key order."""
    header, offset = {}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in tensors:
            f.write(data)


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def npy_header_only(dtype, shape):
    """A .npy header announcing `shape` without its data."""
    return npy_bytes(np.zeros(shape, dtype=dtype))[: -int(np.prod(shape)) * np.dtype(dtype).itemsize or None]


def writestr_dated(z):
    """z.writestr with a fixed date, so that the archive's bytes do not depend on when it was made."""
    plain = z.writestr

    def writestr(name, data, method):
        plain(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, method)

    return writestr


# Where a member's local header and its central directory entry keep its flags, its two sizes and its name.
ZIP_HEADERS = (
    (b"PK\x03\x04", {"flags": 6, "sizes": 18, "name_len": 26, "name": 30}),
    (b"PK\x01\x02", {"flags": 8, "sizes": 20, "name_len": 28, "name": 46}),
)


def member_headers(raw, name):
    """The local header and the central directory entry of member `name`: (offset, offsets of its fields) each."""
    encoded = name.encode()
    for sig, at in ZIP_HEADERS:
        pos = raw.find(sig)
        while pos >= 0:
            (name_len,) = struct.unpack_from("<H", raw, pos + at["name_len"])
            if bytes(raw[pos + at["name"] : pos + at["name"] + name_len]) == encoded:
                yield pos, at
            pos = raw.find(sig, pos + 4)


def set_flag(raw, name, bit):
    """Sets a general-purpose flag bit of member `name` in its local header and its central directory entry."""
    raw = bytearray(raw)
    for pos, at in member_headers(raw, name):
        (flag,) = struct.unpack_from("<H", raw, pos + at["flags"])
        struct.pack_into("<H", raw, pos + at["flags"], flag | bit)
    return bytes(raw)


def set_sizes(raw, name, size):
    """Sets the compressed and uncompressed sizes of member `name` in its local header and directory entry."""
    raw = bytearray(raw)
    for pos, at in member_headers(raw, name):
        struct.pack_into("<II", raw, pos + at["sizes"], size, size)
    return bytes(raw)


def main():
    # A file with every kind of tensor the importer meets: the four table dtypes, a 1-D tensor, a dtype that cannot be
    # a table, a tensor with no rows; data in an order that is neither the header's nor the names'.
    f32 = values(5, 4, 1).astype("<f4")
    safetensors(
        os.path.join(HERE, "tables.safetensors"),
        [
            ("z.f64", "F64", (2, 5), values(2, 5, 4).astype("<f8").tobytes()),
            ("a.f32", "F32", (5, 4), f32.tobytes()),
            ("bias", "F32", (4,), values(1, 4, 5).astype("<f4").tobytes()),
            ("m.f16", "F16", (3, 8), values(3, 8, 2).astype("<f2").tobytes()),
            ("m.bf16", "BF16", (4, 3), bf16_bytes(values(4, 3, 3))),
            ("ids", "I64", (3, 2), np.arange(6, dtype="<i8").tobytes()),
            ("none", "F32", (0, 4), b""),
        ],
        {"format": "pt", "source": "tests/data/make_safetensors.py"},
    )

    arrays = {
        "a": values(6, 3, 1).astype("<f4"),
        "h": values(4, 2, 2).astype("<f2"),
        "d": values(3, 3, 3).astype("<f8"),
        "v": values(1, 5, 4).astype("<f4").reshape(5),
        "i": np.arange(4, dtype="<i4").reshape(2, 2),
    }
    np.savez(os.path.join(HERE, "arrays.npz"), **arrays)
    np.savez_compressed(os.path.join(HERE, "arrays_deflated.npz"), **arrays)

    # Hostile members, one case each; "good" is a sound member beside them.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        deflated = zipfile.ZIP_DEFLATED
        z.writestr = writestr_dated(z)
        z.writestr("good.npy", npy_bytes(values(2, 3, 1).astype("<f4")), deflated)
        z.writestr("notes.txt", b"not an array\n", deflated)
        # The header says 4 rows; the member holds 2.
        z.writestr("short.npy", npy_header_only("<f4", (4, 3)) + values(2, 3, 1).astype("<f4").tobytes(), deflated)
        # The header says 2 rows; the member inflates to 100000 (1.2 MB from about a kilobyte).
        z.writestr("long.npy", npy_header_only("<f4", (2, 3)) + bytes(100000 * 12), deflated)
        # Stored; its last data byte is changed below, so its CRC-32 no longer matches.
        z.writestr("badcrc.npy", npy_bytes(values(2, 3, 1).astype("<f4")), zipfile.ZIP_STORED)
        z.writestr("bzip2.npy", npy_bytes(values(2, 3, 1).astype("<f4")), zipfile.ZIP_BZIP2)
        z.writestr("secret.npy", npy_bytes(values(2, 3, 1).astype("<f4")), zipfile.ZIP_STORED)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked to write
            z.writestr("twice.npy", npy_bytes(values(2, 3, 1).astype("<f4")), deflated)
            z.writestr("twice.npy", npy_bytes(values(2, 3, 2).astype("<f4")), deflated)
        # Stored and last; its sizes are changed below to run past the end of the archive.
        z.writestr("cut.npy", npy_bytes(values(2, 3, 1).astype("<f4")), zipfile.ZIP_STORED)
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("badcrc.npy")
    (name_len, extra_len) = struct.unpack_from("<HH", raw, info.header_offset + 26)
    last = info.header_offset + 30 + name_len + extra_len + info.compress_size - 1
    raw[last] ^= 0x40
    raw = set_flag(bytes(raw), "secret.npy", 1)  # "encrypted", which minizip alone would not refuse
    raw = set_sizes(raw, "cut.npy", 1000000)
    with open(os.path.join(HERE, "hostile.npz"), "wb") as f:
        f.write(raw)

    write_seeds()


def write_seeds():
    """Small inputs for the fuzzers to start from: the fixtures, and safetensors files with no tensor, metadata
    only, one tensor of each table dtype, a sub-byte dtype and a scalar."""
    corpus = os.path.join(HERE, "..", "fuzz", "corpus")
    st, npz = os.path.join(corpus, "safetensors"), os.path.join(corpus, "npz")
    os.makedirs(st, exist_ok=True)
    os.makedirs(npz, exist_ok=True)
    for name in os.listdir(st) + os.listdir(npz):
        if name.startswith("seed-"):
            os.remove(os.path.join(st if name.endswith(".safetensors") else npz, name))
    for name in ("arrays.npz", "arrays_deflated.npz", "hostile.npz"):
        with open(os.path.join(HERE, name), "rb") as src, open(os.path.join(npz, "seed-" + name), "wb") as dst:
            dst.write(src.read())
    with open(os.path.join(HERE, "tables.safetensors"), "rb") as src:
        with open(os.path.join(st, "seed-tables.safetensors"), "wb") as dst:
            dst.write(src.read())
    safetensors(os.path.join(st, "seed-empty.safetensors"), [], None)
    safetensors(os.path.join(st, "seed-meta.safetensors"), [], {"k": "v", "empty": ""})
    safetensors(
        os.path.join(st, "seed-dtypes.safetensors"),
        [
            ("h", "F16", (2, 3), values(2, 3, 1).astype("<f2").tobytes()),
            ("b", "BF16", (1, 4), bf16_bytes(values(1, 4, 2))),
            ("d", "F64", (3, 1), values(3, 1, 3).astype("<f8").tobytes()),
            ("f", "F32", (2, 2), values(2, 2, 4).astype("<f4").tobytes()),
        ],
        {"format": "pt"},
    )
    safetensors(
        os.path.join(st, "seed-odd.safetensors"),
        [("q", "F4", (2, 3), b"\x12\x34\x56"), ("s", "I32", (), b"\x07\x00\x00\x00"), ("e", "U8", (0,), b"")],
        None,
    )


if __name__ == "__main__":
    sys.exit(main())
