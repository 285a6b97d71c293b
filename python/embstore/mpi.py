"""embstore.mpi: a sharded set served by the ranks of an MPI communicator (mpi4py), over libembstore_mpi
(include/embstore_mpi.h). Each rank opens the shard files it holds; lookups, bags and scatter-adds are
collective calls over global ids, each rank with its own ids, and give what the same call on the unsharded store
gives.

    from mpi4py import MPI
    import embstore.mpi
    with embstore.mpi.open(MPI.COMM_WORLD, my_shard_paths) as h:
        rows = h["words"].lookup(my_ids)           # every rank calls, each with its own ids

docs/PYTHON.md, "Across ranks: embstore.mpi", has the whole story.
"""

import os
import threading
import weakref
from ctypes import byref, c_char_p, c_int, c_size_t, c_void_p
from collections import namedtuple

import numpy as np

try:
    from mpi4py import MPI
except ImportError as e:
    raise ImportError("embstore.mpi needs mpi4py (Debian: apt-get install python3-mpi4py; pip: mpi4py), which "
                      f"cannot be imported: {e}") from e

from . import _kernels
from ._errors import ClosedError, Error
from ._lib import ID64, OPEN_VERIFY, OPEN_WRITABLE, STATUS_ID_OUT_OF_RANGE, STATUS_UNKNOWN_KEY, SetTableInfo
from ._mpilib import POOL_ON_OWNER, M, MpiInfo, MpiStats
from ._set import set_table_fields
from ._store import SHARD_BY

__all__ = ["open", "Handle", "Table", "Stats"]

Stats = namedtuple("Stats", "bytes_sent bytes_received collectives")
Stats.__doc__ = """What a rank's handle sent and received since open or reset_stats(): payload bytes of the data
exchanges (its share to itself excluded), and the MPI collective operations it started."""

_NOT_WRITTEN = (1 << 64) - 1  # a bad_index the library did not set: the bad id was another rank's
_NO_TABLE = (1 << 32) - 1  # no set has it: a collective joined with it fails on every rank


def _check(code, context):
    """Raises embstore.Error for a status other than OK, with the MPI library's detail. Every rank gets the same
    status, also when the failure (a file that cannot be opened, an MPI call) was on another rank, so IO is an
    embstore.Error whose detail names the rank and the file, not an OSError about a file this rank may not have."""
    if code:
        raise Error(code, context, M.embstore_mpi_error_detail().decode("utf-8", "replace"))


def _close(handle):
    # The handle frees its duplicated communicator, which MPI allows only between MPI_Init and MPI_Finalize.
    if MPI.Is_initialized() and not MPI.Is_finalized():
        M.embstore_mpi_close(handle)


class _Owned:
    """Owns one embstore_mpi handle, closed once: by close(), or else when the last reference goes, unless MPI is
    finalized by then (the process' end frees it)."""
    __slots__ = ("handle", "close", "__weakref__")

    def __init__(self, handle):
        self.handle = handle
        self.close = weakref.finalize(self, _close, handle)
        self.close.atexit = False


def open(comm, paths, writable=False, verify=False):  # noqa: A001 (the module's verb, like embstore.open)
    """Handle(comm, paths, writable, verify). Collective."""
    return Handle(comm, paths, writable, verify)


