"""embstore_ctypes: a small ctypes binding of libembstore (include/embstore.h) over numpy arrays.

Enough for the peer benchmark (bench/peers.py): open a store, take tables as matrices or zero-copy numpy views,
run the kernels, switch kernel sets, write stores. Errors raise EmbstoreError. It is the seed of the Python
package, so it follows the header closely and adds nothing the C API does not have.

    lib = Library("build/libembstore.so")
    with lib.open("words.emb") as store:
        t = store.table("words")
        rows = lib.gather(t.matrix, np.array([3, 17, 42]))
"""

import ctypes
from ctypes import POINTER, byref, c_char_p, c_float, c_int, c_size_t, c_uint, c_uint16, c_uint32, c_uint64, c_void_p

import numpy as np

# embstore_dtype
F32, F16, BF16, INT8_ROWWISE = 1, 2, 3, 4
# embstore_id_type
ID32, ID64 = 4, 8
# embstore_bag_mode
BAG_SUM, BAG_MEAN, BAG_MAX = 0, 1, 2
# embstore_open flags
OPEN_VERIFY = 1 << 0
OPEN_WRITABLE = 1 << 1
ADVISE_RANDOM = 1 << 8
ADVISE_SEQUENTIAL = 1 << 9
ADVISE_WILLNEED = 1 << 10
ADVISE_HUGEPAGE = 1 << 11

ISA_NAMES = ("scalar", "avx2", "avx512", "neon")

# numpy dtype of the elements of a table, for the dtypes numpy has.
_NUMPY_DTYPE = {F32: np.float32, F16: np.float16}


class Matrix(ctypes.Structure):
    """embstore_matrix. Built from numpy by Library.matrix, whose caller keeps the array alive."""

    # flags last, as in the header: the library's marks on a store's tables (e.g. read-only); a matrix built
    # here over caller memory leaves them 0.
    _fields_ = [("data", c_void_p), ("rows", c_uint64), ("row_stride", c_uint64), ("dim", c_uint32),
                ("dtype", c_int), ("flags", c_uint32)]


class _Table(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("matrix", Matrix), ("data_offset", c_uint64), ("chunk_rows", c_uint64),
                ("chunk_count", c_uint64), ("has_vocab", c_int), ("index", c_uint32)]


class _Info(ctypes.Structure):
    _fields_ = [("format_major", c_uint16), ("format_minor", c_uint16), ("file_size", c_uint64),
                ("table_count", c_uint32), ("meta_count", c_uint32), ("data_alignment", c_uint32)]


class EmbstoreError(Exception):
    def __init__(self, lib, status, what):
        self.status = status
        self.name = lib.status_name(status)
        super().__init__(f"{what}: {lib.strerror(status)} ({self.name})")


class Table:
    """One table of an open store: its name, matrix (pointing into the mapping) and file offset."""

    def __init__(self, store, raw):
        self.store = store
        self.name = raw.name.decode("utf-8")
        # A byte copy keeps every field the library set, flags included.
        self.matrix = Matrix.from_buffer_copy(raw.matrix)
        self.data_offset = raw.data_offset
        self.chunk_rows = raw.chunk_rows

    rows = property(lambda self: self.matrix.rows)
    dim = property(lambda self: self.matrix.dim)
    dtype = property(lambda self: self.matrix.dtype)
    row_stride = property(lambda self: self.matrix.row_stride)

    def array(self):
        """A read-only numpy view of the rows (no copy), for f32 and f16 tables: rows x dim, row_stride apart."""
        np_dtype = _NUMPY_DTYPE.get(self.dtype)
        if np_dtype is None:
            raise ValueError(f"table {self.name!r}: numpy has no dtype for it")
        m = self.matrix
        buf = (ctypes.c_char * (m.rows * m.row_stride)).from_address(m.data)
        flat = np.frombuffer(buf, dtype=np.uint8)
        a = np.lib.stride_tricks.as_strided(flat.view(np_dtype), shape=(m.rows, m.dim),
                                            strides=(m.row_stride, np.dtype(np_dtype).itemsize), writeable=False)
        return a


