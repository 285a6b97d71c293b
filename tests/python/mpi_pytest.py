"""One rank's pytest of test_mpi.py, run by run_mpi.sh under mpirun: a temporary directory per rank (pytest's
own) beside the shared one, the report of rank 0 only, and exit status 77 when every case was skipped (so that
ctest reports a skip, never a pass)."""

import os
import sys

import pytest
from mpi4py import MPI


class Outcomes:
    def __init__(self):
        self.ran = 0
        self.skipped = 0

    def pytest_runtest_logreport(self, report):
        if report.skipped:
            self.skipped += 1
        elif report.when == "call":
            self.ran += 1


def main():
    shared = sys.argv[1]
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    here = os.path.dirname(os.path.abspath(__file__))
    args = ["-q", "-rs", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--basetemp", os.path.join(shared, f"rank{rank}"),
            os.path.join(here, "test_mpi.py")]
    if rank:
        args[:0] = ["-q"]  # with the -q above: failures and a summary line only
    outcomes = Outcomes()
    code = pytest.main(args, plugins=[outcomes])
    if code == 0 and outcomes.ran == 0 and outcomes.skipped:
        code = 77
    # A rank that failed must not leave the others waiting in a collective: mpirun ends them all when one exits
    # non-zero, and a failed assertion here is reported by the rank that made it.
    sys.exit(int(code))


main()
