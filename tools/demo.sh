#!/bin/sh
# demo.sh: the main job on the sample shipped in examples/: build a store from it, inspect it, look rows up,
# verify it. Installs what it needs first (Debian 12, root).
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBSTORE_BUILD_TESTS=OFF >/dev/null
cmake --build build -j2 >/dev/null
set -x
# -f: replace the store an earlier run of the demo left.
./build/embstore build -f -o build/sample.emb --dtype f16 --meta licence=CC0 examples/sample.npy
./build/embstore inspect build/sample.emb
./build/embstore get build/sample.emb --ids 0,17,999
./build/embstore verify build/sample.emb
