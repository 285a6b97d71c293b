#!/bin/sh
# fuzz.sh [SECONDS]: builds the libFuzzer targets of tests/fuzz with clang, ASan and UBSan (build-fuzz/), and runs
# each for SECONDS (default 30), all at once, on a copy of its corpus (the repository is never written). Prints
# the executions per target; exits 1 when a fuzzer found anything (a crash, a sanitizer report, a timeout, a
# leak or running out of memory), with the input that did it kept in build-fuzz/artifacts/TARGET/.
# To keep a finding: minimise it (build-fuzz/tests/fuzz/fuzz_TARGET -minimize_crash=1 -runs=10000 FILE), fix
# the library, and add the minimised file to tests/fuzz/corpus/TARGET/, where the ordinary suite replays it.
# Longer runs: tools/fuzz.sh 3600. Installs nothing: tools/deps.sh test brings clang.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-30}
build=build-fuzz
cmake -S . -B $build -DCMAKE_C_COMPILER="${CC_FUZZ:-clang}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBSTORE_FUZZ=ON \
	-DEMBSTORE_BUILD_TESTS=OFF -DEMBSTORE_BUILD_TOOLS=OFF -DEMBSTORE_INSTALL=OFF >/dev/null
cmake --build $build -j2 >/dev/null
build=$(cd $build && pwd)

# The npy and npz targets' writer files go to a temporary directory; in memory when there is one, as a fuzzer
# finishes many stores.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi

targets="store npy safetensors npz sync word2vec vectors_text shard mpi_desc"
for t in $targets; do
	rm -rf "$build/work/$t" "$build/artifacts/$t"
	mkdir -p "$build/work/$t" "$build/artifacts/$t"
	cp tests/fuzz/corpus/$t/* "$build/work/$t/"
	dict=""
	if [ -f tests/fuzz/$t.dict ]; then
		dict=-dict=tests/fuzz/$t.dict
	fi
	# Leaks are findings too (ASan's leak check runs after each input that allocated more than it freed).
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t/" $dict "$build/work/$t" >"$build/fuzz_$t.log" 2>&1 &
	echo $! >"$build/fuzz_$t.pid"
done

failed=0
for t in $targets; do
	status=0
	wait "$(cat "$build/fuzz_$t.pid")" || status=$?
	rm -f "$build/fuzz_$t.pid"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz_$t.log")
	found=$(ls "$build/artifacts/$t")
	if [ $status -ne 0 ] || [ -n "$found" ]; then
		echo "fuzz_$t: FAILED (exit $status) after ${execs:-?} executions; input(s) in $build/artifacts/$t/:"
		echo "$found"
		tail -n 60 "$build/fuzz_$t.log"
		failed=1
	else
		echo "fuzz_$t: ${execs:-?} executions in ${seconds} s, no finding ($(ls "$build/work/$t" | wc -l) corpus files)"
	fi
done
exit $failed
