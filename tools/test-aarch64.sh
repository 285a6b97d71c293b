#!/usr/bin/env bash
# test-aarch64.sh: cross-builds the library for AArch64 and runs two checks under qemu-user, once with the default
# kernel set and once forced to each AArch64 set: the NEON kernels against the scalar reference (check_kernels) and
# the store around them, writer to training, plus the fixture stores of tests/data written on x86-64
# (check_store). Installs the cross tools (Debian) when missing.
# Usage: tools/test-aarch64.sh [build-dir]   (default: build-aarch64 in the source tree)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-aarch64}
export DEBIAN_FRONTEND=noninteractive

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Cross compiler, qemu-user and the arm64 libraries the library links (static ones included: xxHash, jansson,
# minizip and the zlib it needs), each only if missing.
arm64lib=/usr/lib/aarch64-linux-gnu
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
	as_root apt-get update -qq
	as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi
need=()
[ -f $arm64lib/libxxhash.a ] || need+=(libxxhash-dev:arm64)
[ -f $arm64lib/libjansson.a ] || need+=(libjansson-dev:arm64)
[ -f $arm64lib/libminizip.a ] || need+=(libminizip-dev:arm64)
[ -f $arm64lib/libz.a ] || need+=(zlib1g-dev:arm64)
if [ ${#need[@]} -gt 0 ]; then
	dpkg --print-foreign-architectures | grep -qx arm64 || as_root dpkg --add-architecture arm64
	as_root apt-get update -qq
	as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi

cmake -S "$src" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-aarch64.cmake" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBSTORE_BUILD_TESTS=OFF -DEMBSTORE_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --target embstore_static -j"$(nproc)" >/dev/null

# Static: dynamically linked AArch64 programs that start threads hang under Debian 12's qemu-user.
checker() { # name, then its sources besides tests/aarch64/<name>.c
	local name=$1
	shift
	aarch64-linux-gnu-gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -static \
		-I"$src/include" -I"$src/simd" "$src/tests/aarch64/$name.c" "$@" "$src/tests/kernel_cases.c" \
		"$build/libembstore.a" $arm64lib/libxxhash.a $arm64lib/libjansson.a $arm64lib/libminizip.a $arm64lib/libz.a \
		-lpthread -lm -o "$build/$name"
}
checker check_kernels
checker check_store "$src/tests/fixture.c"

run() { # kernel set ("": unset), program, its arguments
	local isa=$1
	shift
	echo "== $(basename "$1"), EMBSTORE_ISA=${isa:-(unset)}"
	if [ -z "$isa" ]; then
		env -u EMBSTORE_ISA qemu-aarch64 "$@"
	else
		EMBSTORE_ISA=$isa qemu-aarch64 "$@"
	fi
}
status=0
for isa in "" scalar neon; do
	run "$isa" "$build/check_kernels" || status=1
	run "$isa" "$build/check_store" "$src/tests/data" || status=1
done
exit $status
