#!/usr/bin/env bash
# corpus.sh runs C test corpora natively and under gorc-jitlink and compares.
#
#   scripts/corpus.sh [-j N] [-s SETS] [-w WORKDIR] [-f FILTER] C_TESTSUITE LLVM_TEST_SUITE
#
# C_TESTSUITE is a checkout of github.com/c-testsuite/c-testsuite (its
# tests/single-exec programs), LLVM_TEST_SUITE one of llvm-test-suite (its
# SingleSource/Regression/C/gcc-c-torture/execute programs, with ieee/ and
# builtins/, whose tests X.c link with X-lib.c and lib/main.c as gcc's
# builtins.exp does). Either may be a work tree or a bare git directory
# (its HEAD is extracted); "-" skips one.
#
# For each program and flag set: compile to an object, link it natively with
# gcc (-lm; -no-pie for the fno-pic set) and run it with a timeout. A
# program passes natively when it exits 0 (c-testsuite: and its output
# equals the .expected file). Each native pass then runs under gorc-jitlink
# (built once from this checkout, with -lm); it passes when its exit code
# and stdout equal the native run's (only the exit code when two native
# runs print different things, such as stack addresses). Prints counts per suite and flag set
# and lists the gorc failures; WORKDIR keeps the logs (results.txt, and
# for each failure its gorc stderr).
#
# -j N      parallel jobs (default 2: mind shared machines)
# -s SETS   comma-separated flag sets (default all): O0,O2,nopic,large,clang
# -w DIR    the work directory (default: a new temporary one)
# -f REGEX  only programs whose path matches
set -euo pipefail

jobs=2
sets="O0,O2,nopic,large,clang"
work=""
filter=""
while getopts "j:s:w:f:" opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	s) sets=$OPTARG ;;
	w) work=$OPTARG ;;
	f) filter=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -ne 2 ]; then
	sed -n "2,24p" "$0" | sed "s/^# \{0,1\}//"
	exit 2
fi
cts=$1
lts=$2

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/gorc-corpus.XXXXXX")
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
echo "corpus: work directory $work" >&2

# source DIR SUBDIR DEST: the files of DIR/SUBDIR (a work tree or bare git
# directory) in DEST.
source_dir() {
	local dir=$1 sub=$2 dest=$3
	rm -rf "$dest"
	mkdir -p "$dest"
	if [ -d "$dir/$sub" ]; then
		cp -r "$dir/$sub/." "$dest/"
	elif git -C "$dir" rev-parse --git-dir >/dev/null 2>&1; then
		local n
		n=$(awk -F/ '{print NF}' <<<"$sub")
		git -C "$dir" archive HEAD "$sub" | tar -x -C "$dest" --strip-components="$n"
	else
		echo "corpus: $dir has no $sub" >&2
		exit 2
	fi
}

