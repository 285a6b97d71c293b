"""embstore.build: writing a store through the library's streaming writer."""

import errno
import itertools
import os
from ctypes import byref, c_char_p, c_size_t, c_void_p

import numpy as np

from ._errors import Error, check
from ._lib import BF16, C, F16, F32, INIT_NORMAL, INIT_UNIFORM, INIT_ZEROS, INT8, Init

BATCH_ROWS = 65536  # rows per append when a whole array is given: bounds the memory of a float64 conversion
_STATUS_RANGE = 22

_DTYPES = {"f32": F32, "float32": F32, "f16": F16, "float16": F16, "bf16": BF16, "bfloat16": BF16, "int8": INT8}
_SOURCE = {np.dtype("<f4"): F32, np.dtype("<f2"): F16}


def table_dtype(d):
    """The table dtype code for "f32" / "f16" / "bf16" / "int8" (or float32, float16, "bfloat16")."""
    if isinstance(d, str):
        key = d
    else:
        try:
            key = np.dtype(d).name
        except TypeError:
            key = None
    code = _DTYPES.get(key)
    if code is None:
        raise TypeError(f"unsupported table dtype {d!r}: use 'f32', 'f16', 'bf16' or 'int8'")
    return code


def _source(batch, label, first_row):
    """(C-contiguous array the writer takes, its source dtype code). float64 is rounded to nearest float32, as
    the library does with .npy files; a finite value beyond float32's range is refused (RANGE), like there."""
    a = np.asarray(batch)
    if a.ndim != 2:
        raise ValueError(f"{label}: a batch must be 2-D (rows, dim), not of shape {a.shape}")
    code = _SOURCE.get(a.dtype)
    if code is None:
        if a.dtype != np.float64:
            raise TypeError(f"{label}: unsupported input dtype {a.dtype}: give float32, float16 or float64")
        with np.errstate(over="ignore"):
            f = a.astype(np.float32)
        over = np.isinf(f) & np.isfinite(a)
        if over.any():
            r, c = (int(i) for i in np.argwhere(over)[0])
            raise Error(_STATUS_RANGE, label, f"row {first_row + r}, column {c}: {a[r, c]!r} does not fit f32")
        a, code = f, F32
    return np.ascontiguousarray(a), code


def _batches(source):
    """(declared rows or 0, iterator of 2-D batches)."""
    if isinstance(source, np.ndarray) or hasattr(source, "__array__"):
        a = np.asarray(source)
        if a.ndim != 2:
            raise ValueError(f"a table must be 2-D (rows, dim), not of shape {a.shape}")
        return a.shape[0], (a[lo:lo + BATCH_ROWS] for lo in range(0, a.shape[0], BATCH_ROWS))
    return 0, iter(source)


def _encode_key(k):
    b = k.encode() if isinstance(k, str) else bytes(k)
    return b


def _write_table(w, path, name, source, dtype, keys):
    label = f"build {path!r}: table {name!r}"
    rows, batches = _batches(source)
    first = next(batches, None)
    if first is None:
        raise ValueError(f"{label}: no rows (a table needs at least one)")
    a, src = _source(first, label, 0)
    dim = a.shape[1]
    code = table_dtype(dtype) if dtype is not None else src
    check(C.embstore_writer_begin_table(w, name.encode(), code, rows, dim), label, path)
    key_iter = None if keys is None else iter(keys)
    done = 0
    while a is not None:
        if a.shape[1] != dim:
            raise ValueError(f"{label}: a batch has {a.shape[1]} columns, the first had {dim}")
        n = a.shape[0]
        if key_iter is None:
            check(C.embstore_writer_append(w, a.ctypes.data, src, n, 0), label, path)
        else:
            ks = [_encode_key(k) for k in itertools.islice(key_iter, n)]
            if len(ks) < n:
                raise ValueError(f"{label}: {done + len(ks)} keys for more rows")
            ptrs = (c_char_p * n)(*ks)
            lens = (c_size_t * n)(*(len(k) for k in ks))
            check(C.embstore_writer_append_keyed(w, a.ctypes.data, src, n, 0, ptrs, lens), label, path)
        done += n
        b = next(batches, None)
        a, src = (None, None) if b is None else _source(b, label, done)
    if key_iter is not None and next(key_iter, None) is not None:
        raise ValueError(f"{label}: more keys than its {done} rows")


def _text(s, what):
    b = s.encode() if isinstance(s, str) else bytes(s)
    if b"\0" in b:
        raise ValueError(f"{what} {s!r} contains a zero byte")
    return b