class Handle:
    """This rank's shard files (a list of paths, possibly empty) of a set that the ranks of `comm` (an mpi4py
    communicator) hold together, each shard on exactly one rank. Collective: every rank of `comm` opens, with its
    own paths. writable=True opens the files for scatter_add; verify=True checks every data checksum.
    A context manager; close() is collective."""

    def __init__(self, comm, paths, writable=False, verify=False):
        if not isinstance(comm, MPI.Comm):
            raise TypeError(f"comm must be an mpi4py communicator (such as MPI.COMM_WORLD), not "
                            f"{type(comm).__name__}")
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        self.paths = [os.fspath(p) for p in paths]
        self.writable = bool(writable)
        flags = (OPEN_WRITABLE if self.writable else 0) | (OPEN_VERIFY if verify else 0)
        n = len(self.paths)
        arr = (c_char_p * max(n, 1))(*(os.fsencode(p) for p in self.paths))
        handle = c_void_p()
        _check(M.embstore_mpi_open_f(comm.py2f(), arr, n, flags, byref(handle)),
               f"embstore.mpi.open on rank {comm.Get_rank()}")
        self._owned = _Owned(handle.value)
        self._lock = threading.Lock()  # one call at a time per handle (collectives are issued in order)
        info = MpiInfo()
        _check(M.embstore_mpi_get_info(handle.value, byref(info)), "embstore.mpi info")
        self.rank, self.size, self.local_shards = info.rank, info.size, info.local_shards
        self.shard_count = info.set.shard_count
        self.set_id = info.set.shard.set_id.decode() or None
        self.by = SHARD_BY.get(info.set.shard.by)
        tables = {}
        for i in range(info.set.table_count):
            raw = SetTableInfo()
            _check(M.embstore_mpi_table_at(handle.value, i, byref(raw)), "embstore.mpi table")
            t = Table(self, raw)
            tables[t.name] = t
        self._tables = tables

    def _live(self):
        o = self._owned
        if o is None:
            raise ClosedError(f"embstore.mpi handle of set {self.set_id} is closed")
        return o

    def close(self):
        """Collective: every rank closes its handle. Later calls raise ClosedError; closing twice is allowed.
        Unsynced updates are not synced (call sync() first)."""
        with self._lock:  # after a call of another thread, which holds the lock, has returned
            o, self._owned = self._owned, None
            if o is not None:
                o.close()

    @property
    def closed(self):
        return self._owned is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else ("writable" if self.writable else "read-only")
        return (f"<embstore.mpi.Handle set {self.set_id}: rank {self.rank} of {self.size}, "
                f"{self.local_shards} of {self.shard_count} shard(s) here ({state})>")

    @property
    def tables(self):
        """The set's table names, in its order (the same on every rank)."""
        return list(self._tables)

    def __getitem__(self, name):
        try:
            return self._tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r} in set {self.set_id} (tables: {', '.join(self._tables)})") from None

    def __contains__(self, name):
        return name in self._tables

    def __iter__(self):
        return iter(self._tables)

    def __len__(self):
        return len(self._tables)

    def sync(self):
        """Collective: commits the updates on every shard of every rank (embstore.Error READ_ONLY on every rank
        when the files were not opened writable)."""
        with self._lock:
            o = self._live()
            _check(M.embstore_mpi_sync(o.handle), "embstore.mpi sync")

    def stats(self):
        """This rank's Stats since open or reset_stats()."""
        s = MpiStats()
        with self._lock:
            o = self._live()
            _check(M.embstore_mpi_get_stats(o.handle, byref(s)), "embstore.mpi stats")
        return Stats(s.bytes_sent, s.bytes_received, s.collectives)

    def reset_stats(self):
        with self._lock:
            o = self._live()
            M.embstore_mpi_reset_stats(o.handle)


