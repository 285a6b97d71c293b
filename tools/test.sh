#!/bin/sh
# test.sh: installs what the tests need (Debian 12, root), builds, and runs the whole suite: every Criterion,
# CLI and Python test once as is and once per kernel set this CPU has (ctest), installs embstore into /usr/local,
# then the aarch64 build under qemu.
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh test
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBSTORE_BUILD_TESTS=ON
cmake --build build -j2
ctest --test-dir build -j2 --output-on-failure
# The library, the CLI and the Python package into /usr/local (python3 -c "import embstore" works afterwards).
cmake --install build >/dev/null
if [ -f tools/test-aarch64.sh ]; then
	bash tools/test-aarch64.sh
fi
# Then the suite under ASan + UBSan and the threaded checks under TSan, and each fuzzer for 30 seconds.
sh tools/test-sanitizers.sh
sh tools/fuzz.sh 30
