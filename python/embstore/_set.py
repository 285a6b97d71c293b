"""Set and SetTable: the files of a sharded set opened together on one machine, served over global ids as the
unsharded store would be (include/embstore.h, "Sharded sets"); and shard(), which splits a store into a set.

Lifetime as for Store (_store.py): the C handle belongs to a _SetHandle, closed by its finalizer when the last
reference goes; a Set holds it until close(), a SetTable holds its Set, and every call holds the handle in a
local variable for its duration, so no call runs on a closed set.
"""

import os
import threading
import weakref
from ctypes import byref, c_char_p, c_size_t, c_void_p, create_string_buffer

import numpy as np

from . import _kernels
from ._errors import ClosedError, check
from ._lib import C, OPEN_VERIFY, OPEN_WRITABLE, SHARD_BY_ROWS, SHARD_BY_TABLE, STATUS_ID_OUT_OF_RANGE, SetInfo, \
    SetTableInfo
from ._store import DTYPE_NAMES, SHARD_BY, Store



def _close_set(handle):
    C.embstore_set_close(handle)


class _SetHandle:
    """Owns one embstore_set; embstore_set_close runs once, when the last reference goes (not at interpreter exit,
    as for a store's mapping)."""
    __slots__ = ("handle", "__weakref__")

    def __init__(self, handle):
        self.handle = handle
        weakref.finalize(self, _close_set, handle).atexit = False


def _path_list(paths):
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise ValueError("a set needs at least one path")
    return out


class Set:
    """The files of a sharded set (any order), or one ordinary store as a set of one. Set(paths) opens them
    read-only; writable=True maps every shard shared read-write (scatter_add, sync), verify=True checks every
    shard's data checksums. A context manager: leaving the `with` block closes it."""

    def __init__(self, paths, writable=False, verify=False):
        self.writable = bool(writable)
        given = _path_list(paths)
        flags = (OPEN_WRITABLE if self.writable else 0) | (OPEN_VERIFY if verify else 0)
        encoded = (c_char_p * len(given))(*(os.fsencode(p) for p in given))
        handle = c_void_p()
        st = C.embstore_set_open(encoded, len(given), flags, byref(handle))
        check(st, f"open set of {len(given)} file(s)", _failed_path(given))
        self._handle = _SetHandle(handle.value)
        info = SetInfo()
        C.embstore_set_get_info(handle.value, byref(info))
        self.shard_count = info.shard_count
        self.set_id = info.shard.set_id.decode() or None
        self.by = SHARD_BY.get(info.shard.by)
        self.paths = [os.fsdecode(C.embstore_set_path(handle.value, i)) for i in range(info.shard_count)]
        tables = {}
        for i in range(info.table_count):
            raw = SetTableInfo()
            check(C.embstore_set_table_at(handle.value, i, byref(raw)), "set table")
            t = SetTable(self, raw)
            tables[t.name] = t
        self._tables = tables
        self._lock = threading.Lock()  # one writer at a time (scatter_add, sync)

    def _live(self):
        h = self._handle
        if h is None:
            raise ClosedError(f"set {self._name()} is closed")
        return h

    def _name(self):
        return self.set_id or repr(self.paths[0])

    def close(self):
        """Closes every shard: every later call on the set or its tables raises ClosedError. Closing twice is
        allowed. Unsynced updates are not synced (call sync() first)."""
        self._handle = None

    @property
    def closed(self):
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else ("writable" if self.writable else "read-only")
        return f"<embstore.Set {self._name()}: {self.shard_count} shard(s) ({state})>"

    @property
    def tables(self):
        """The table names, in the set's order (the order of the store it was split from)."""
        return list(self._tables)

    def __getitem__(self, name):
        try:
            return self._tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r} in set {self._name()} (tables: {', '.join(self._tables)})") \
                from None

    def __contains__(self, name):
        return name in self._tables

    def __iter__(self):
        return iter(self._tables)

    def __len__(self):
        return len(self._tables)

    def sync(self):
        """Commits the updates made since the last sync on every shard, in index order (stops at the first
        failure). Writable sets only: embstore.Error READ_ONLY otherwise."""
        h = self._live()
        with self._lock:
            check(C.embstore_set_sync(h.handle), f"sync set {self._name()}")

    def merge(self, path):
        """Writes the whole set as one ordinary store at `path` (atomically, as a build; an existing file is
        replaced). A set made by shard() merges back to the bytes of the store it was split from."""
        h = self._live()
        path = os.fspath(path)
        check(C.embstore_set_merge(h.handle, os.fsencode(path)), f"merge set {self._name()} into {path!r}", path)


