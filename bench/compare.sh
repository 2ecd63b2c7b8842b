#!/usr/bin/env bash
# Runs gorc-jitlink and llvm-jitlink (14, and 19 when installed) on the same
# inputs, alternately, and prints medians and ratios: linking main +
# Debian's libsqlite3.a (-noexec, and running it), a hello world, and the
# sqlite program run in an executor process.
# llvm-jitlink gets no -lm: it cannot follow glibc's libm linker script, and
# its own process already has libm loaded; gorc-jitlink (a Go program) loads
# it with -lm.
#
#   bench/compare.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/gorc-jitlink" ./cmd/gorc-jitlink
go build -o "$work/gorc-executor" ./cmd/gorc-executor
go build -o "$work/compare" ./bench/compare
cat > "$work/sqlite.c" <<'C'
#include <stdio.h>
#include <sqlite3.h>
static int row(void *a, int n, char **v, char **c) { for (int i = 0; i < n; i++) printf("%s=%s ", c[i], v[i] ? v[i] : "NULL"); printf("\n"); return 0; }
int main(void) {
	sqlite3 *db; char *err = 0;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "create table t(x); insert into t values (1),(2),(3); select sum(x), avg(x), exp(1.0) from t;", row, 0, &err);
	return sqlite3_close(db);
}
C
gcc -O2 -c -o "$work/sqlite.o" "$work/sqlite.c"
gcc -O2 -c -o "$work/hello.o" examples/hello/hello.c
lib=/usr/lib/x86_64-linux-gnu/libsqlite3.a

llvms=(llvm-jitlink-14)
if command -v llvm-jitlink-19 >/dev/null; then
	llvms+=(llvm-jitlink-19)
elif [ -x /usr/lib/llvm-19/bin/llvm-jitlink ]; then
	llvms+=(/usr/lib/llvm-19/bin/llvm-jitlink)
fi

for llvm in "${llvms[@]}"; do
	name=$(basename "$llvm")
	[ "$name" = llvm-jitlink ] && name=llvm-jitlink-19
	echo "== main + libsqlite3.a -lm, -noexec ($name)"
	"$work/compare" -n "$runs" \
		-name gorc-jitlink -cmd "$work/gorc-jitlink -noexec $work/sqlite.o $lib -lm" \
		-name "$name" -cmd "$llvm -noexec $work/sqlite.o $lib"
	echo "== main + libsqlite3.a -lm, run ($name)"
	"$work/compare" -n "$runs" \
		-name gorc-jitlink -cmd "$work/gorc-jitlink $work/sqlite.o $lib -lm" \
		-name "$name" -cmd "$llvm $work/sqlite.o $lib"
	echo "== hello world, run ($name)"
	"$work/compare" -n "$runs" \
		-name gorc-jitlink -cmd "$work/gorc-jitlink $work/hello.o" \
		-name "$name" -cmd "$llvm $work/hello.o"
done

# Out of process: the same program run in an executor process, gorc's
# controller and executor (copying segments, or sharing memory) against
# LLVM's pair.
echo "== main + libsqlite3.a -lm, run out of process (llvm-jitlink-14 -oop-executor)"
"$work/compare" -n "$runs" \
	-name gorc-oop-copy -cmd "$work/gorc-jitlink -oop-executor=$work/gorc-executor $work/sqlite.o $lib -lm" \
	-name gorc-oop-shared -cmd "$work/gorc-jitlink -oop-executor=$work/gorc-executor -use-shared-memory $work/sqlite.o $lib -lm" \
	-name gorc-in-process -cmd "$work/gorc-jitlink $work/sqlite.o $lib -lm" \
	-name llvm-14-oop -cmd "llvm-jitlink-14 -oop-executor=llvm-jitlink-executor-14 $work/sqlite.o $lib"