list="$work/list.txt"
: >"$list"
IFS=, read -r -a setlist <<<"$sets"
if [ "$cts" != "-" ]; then
	source_dir "$cts" tests/single-exec "$work/src/c-testsuite"
	for f in "$work"/src/c-testsuite/*.c; do
		for s in "${setlist[@]}"; do echo "c-testsuite $s $(basename "$f" .c) $f"; done
	done >>"$list"
fi
if [ "$lts" != "-" ]; then
	source_dir "$lts" SingleSource/Regression/C/gcc-c-torture/execute "$work/src/torture"
	t="$work/src/torture"
	for f in "$t"/*.c "$t"/ieee/*.c; do
		name=${f#"$t"/}
		for s in "${setlist[@]}"; do echo "torture $s ${name%.c} $f"; done
	done >>"$list"
	for f in "$t"/builtins/*.c; do
		case $f in *-lib.c) continue ;; esac
		name=${f#"$t"/}
		srcs="$f"
		[ -f "${f%.c}-lib.c" ] && srcs="$srcs ${f%.c}-lib.c"
		for s in "${setlist[@]}"; do echo "torture $s ${name%.c} $srcs $t/builtins/lib/main.c"; done
	done >>"$list"
fi
if [ -n "$filter" ]; then
	grep -E -- "$filter" "$list" >"$list.f" || true
	mv "$list.f" "$list"
fi

(cd "$root" && go build -o "$work/gorc-jitlink" ./cmd/gorc-jitlink)

# one SUITE SET NAME SOURCE...: prints "SUITE SET NAME RESULT [reason]",
# RESULT one of native-fail, pass, fail.
one() {
	local suite=$1 set=$2 name=$3
	shift 3
	local cc cflags ldflags
	local d="$work/run/$suite/$set/$name"
	mkdir -p "$d"
	cc=gcc
	ldflags="-lm"
	case $set in
	O0) cflags="-O0" ;;
	O2) cflags="-O2" ;;
	nopic) cflags="-O1 -fno-pic -fno-pie" ldflags="-no-pie -lm" ;;
	large) cflags="-O1 -fPIC -mcmodel=large" ;;
	clang) cc=clang-19 cflags="-O2" ;;
	*) echo "$suite $set $name fail unknown flag set"; return ;;
	esac
	# Torture tests are old C: no warnings, implicit declarations.
	local extra="-w"
	if [ "$cc" = clang-19 ]; then
		extra="-w -Wno-error=implicit-function-declaration -Wno-error=int-conversion -Wno-error=incompatible-pointer-types -Wno-error=return-type"
	fi
	case $name in
	builtins/*) [ "$cc" = gcc ] && extra="$extra -fno-tree-dse -fno-tree-loop-distribute-patterns -fno-tracer -fno-ipa-ra" ;;
	esac
	local objs=() i=0 src
	for src in "$@"; do
		i=$((i + 1))
		# shellcheck disable=SC2086
		if ! (cd "$d" && timeout 60 $cc $cflags $extra -c -o "p$i.o" "$src") >>"$d/cc.log" 2>&1; then
			echo "$suite $set $name native-fail compile"
			return
		fi
		objs+=("p$i.o")
	done
	# shellcheck disable=SC2086
	if ! (cd "$d" && timeout 60 $cc $cflags -o prog "${objs[@]}" $ldflags) >"$d/ld.log" 2>&1; then
		echo "$suite $set $name native-fail link"
		return
	fi
	local rc=0 rc2=0
	(cd "$d" && timeout 10 ./prog >native.out 2>native.err) || rc=$?
	if [ "$suite" = c-testsuite ]; then
		if [ $rc -ne 0 ] || ! cat "$d/native.out" "$d/native.err" | cmp -s - "$1.expected"; then
			echo "$suite $set $name native-fail run"
			return
		fi
	elif [ $rc -ne 0 ]; then
		echo "$suite $set $name native-fail run"
		return
	fi
	(cd "$d" && timeout 10 ./prog >native2.out 2>/dev/null) || rc2=$?
	local grc=0
	(cd "$d" && timeout 30 "$work/gorc-jitlink" "${objs[@]}" -lm >gorc.out 2>gorc.err) || grc=$?
	if [ $grc -ne $rc ]; then
		echo "$suite $set $name fail exit $grc: $(head -c 300 "$d/gorc.err" | tr '\n' ' ')"
		return
	fi
	if cmp -s "$d/native.out" "$d/native2.out" && ! cmp -s "$d/native.out" "$d/gorc.out"; then
		echo "$suite $set $name fail stdout differs"
		return
	fi
	echo "$suite $set $name pass"
	rm -rf "$d"
}
export -f one
export work

results="$work/results.txt"
xargs -P "$jobs" -L 1 bash -c 'one "$@"' _ <"$list" >"$results" 2>"$work/xargs.err"

echo "suite        set    native-pass  gorc-pass"
for suite in c-testsuite torture; do
	for s in "${setlist[@]}"; do
		n=$(awk -v a="$suite" -v b="$s" '$1==a && $2==b && ($4=="pass" || $4=="fail")' "$results" | wc -l)
		p=$(awk -v a="$suite" -v b="$s" '$1==a && $2==b && $4=="pass"' "$results" | wc -l)
		[ "$n" -gt 0 ] && printf "%-12s %-6s %11d %10d\n" "$suite" "$s" "$n" "$p"
	done
done
if grep -q ' fail' "$results"; then
	echo "gorc failures:"
	awk '$4=="fail"' "$results" | sort
	exit 1
fi