def _failed_path(paths):
    """The first of `paths` that cannot be read, for the filename of an OSError: the library's detail names it
    too, but the exception's attribute is what a program tests."""
    for p in paths:
        if not os.access(p, os.R_OK):
            return p
    return paths[0] if len(paths) == 1 else None


def set_table_fields(t, raw):
    """A set's table as Python sees it, from embstore_set_table (also embstore.mpi's tables)."""
    t.name = raw.name.decode()
    t.index = raw.index
    t.rows = raw.rows
    t.dim = raw.dim
    t.dtype = DTYPE_NAMES.get(raw.dtype, str(raw.dtype))
    t.has_vocab = bool(raw.has_vocab)
    t.parts = raw.parts
    t._label = f"table {t.name!r}"


class SetTable:
    """One table of a Set, over global ids: `name`, `rows` (in the whole set), `dim`, `dtype`, `has_vocab`,
    `parts` (the shards holding a part of it), `index` (its position in the set)."""

    __slots__ = ("_set", "name", "index", "rows", "dim", "dtype", "has_vocab", "parts", "_label")

    def __init__(self, owner, raw):
        self._set = owner
        set_table_fields(self, raw)

    def __repr__(self):
        return f"<embstore.SetTable {self.name!r}: {self.rows} x {self.dim} {self.dtype} in {self.parts} part(s)>"

    @property
    def set(self):
        return self._set

    def _failed(self, st, bad, ids):
        if st == STATUS_ID_OUT_OF_RANGE:
            raise _kernels.bad_id(self._label, self.rows, ids, bad.value)
        check(st, self._label)

    def lookup(self, ids, out=None):
        """The rows of global `ids` (int32 or int64, any shape) as float32 of shape ids.shape + (dim,), equal bit
        for bit to Table.lookup on the unsharded store. `out`: a C-contiguous float32 array of that shape to fill
        and return. An id out of range raises IndexError naming it and its position; nothing is written then."""
        h = self._set._live()
        ids, code = _kernels.ids_arg(ids)
        out = _kernels.out_arg(out, ids.shape + (self.dim,))
        bad = c_size_t()
        st = C.embstore_set_gather(h.handle, self.index, _kernels.address(ids), code, ids.size,
                                   _kernels.address(out), byref(bad))
        if st:
            self._failed(st, bad, ids)
        return out

    def bag(self, ids, offsets=None, mode="sum", per_sample_weights=None, include_last_offset=False, out=None):
        """Embedding bag over global ids, with Table.bag's conventions (torch.nn.functional.embedding_bag's), equal
        bit for bit to Table.bag on the unsharded store (each bag folded in its id order). Returns float32
        (bags, dim)."""
        h = self._set._live()
        mode_code = _kernels.bag_mode(mode)
        ids, code = _kernels.ids_arg(ids)
        weights = None
        if per_sample_weights is not None:
            weights = _kernels.f32_arg(per_sample_weights, ids.shape, "per_sample_weights")
        flat, csr = _kernels.bag_offsets(ids, offsets, include_last_offset)
        n_bags = csr.size - 1
        out = _kernels.out_arg(out, (n_bags, self.dim))
        bad = c_size_t()
        st = C.embstore_set_gather_bag(h.handle, self.index, _kernels.address(flat), code, flat.size,
                                       _kernels.address(csr), n_bags,
                                       None if weights is None else _kernels.address(weights), mode_code,
                                       _kernels.address(out), byref(bad))
        if st:
            self._failed(st, bad, ids)
        return out

    def scatter_add(self, ids, grads, alpha=1.0):
        """table[ids[i]] += alpha * grads[i] on the shards owning the rows, duplicates accumulating in order as in
        the unsharded store; marks the rows for the set's sync(). f32 tables of writable sets (embstore.Error
        READ_ONLY, BAD_DTYPE); every id is checked first: a bad one raises IndexError and changes nothing."""
        s = self._set
        h = s._live()
        ids, code = _kernels.ids_arg(ids)
        grads = _kernels.f32_arg(grads, ids.shape + (self.dim,), "grads")
        bad = c_size_t()
        with s._lock:
            st = C.embstore_set_scatter_add(h.handle, self.index, _kernels.address(ids), code, ids.size,
                                            _kernels.address(grads), float(alpha), byref(bad))
        if st:
            self._failed(st, bad, ids)

    def sync(self):
        """The set's sync() (every shard)."""
        self._set.sync()

    # Vocabulary: each part of the table asked in turn.

    def find(self, key):
        """The global row of `key` (str or bytes), or None when no part's vocabulary has it.
        embstore.Error NO_VOCAB when the table has no vocabulary."""
        h = self._set._live()
        return _kernels.find_key(C.embstore_set_find_key, h.handle, self.index, self._label, key)

    def key(self, row):
        """The key of global `row`, as str."""
        h = self._set._live()
        return _kernels.key_of(C.embstore_set_key, h.handle, self.index, self._label, self.rows, row)

    def lookup_keys(self, keys, out=None):
        """The rows of `keys` (str or bytes) as float32 (len(keys), dim), like Table.lookup_keys. A key in no
        part's vocabulary raises KeyError naming it and its position."""
        keys = list(keys)
        rows = np.empty(len(keys), np.int64)
        for i, k in enumerate(keys):
            r = self.find(k)
            if r is None:
                raise KeyError(f"{self._label}: key {k!r} at position {i} is not in the vocabulary")
            rows[i] = r
        return self.lookup(rows, out)


