#!/bin/sh
# deps.sh [build|test|bench]: installs, as root on Debian 12, what embstore needs for that job. Runs apt-get only
# when something is missing, so it costs nothing on a machine that has it all.
set -eu
job=${1:-build}
# scdoc turns docs/embstore.1.scd into the man page; the build goes on without it. The library reads safetensors
# headers with jansson and .npz archives with minizip, whose header includes zlib's.
# python3-numpy: the Python package (python/embstore), which the build installs.
pkgs="cmake make gcc libxxhash-dev libjansson-dev libminizip-dev zlib1g-dev scdoc python3 python3-numpy"
case $job in
build) ;;
# jq: the CLI tour (docs test) pipes into it. pkgconf and groff-base: the packaging test links consumers through
# pkg-config; the man page test renders it. clang and libclang-rt-14-dev (libFuzzer and clang's sanitizer
# runtimes): tools/fuzz.sh and tools/test-sanitizers.sh (gcc's sanitizer runtimes come with gcc). python3-pytest:
# the Python package's tests (tests/python); python3-torch (about 1 GB installed): their embstore.torch cases and
# examples/sentiment.py, which are reported as skipped without it. libopenmpi-dev and openmpi-bin (mpicc's
# libraries, mpirun): libembstore_mpi, built only where MPI is found, and its tests under mpirun (tests/mpi);
# python3-mpi4py: the Python layer over it (embstore.mpi).
test) pkgs="$pkgs libcriterion-dev python3-pytest python3-torch jq pkgconf groff-base clang libclang-rt-14-dev
	libopenmpi-dev openmpi-bin python3-mpi4py" ;;
# python3-gensim: bench/import_vs_gensim.py times gensim's loader (and tests/data/make_vectors.py uses it).
bench) pkgs="$pkgs g++ libbenchmark-dev python3-torch python3-gensim" ;;
*) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
