#!/bin/sh
# deps.sh [build|test|bench]: installs, as root on Debian 12, what embstore needs for that job. Runs apt-get only
# when something is missing, so it costs nothing on a machine that has it all.
set -eu
job=${1:-build}
# scdoc turns docs/embstore.1.scd into the man page; the build goes on without it.
pkgs="cmake make gcc libxxhash-dev scdoc"
case $job in
build) ;;
# jq: the CLI tour (docs test) pipes into it. pkgconf and groff-base: the packaging test links consumers through
# pkg-config; the man page test renders it. clang and libclang-rt-14-dev (libFuzzer and clang's sanitizer
# runtimes): tools/fuzz.sh and tools/test-sanitizers.sh (gcc's sanitizer runtimes come with gcc).
test) pkgs="$pkgs libcriterion-dev python3 python3-numpy jq pkgconf groff-base clang libclang-rt-14-dev" ;;
# python3-gensim: bench/import_vs_gensim.py times gensim's loader (and tests/data/make_vectors.py uses it).
bench) pkgs="$pkgs g++ libbenchmark-dev python3 python3-numpy python3-torch python3-gensim" ;;
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
