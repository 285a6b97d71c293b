"""The MPI library libembstore_mpi (include/embstore_mpi.h): where it is found, and its prototypes. Found like
the core library (_lib.py): EMBSTORE_MPI_LIBRARY, beside this package, a source tree's build directory, the
system loader. Importing this module raises ImportError, saying where it looked, when it cannot be loaded."""

import ctypes
from ctypes import POINTER, c_char_p, c_float, c_int, c_size_t, c_uint, c_uint32, c_uint64, c_void_p

from ._lib import ABI_MAJOR, SetInfo, SetTableInfo, candidates, load

SONAME = f"libembstore_mpi.so.{ABI_MAJOR}"


class MpiInfo(ctypes.Structure):
    """embstore_mpi_info."""
    _fields_ = [("set", SetInfo), ("rank", c_int), ("size", c_int), ("local_shards", c_uint32)]


class MpiStats(ctypes.Structure):
    """embstore_mpi_stats."""
    _fields_ = [("bytes_sent", c_uint64), ("bytes_received", c_uint64), ("collectives", c_uint64)]


M = load(candidates("EMBSTORE_MPI_LIBRARY", SONAME, "embstore_mpi.h", "embstore_mpi"),
         "embstore.mpi: cannot load the library " + SONAME + " (built where CMake finds MPI)", "EMBSTORE_MPI_LIBRARY")

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
