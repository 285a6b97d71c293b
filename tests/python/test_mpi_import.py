"""`import embstore.mpi` without what it needs: an ImportError that says what is missing (no mpirun needed)."""

import importlib.util
import os
import subprocess
import sys

import pytest


def import_mpi(code, **env):
    return subprocess.run([sys.executable, "-c", code + "\nimport embstore.mpi"], capture_output=True, text=True,
                          env=dict(os.environ, **env))


def test_without_mpi4py():
    r = import_mpi("import sys; sys.modules['mpi4py'] = None")
    assert r.returncode != 0 and "ImportError: embstore.mpi needs mpi4py" in r.stderr, r.stderr


def test_without_the_library(tmp_path):
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed")
    missing = str(tmp_path / "libembstore_mpi.so.0")
    r = import_mpi("", EMBSTORE_MPI_LIBRARY=missing)
    assert r.returncode != 0 and "cannot load the library libembstore_mpi.so.0" in r.stderr, r.stderr
    assert f"EMBSTORE_MPI_LIBRARY: {missing} (no such file)" in r.stderr