class Store:
    def __init__(self, lib, path, flags=0):
        self._lib = lib
        self._handle = c_void_p()
        lib._check(lib._c.embstore_open(str(path).encode(), flags, byref(self._handle)), str(path))
        self.path = str(path)

    def close(self):
        if self._handle:
            self._lib._c.embstore_close(self._handle)
            self._handle = c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def info(self):
        info = _Info()
        self._lib._c.embstore_get_info(self._handle, byref(info))
        return info

    def tables(self):
        out = []
        for i in range(self.info().table_count):
            raw = _Table()
            self._lib._check(self._lib._c.embstore_table_at(self._handle, i, byref(raw)), self.path)
            out.append(Table(self, raw))
        return out

    def table(self, name):
        raw = _Table()
        self._lib._check(self._lib._c.embstore_table_find(self._handle, name.encode(), byref(raw)),
                         f"{self.path}: table {name!r}")
        return Table(self, raw)

    def meta(self, key):
        v = self._lib._c.embstore_meta_get(self._handle, key.encode())
        return None if v is None else v.decode("utf-8")

    def verify(self):
        """Checks every checksum; raises EmbstoreError on the first problem."""
        self._lib._check(self._lib._c.embstore_verify(self._handle, None, None), self.path)


class Writer:
    def __init__(self, lib, path):
        self._lib = lib
        self._handle = c_void_p()
        lib._check(lib._c.embstore_writer_create(str(path).encode(), byref(self._handle)), str(path))
        self.path = str(path)

    def add_meta(self, key, value):
        self._lib._check(self._lib._c.embstore_writer_add_meta(self._handle, key.encode(), value.encode()),
                         self.path)

    def begin_table(self, name, dtype, rows, dim):
        self._lib._check(self._lib._c.embstore_writer_begin_table(self._handle, name.encode(), dtype, rows, dim),
                         self.path)

    def append(self, rows):
        """Appends a 2-D f32 or f16 array (converted to the table's dtype by the library)."""
        src = np.ascontiguousarray(rows)
        src_dtype = {np.dtype(np.float32): F32, np.dtype(np.float16): F16}[src.dtype]
        self._lib._check(self._lib._c.embstore_writer_append(self._handle, src.ctypes.data, src_dtype,
                                                             src.shape[0], 0), self.path)

    def finish(self):
        self._lib._check(self._lib._c.embstore_writer_finish(self._handle), self.path)

    def free(self):
        if self._handle:
            self._lib._c.embstore_writer_free(self._handle)
            self._handle = c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()


def _ids_arg(ids):
    ids = np.ascontiguousarray(ids)
    if ids.dtype == np.int64:
        return ids, ID64
    if ids.dtype == np.int32:
        return ids, ID32
    raise TypeError("ids must be int32 or int64")


