"""Turning the library's status codes into Python exceptions."""

import ctypes
import os

from ._lib import C, STATUS_IO


class Error(Exception):
    """A call of the library failed. `status` is the status' name ("READ_ONLY", "CORRUPT", ...: the stable
    thing to test), `code` its number, `detail` what exactly the library found ("" when it said nothing more)."""

    def __init__(self, code, context, detail=""):
        self.code = code
        self.status = C.embstore_status_name(code).decode()
        self.detail = detail
        msg = f"{context}: {C.embstore_strerror(code).decode()} ({self.status})"
        super().__init__(msg + (f": {detail}" if detail else ""))


def detail():
    """embstore_error_detail() of this thread's last call."""
    return C.embstore_error_detail().decode("utf-8", "replace")


def check(code, context, path=None):
    """Raises for a status other than OK: OSError (FileNotFoundError, PermissionError, ... by errno) for IO with
    an errno, embstore.Error for the others. Call it straight after the failed call, on the same thread."""
    if code == 0:
        return
    if code == STATUS_IO:
        err = ctypes.get_errno()
        if err:
            d = detail()
            e = OSError(err, os.strerror(err) + (f" ({d})" if d else ""), path if path is not None else context)
            e.status = "IO"
            raise e
    raise Error(code, context, detail())


class ClosedError(ValueError):
    """A method of a closed Store, or of one of its tables, was called."""
