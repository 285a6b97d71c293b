#!/bin/sh
# run_mpi.sh PYTHON LIBRARY MPI_LIBRARY RANKS: tests/python/test_mpi.py (embstore.mpi) under
# `mpirun -np RANKS`, every rank a pytest of its own (mpi_pytest.py), with the package of this source tree and
# the libraries given. Exits 77 (ctest: skipped) when mpirun, mpi4py or MPI_LIBRARY is missing, or when every
# case was skipped.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v mpirun >/dev/null 2>&1; then
	echo "skipped: no mpirun (Debian: openmpi-bin)"
	exit 77
fi
if ! "$1" -c "import mpi4py" 2>/dev/null; then
	echo "skipped: $1 cannot import mpi4py (Debian: python3-mpi4py)"
	exit 77
fi
if [ ! -e "$3" ]; then
	echo "skipped: no libembstore_mpi ('$3'): the build found no MPI"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Open MPI refuses root without --allow-run-as-root; CI containers run as root.
EMBSTORE_LIBRARY=$2 EMBSTORE_MPI_LIBRARY=$3 PYTHONPATH=$here/../../python EMBSTORE_TEST_MPI=$tmp \
	mpirun --oversubscribe --allow-run-as-root -np "$4" "$1" "$here/mpi_pytest.py" "$tmp"
