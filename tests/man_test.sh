#!/bin/sh
# man_test.sh MAN_PAGE EMBSTORE: the man page that scdoc built renders without warnings (groff), and documents,
# in each command's own section, every command of `EMBSTORE --help` and every option of its --help.
# MAN_PAGE is empty when the build found no scdoc: skipped.
set -u
page=$1 embstore=$2
if [ -z "$page" ]; then
	echo "skipped: scdoc was not found, so the man page was not built (tools/deps.sh installs it)"
	exit 77
fi
[ -s "$page" ] || { echo "FAILED: $page is missing or empty"; exit 1; }
failures=0

if command -v groff >/dev/null 2>&1; then
	warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$warnings" ]; then
		echo "FAILED: groff warns about $page:"
		echo "$warnings"
		failures=$((failures + 1))
	fi
else
	echo "note: no groff, rendering not checked"
fi

# The roff source without font changes (\fB--json\fR -> --json).
text=$(sed 's/\\f[BIRP]//g' "$page")

# section HEADING: the lines under the roff line HEADING (".SS build", ".SH OPTIONS") up to the next heading.
section() {
	printf '%s\n' "$text" | awk -v h="$1" '$0 == h { on = 1; next } /^\.S[HS]/ { on = 0 } on'
}

# check_options HEADING HELP: the section HEADING mentions every option that the text HELP mentions.
check_options() {
	body=$(section "$1")
	if [ -z "$body" ]; then
		echo "FAILED: $page has no section '$1'"
		failures=$((failures + 1))
		return
	fi
	opts=$(printf '%s\n' "$2" | grep -oE -- '(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[^-]*//' |
		grep -vxE -- '-[a-zA-Z][a-zA-Z0-9-]+' | sort -u)
	if [ -z "$opts" ]; then
		echo "FAILED: no options in the help for '$1'"
		failures=$((failures + 1))
	fi
	for o in $opts; do
		if ! printf '%s\n' "$body" | grep -qE -- "(^|[^a-zA-Z0-9-])$o([^a-zA-Z0-9-]|\$)"; then
			echo "FAILED: the section '$1' of $page does not mention $o"
			failures=$((failures + 1))
		fi
	done
}

help=$("$embstore" --help)
commands=$(printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$commands" ] || { echo "FAILED: could not read the commands from '$embstore --help'"; exit 1; }
for c in $commands; do
	check_options ".SS $c" "$("$embstore" "$c" --help)"
done
check_options ".SH OPTIONS" "$(printf '%s\n' "$help" | sed '/^Commands:/,/^$/d')"
for v in $(printf '%s\n' "$help" | sed -n '/^Environment:/,/^$/s/^  \([A-Z_][A-Z_]*\) .*/\1/p'); do
	if ! section ".SH ENVIRONMENT" | grep -q "^$v\$"; then
		echo "FAILED: ENVIRONMENT does not list $v"
		failures=$((failures + 1))
	fi
done
section ".SH EXIT STATUS" | grep -q . || { echo "FAILED: $page has no EXIT STATUS"; failures=$((failures + 1)); }

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "ok: $page"
