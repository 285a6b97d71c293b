"""The MPI library libembstore_mpi (include/embstore_mpi.h): where it is found, and its prototypes. Found like
the core library (_lib.py): EMBSTORE_MPI_LIBRARY, beside this package, a source tree's build directory, the
system loader. Importing this module raises ImportError, saying where it looked, when it cannot be loaded."""

import ctypes
import ctypes.util
import os
from ctypes import POINTER, c_char_p, c_float, c_int, c_size_t, c_uint, c_uint32, c_uint64, c_void_p

from ._lib import ABI_MAJOR, SetInfo, SetTableInfo

SONAME = f"libembstore_mpi.so.{ABI_MAJOR}"

_HERE = os.path.dirname(os.path.abspath(__file__))


class MpiInfo(ctypes.Structure):
    """embstore_mpi_info."""
    _fields_ = [("set", SetInfo), ("rank", c_int), ("size", c_int), ("local_shards", c_uint32)]


class MpiStats(ctypes.Structure):
    """embstore_mpi_stats."""
    _fields_ = [("bytes_sent", c_uint64), ("bytes_received", c_uint64), ("collectives", c_uint64)]


def candidates():
    """Where the library is looked for, in order: (description, path or name for dlopen)."""
    env = os.environ.get("EMBSTORE_MPI_LIBRARY")
    if env:
        return [("EMBSTORE_MPI_LIBRARY", env)]
    out = [("beside the package", os.path.join(_HERE, SONAME))]
    root = os.path.dirname(os.path.dirname(_HERE))
    if os.path.exists(os.path.join(root, "include", "embstore_mpi.h")):
        out.append(("the build tree", os.path.join(root, "build", SONAME)))
    found = ctypes.util.find_library("embstore_mpi")
    out.append(("the system loader", found if found else SONAME))
    return out


def _load():
    tried = []
    for where, path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{where}: {path} (no such file)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{where}: {path} ({e})")
    raise ImportError("embstore.mpi: cannot load the library " + SONAME + " (built where CMake finds MPI); "
                      "looked in:\n  " + "\n  ".join(tried) +
                      "\nSet EMBSTORE_MPI_LIBRARY to its path, or install it (cmake --install).")


M = _load()

_status = c_int
_PROTOTYPES = {
    "embstore_mpi_error_detail": (c_char_p,),
    "embstore_mpi_open_f": (_status, c_int, POINTER(c_char_p), c_size_t, c_uint, POINTER(c_void_p)),
    "embstore_mpi_close": (None, c_void_p),
    "embstore_mpi_get_info": (_status, c_void_p, POINTER(MpiInfo)),
    "embstore_mpi_table_at": (_status, c_void_p, c_uint32, POINTER(SetTableInfo)),
    "embstore_mpi_owner": (_status, c_void_p, c_uint32, c_uint64, POINTER(c_int)),
    "embstore_mpi_gather": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_void_p),
    "embstore_mpi_gather_bag": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_size_t,
                                c_void_p, c_int, c_uint, c_void_p, c_void_p),
    "embstore_mpi_scatter_add": (_status, c_void_p, c_uint32, c_void_p, c_int, c_size_t, c_void_p, c_float,
                                 c_void_p),
    "embstore_mpi_find_keys": (_status, c_void_p, c_uint32, c_void_p, c_void_p, c_size_t, c_void_p, c_void_p),
    "embstore_mpi_gather_keys": (_status, c_void_p, c_uint32, c_void_p, c_void_p, c_size_t, c_void_p, c_void_p),
    "embstore_mpi_sync": (_status, c_void_p),
    "embstore_mpi_get_stats": (_status, c_void_p, POINTER(MpiStats)),
    "embstore_mpi_reset_stats": (None, c_void_p),
}

for _name, (_restype, *_argtypes) in _PROTOTYPES.items():
    try:
        _f = getattr(M, _name)
    except AttributeError:
        raise ImportError(f"embstore.mpi: the library {M._name} lacks {_name}: it does not match this "
                          "package") from None
    _f.restype = _restype
    _f.argtypes = _argtypes

POOL_ON_OWNER = 1 << 0
