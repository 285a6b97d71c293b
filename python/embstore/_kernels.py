"""The kernel calls (gather, embedding bag, scatter-add) over a matrix, shared by Table and the module-level
functions over the caller's own arrays. Each takes the matrix by reference; its caller keeps the memory behind
it alive for the duration of the call (a local reference to the mapping, or to the array)."""

import ctypes
from ctypes import addressof, byref, c_char, c_size_t

import math

import numpy as np

from ._errors import check
from ._lib import BF16, C, F16, F32, ID32, ID64, STATUS_ID_OUT_OF_RANGE, STATUS_UNKNOWN_KEY

_ID_CODES = {np.dtype(np.int64): ID64, np.dtype(np.int32): ID32}
_F32 = np.dtype(np.float32)
BAG_MODES = {"sum": 0, "mean": 1, "max": 2}

_gather = C.embstore_gather
_gather_mt = C.embstore_gather_mt
_gather_bag_mt = C.embstore_gather_bag_mt
_gather_as_mt = C.embstore_gather_as_mt
_gather_bag_as_mt = C.embstore_gather_bag_as_mt
_scatter_add_mt = C.embstore_scatter_add_mt
_table_scatter_add = C.embstore_table_scatter_add


def address(a):
    """The address of a C-contiguous array's data. A ctypes object over the array's buffer costs less than half of
    numpy's a.ctypes.data, which matters for calls of few ids; a read-only or empty array takes the slower way."""
    try:
        return addressof(c_char.from_buffer(a))
    except (TypeError, ValueError):
        return a.ctypes.data


def ids_arg(ids):
    """(C-contiguous int32 or int64 array, its id code). Other integer dtypes are widened to int64."""
    if type(ids) is not np.ndarray:
        ids = np.asarray(ids)
        if ids.size == 0:  # [] is float64 to numpy
            ids = ids.astype(np.int64)
    code = _ID_CODES.get(ids.dtype)
    if code is None:
        if ids.dtype.kind not in "iu":
            raise TypeError(f"ids must be int32 or int64 (or another integer dtype), not {ids.dtype}")
        ids, code = ids.astype(np.int64), ID64
    if not ids.flags.c_contiguous:
        ids = np.ascontiguousarray(ids)
    return ids, code


def f32_arg(a, shape, what):
    """`a` as a C-contiguous float32 array of `shape`; other float dtypes are rounded to float32."""
    a = np.asarray(a)
    if a.dtype != _F32:
        if a.dtype.kind != "f":
            raise TypeError(f"{what} must be float32 (or another float dtype), not {a.dtype}")
        a = a.astype(np.float32)
    if a.shape != shape:
        raise ValueError(f"{what} has shape {a.shape}; expected {shape}")
    return np.ascontiguousarray(a)


_F16 = np.dtype(np.float16)
_U16 = np.dtype(np.uint16)


def out_dtype_arg(dtype):
    """(C dtype code, numpy dtype) of the output lookup and bag write: float32 (None), float16, or bfloat16 as
    'bfloat16' (its 16-bit codes in a uint16 array: numpy has no bfloat16) or a numpy dtype named bfloat16 (such
    as ml_dtypes.bfloat16), which gets the same codes."""
    if dtype is None:
        return F32, _F32
    if isinstance(dtype, str) and dtype == "bfloat16":
        return BF16, _U16
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = None
    if d == _F32:
        return F32, _F32
    if d == _F16:
        return F16, _F16
    if d is not None and d.name == "bfloat16" and d.itemsize == 2:
        return BF16, d
    raise TypeError(f"dtype must be numpy.float32, numpy.float16 or 'bfloat16', not {dtype!r}")


# The output size from which the library's gathers use non-temporal stores (include/embstore.h).
_STREAM_BYTES = 16 << 20


def empty_aligned(shape, dtype=_F32):
    """An uninitialised array, on a 64-byte boundary when it is large enough for the library's large gathers to
    stream whole cache lines to it (numpy aligns large arrays to 16 bytes only); small ones as numpy gives them,
    which costs less per call."""
    dtype = np.dtype(dtype)
    n = math.prod(shape) * dtype.itemsize
    if n < _STREAM_BYTES:
        return np.empty(shape, dtype=dtype)
    raw = np.empty(n + 64, dtype=np.uint8)
    skip = -raw.ctypes.data % 64
    return raw[skip:skip + n].view(dtype).reshape(shape)


