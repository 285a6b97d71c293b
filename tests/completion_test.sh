#!/bin/bash
# completion_test.sh COMPLETION EMBSTORE: sources the bash completion and drives it as bash would (COMP_WORDS,
# COMP_CWORD), checking that it offers every command of `EMBSTORE --help`, every option of each command's
# --help, the values of --dtype, --from and --check, and file names for operands.
set -u
completion=$1 embstore=$2
. "$completion"
failures=0

# complete WORD...: the completions of the last WORD after the others, sorted, one per line.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_embstore
	printf '%s\n' "${COMPREPLY[@]}" | sort
}

# expect "WORDS" EXPECTED...: the completions are exactly EXPECTED. WORDS is shell words (an empty one: '').
expect() {
	local words=$1 got want
	shift
	got=$(eval "complete_words $words")
	want=$(printf '%s\n' "$@" | sort)
	if [[ $got != "$want" ]]; then
		echo "FAILED: embstore completion of [$words]: got [$(echo $got)], expected [$*]"
		failures=$((failures + 1))
	fi
}

# offers "WORDS" WORD...: each WORD is among the completions.
offers() {
	local words=$1 got w
	shift
	got=$(eval "complete_words $words")
	for w in "$@"; do
		if ! grep -qxF -- "$w" <<<"$got"; then
			echo "FAILED: embstore completion of [$words] does not offer $w"
			failures=$((failures + 1))
		fi
	done
}

# Commands, from the general help's list; and the options of each, from its own help.
mapfile -t commands < <("$embstore" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')
if [[ ${#commands[@]} -lt 6 ]]; then
	echo "FAILED: could not read the commands from '$embstore --help'"
	exit 1
fi
offers "embstore ''" "${commands[@]}" help
offers "embstore -" --help --version
for c in "${commands[@]}"; do
	mapfile -t opts < <("$embstore" "$c" --help | grep -oE -- '(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' |
		sed 's/^[^-]*//' | grep -vxE -- '-[a-zA-Z][a-zA-Z0-9-]+' | sort -u)
	if [[ ${#opts[@]} -lt 2 ]]; then
		echo "FAILED: could not read the options from '$embstore $c --help'"
		failures=$((failures + 1))
		continue
	fi
	offers "embstore $c -" "${opts[@]}"
	expect "embstore help ${c:0:2}" "$c"
done

expect "embstore in" inspect
expect "embstore build --d" --dim --dtype
expect "embstore build --dtype ''" bf16 f16 f32 int8
expect "embstore build --dtype = b" bf16
expect "embstore build -d f3" f32
expect "embstore build --from ''" fasttext glove npy npz raw safetensors word2vec word2vec-text
expect "embstore build --unicode-errors ''" replace strict
expect "embstore cpu --check avx" avx2 avx512
expect "embstore verify --q" --quiet

# File names for operands and for --output, none after --check; after "--" no options, even for "-...".
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
touch -- words.npy -q.emb
expect "embstore inspect wo" words.npy
expect "embstore build -o x.emb table = wo" words.npy  # bash splits NAME=INPUT at the =
expect "embstore build --output wo" words.npy
expect "embstore verify -- -" -q.emb
expect "embstore cpu --check w"
expect "embstore get --ids 3 -- -" -q.emb
expect "embstore get --keys-from wo" words.npy
expect "embstore get --key wo"  # a key, not a file name

if ((failures > 0)); then
	echo "$failures failures"
	exit 1
fi
echo "ok: completion of commands, options, values and files"