class Table:
    """A table of the set, known on every rank (`name`, `rows` in the whole set, `dim`, `dtype`, `has_vocab`,
    `parts`, `index`). lookup, bag and scatter_add are collective: every rank calls them in the same order on the
    same table, each with its own ids (any number, none included)."""

    __slots__ = ("_handle", "name", "index", "rows", "dim", "dtype", "has_vocab", "parts", "_label")

    def __init__(self, handle, raw):
        self._handle = handle
        set_table_fields(self, raw)

    def __repr__(self):
        return f"<embstore.mpi.Table {self.name!r}: {self.rows} x {self.dim} {self.dtype} in {self.parts} part(s)>"

    @property
    def handle(self):
        return self._handle

    def owner(self, row):
        """The rank holding global row `row`."""
        h = self._handle
        row = int(row)
        if not 0 <= row < self.rows:
            raise IndexError(f"{self._label}: row {row} is out of range (0 <= row < {self.rows})")
        rank = c_int()
        with h._lock:
            o = h._live()
            _check(M.embstore_mpi_owner(o.handle, self.index, row, byref(rank)), self._label)
        return rank.value

    def _args(self, collective, prepare):
        """prepare() (the arguments' checks and conversions), or, when it raises on this rank, the collective
        joined with a table no rank has, so that every other rank gets INVALID_ARGUMENT rather than waiting for
        this one forever; then the error is raised here."""
        h = self._handle
        h._live()  # a closed handle's ClosedError first (a rank that closed early cannot join any more)
        try:
            return prepare()
        except (TypeError, ValueError, OverflowError):
            with h._lock:
                o = h._live()
                collective(o.handle)
            raise

    def _failed(self, st, bad, ids):
        """A bad id gives every rank ID_OUT_OF_RANGE; only the rank whose id it was learns its position."""
        if st == STATUS_ID_OUT_OF_RANGE and bad.value != _NOT_WRITTEN:
            raise _kernels.bad_id(self._label, self.rows, ids, bad.value)
        _check(st, self._label)

    def lookup(self, ids, out=None):
        """Collective. The rows of this rank's global `ids` (int32 or int64, any shape) as float32 of shape
        ids.shape + (dim,), equal bit for bit to Table.lookup on the unsharded store. `out` as for Table.lookup.
        A bad id raises IndexError (its value and position) on its rank and embstore.Error ID_OUT_OF_RANGE on the
        others; nothing is written on any rank."""
        h = self._handle

        def prepare():
            i, c = _kernels.ids_arg(ids)
            return i, c, _kernels.out_arg(out, i.shape + (self.dim,))
        ids, code, out = self._args(lambda hd: M.embstore_mpi_gather(hd, _NO_TABLE, None, ID64, 0, None, None),
                                    prepare)
        bad = c_size_t(_NOT_WRITTEN)
        with h._lock:
            o = h._live()
            st = M.embstore_mpi_gather(o.handle, self.index, _kernels.address(ids), code, ids.size,
                                       _kernels.address(out), byref(bad))
        if st:
            self._failed(st, bad, ids)
        return out

    def bag(self, ids, offsets=None, mode="sum", per_sample_weights=None, include_last_offset=False, out=None,
            pool_on_owner=False):
        """Collective. Embedding bag over this rank's global ids, with Table.bag's conventions; every rank passes
        the same mode and pool_on_owner. By default the rows travel and the bags are pooled here, equal bit for
        bit to Table.bag on the unsharded store. pool_on_owner=True: each owner pools its part of each bag and
        one partial row per (bag, owner) comes back (fewer bytes); equal bit for bit when each bag's rows lie on
        one rank and for max, otherwise sum and mean may differ in the last bits (another order of additions)."""
        h = self._handle
        flags = POOL_ON_OWNER if pool_on_owner else 0

        def prepare():
            m = _kernels.bag_mode(mode)
            i, c = _kernels.ids_arg(ids)
            w = None
            if per_sample_weights is not None:
                w = _kernels.f32_arg(per_sample_weights, i.shape, "per_sample_weights")
            f, o = _kernels.bag_offsets(i, offsets, include_last_offset)
            return m, i, c, w, f, o, _kernels.out_arg(out, (o.size - 1, self.dim))
        mode_code, ids, code, weights, flat, csr, out = self._args(
            lambda hd: M.embstore_mpi_gather_bag(hd, _NO_TABLE, None, ID64, 0, None, 0, None, 0, flags, None, None),
            prepare)
        n_bags = csr.size - 1
        bad = c_size_t(_NOT_WRITTEN)
        with h._lock:
            o = h._live()
            st = M.embstore_mpi_gather_bag(o.handle, self.index, _kernels.address(flat), code, flat.size,
                                           _kernels.address(csr), n_bags,
                                           None if weights is None else _kernels.address(weights), mode_code,
                                           flags, _kernels.address(out),
                                           byref(bad))
        if st:
            self._failed(st, bad, ids)
        return out

    def scatter_add(self, ids, grads, alpha=1.0):
        """Collective. table[ids[i]] += alpha * grads[i] over every rank's ids, applied by the rows' owners in
        rank order, then in each rank's order: the table ends as scatter_add of the concatenation of every rank's
        ids and grads (rank order) leaves the unsharded one, whatever the number of ranks. `alpha` the same on
        every rank. Writable f32 tables (embstore.Error READ_ONLY, BAD_DTYPE); a bad id changes nothing."""
        h = self._handle

        def prepare():
            i, c = _kernels.ids_arg(ids)
            return i, c, _kernels.f32_arg(grads, i.shape + (self.dim,), "grads"), float(alpha)
        ids, code, grads, alpha = self._args(
            lambda hd: M.embstore_mpi_scatter_add(hd, _NO_TABLE, None, ID64, 0, None, 0.0, None), prepare)
        bad = c_size_t(_NOT_WRITTEN)
        with h._lock:
            o = h._live()
            st = M.embstore_mpi_scatter_add(o.handle, self.index, _kernels.address(ids), code, ids.size,
                                            _kernels.address(grads), alpha, byref(bad))
        if st:
            self._failed(st, bad, ids)

    # Vocabulary: each key goes to every rank holding a part of the table (embstore_mpi_find_keys).

    def _keys(self, call, keys, make_out):
        """call(handle, table, ptrs, lens, n, out, bad) over `keys` (str or bytes) into make_out(n);
        (status, the bad position or None, the keys, out)."""
        h = self._handle

        def prepare():
            ks = list(keys)
            enc = [k.encode() if isinstance(k, str) else bytes(k) for k in ks]
            return ks, enc, make_out(len(enc))
        ks, enc, out = self._args(lambda hd: call(hd, _NO_TABLE, None, None, 0, None, None), prepare)
        n = len(enc)
        ptrs = (c_char_p * max(n, 1))(*enc)
        lens = (c_size_t * max(n, 1))(*(len(k) for k in enc))
        bad = c_size_t(_NOT_WRITTEN)
        with h._lock:
            o = h._live()
            st = call(o.handle, self.index, ptrs, lens, n, _kernels.address(out), byref(bad))
        return st, None if bad.value == _NOT_WRITTEN else bad.value, ks, out

    def find(self, key):
        """Collective. The global row of this rank's `key` (str or bytes), or None when no part's vocabulary has
        it; every other rank then raises embstore.Error UNKNOWN_KEY (when a key is unknown anywhere, no rank
        learns its rows). embstore.Error NO_VOCAB when the table has no vocabulary."""
        st, bad, _, rows = self._keys(M.embstore_mpi_find_keys, [key],
                                      lambda n: _kernels.out_arg(None, (n,), np.dtype(np.uint64)))
        if st == STATUS_UNKNOWN_KEY and bad is not None:
            return None
        _check(st, self._label)
        return int(rows[0])

    def lookup_keys(self, keys, out=None):
        """Collective. The rows of this rank's `keys` (str or bytes) as float32 (len(keys), dim), equal bit for
        bit to Table.lookup_keys on the unsharded store; `out` as for lookup. A key in no vocabulary raises
        KeyError (the key and its position) on its rank and embstore.Error UNKNOWN_KEY on the others; nothing is
        written on any rank."""
        st, bad, keys, out = self._keys(M.embstore_mpi_gather_keys, keys,
                                        lambda n: _kernels.out_arg(out, (n, self.dim)))
        if st == STATUS_UNKNOWN_KEY and bad is not None:
            raise KeyError(f"{self._label}: key {keys[bad]!r} at position {bad} is not in the vocabulary")
        _check(st, self._label)
        return out

    def sync(self):
        """The handle's sync() (collective)."""
        self._handle.sync()
