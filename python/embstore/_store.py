"""Store and Table: an open store file and its tables.

Lifetime. The C handle (the mapping) belongs to a _Mapping object. A Store holds it until close(); every numpy
array taken from the store holds it through its `base` chain (array -> _View -> _Mapping); a kernel call holds it
in a local variable for the duration of the call. The mapping is unmapped when the last of these goes, by the
_Mapping's finalizer, so no array can outlive the memory it shows and no call can run on a closed handle, in any
order of calls and from any threads. A closed Store, and each of its tables, refuse every further call
(ClosedError).
"""

import collections
import os
import threading
import weakref
from ctypes import byref, c_char_p, c_size_t, c_uint32, c_uint64, c_void_p

import numpy as np

from . import _kernels
from ._errors import ClosedError, check
from ._lib import BF16, C, F16, F32, INT8, OPEN_WRITABLE, SHARD_BY_ROWS, SHARD_BY_TABLE, SHARD_NONE, \
    STATUS_NOT_FOUND, STATUS_UNKNOWN_KEY, Matrix, ShardInfo, StoreInfo, TableInfo

DTYPE_NAMES = {F32: "f32", F16: "f16", BF16: "bf16", INT8: "int8"}
SHARD_BY = {SHARD_NONE: None, SHARD_BY_ROWS: "rows", SHARD_BY_TABLE: "table"}

StoreShard = collections.namedtuple("StoreShard", "set_id index count tables by")
StoreShard.__doc__ = """A shard's place in its set (docs/FORMAT.md, "Sharded sets"): the set id (32 hex digits),
this shard's index of `count`, the tables in the whole set, and the split, 'rows' or 'table'."""

TableShard = collections.namedtuple("TableShard", "position first total")
TableShard.__doc__ = """Where a table of a shard lies in its set: its position among the set's tables, the global
row of its row 0, and its rows in the whole set."""


def _close_handle(handle):
    C.embstore_close(handle)


class _Mapping:
    """Owns one embstore handle; embstore_close runs once, when the last reference goes. Not at interpreter exit:
    a daemon thread or a late destructor may still read an array then, and the process' end unmaps anyway."""
    __slots__ = ("handle", "__weakref__")

    def __init__(self, handle):
        self.handle = handle
        weakref.finalize(self, _close_handle, handle).atexit = False


class _View:
    """What a numpy array taken from a store rests on: numpy reads __array_interface__ and keeps this object as
    the array's base, and this object keeps the mapping."""
    __slots__ = ("__array_interface__", "_mapping")

    def __init__(self, mapping, address, nbytes, readonly):
        self._mapping = mapping
        self.__array_interface__ = {"version": 3, "data": (address, readonly), "shape": (nbytes,),
                                    "typestr": "|u1"}


