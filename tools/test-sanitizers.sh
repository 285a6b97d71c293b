#!/bin/sh
# test-sanitizers.sh: the test suite under sanitizers, each build in its own directory of the source tree.
#  1. build-asan: everything (library, CLI, tests) with ASan and UBSan (clang; CC_ASAN=gcc works too), every
#     finding fatal; the whole suite once, on the kernel set the CPU picks (the per-set runs of the ordinary
#     suite are left out: the kernel tests call every set directly). The CLI tests drive the ASan-built CLI.
#  2. build-tsan: the library and tests/concurrency_check.c, which runs every use of threads, with TSan (gcc;
#     CC_TSAN=clang works too).
# Installs nothing: tools/deps.sh test brings clang and the sanitizer runtimes.
set -eu
cd "$(dirname "$0")/.."

# Leaks are findings; so is any UB report (-fno-sanitize-recover=all makes it abort too).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cmake -S . -B build-asan -DCMAKE_C_COMPILER="${CC_ASAN:-clang}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DEMBSTORE_BUILD_TESTS=ON -DEMBSTORE_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j2 >/dev/null
# consumer_test and consumer_mpi_test build programs of their own, without the sanitizer runtimes, against the
# installed libraries: they test packaging, which the ordinary suite does.
# cli_test.py writes some stores through ctypes: Python cannot load the ASan-built library, so it gets the
# ordinary one (the stores are the same bytes); the CLI it tests is the ASan one.
cmake -S . -B build >/dev/null
# The Python package's tests run the interpreter with the ASan runtime preloaded (tests/CMakeLists.txt); the tool
# they start must then be the ordinary one.
cmake --build build -j2 --target embstore embstore_cli >/dev/null
EMBSTORE_TEST_LIBRARY="$PWD/build/libembstore.so" EMBSTORE_TEST_CLI="$PWD/build/embstore" ctest --test-dir build-asan -j2 --output-on-failure -E '@|^consumer_(mpi_)?test$'

# Criterion programs cannot start under TSan (their runner maps a shared arena at a random address in a range
# TSan reserves, and aborts: "Could not initialize inheritable arena"), so the threaded cases run as the plain-C
# tests/concurrency_check.c: the parallel kernel cases of test_threads, the kernel set switched under running
# kernels, readers sharing a store, and training in place with threads.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
cmake -S . -B build-tsan -DCMAKE_C_COMPILER="${CC_TSAN:-gcc}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DEMBSTORE_BUILD_TESTS=ON -DEMBSTORE_SANITIZE=thread >/dev/null
cmake --build build-tsan -j2 --target concurrency_check >/dev/null
echo "TSan: concurrency_check"
build-tsan/tests/concurrency_check
