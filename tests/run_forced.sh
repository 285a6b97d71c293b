#!/bin/sh
# run_forced.sh CLI ISA COMMAND...: runs COMMAND with EMBSTORE_ISA=ISA, or exits 77 (ctest: skipped) when this
# CPU or build cannot run ISA.
cli=$1 isa=$2
shift 2
if ! "$cli" cpu --check "$isa" >/dev/null 2>&1; then
	echo "skipped: this CPU or build has no $isa kernels"
	exit 77
fi
EMBSTORE_ISA=$isa exec "$@"