class Library:
    def __init__(self, path):
        self._c = c = ctypes.CDLL(str(path))
        status = c_int

        def proto(name, restype, *argtypes):
            f = getattr(c, name)
            f.restype = restype
            f.argtypes = list(argtypes)

        proto("embstore_version", c_char_p)
        proto("embstore_strerror", c_char_p, status)
        proto("embstore_status_name", c_char_p, status)
        proto("embstore_row_bytes", c_uint64, c_int, c_uint64)
        proto("embstore_open", status, c_char_p, c_uint, POINTER(c_void_p))
        proto("embstore_close", None, c_void_p)
        proto("embstore_get_info", None, c_void_p, POINTER(_Info))
        proto("embstore_table_at", status, c_void_p, c_uint32, POINTER(_Table))
        proto("embstore_table_find", status, c_void_p, c_char_p, POINTER(_Table))
        proto("embstore_meta_get", c_char_p, c_void_p, c_char_p)
        proto("embstore_verify", status, c_void_p, c_void_p, c_void_p)
        proto("embstore_writer_create", status, c_char_p, POINTER(c_void_p))
        proto("embstore_writer_add_meta", status, c_void_p, c_char_p, c_char_p)
        proto("embstore_writer_begin_table", status, c_void_p, c_char_p, c_int, c_uint64, c_uint32)
        proto("embstore_writer_append", status, c_void_p, c_void_p, c_int, c_uint64, c_uint64)
        proto("embstore_writer_finish", status, c_void_p)
        proto("embstore_writer_free", None, c_void_p)
        proto("embstore_gather", status, POINTER(Matrix), c_void_p, c_int, c_size_t, c_void_p,
              POINTER(c_size_t))
        proto("embstore_gather_bag", status, POINTER(Matrix), c_void_p, c_int, c_size_t, c_void_p, c_size_t,
              c_void_p, c_int, c_void_p, POINTER(c_size_t))
        proto("embstore_scatter_add", status, POINTER(Matrix), c_void_p, c_int, c_size_t, c_void_p, c_float,
              POINTER(c_size_t))
        proto("embstore_isa_name", c_char_p, c_int)
        proto("embstore_isa_supported", c_int, c_int)
        proto("embstore_isa_active", status, POINTER(c_int))
        proto("embstore_isa_set", status, c_int)
        proto("embstore_cpu_features", c_uint64)
        proto("embstore_cpu_feature_name", c_char_p, c_uint)

    # ---- errors and names ----

    def strerror(self, status):
        return self._c.embstore_strerror(status).decode()

    def status_name(self, status):
        return self._c.embstore_status_name(status).decode()

    def _check(self, status, what):
        if status != 0:
            raise EmbstoreError(self, status, what)

    def version(self):
        return self._c.embstore_version().decode()

    def row_bytes(self, dtype, dim):
        return self._c.embstore_row_bytes(dtype, dim)

    # ---- stores ----

    def open(self, path, flags=0):
        return Store(self, path, flags)

    def writer(self, path):
        return Writer(self, path)

    # ---- kernels ----

    @staticmethod
    def matrix(array):
        """A Matrix over a 2-D f32 numpy array whose rows are contiguous (the array must outlive its use)."""
        if array.ndim != 2 or array.dtype != np.float32 or array.strides[1] != 4:
            raise ValueError("need a 2-D float32 array with contiguous rows")
        return Matrix(array.ctypes.data, array.shape[0], array.strides[0], array.shape[1], F32)

    def gather(self, matrix, ids, out=None):
        ids, id_type = _ids_arg(ids)
        if out is None:
            out = np.empty((len(ids), matrix.dim), dtype=np.float32)
        bad = c_size_t()
        st = self._c.embstore_gather(byref(matrix), ids.ctypes.data, id_type, len(ids), out.ctypes.data,
                                     byref(bad))
        if st != 0:
            raise EmbstoreError(self, st, f"gather (id #{bad.value})")
        return out

    def gather_bag(self, matrix, ids, offsets, mode=BAG_SUM, weights=None, out=None):
        """Bags in CSR form: `offsets` has n_bags + 1 int64 entries, the last one len(ids)."""
        ids, id_type = _ids_arg(ids)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        n_bags = len(offsets) - 1
        if out is None:
            out = np.empty((n_bags, matrix.dim), dtype=np.float32)
        w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float32).ctypes.data
        bad = c_size_t()
        st = self._c.embstore_gather_bag(byref(matrix), ids.ctypes.data, id_type, len(ids), offsets.ctypes.data,
                                         n_bags, w, mode, out.ctypes.data, byref(bad))
        if st != 0:
            raise EmbstoreError(self, st, f"gather_bag (id #{bad.value})")
        return out

    def scatter_add(self, matrix, ids, grads, alpha=1.0):
        ids, id_type = _ids_arg(ids)
        grads = np.ascontiguousarray(grads, dtype=np.float32)
        bad = c_size_t()
        st = self._c.embstore_scatter_add(byref(matrix), ids.ctypes.data, id_type, len(ids), grads.ctypes.data,
                                          alpha, byref(bad))
        if st != 0:
            raise EmbstoreError(self, st, f"scatter_add (id #{bad.value})")

    # ---- kernel sets and CPU ----

    def isa_supported(self, name):
        return bool(self._c.embstore_isa_supported(ISA_NAMES.index(name)))

    def isa_active(self):
        v = c_int()
        self._check(self._c.embstore_isa_active(byref(v)), "isa_active")
        return ISA_NAMES[v.value]

    def isa_set(self, name):
        self._check(self._c.embstore_isa_set(ISA_NAMES.index(name)), f"isa_set({name})")

    def cpu_features(self):
        bits = self._c.embstore_cpu_features()
        names = []
        for b in range(64):
            if bits >> b & 1:
                n = self._c.embstore_cpu_feature_name(b)
                names.append(n.decode() if n else f"bit{b}")
        return names
