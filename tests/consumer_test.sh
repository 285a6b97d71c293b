#!/bin/sh
# consumer_test.sh SOURCE_DIR WORK_DIR CMAKE GENERATOR C_COMPILER MULTIARCH VERSION: installs embstore into two staging
# trees and builds and runs tests/consumer/ against each, the ways another project takes embstore in.
#   1. the default libdir (lib on Debian), the prefix chosen only at install time (`cmake --install --prefix`);
#   2. /usr layout staged with DESTDIR, libdir lib/MULTIARCH (lib64 when MULTIARCH is empty), with the CLI,
#      its man page and its completion.
# Each: find_package(embstore CONFIG) with embstore::embstore and embstore::embstore_static, and pkg-config
# (`--cflags --libs`, and `--static` for a fully static program), and the Python package. Then add_subdirectory of the source tree,
# which must build with embstore's defaults (no tests, no CLI). Every program is run and checks what it reads.
# The install under WORK_DIR/local stays for consumer_mpi_test.sh (a ctest fixture).
set -eu
src=$1 work=$2 cmake=$3 generator=$4 cc=$5 multiarch=$6 version=$7
if ! command -v pkg-config >/dev/null 2>&1; then
	echo "skipped: pkg-config is not installed (tools/deps.sh test installs it)"
	exit 77
fi
rm -rf "$work"
mkdir -p "$work"

# run LOG COMMAND...: runs COMMAND with its output in WORK/LOG.log, shown only when it fails.
run() {
	log=$work/$1.log
	shift
	if ! "$@" >"$log" 2>&1; then
		echo "FAILED: $*"
		cat "$log"
		exit 1
	fi
}

fail() {
	echo "FAILED: $*"
	exit 1
}

# check_needed PROGRAM yes|no: whether PROGRAM loads libembstore.so at run time.
check_needed() {
	if readelf -d "$1" | grep -q 'NEEDED.*libembstore\.so'; then
		[ "$2" = yes ] || fail "$1 links libembstore.so, expected the static library"
	else
		[ "$2" = no ] || fail "$1 does not link libembstore.so"
	fi
}

# run_consumer PROGRAM shared|static LIBDIR: runs it, the shared one finding libembstore.so.0 in LIBDIR only.
run_consumer() {
	if [ "$2" = shared ]; then
		check_needed "$1" yes
		run "$(basename "$1")-run" env LD_LIBRARY_PATH="$3" "$1" "$1.emb"
	else
		check_needed "$1" no
		run "$(basename "$1")-run" env -u LD_LIBRARY_PATH "$1" "$1.emb"
	fi
	echo "ok: $1"
}

# consume NAME PREFIX LIBDIR: builds and runs the consumers against the tree installed under PREFIX.
consume() {
	name=$1 prefix=$2 libdir=$2/$3

	# The exported targets name xxHash::xxhash, never a library path of the machine that built them.
	if grep -q 'libxxhash' "$libdir"/cmake/embstore/embstoreTargets*.cmake; then
		fail "$name: the exported targets hold a path to libxxhash"
	fi
	run "$name-cmake-configure" "$cmake" -S "$src/tests/consumer" -B "$work/$name-cmake" -G "$generator" \
		-DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
	found=$(sed -n 's/^embstore_DIR:PATH=//p' "$work/$name-cmake/CMakeCache.txt")
	[ "$found" = "$libdir/cmake/embstore" ] || fail "$name: find_package found $found, not $libdir/cmake/embstore"
	run "$name-cmake-build" "$cmake" --build "$work/$name-cmake" -j2
	run_consumer "$work/$name-cmake/consumer_shared" shared "$libdir"
	run_consumer "$work/$name-cmake/consumer_static" static "$libdir"

	export PKG_CONFIG_PATH="$libdir/pkgconfig"
	includedir=$(pkg-config --variable=includedir embstore)
	[ -f "$includedir/embstore.h" ] || fail "$name: pkg-config's includedir $includedir has no embstore.h"
	[ "$(pkg-config --modversion embstore)" = "$version" ] || fail "$name: pkg-config version is not $version"
	run "$name-pc-shared" "$cc" -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags embstore) \
		"$src/tests/consumer/consumer.c" $(pkg-config --libs embstore) -o "$work/$name-pc-shared"
	run "$name-pc-static" "$cc" -std=c11 -Wall -Wextra -Werror -static $(pkg-config --cflags embstore) \
		"$src/tests/consumer/consumer.c" $(pkg-config --static --libs embstore) -o "$work/$name-pc-static"
	unset PKG_CONFIG_PATH
	run_consumer "$work/$name-pc-shared" shared "$libdir"
	run_consumer "$work/$name-pc-static" static "$libdir"
}