def out_arg(out, shape, dtype=_F32):
    if out is None:
        return empty_aligned(shape, dtype)
    if type(out) is not np.ndarray or out.dtype != dtype:
        raise TypeError(f"out must be a {dtype} numpy array")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; expected {shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable")
    return out


def bad_id(label, rows, ids, pos):
    """The IndexError for the id at flat position `pos` of `ids`."""
    where = pos if ids.ndim <= 1 else tuple(int(i) for i in np.unravel_index(pos, ids.shape))
    return IndexError(f"{label}: id {int(ids.reshape(-1)[pos])} at position {where} is out of range "
                      f"(0 <= id < {rows})")


def threads_arg(threads):
    if threads is None:
        return 0
    threads = int(threads)
    if threads < 0:
        raise ValueError("threads must be >= 0")
    return threads


def gather(mref, label, rows, dim, ids, out, threads, dtype=None):
    ids, code = ids_arg(ids)
    out_code, out_dtype = out_dtype_arg(dtype)
    out = out_arg(out, ids.shape + (dim,), out_dtype)
    bad = c_size_t()
    if out_code != F32:
        st = _gather_as_mt(mref, address(ids), code, ids.size, out_code, address(out), byref(bad),
                           threads_arg(threads))
    elif threads is None or threads == 1:
        st = _gather(mref, address(ids), code, ids.size, address(out), byref(bad))
    else:
        st = _gather_mt(mref, address(ids), code, ids.size, address(out), byref(bad), threads_arg(threads))
    if st:
        if st == STATUS_ID_OUT_OF_RANGE:
            raise bad_id(label, rows, ids, bad.value)
        check(st, label)
    return out


def bag_offsets(ids, offsets, include_last_offset):
    """(1-D ids, CSR offsets as int64 with n_bags + 1 entries) following torch.nn.EmbeddingBag: 2-D ids without
    offsets are bags of equal length; 1-D ids with offsets give each bag's start (and, with include_last_offset,
    the end of the last bag as a last entry)."""
    if offsets is None:
        if ids.ndim != 2:
            raise ValueError(f"ids without offsets must be 2-D (bags, ids per bag), not {ids.ndim}-D")
        b, n = ids.shape
        csr = np.arange(b + 1, dtype=np.int64) * n
        return ids.reshape(-1), csr
    if ids.ndim != 1:
        raise ValueError(f"ids with offsets must be 1-D, not {ids.ndim}-D")
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or (offsets.size and offsets.dtype.kind not in "iu"):
        raise TypeError("offsets must be a 1-D array of integers")
    offsets = offsets.astype(np.int64)
    if include_last_offset:
        if offsets.size == 0:
            raise ValueError("with include_last_offset, offsets needs at least one entry")
        csr = offsets
    else:
        csr = np.append(offsets, np.int64(ids.size))
    if csr[0] != 0:
        raise ValueError(f"offsets[0] must be 0, not {int(csr[0])}")
    if csr.size > 1 and (np.diff(csr) < 0).any():
        raise ValueError("offsets must be non-decreasing")
    if include_last_offset and csr[-1] != ids.size:
        # torch sums such bags up to offsets[-1] but divides a mean by the count up to the end: no rule to follow
        raise ValueError(f"with include_last_offset, offsets[-1] must be the number of ids, {ids.size}, "
                         f"not {int(csr[-1])}")
    if csr[-1] > ids.size:
        raise ValueError(f"offsets go up to {int(csr[-1])}, beyond the {ids.size} ids")
    return ids, csr


def bag_mode(mode):
    try:
        return BAG_MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be 'sum', 'mean' or 'max', not {mode!r}") from None


def bag(mref, label, rows, dim, ids, offsets, mode, weights, include_last_offset, out, threads, dtype=None):
    mode_code = bag_mode(mode)
    ids, code = ids_arg(ids)
    if weights is not None:
        weights = f32_arg(weights, ids.shape, "per_sample_weights")
    flat, csr = bag_offsets(ids, offsets, include_last_offset)
    return bag_csr(mref, label, rows, dim, ids, flat, code, csr, mode_code, weights, out, threads, dtype)


def bag_csr(mref, label, rows, dim, ids, flat, code, csr, mode_code, weights, out, threads, dtype=None):
    """The bag kernel on arguments already checked: 1-D C-contiguous `flat` ids of id code `code` (`ids` their
    original shape, for the position of a bad one), CSR int64 offsets `csr` as bag_offsets gives them, float32
    `weights` of flat's size or None; `dtype` as out_dtype_arg takes it."""
    n_bags = csr.size - 1
    out_code, out_dtype = out_dtype_arg(dtype)
    out = out_arg(out, (n_bags, dim), out_dtype)
    bad = c_size_t()
    w = None if weights is None else address(weights)
    if out_code == F32:
        st = _gather_bag_mt(mref, address(flat), code, flat.size, address(csr), n_bags, w, mode_code, address(out),
                            byref(bad), threads_arg(threads))
    else:
        st = _gather_bag_as_mt(mref, address(flat), code, flat.size, address(csr), n_bags, w, mode_code, out_code,
                               address(out), byref(bad), threads_arg(threads))
    if st:
        if st == STATUS_ID_OUT_OF_RANGE:
            raise bad_id(label, rows, ids, bad.value)
        check(st, label)
    return out


def scatter_add(mref, store_handle, index, label, rows, dim, ids, grads, alpha, threads):
    """table[ids[i]] += alpha * grads[i]; through embstore_table_scatter_add when `store_handle` is given (which
    marks the rows for sync), else embstore_scatter_add_mt on the matrix."""
    ids, code = ids_arg(ids)
    grads = f32_arg(grads, ids.shape + (dim,), "grads")
    bad = c_size_t()
    if store_handle is not None:
        st = _table_scatter_add(store_handle, index, address(ids), code, ids.size, address(grads),
                                ctypes.c_float(alpha), byref(bad), threads_arg(threads))
    else:
        st = _scatter_add_mt(mref, address(ids), code, ids.size, address(grads), ctypes.c_float(alpha),
                             byref(bad), threads_arg(threads))
    if st:
        if st == STATUS_ID_OUT_OF_RANGE:
            raise bad_id(label, rows, ids, bad.value)
        check(st, label)


_sgd = C.embstore_sgd_update
_rowwise_adagrad = C.embstore_rowwise_adagrad_update
_table_sgd = C.embstore_table_sgd_update
_table_rowwise_adagrad = C.embstore_table_rowwise_adagrad_update


def _finish(st, bad, label, rows, ids):
    if st:
        if st == STATUS_ID_OUT_OF_RANGE:
            raise bad_id(label, rows, ids, bad.value)
        check(st, label)


def sgd_update(mref, store_handle, index, label, rows, dim, ids, grads, lr):
    """The SGD step of include/embstore.h (duplicates summed first): through embstore_table_sgd_update when
    `store_handle` is given (which marks the rows for sync), else embstore_sgd_update on the matrix."""
    ids, code = ids_arg(ids)
    grads = f32_arg(grads, ids.shape + (dim,), "grads")
    bad = c_size_t()
    lr = ctypes.c_float(lr)
    if store_handle is not None:
        st = _table_sgd(store_handle, index, address(ids), code, ids.size, address(grads), dim, lr, byref(bad))
    else:
        st = _sgd(mref, address(ids), code, ids.size, address(grads), dim, lr, byref(bad))
    _finish(st, bad, label, rows, ids)


def rowwise_adagrad_update(mref, state_ref, store_handle, index, state_index, label, rows, dim, ids, grads, lr,
                           eps, weight_decay):
    """The row-wise Adagrad step of include/embstore.h: the store form when `store_handle` is given (state
    `state_index` of the same store), else the matrix form with the state matrix `state_ref`."""
    ids, code = ids_arg(ids)
    grads = f32_arg(grads, ids.shape + (dim,), "grads")
    bad = c_size_t()
    lr, eps, wd = ctypes.c_float(lr), ctypes.c_float(eps), ctypes.c_float(weight_decay)
    if store_handle is not None:
        st = _table_rowwise_adagrad(store_handle, index, state_index, address(ids), code, ids.size, address(grads),
                                    dim, lr, eps, wd, byref(bad))
    else:
        st = _rowwise_adagrad(mref, state_ref, address(ids), code, ids.size, address(grads), dim, lr, eps, wd,
                              byref(bad))
    _finish(st, bad, label, rows, ids)


# Vocabularies: what Table and SetTable share, over their C calls.

def key_bytes(key):
    """A key as the library takes it: str as UTF-8, anything else as its bytes."""
    return key.encode() if isinstance(key, str) else bytes(key)


def find_key(c_find, handle, index, label, key):
    """The row c_find gives for `key` (embstore_table_find_key or embstore_set_find_key), None when unknown."""
    k = key_bytes(key)
    row = ctypes.c_uint64()
    st = c_find(handle, index, k, len(k), byref(row))
    if st == STATUS_UNKNOWN_KEY:
        return None
    check(st, label)
    return row.value


def key_of(c_key, handle, index, label, rows, row):
    """The key of `row` as str, through c_key (embstore_table_key or embstore_set_key)."""
    row = int(row)
    if not 0 <= row < rows:
        raise IndexError(f"{label}: row {row} is out of range (0 <= row < {rows})")
    ptr, n = ctypes.c_void_p(), c_size_t()
    check(c_key(handle, index, row, byref(ptr), byref(n)), label)
    return ctypes.string_at(ptr.value, n.value).decode()

