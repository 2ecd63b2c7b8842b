#!/usr/bin/env bash
# Runs gorc-lli -jit-kind=mcjit and LLVM's lli (newest installed, also
# -jit-kind=mcjit) on the same IR program, alternately, cold (code
# generation every run) and with a warm object cache, and prints medians
# and ratios. The program is C compiled to IR by clang-19: 300 functions
# with tables, called in a loop.
#
#   bench/compare-lli.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-9}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lli=
for v in 30 29 28 27 26 25 24 23 22 21 20 19 18 17 16 15 14; do
	if [ -x "/usr/lib/llvm-$v/bin/lli" ]; then lli=/usr/lib/llvm-$v/bin/lli; break; fi
done
[ -n "$lli" ] || { echo "no lli installed (apt-get install llvm-19)" >&2; exit 2; }

go build -o "$work/gorc-lli" ./cmd/gorc-lli
go build -o "$work/compare" ./bench/compare
{
	echo '#include <stdio.h>'
	for i in $(seq 0 299); do
		echo "static int t$i[16] = {$(seq -s, $i $((i + 15)))};"
		echo "int f$i(int x) { int s = 0; for (int k = 0; k < 16; k++) s += t$i[k] * (x ^ k); if (s % 3 == 0) s += $i; return s; }"
	done
	echo 'int main(void) { long t = 0; for (int r = 0; r < 100; r++) {'
	for i in $(seq 0 299); do echo " t += f$i(r);"; done
	echo '} printf("%ld\n", t); return 0; }'
} > "$work/prog.c"
clang-19 -S -emit-llvm -O1 -o "$work/prog.ll" "$work/prog.c"
# Fill both caches once.
"$work/gorc-lli" -jit-kind=mcjit -enable-cache-manager -object-cache-dir="$work/gc" "$work/prog.ll" >/dev/null
"$lli" -jit-kind=mcjit -enable-cache-manager -object-cache-dir="$work/lc" "$work/prog.ll" >/dev/null

echo "== IR program, cold (gorc-lli vs $lli)"
"$work/compare" -n "$runs" \
	-name gorc-lli -cmd "$work/gorc-lli -jit-kind=mcjit $work/prog.ll" \
	-name lli -cmd "$lli -jit-kind=mcjit $work/prog.ll"
echo "== IR program, warm object cache"
"$work/compare" -n "$runs" \
	-name gorc-lli -cmd "$work/gorc-lli -jit-kind=mcjit -enable-cache-manager -object-cache-dir=$work/gc $work/prog.ll" \
	-name lli -cmd "$lli -jit-kind=mcjit -enable-cache-manager -object-cache-dir=$work/lc $work/prog.ll"
