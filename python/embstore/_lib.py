"""The shared library: where it is found, and the prototypes of the calls the package makes.

Every prototype is set once here, so a call costs ctypes' argument conversion and nothing else; the package
reads the functions as attributes of `C` (a ctypes.CDLL).
"""

import ctypes
import ctypes.util
import os
from ctypes import POINTER, c_char_p, c_double, c_float, c_int, c_size_t, c_uint, c_uint16, c_uint32, c_uint64, c_void_p

# The SONAME's major version this package speaks (include/embstore.h: EMBSTORE_VERSION_MAJOR).
ABI_MAJOR = 0
SONAME = f"libembstore.so.{ABI_MAJOR}"

_HERE = os.path.dirname(os.path.abspath(__file__))


class Matrix(ctypes.Structure):
    """embstore_matrix."""
    _fields_ = [("data", c_void_p), ("rows", c_uint64), ("row_stride", c_uint64), ("dim", c_uint32),
                ("dtype", c_int), ("flags", c_uint32)]


class TableInfo(ctypes.Structure):
    """embstore_table."""
    _fields_ = [("name", c_char_p), ("matrix", Matrix), ("data_offset", c_uint64), ("chunk_rows", c_uint64),
                ("chunk_count", c_uint64), ("has_vocab", c_int), ("index", c_uint32)]


class Init(ctypes.Structure):
    """embstore_init."""
    _fields_ = [("kind", c_int), ("scale", c_double), ("seed", c_uint64)]


class StoreInfo(ctypes.Structure):
    """embstore_info."""
    _fields_ = [("format_major", c_uint16), ("format_minor", c_uint16), ("file_size", c_uint64),
                ("table_count", c_uint32), ("meta_count", c_uint32), ("data_alignment", c_uint32)]


class ShardInfo(ctypes.Structure):
    """embstore_shard_info."""
    _fields_ = [("set_id", ctypes.c_char * 33), ("index", c_uint32), ("count", c_uint32), ("tables", c_uint32),
                ("by", c_int)]


class SetInfo(ctypes.Structure):
    """embstore_set_info."""
    _fields_ = [("shard", ShardInfo), ("shard_count", c_uint32), ("table_count", c_uint32)]


class SetTableInfo(ctypes.Structure):
    """embstore_set_table."""
    _fields_ = [("name", c_char_p), ("rows", c_uint64), ("dim", c_uint32), ("dtype", c_int), ("has_vocab", c_int),
                ("index", c_uint32), ("parts", c_uint32)]


def candidates(env="EMBSTORE_LIBRARY", soname=SONAME, header="embstore.h", name="embstore"):
    """Where a library of the project is looked for, in order: (description, path or name for dlopen). The core
    library by default; _mpilib.py asks the same for libembstore_mpi."""
    path = os.environ.get(env)
    if path:
        # Named explicitly: nothing else is tried, so a wrong path is an error rather than a silent fallback.
        return [(env, path)]
    out = [("beside the package", os.path.join(_HERE, soname))]
    # The package in a source tree (python/embstore), the library in that tree's build directory (README).
    root = os.path.dirname(os.path.dirname(_HERE))
    if os.path.exists(os.path.join(root, "include", header)):
        out.append(("the build tree", os.path.join(root, "build", soname)))
    found = ctypes.util.find_library(name)
    out.append(("the system loader", found if found else soname))
    return out


def load(tried_in, what, env, use_errno=False):
    """The first of `tried_in` (candidates()) that loads; else ImportError listing them, `what` saying which
    library failed and `env` the variable that names it."""
    tried = []
    for where, path in tried_in:
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{where}: {path} (no such file)")
            continue
        try:
            return ctypes.CDLL(path, use_errno=use_errno)
        except OSError as e:
            tried.append(f"{where}: {path} ({e})")
    raise ImportError(what + "; looked in:\n  " + "\n  ".join(tried) +
                      f"\nSet {env} to its path, or install it (cmake --install).")


C = load(candidates(), "embstore: cannot load the shared library " + SONAME, "EMBSTORE_LIBRARY", use_errno=True)