class Store:
    """An embstore file, memory-mapped. Store(path) opens it read-only; Store(path, writable=True) maps it
    shared read-write for training in place (scatter_add, sync) and holds the file's writer lock until the
    mapping goes. A context manager: leaving the `with` block closes it."""

    def __init__(self, path, writable=False):
        self.path = os.fspath(path)
        self.writable = bool(writable)
        handle = c_void_p()
        check(C.embstore_open(os.fsencode(self.path), OPEN_WRITABLE if self.writable else 0, byref(handle)),
              f"open {self.path!r}", self.path)
        self._mapping = _Mapping(handle.value)
        self._lock = threading.Lock()  # the lazy loads below, and one writer at a time (scatter_add, sync)
        self._tables = None
        self._metadata = None

    def _live(self):
        m = self._mapping
        if m is None:
            raise ClosedError(f"store {self.path!r} is closed")
        return m

    def close(self):
        """Closes the store: every later call on it or its tables raises ClosedError. The file is unmapped (and a
        writable store's lock released) once no numpy array taken from it remains; until then those arrays stay
        valid. Closing twice is allowed. Unsynced updates are not synced (call sync() first)."""
        self._mapping = None

    @property
    def closed(self):
        return self._mapping is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else ("writable" if self.writable else "read-only")
        return f"<embstore.Store {self.path!r} ({state})>"

    def _load_tables(self):
        m = self._live()
        with self._lock:
            if self._tables is None:
                info = StoreInfo()
                C.embstore_get_info(m.handle, byref(info))
                tables = {}
                for i in range(info.table_count):
                    raw = TableInfo()
                    check(C.embstore_table_at(m.handle, i, byref(raw)), self.path)
                    t = Table(self, raw)
                    tables[t.name] = t
                self._tables = tables
        return self._tables

    @property
    def tables(self):
        """The table names, in file order."""
        return list(self._load_tables())

    def __getitem__(self, name):
        try:
            return self._load_tables()[name]
        except KeyError:
            raise KeyError(f"no table {name!r} in {self.path!r} (tables: {', '.join(self.tables)})") from None

    def __contains__(self, name):
        return name in self._load_tables()

    def __iter__(self):
        return iter(self.tables)

    def __len__(self):
        return len(self._load_tables())

    @property
    def metadata(self):
        """The metadata as a dict of str -> str (a copy)."""
        m = self._live()
        with self._lock:
            if self._metadata is None:
                info = StoreInfo()
                C.embstore_get_info(m.handle, byref(info))
                meta = {}
                k, v = c_char_p(), c_char_p()
                for i in range(info.meta_count):
                    check(C.embstore_meta_at(m.handle, i, byref(k), byref(v)), self.path)
                    meta[k.value.decode()] = v.value.decode()
                self._metadata = meta
        return dict(self._metadata)

    @property
    def shard(self):
        """None for an ordinary store; for a shard of a set, a StoreShard(set_id, index, count, tables, by).
        Malformed shard keys raise embstore.Error BAD_SET."""
        m = self._live()
        info = ShardInfo()
        st = C.embstore_shard_get(m.handle, byref(info))
        if st == STATUS_NOT_FOUND:
            return None
        check(st, f"shard keys of {self.path!r}")
        return StoreShard(info.set_id.decode(), info.index, info.count, info.tables, SHARD_BY.get(info.by))

    def sync(self):
        """Commits the updates made since the last sync (recomputes the changed chunks' checksums, flushes the
        rows, then the checksums, crash-safely). Writable stores only: embstore.Error READ_ONLY otherwise."""
        m = self._live()
        with self._lock:
            check(C.embstore_sync(m.handle), f"sync {self.path!r}", self.path)

    def verify(self):
        """Reads all table data and checks every checksum; raises embstore.Error naming the first problem."""
        m = self._live()
        check(C.embstore_verify(m.handle, None, None), f"verify {self.path!r}", self.path)