# check_python NAME BUILD_DIR PREFIX: the installed Python package imports from any directory and loads the
# library of PREFIX through the link beside it (no EMBSTORE_LIBRARY, no LD_LIBRARY_PATH).
check_python() {
	pydir=$(sed -n 's/^EMBSTORE_PYTHON_DIR:STRING=//p' "$2/CMakeCache.txt")
	python=$(sed -n 's/^PYTHON3:FILEPATH=//p' "$2/CMakeCache.txt")
	[ -n "$pydir" ] && [ -n "$python" ] || fail "$1: no EMBSTORE_PYTHON_DIR or PYTHON3 in the cache"
	run "$1-python" sh -c 'cd / && env -u EMBSTORE_LIBRARY -u LD_LIBRARY_PATH PYTHONPATH="$1" "$2" -c "$3" "$4"' \
		sh "$3/$pydir" "$python" \
		'import os, sys, embstore; lib = os.path.realpath(embstore._lib.C._name); assert lib.startswith(os.path.realpath(sys.argv[1])), lib; print(embstore.version())' \
		"$3"
	echo "ok: $1 python package"
}

# Debug: packaging does not depend on the build type, and unoptimised kernels compile in seconds, not minutes.
configure_build() { # configure_build NAME CMAKE_ARGS...: embstore itself, libraries (and what the args add)
	name=$1
	shift
	run "$name-configure" "$cmake" -S "$src" -B "$work/$name" -G "$generator" -DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_BUILD_TYPE=Debug -DEMBSTORE_BUILD_TESTS=OFF "$@"
	run "$name-build" "$cmake" --build "$work/$name" -j2
}

# 1. A prefix given only at install time: everything must follow it.
configure_build build-local -DEMBSTORE_BUILD_TOOLS=OFF
run install-local "$cmake" --install "$work/build-local" --prefix "$work/local"
consume local "$work/local" "$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$work/build-local/CMakeCache.txt")"
check_python local "$work/build-local" "$work/local"

# 2. /usr with a multiarch libdir, staged under DESTDIR, with the CLI and its files.
libdir=lib64
[ -z "$multiarch" ] || libdir=lib/$multiarch
configure_build build-usr -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR="$libdir" -DEMBSTORE_BUILD_TOOLS=ON
run install-usr env DESTDIR="$work/stage" "$cmake" --install "$work/build-usr"
for f in usr/bin/embstore usr/include/embstore.h usr/share/bash-completion/completions/embstore \
	usr/share/doc/embstore/LICENSE "usr/$libdir/libembstore.a" "usr/$libdir/libembstore.so.0"; do
	[ -e "$work/stage/$f" ] || fail "usr: $f was not installed"
done
if grep -q '^SCDOC:FILEPATH=/' "$work/build-usr/CMakeCache.txt"; then
	[ -f "$work/stage/usr/share/man/man1/embstore.1" ] || fail "usr: the man page was not installed"
fi
consume usr "$work/stage/usr" "$libdir"
check_python usr "$work/build-usr" "$work/stage/usr"

# 3. add_subdirectory: embstore's defaults must build in another project, without its tests or CLI.
run subdir-configure "$cmake" -S "$src/tests/consumer" -B "$work/subdir" -G "$generator" -DCMAKE_C_COMPILER="$cc" \
	-DEMBSTORE_CONSUMER_FROM=subdirectory -DEMBSTORE_SOURCE_DIR="$src"
run subdir-build "$cmake" --build "$work/subdir" -j2
[ ! -e "$work/subdir/embstore/tests" ] || fail "subdirectory: embstore's tests were configured"
[ ! -e "$work/subdir/embstore/tools" ] || fail "subdirectory: embstore's CLI was configured"
run_consumer "$work/subdir/consumer_shared" shared "$work/subdir/embstore"
run_consumer "$work/subdir/consumer_static" static "$work/subdir/embstore"
echo "ok: every consumer"
