#!/bin/sh
# run.sh PYTHON LIBRARY [CLI]: the Python package's pytest suite (tests/python) with the package of this source
# tree, the library at LIBRARY and the embstore tool at CLI (for the cases that compare with it or run it), in a
# temporary directory of its own (ctest runs it once per kernel set, at the same time). pytest reports skipped
# cases (torch or CLI missing) as skipped in its summary (-rs). EMBSTORE_TEST_CLI, when set, replaces CLI: the
# sanitizer suite gives the ordinary tool, as an ASan-built one cannot start under the preloaded ASan runtime.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
EMBSTORE_LIBRARY=$2 EMBSTORE_CLI=${EMBSTORE_TEST_CLI:-${3:-}} PYTHONPATH=$here/../../python "$1" -m pytest -q -rs -p no:cacheprovider \
	--basetemp "$tmp/t" "$here"
