#!/bin/sh
# consumer_mpi_test.sh SOURCE_DIR WORK_DIR CMAKE GENERATOR C_COMPILER MPIEXEC: the component mpi of the CMake package
# that consumer_test.sh installed under WORK_DIR/local (a ctest fixture): tests/consumer/ configured with
# EMBSTORE_CONSUMER_MPI finds embstore::embstore_mpi and embstore::embstore_mpi_static through
# find_package(embstore CONFIG REQUIRED COMPONENTS mpi), and its program runs on two ranks. Skipped (77) when that
# embstore was built without MPI, or mpiexec is missing.
set -eu
src=$1 work=$2 cmake=$3 generator=$4 cc=$5 mpiexec=$6
prefix=$work/local
libdir=$prefix/$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$work/build-local/CMakeCache.txt")
if [ ! -f "$libdir/cmake/embstore/embstoreConfig.cmake" ]; then
	echo "FAILED: no package installed under $prefix (consumer_test sets it up)"
	exit 1
fi
if [ ! -f "$libdir/cmake/embstore/embstoreMpiTargets.cmake" ]; then
	echo "skipped: embstore was built without MPI (no embstoreMpiTargets.cmake installed)"
	exit 77
fi
if [ -z "$mpiexec" ] || ! command -v "$mpiexec" >/dev/null 2>&1; then
	echo "skipped: no mpiexec"
	exit 77
fi

fail() {
	echo "FAILED: $*"
	exit 1
}

run() { # run LOG COMMAND...: its output in WORK/LOG.log, shown only when it fails
	log=$work/$1.log
	shift
	"$@" >"$log" 2>&1 || { cat "$log"; fail "$*"; }
}

# The core consumer, configured by consumer_test.sh without the component, must not have looked for MPI.
! grep -q '^MPI_C_' "$work/local-cmake/CMakeCache.txt" || fail "find_package(embstore) without mpi looked for MPI"

run mpi-cmake-configure "$cmake" -S "$src/tests/consumer" -B "$work/mpi-cmake" -G "$generator" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release -DEMBSTORE_CONSUMER_MPI=ON
run mpi-cmake-build "$cmake" --build "$work/mpi-cmake" -j2
for kind in shared static; do
	prog=$work/mpi-cmake/mpi_consumer_$kind
	if readelf -d "$prog" | grep -q 'NEEDED.*libembstore_mpi\.so'; then
		[ "$kind" = shared ] || fail "$prog links libembstore_mpi.so, expected the static library"
	else
		[ "$kind" = static ] || fail "$prog does not link libembstore_mpi.so"
	fi
	rm -f "$prog.emb"
	run "mpi-consumer-$kind-run" env LD_LIBRARY_PATH="$libdir" "$mpiexec" -n 2 "$prog" "$prog.emb"
	[ "$(grep -c 'ok$' "$work/mpi-consumer-$kind-run.log")" = 2 ] || fail "$prog: not every rank said ok"
	echo "ok: $prog"
done
echo "ok: the component mpi"
