"""embstore: memory-mapped embedding tables, from Python.

    import embstore, numpy as np
    embstore.build("words.emb", {"words": np.random.rand(1000, 64)}, dtype="f16")
    with embstore.open("words.emb") as store:
        t = store["words"]
        rows = t.lookup(np.array([[3, 17], [42, 0]]))    # float32, shape (2, 2, 64)

A pure-Python layer (ctypes) over the shared library libembstore.so.0, found through EMBSTORE_LIBRARY, then
beside this package, then a build tree (../build from a source checkout), then the system loader. docs/PYTHON.md
has the whole story.
"""

import ctypes as _ctypes

import numpy as _np

from ._build import build, create
from ._errors import ClosedError, Error, check as _check
from ._kernels import gather as _gather, rowwise_adagrad_update as _rowwise_adagrad_update, \
    scatter_add as _scatter_add, sgd_update as _sgd_update
from ._lib import C as _C, F32 as _F32, Matrix as _Matrix
from ._set import Set, SetTable, shard, shard_path
from ._store import Store, StoreShard, Table, TableShard

__all__ = ["Store", "Table", "Set", "SetTable", "StoreShard", "TableShard", "Error", "ClosedError", "open",
           "open_set", "shard", "shard_path", "build", "create", "version", "lookup", "scatter_add", "sgd_update",
           "rowwise_adagrad_update", "isa_active", "isa_set", "isa_supported"]

_ISAS = ("scalar", "avx2", "avx512", "neon")


def open(path, writable=False):  # noqa: A001 (the module's verb, like gzip.open)
    """Store(path, writable)."""
    return Store(path, writable)


def open_set(paths, writable=False, verify=False):
    """Set(paths, writable, verify): the files of a sharded set (or one store) served as one store."""
    return Set(paths, writable, verify)


def version():
    """The shared library's version string."""
    return _C.embstore_version().decode()


def _matrix(weights, writing):
    """An embstore_matrix over a 2-D float32 numpy array with contiguous rows (no copy)."""
    if not isinstance(weights, _np.ndarray) or weights.dtype != _np.float32 or weights.ndim != 2:
        raise TypeError("weights must be a 2-D float32 numpy array")
    if weights.shape[1] and weights.strides[1] != 4 or weights.strides[0] < 0:
        raise ValueError("weights must have contiguous rows")
    if writing and not weights.flags.writeable:
        raise ValueError("weights is read-only")
    return _Matrix(weights.ctypes.data, weights.shape[0], weights.strides[0], weights.shape[1], _F32, 0)


def lookup(weights, ids, out=None, threads=None):
    """Table.lookup over a 2-D float32 numpy array of your own: numpy.take(weights, ids, axis=0)."""
    m = _matrix(weights, False)
    return _gather(_ctypes.byref(m), "lookup", weights.shape[0], weights.shape[1], ids, out, threads)


def scatter_add(weights, ids, grads, alpha=1.0, threads=None):
    """weights[ids[i]] += alpha * grads[i] for a 2-D float32 numpy array of your own (duplicates accumulate in
    order, as numpy.add.at does)."""
    m = _matrix(weights, True)
    _scatter_add(_ctypes.byref(m), None, 0, "scatter_add", weights.shape[0], weights.shape[1], ids, grads, alpha,
                 threads)


def sgd_update(weights, ids, grads, lr):
    """Table.sgd_update on a 2-D float32 numpy array of your own."""
    m = _matrix(weights, True)
    _sgd_update(_ctypes.byref(m), None, 0, "sgd_update", weights.shape[0], weights.shape[1], ids, grads, lr)


def rowwise_adagrad_update(weights, state, ids, grads, lr, eps=1e-10, weight_decay=0.0):
    """Table.rowwise_adagrad_update on a 2-D float32 numpy array of your own, with `state` a float32 array of
    one value per row, shape (rows,) or (rows, 1) (zeros to start)."""
    m = _matrix(weights, True)
    if not isinstance(state, _np.ndarray) or state.dtype != _np.float32 or state.size != weights.shape[0] or \
            state.ndim not in (1, 2) or state.ndim == 2 and state.shape[1] != 1:
        raise TypeError(f"state must be a float32 numpy array of shape ({weights.shape[0]},) or "
                        f"({weights.shape[0]}, 1)")
    s = _matrix(state.reshape(-1, 1), True)
    _rowwise_adagrad_update(_ctypes.byref(m), _ctypes.byref(s), None, 0, 0, "rowwise_adagrad_update",
                            weights.shape[0], weights.shape[1], ids, grads, lr, eps, weight_decay)


def isa_active():
    """The kernel set in use: "scalar", "avx2", "avx512" or "neon"."""
    v = _ctypes.c_int()
    _check(_C.embstore_isa_active(_ctypes.byref(v)), "isa_active")
    return _ISAS[v.value]


def isa_supported(name):
    """Whether this build and CPU can run the kernel set `name`."""
    return bool(_C.embstore_isa_supported(_isa_code(name)))


def isa_set(name):
    """Switches every later kernel call of the process to the set `name` (embstore.Error UNSUPPORTED_ISA)."""
    _check(_C.embstore_isa_set(_isa_code(name)), f"isa_set({name!r})")


def _isa_code(name):
    try:
        return _ISAS.index(name)
    except ValueError:
        raise ValueError(f"unknown kernel set {name!r}: one of {', '.join(_ISAS)}") from None