class Table:
    """One table of a Store: `name`, `rows`, `dim`, `dtype` ("f32", "f16", "bf16" or "int8"), `has_vocab`."""

    __slots__ = ("_store", "_matrix", "_mref", "name", "index", "rows", "dim", "dtype", "row_stride",
                 "data_offset", "has_vocab", "_label")

    def __init__(self, store, raw):
        self._store = store
        self._matrix = Matrix.from_buffer_copy(raw.matrix)  # every field the library set, flags included
        self._mref = byref(self._matrix)
        self.name = raw.name.decode()
        self.index = raw.index
        self.rows = raw.matrix.rows
        self.dim = raw.matrix.dim
        self.dtype = DTYPE_NAMES.get(raw.matrix.dtype, str(raw.matrix.dtype))
        self.row_stride = raw.matrix.row_stride
        self.data_offset = raw.data_offset
        self.has_vocab = bool(raw.has_vocab)
        self._label = f"table {self.name!r}"

    def __repr__(self):
        return f"<embstore.Table {self.name!r}: {self.rows} x {self.dim} {self.dtype}>"

    @property
    def store(self):
        return self._store

    @property
    def shard(self):
        """None in an ordinary store; in a shard, a TableShard(position, first, total): the rows of this table
        are the global rows [first, first + rows) of `total`."""
        m = self._store._live()
        pos, first, total = c_uint32(), c_uint64(), c_uint64()
        st = C.embstore_shard_table(m.handle, self.index, byref(pos), byref(first), byref(total))
        if st == STATUS_NOT_FOUND:
            return None
        check(st, self._label)
        return TableShard(pos.value, first.value, total.value)

    def array(self):
        """The rows as a numpy array over the mapping, no copy; writeable only when the store is. A table of
        dtype f32 gives float32 (rows, dim), f16 float16 (rows, dim), bf16 the raw bits as uint16 (rows, dim)
        (widen with `(a.astype(np.uint32) << 16).view(np.float32)`), int8 a structured array of shape (rows,)
        with fields 'q' (uint8, dim), 'scale' and 'bias' (float32): value = q * scale + bias.
        The array keeps the mapping alive, also after the store is closed."""
        m = self._store._live()
        mat = self._matrix
        view = _View(m, mat.data, mat.rows * mat.row_stride, not self._store.writable)
        raw = np.asarray(view).reshape(mat.rows, mat.row_stride)
        dim = self.dim
        if mat.dtype == INT8:
            fields = np.dtype([("q", np.uint8, (dim,)), ("scale", "<f4"), ("bias", "<f4")])
            return raw[:, :dim + 8].view(fields)[:, 0]
        elem = {F32: np.dtype("<f4"), F16: np.dtype("<f2"), BF16: np.dtype("<u2")}[mat.dtype]
        return raw[:, :dim * elem.itemsize].view(elem)

    def lookup(self, ids, out=None, threads=None, dtype=None):
        """The rows of `ids` (int32 or int64, any shape) as float32 (f16, bf16 and int8 converted), of shape
        ids.shape + (dim,): numpy.take(weights, ids, axis=0). `out`: a C-contiguous array of that shape and of the
        output dtype to write into (and return). `threads`: split over that many POSIX threads (default: this
        thread only). `dtype`: numpy.float16, or 'bfloat16' (bfloat16 codes in a uint16 array, as numpy has no
        bfloat16; a numpy dtype named bfloat16, such as ml_dtypes.bfloat16, gets an array of itself): the float32
        values rounded to nearest even, half the bytes written. An id out of range raises IndexError naming it
        and its position."""
        m = self._store._live()  # noqa: F841 (keeps the mapping for the call)
        return _kernels.gather(self._mref, self._label, self.rows, self.dim, ids, out, threads, dtype)

    def bag(self, ids, offsets=None, mode="sum", per_sample_weights=None, include_last_offset=False, out=None,
            threads=None, dtype=None):
        """Embedding bag with torch.nn.functional.embedding_bag's conventions: 2-D `ids` without offsets are bags
        of equal length; 1-D `ids` with `offsets` (each bag's start, offsets[0] == 0; with include_last_offset
        one more entry, the end of the last bag). mode 'sum', 'mean' or 'max'; per_sample_weights (the shape of
        ids) multiply each row first, in every mode (torch allows them with 'sum' only). An empty bag gives
        zeros. Returns float32 (bags, dim), or as lookup's `dtype` says: the float32 result rounded."""
        m = self._store._live()  # noqa: F841 (keeps the mapping for the call)
        return _kernels.bag(self._mref, self._label, self.rows, self.dim, ids, offsets, mode, per_sample_weights,
                            include_last_offset, out, threads, dtype)

    def scatter_add(self, ids, grads, alpha=1.0, threads=None):
        """table[ids[i]] += alpha * grads[i] in the mapped file (duplicates accumulate in order), and marks the
        rows for the next sync(). f32 tables of writable stores only (embstore.Error READ_ONLY, BAD_DTYPE)."""
        store = self._store
        m = store._live()
        with store._lock:
            _kernels.scatter_add(self._mref, m.handle, self.index, self._label, self.rows, self.dim, ids, grads,
                                 alpha, threads)

    def sgd_update(self, ids, grads, lr):
        """An SGD step in the mapped file: the gradients of each distinct id are summed first (in the order of their
        positions), then its row gets w = w - lr * g (fused, rounded once); marks the rows for the next sync().
        `grads` has the shape ids.shape + (dim,). f32, f16 and bf16 tables of writable stores (embstore.Error
        READ_ONLY, BAD_DTYPE for int8); a bad id raises IndexError and changes nothing."""
        store = self._store
        m = store._live()
        with store._lock:
            _kernels.sgd_update(self._mref, m.handle, self.index, self._label, self.rows, self.dim, ids, grads, lr)

    def rowwise_adagrad_update(self, state, ids, grads, lr, eps=1e-10, weight_decay=0.0):
        """A row-wise Adagrad step (FBGEMM's rowwise_adagrad) in the mapped file: for each distinct id, its
        gradients summed into g (+ weight_decay * w), s += mean(g * g), w -= lr / (sqrt(s) + eps) * g, with s the
        id's row of `state`, a table of the same store of one f32 per row (what create(..., adagrad_state=True)
        makes: store[name + ".adagrad_state"]). Marks the rows of both for the next sync(). Errors as
        sgd_update; a `state` of another store or shape is a ValueError."""
        store = self._store
        if not isinstance(state, Table):
            raise TypeError(f"state must be an embstore.Table, not {type(state).__name__}")
        if state._store is not store:
            raise ValueError(f"{self._label}: the state table {state.name!r} belongs to another Store object")
        if state.dim != 1 or state.rows != self.rows or state.dtype != "f32":
            raise ValueError(f"{self._label}: the state table {state.name!r} is {state.rows} x {state.dim} "
                             f"{state.dtype}; row-wise Adagrad needs {self.rows} x 1 f32")
        m = store._live()
        with store._lock:
            _kernels.rowwise_adagrad_update(self._mref, state._mref, m.handle, self.index, state.index, self._label,
                                            self.rows, self.dim, ids, grads, lr, eps, weight_decay)

    def mark_rows(self, first, count=1):
        """Marks rows [first, first + count) as changed, for the next sync(), after writing them through
        array()."""
        store = self._store
        m = store._live()
        with store._lock:
            check(C.embstore_table_mark_rows(m.handle, self.index, first, count), self._label)

    # Vocabulary (a key per row, found through the hash index in the file).

    def find(self, key):
        """The row of `key` (str or bytes), or None when the vocabulary has no such key.
        embstore.Error NO_VOCAB when the table has no vocabulary."""
        m = self._store._live()
        return _kernels.find_key(C.embstore_table_find_key, m.handle, self.index, self._label, key)

    def key(self, row):
        """The key of `row`, as str."""
        m = self._store._live()
        return _kernels.key_of(C.embstore_table_key, m.handle, self.index, self._label, self.rows, row)

    def lookup_keys(self, keys, out=None):
        """The rows of `keys` (str or bytes) as float32 (len(keys), dim), like lookup. A key not in the
        vocabulary raises KeyError naming it and its position."""
        m = self._store._live()
        keys = list(keys)
        enc = [_kernels.key_bytes(k) for k in keys]
        n = len(enc)
        out = _kernels.out_arg(out, (n, self.dim))
        ptrs = (c_char_p * n)(*enc)
        lens = (c_size_t * n)(*(len(k) for k in enc))
        bad = c_size_t()
        st = C.embstore_gather_keys(m.handle, self.index, ptrs, lens, n, out.ctypes.data, byref(bad))
        if st == STATUS_UNKNOWN_KEY:
            raise KeyError(f"{self._label}: key {keys[bad.value]!r} at position {bad.value} is not in the "
                           f"vocabulary")
        check(st, self._label)
        return out

