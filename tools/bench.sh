#!/bin/sh
# bench.sh: installs what the benchmarks need (Debian 12, root), builds in Release with them, then runs the
# Google Benchmark suite of the kernels (a default subset, JSON in build/bench.json) and the comparison with
# numpy and torch that checks the performance targets (build/peers.json). docs/BENCHMARKS.md explains both.
#   sh tools/bench.sh                                     # the default run, a few minutes
#   sh tools/bench.sh --benchmark_filter='^bag_sum/'      # other arguments go to embstore_bench
#   EMBSTORE_BENCH_FILTER=. sh tools/bench.sh             # the whole matrix (about 1,600 benchmarks)
# The store files both read are written into the build directory once and reused.
set -eu
cd "$(dirname "$0")/.."
build=${EMBSTORE_BUILD_DIR:-build}
# Every dim for gather, scatter-add and the memcpy baseline; the bags (3 modes x 4 lengths) at dim 128 only.
filter=${EMBSTORE_BENCH_FILTER:-'^(gather|scatter_add|memcpy)/|/dim:128/'}
sh tools/deps.sh bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMBSTORE_BUILD_BENCH=ON
cmake --build "$build" -j2
"$build/embstore_bench" --table_dir="$build" --benchmark_filter="$filter" --benchmark_min_time=0.1 \
	--benchmark_out="$build/bench.json" --benchmark_out_format=json "$@"
/usr/bin/python3 bench/peers.py --lib "$build/libembstore.so" --dir "$build" --json "$build/peers.json"