def shard(store, out, count, by="rows", wait=False):
    """Splits `store` (a Store, or the path of an ordinary store) into `count` shards named OUT-00000-of-0000N.emb
    ... after `out`, each an ordinary store with the shard keys of docs/FORMAT.md; returns their paths in index
    order. `by`: 'rows' (every table cut into row ranges) or 'table' (whole tables spread by size). All or
    nothing: on any error no new shard is left. `wait`: wait for another writer of a shard's path instead of
    failing with LOCKED."""
    codes = {"rows": SHARD_BY_ROWS, "table": SHARD_BY_TABLE}
    if by not in codes:
        raise ValueError(f"by must be 'rows' or 'table', not {by!r}")
    count = int(count)
    out = os.fspath(out)
    if isinstance(store, Store):
        s, own = store, False
    else:
        s, own = Store(store), True
    try:
        m = s._live()
        check(C.embstore_shard_split(m.handle, os.fsencode(out), count, codes[by], 1 if wait else 0),
              f"shard {s.path!r} into {count}", out)
    finally:
        if own:
            s.close()
    return [shard_path(out, i, count) for i in range(count)]


def shard_path(out, index, count):
    """The name of shard `index` of `count` for the output `out` (embstore_shard_path):
    "x.emb" -> "x-00002-of-00004.emb"."""
    enc = os.fsencode(os.fspath(out))
    n = C.embstore_shard_path(enc, int(index), int(count), None, 0)
    if n == 0:
        raise ValueError(f"no shard {index} of {count} (0 <= index < count <= 65536)")
    buf = create_string_buffer(n + 1)
    C.embstore_shard_path(enc, int(index), int(count), buf, n + 1)
    return os.fsdecode(buf.value)