def build(path, tables, dtype=None, metadata=None, keys=None, overwrite=False):
    """Writes a store at `path` from `tables`, {name: 2-D array, or iterable of 2-D batches (rows, dim)}, in
    order, streaming: batches are appended as they come, and a whole array in slices of 65,536 rows, so memory
    does not grow with the table. Input float32 and float16 are taken as they are; float64 is rounded to nearest
    float32 (a finite value beyond float32's range: embstore.Error RANGE); any other dtype is a TypeError.
    dtype: what the tables store, "f32", "f16", "bf16" or "int8" (one for all, or {name: dtype}); by default the
    input's (float64: f32). metadata: {key: value} of str. keys: {name: sequence of str or bytes}, one per row,
    giving that table a vocabulary. The file appears atomically when everything is written; nothing is left on
    failure. overwrite=False refuses an existing path (FileExistsError)."""
    path = os.fspath(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "file exists (overwrite=True replaces it)", path)
    keys = keys or {}
    unknown = set(keys) - set(tables)
    if unknown:
        raise ValueError(f"keys given for tables that are not built: {', '.join(map(repr, sorted(unknown)))}")
    w = c_void_p()
    check(C.embstore_writer_create(os.fsencode(path), byref(w)), f"build {path!r}", path)
    try:
        for k, v in (metadata or {}).items():
            check(C.embstore_writer_add_meta(w, _text(k, "metadata key"), _text(v, "metadata value")),
                  f"build {path!r}: metadata {k!r}", path)
        for name, source in tables.items():
            d = dtype.get(name) if isinstance(dtype, dict) else dtype
            _write_table(w, path, name, source, d, keys.get(name))
        check(C.embstore_writer_finish(w), f"build {path!r}", path)
    finally:
        C.embstore_writer_free(w)


_INITS = {"normal": INIT_NORMAL, "uniform": INIT_UNIFORM, "zeros": INIT_ZEROS}


def _init_arg(init, std, scale, seed):
    """The embstore_init of create(), with the CLI's rules: --std belongs to normal, --scale to uniform (which
    needs it)."""
    kind = _INITS.get(init)
    if kind is None:
        raise ValueError(f"init must be 'normal', 'uniform' or 'zeros', not {init!r}")
    if std is not None and kind != INIT_NORMAL:
        raise ValueError("std applies to init='normal'; init='uniform' takes scale")
    if scale is not None and kind != INIT_UNIFORM:
        raise ValueError("scale applies to init='uniform'; init='normal' takes std")
    if kind == INIT_UNIFORM and scale is None:
        raise ValueError("init='uniform' needs scale (Keras' Embedding uses 0.05)")
    value = float(std if kind == INIT_NORMAL and std is not None else scale if scale is not None else 1.0)
    seed = int(seed)
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be from 0 to 2**64 - 1, not {seed}")
    return Init(kind, value, seed)


def create(path, name, rows, dim, dtype="f32", init="normal", std=None, scale=None, seed=0, adagrad_state=False,
           overwrite=False):
    """Writes a store holding one fresh table `name` of `rows` x `dim` values drawn at random, as an Embedding
    layer starts: the same bytes as `embstore create` with the same arguments (the library's
    embstore_writer_init_table, in bounded memory whatever the size; row r depends only on the seed and r).
    init: "normal" (mean 0, standard deviation `std`, default 1 as torch.nn.Embedding), "uniform" (on
    [-scale, scale); `scale` required) or "zeros". dtype: "f32", "f16", "bf16" or "int8". adagrad_state: also
    write the table name + ".adagrad_state", rows x 1 f32 zeros, the state of row-wise Adagrad
    (embstore.torch.RowWiseAdagrad finds it there). overwrite=False refuses an existing path (FileExistsError)."""
    path = os.fspath(path)
    code = table_dtype(dtype)
    spec = _init_arg(init, std, scale, seed)
    rows, dim = int(rows), int(dim)
    if rows <= 0 or not 0 < dim < 1 << 32:
        raise ValueError(f"rows and dim must be positive (dim below 2**32), not {rows} and {dim}")
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "file exists (overwrite=True replaces it)", path)
    label = f"create {path!r}"
    w = c_void_p()
    check(C.embstore_writer_create(os.fsencode(path), byref(w)), label, path)
    try:
        # What `embstore create` writes, so that both give the same bytes.
        creator = "embstore " + C.embstore_version().decode()
        check(C.embstore_writer_add_meta(w, b"creator", creator.encode()), label, path)
        check(C.embstore_writer_init_table(w, _text(name, "table name"), code, rows, dim, byref(spec)),
              f"{label}: table {name!r}", path)
        if adagrad_state:
            state = name + ".adagrad_state"
            zeros = Init(INIT_ZEROS, 0, 0)
            check(C.embstore_writer_init_table(w, _text(state, "table name"), F32, rows, 1, byref(zeros)),
                  f"{label}: table {state!r}", path)
        check(C.embstore_writer_finish(w), label, path)
    finally:
        C.embstore_writer_free(w)
