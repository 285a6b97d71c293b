#!/bin/sh
# targets.sh: every performance target of docs/BENCHMARKS.md ("The kernel targets in one run") measured in one run,
# one program after the other, so that all figures share the machine's state of that hour. Needs a Release build
# with the benchmarks (tools/bench.sh makes one); the FBGEMM table also needs -DEMBSTORE_FBGEMM_DIR (skipped
# without it). Run it on a quiet machine: every figure is a ratio within one program, but the programs run
# minutes apart.
#   sh bench/targets.sh BUILD DIR     # BUILD: that build directory; DIR: room for 2.5 GB of stores
# About 15 minutes. Prints the load average between programs; the stores it builds stay in DIR for a rerun.
set -eu
[ $# -eq 2 ] || { echo "usage: sh bench/targets.sh BUILD DIR" >&2; exit 2; }
build=$1
dir=$2
mkdir -p "$dir"
here=$(cd "$(dirname "$0")/.." && pwd)

step() {
	printf '\n== %s\n== load average %s\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

step "machine"
grep -m1 'model name' /proc/cpuinfo
printf 'commit %s; transparent huge pages: %s\n' "$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')" \
	"$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?')"
"$build/embstore" cpu 2>/dev/null || true

# Gather vs numpy / torch / memcpy, reduced-precision output, bag vs torch, scatter-add vs index_add_, 1-id
# lookups: both contenders on the same store file, first as the page cache holds it, then dropped and read back.
step "peers, the store as the page cache holds it"
/usr/bin/python3 "$here/bench/peers.py" --lib "$build/libembstore.so" --dir "$dir" --open-gib 0 --reps 9
step "peers, the store dropped and read back from disk"
/usr/bin/python3 "$here/bench/peers.py" --lib "$build/libembstore.so" --dir "$dir" --open-gib 0 --reps 9 --read-back

# Bag sums against FBGEMM's JIT kernels, same memory and ids.
if [ -x "$build/bench_vs_fbgemm" ]; then
	step "bags against FBGEMM"
	"$build/bench_vs_fbgemm" --reps 21
else
	step "bags against FBGEMM: skipped (no -DEMBSTORE_FBGEMM_DIR in this build)"
fi

# Fixed cost of a call; 2 threads against 1 and memcpy's own gain, on 4 KiB and on 2 MiB pages.
step "small calls"
"$build/bench_calls" small 31
step "2 threads against 1, 4 KiB pages"
"$build/bench_calls" scale 21 4k
step "2 threads against 1, 2 MiB pages"
"$build/bench_calls" scale 21 2m

# A store just built against the same store read back from disk.
step "page states"
"$build/bench_pages" "$dir" 3
step "done"
