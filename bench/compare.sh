#!/usr/bin/env bash
# The one script that runs gorc-jitlink and its rivals on the same inputs,
# alternately, and prints medians (wall, CPU, peak RSS) and ratios to the
# rival (the last line of each table). First the four rows of issue 13:
#
#   1. main + Debian libcrypto.a, gorc-jitlink -noexec, against static links
#      of the same objects by ld.lld-19 and by mold --no-fork (with the crt
#      objects and libraries gcc passes, as gcc -v shows);
#   2. main + libsqlite3.a, -noexec, against llvm-jitlink-22;
#   3. main + libsqlite3.a inserting 100k rows, run with -oop-executor
#      (copying with -use-shared-memory=false, and shared memory, the
#      default) against the same run in process. CPU time counts the
#      processes a command waited for (the executor, and gcc asked for
#      libgcc.a); peak RSS is the largest of them (out of process the
#      controller's: the executor's is 12-14 MB).
#
# Then (with "all") the older comparisons against llvm-jitlink-14/19: the
# sqlite link and run, a hello world, and LLVM's out-of-process pair.
# llvm-jitlink gets no -lm: it cannot follow glibc's libm linker script, and
# its own process already has libm loaded; gorc-jitlink (a Go program) loads
# it with -lm.
#
#   bench/compare.sh [runs] [all]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
all=${2:-}
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

# Row 1: libcrypto. The static rivals get gcc's own -static link line.
cat > "$work/crypto.c" <<'C'
#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
int main(void) {
	unsigned char md[32];
	SHA256((const unsigned char *)"abc", 3, md);
	for (int i = 0; i < 32; i++) printf("%02x", md[i]);
	printf("\n");
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha512(), NULL);
	EVP_MD_CTX_free(c);
	return 0;
}
C
gcc -O2 -c -o "$work/crypto.o" "$work/crypto.c"
crypto=/usr/lib/x86_64-linux-gnu/libcrypto.a
gccdir=$(dirname "$(gcc -print-libgcc-file-name)")
libdir=/usr/lib/x86_64-linux-gnu
static="-static -m elf_x86_64 $libdir/crt1.o $libdir/crti.o $gccdir/crtbeginT.o -L$gccdir -L$libdir $work/crypto.o $crypto --start-group -lgcc -lgcc_eh -lc --end-group $gccdir/crtend.o $libdir/crtn.o"
echo "== main + libcrypto.a, gorc -noexec against static links (ld.lld-19, mold --no-fork)"
"$work/compare" -n "$runs" \
	-name gorc-jitlink -cmd "$work/gorc-jitlink -noexec $work/crypto.o $crypto" \
	-name mold -cmd "mold --no-fork -o $work/crypto-mold $static" \
	-name ld.lld-19 -cmd "ld.lld-19 -o $work/crypto-lld $static"

# Row 2: sqlite against llvm-jitlink-22.
if command -v llvm-jitlink-22 >/dev/null; then
	echo "== main + libsqlite3.a -lm, -noexec (llvm-jitlink-22)"
	"$work/compare" -n "$runs" \
		-name gorc-jitlink -cmd "$work/gorc-jitlink -noexec $work/sqlite.o $lib -lm" \
		-name llvm-jitlink-22 -cmd "llvm-jitlink-22 -noexec $work/sqlite.o $lib"
fi

# Row 3: a program that does some work (100k inserts) run in an executor
# process against the same run in process.
cat > "$work/sqlite100k.c" <<'C'
#include <stdio.h>
#include <sqlite3.h>
int main(void) {
	sqlite3 *db; sqlite3_stmt *st; long sum = 0;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "create table t(x integer); begin", 0, 0, 0);
	sqlite3_prepare_v2(db, "insert into t values (?)", -1, &st, 0);
	for (int i = 0; i < 100000; i++) { sqlite3_bind_int(st, 1, i); sqlite3_step(st); sqlite3_reset(st); }
	sqlite3_finalize(st);
	sqlite3_exec(db, "commit", 0, 0, 0);
	sqlite3_prepare_v2(db, "select sum(x) from t", -1, &st, 0);
	if (sqlite3_step(st) == SQLITE_ROW) sum = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	printf("%ld\n", sum);
	return sqlite3_close(db) != SQLITE_OK || sum != 4999950000L;
}
C
gcc -O2 -c -o "$work/sqlite100k.o" "$work/sqlite100k.c"
echo "== main + libsqlite3.a -lm inserting 100k rows, run out of process against in process"
"$work/compare" -n "$runs" \
	-name gorc-oop-copy -cmd "$work/gorc-jitlink -oop-executor=$work/gorc-executor -use-shared-memory=false $work/sqlite100k.o $lib -lm" \
	-name gorc-oop-shared -cmd "$work/gorc-jitlink -oop-executor=$work/gorc-executor $work/sqlite100k.o $lib -lm" \
	-name gorc-in-process -cmd "$work/gorc-jitlink $work/sqlite100k.o $lib -lm"

[ "$all" = all ] || exit 0

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
	-name gorc-oop-copy -cmd "$work/gorc-jitlink -oop-executor=$work/gorc-executor -use-shared-memory=false $work/sqlite.o $lib -lm" \
	-name gorc-oop-shared -cmd "$work/gorc-jitlink -oop-executor=$work/gorc-executor $work/sqlite.o $lib -lm" \
	-name gorc-in-process -cmd "$work/gorc-jitlink $work/sqlite.o $lib -lm" \
	-name llvm-14-oop -cmd "llvm-jitlink-14 -oop-executor=llvm-jitlink-executor-14 $work/sqlite.o $lib"
