#!/usr/bin/env bash
# Runs every fuzz target of the repository (the cluster module's too), one at a time, for a duration each
# (default 60s), and writes the record to faults/testdata/fuzz.md, which
# `go test ./faults -update` puts into docs/reliability.md.
#   bash faults/fuzz.sh [duration]
set -uo pipefail
cd "$(dirname "$0")/.."
dur="${1:-60s}"
out=faults/testdata/fuzz.md
tmp=$(mktemp)
{
	echo "Fuzz targets at commit $(git rev-parse --short HEAD), each run for $dur with \`go test -fuzz\` (-parallel 1), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg):"
	echo
	echo "| package | target | result | execs | new corpus |"
	echo "|---|---|---|--:|--:|"
} >"$tmp"
fail=0
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./bench/' | sort | while read -r f; do
	pkg=$(dirname "$f")
	shown=${pkg#./}
	mod=.
	case "$pkg" in ./cluster | ./cluster/*) mod=cluster pkg=".${pkg#./cluster}" ;; esac # its own module
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		log=$(mktemp)
		if go -C "$mod" test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" -parallel 1 >"$log" 2>&1; then
			res=clean
		else
			res="FAILED (see go test output; crasher in $shown/testdata/fuzz/$target)"
			fail=1
		fi
		line=$(grep -E 'fuzz: elapsed' "$log" | tail -1)
		execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$line")
		corpus=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$line")
		echo "| $shown | $target | $res | ${execs:-?} | ${corpus:-?} |" >>"$tmp"
		echo "$shown $target: $res" >&2
		[ "$res" = clean ] || tail -30 "$log" >&2
		rm -f "$log"
	done
done
mv "$tmp" "$out"
echo "wrote $out" >&2
