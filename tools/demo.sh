#!/bin/sh
# demo.sh: the main job on the sample shipped in examples/: build a store from it, inspect it, look rows up,
# verify it, then the same from Python. Installs what it needs first (Debian 12, root), and embstore itself into
# /usr/local (library, CLI, Python package).
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBSTORE_BUILD_TESTS=OFF >/dev/null
cmake --build build -j2 >/dev/null
cmake --install build >/dev/null
set -x
# -f: replace the store an earlier run of the demo left.
./build/embstore build -f -o build/sample.emb --dtype f16 --meta licence=CC0 examples/sample.npy
./build/embstore inspect build/sample.emb
./build/embstore get build/sample.emb --ids 0,17,999
./build/embstore verify build/sample.emb
# The same rows from Python, in another directory: the installed package (docs/PYTHON.md).
store=$(pwd)/build/sample.emb
cd / && python3 -c 'import embstore, sys; print(embstore.open(sys.argv[1])["sample"].lookup([0, 17, 999]))' "$store"