_status = c_int
_PROTOTYPES = {
    "embstore_version": (c_char_p,),
    "embstore_strerror": (c_char_p, _status),
    "embstore_status_name": (c_char_p, _status),
    "embstore_error_detail": (c_char_p,),
    "embstore_dtype_name": (c_char_p, c_int),
    "embstore_row_bytes": (c_uint64, c_int, c_uint64),
    "embstore_open": (_status, c_char_p, c_uint, POINTER(c_void_p)),
    "embstore_close": (None, c_void_p),
    "embstore_get_info": (None, c_void_p, POINTER(StoreInfo)),
    "embstore_table_at": (_status, c_void_p, c_uint32, POINTER(TableInfo)),
    "embstore_meta_at": (_status, c_void_p, c_uint32, POINTER(c_char_p), POINTER(c_char_p)),
    "embstore_table_find_key": (_status, c_void_p, c_uint32, c_char_p, c_size_t, POINTER(c_uint64)),
    "embstore_table_key": (_status, c_void_p, c_uint32, c_uint64, POINTER(c_void_p), POINTER(c_size_t)),
    "embstore_gather_keys": (_status, c_void_p, c_uint32, c_void_p, c_void_p, c_size_t, c_void_p,
                             POINTER(c_size_t)),
    "embstore_verify": (_status, c_void_p, c_void_p, c_void_p),
    "embstore_writer_create": (_status, c_char_p, POINTER(c_void_p)),
    "embstore_writer_add_meta": (_status, c_void_p, c_char_p, c_char_p),
    "embstore_writer_begin_table": (_status, c_void_p, c_char_p, c_int, c_uint64, c_uint32),
    "embstore_writer_append": (_status, c_void_p, c_void_p, c_int, c_uint64, c_uint64),
    "embstore_writer_append_keyed": (_status, c_void_p, c_void_p, c_int, c_uint64, c_uint64, c_void_p, c_void_p),
    "embstore_writer_init_table": (_status, c_void_p, c_char_p, c_int, c_uint64, c_uint32, POINTER(Init)),
    "embstore_writer_finish": (_status, c_void_p),
    "embstore_writer_free": (None, c_void_p),
    "embstore_gather": (_status, c_void_p, c_void_p, c_int, c_size_t, c_void_p, c_void_p),
    "embstore_gather_mt": (_status, c_void_p, c_void_p, c_int, c_size_t, c_void_p, c_void_p, c_uint),
    "embstore_gather_bag_mt": (_status, c_void_p, c_void_p, c_int, c_size_t, c_void_p, c_size_t, c_void_p, c_int,
                               c_void_p, c_void_p, c_uint),
    "embstore_gather_as_mt": (_status, c_void_p, c_void_p, c_int, c_size_t, c_int, c_void_p, c_void_p, c_uint),
    "embstore_gather_bag_as_mt": (_status, c_void_p, c_void_p, c_int, c_size_t, c_void_p, c_size_t, c_void_p,
                                  c_int, c_int, c_void_p, c_void_p, c_uint),
    "embstore_scatter_add_mt": (_status, c_void_p, c_void_p, c_int, c_size_t, c_void_p, c_float, c_void_p,
                                c_uint),
    "embstore_table_scatter_add": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_float,
                                   c_void_p, c_uint),
    "embstore_sgd_update": (_status, c_void_p, c_void_p, c_int, c_size_t, c_void_p, c_size_t, c_float, c_void_p),
    "embstore_rowwise_adagrad_update": (_status, c_void_p, c_void_p, c_void_p, c_int, c_size_t, c_void_p, c_size_t,
                                        c_float, c_float, c_float, c_void_p),
    "embstore_table_sgd_update": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_size_t,
                                  c_float, c_void_p),
    "embstore_table_rowwise_adagrad_update": (_status, c_void_p, c_uint32, c_uint32, c_void_p, c_int, c_size_t,
                                              c_void_p, c_size_t, c_float, c_float, c_float, c_void_p),
    "embstore_table_mark_rows": (_status, c_void_p, c_uint32, c_uint64, c_uint64),
    "embstore_sync": (_status, c_void_p),
    "embstore_shard_get": (_status, c_void_p, POINTER(ShardInfo)),
    "embstore_shard_table": (_status, c_void_p, c_uint32, POINTER(c_uint32), POINTER(c_uint64), POINTER(c_uint64)),
    "embstore_shard_path": (c_size_t, c_char_p, c_uint32, c_uint32, c_char_p, c_size_t),
    "embstore_shard_split": (_status, c_void_p, c_char_p, c_uint32, c_int, c_int),
    "embstore_set_open": (_status, POINTER(c_char_p), c_size_t, c_uint, POINTER(c_void_p)),
    "embstore_set_close": (None, c_void_p),
    "embstore_set_get_info": (None, c_void_p, POINTER(SetInfo)),
    "embstore_set_path": (c_char_p, c_void_p, c_uint32),
    "embstore_set_table_at": (_status, c_void_p, c_uint32, POINTER(SetTableInfo)),
    "embstore_set_gather": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_void_p),
    "embstore_set_gather_bag": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_size_t,
                                c_void_p, c_int, c_void_p, c_void_p),
    "embstore_set_scatter_add": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_float,
                                 c_void_p),
    "embstore_set_sync": (_status, c_void_p),
    "embstore_set_find_key": (_status, c_void_p, c_uint32, c_char_p, c_size_t, POINTER(c_uint64)),
    "embstore_set_key": (_status, c_void_p, c_uint32, c_uint64, POINTER(c_void_p), POINTER(c_size_t)),
    "embstore_set_merge": (_status, c_void_p, c_char_p),
    "embstore_isa_name": (c_char_p, c_int),
    "embstore_isa_parse": (_status, c_char_p, POINTER(c_int)),
    "embstore_isa_supported": (c_int, c_int),
    "embstore_isa_active": (_status, POINTER(c_int)),
    "embstore_isa_set": (_status, c_int),
}


def _prototype():
    missing = []
    for name, (restype, *argtypes) in _PROTOTYPES.items():
        try:
            f = getattr(C, name)
        except AttributeError:
            missing.append(name)
            continue
        f.restype = restype
        f.argtypes = argtypes
    if missing:
        raise ImportError(f"embstore: the library {C._name} is too old for this package: it lacks " +
                          ", ".join(missing))


_prototype()

# Codes of include/embstore.h.
F32, F16, BF16, INT8 = 1, 2, 3, 4
ID32, ID64 = 4, 8
OPEN_VERIFY, OPEN_WRITABLE = 1 << 0, 1 << 1
SHARD_NONE, SHARD_BY_ROWS, SHARD_BY_TABLE = 0, 1, 2
INIT_ZEROS, INIT_NORMAL, INIT_UNIFORM = 0, 1, 2
STATUS_IO, STATUS_NOT_FOUND, STATUS_BAD_DTYPE, STATUS_ID_OUT_OF_RANGE, STATUS_READ_ONLY, STATUS_UNKNOWN_KEY = \
    3, 4, 11, 16, 17, 24
