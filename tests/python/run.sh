#!/bin/sh
# run.sh PYTHON LIBRARY: the Python package's pytest suite (tests/python) with the package of this source tree
# and the library at LIBRARY, in a temporary directory of its own (ctest runs it once per kernel set, at the same
# time). pytest reports skipped cases (torch missing) as skipped in its summary (-rs).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
EMBSTORE_LIBRARY=$2 PYTHONPATH=$here/../../python "$1" -m pytest -q -rs -p no:cacheprovider --basetemp "$tmp/t" \
	"$here"
