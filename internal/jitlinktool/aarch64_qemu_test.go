package jitlinktool_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// arm64Tools builds gorc-jitlink and gorc-executor for linux/arm64 (cgo,
// with gcc's cross compiler) and returns their paths and a script that
// starts the executor under qemu-aarch64, for -oop-executor. The arm64
// programs use Debian's multiarch libc (libc6:arm64): with qemu's -L and the
// cross compiler's libc, programs that start threads hang.
func arm64Tools(t *testing.T) (jitlink, executorScript string) {
	t.Helper()
	qemu := testutil.NeedTool(t, "qemu-aarch64")
	cc := testutil.NeedTool(t, "aarch64-linux-gnu-gcc")
	testutil.NeedFile(t, "/lib/aarch64-linux-gnu/libc.so.6")
	dir := t.TempDir()
	for _, name := range []string{"gorc-jitlink", "gorc-executor"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, name), "github.com/gorc-jit/gorc/cmd/"+name)
		build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux", "GOARCH=arm64", "CC="+cc)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s for arm64: %v\n%s", name, err, out)
		}
	}
	script := filepath.Join(dir, "executor-arm64")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec "+qemu+" "+filepath.Join(dir, "gorc-executor")+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "gorc-jitlink"), script
}

// Programs compiled for arm64 run the same under gorc-jitlink as natively:
// gorc-jitlink built for arm64 and run under qemu-aarch64 (in process,
// eagerly and with -lazy), and gorc-jitlink on this x86-64 machine with an
// arm64 gorc-executor under qemu (-oop-executor).
func TestAArch64RunsUnderQemu(t *testing.T) {
	jitlinkArm64, executorScript := arm64Tools(t)
	qemu := testutil.NeedTool(t, "qemu-aarch64")
	run := func(t *testing.T, args ...string) testutil.Outcome {
		t.Helper()
		return testutil.Run(t, exec.Command(args[0], args[1:]...))
	}
	check := func(t *testing.T, want testutil.Outcome, how string, got testutil.Outcome) {
		t.Helper()
		if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
			t.Errorf("%s differs from native:\n--- native (exit %d)\n%s--- gorc (exit %d)\n%s--- stderr\n%s",
				how, want.ExitCode, want.Stdout, got.ExitCode, got.Stdout, got.Stderr)
		}
	}
	type program struct {
		name    string
		sources map[string]string
		flags   []string
		libs    []string // for the native link and for gorc-jitlink
		cxx     bool
	}
	var programs []program
	for _, flags := range [][]string{{"-O0"}, {"-O2"}, {"-O2", "-fPIC"}, {"-O2", "-fno-pic", "-fno-pie"},
		{"-O2", "-mcmodel=large", "-fno-pic"}, {"-O2", "-fPIC", "-mtls-dialect=trad"}} {
		programs = append(programs, program{"c" + strings.Join(flags, ""), aarch64Sources, flags, nil, false})
	}
	if _, err := os.Stat("/usr/lib/aarch64-linux-gnu/libsqlite3.a"); err == nil || testutil.InCI() {
		programs = append(programs, program{"sqlite", map[string]string{"sq.c": sqliteArm64Src}, []string{"-O2"},
			[]string{"/usr/lib/aarch64-linux-gnu/libsqlite3.a", "-lm"}, false})
	}
	if _, err := os.Stat("/usr/lib/aarch64-linux-gnu/libz.a"); err == nil || testutil.InCI() {
		programs = append(programs, program{"zlib", map[string]string{"z.c": zlibArm64Src}, []string{"-O2"},
			[]string{"/usr/lib/aarch64-linux-gnu/libz.a"}, false})
	}
	// 64 KiB of thread-locals do not fit static TLS: the descriptors get
	// the dynamic resolver.
	programs = append(programs, program{"dynamic-tls", map[string]string{"dtls.c": dynamicTLSSrc}, []string{"-O2", "-fPIC"}, nil, false})
	programs = append(programs, program{"c++", map[string]string{"cx.cc": cxxArm64Src}, []string{"-O2", "-fPIC"}, nil, true})
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			var objs []string
			cc, libs := "aarch64-linux-gnu-gcc", p.libs
			if p.cxx {
				// -lstdc++ and -lgcc_s must name the multiarch libraries
				// the programs run with (libstdc++6:arm64 has no
				// unversioned links): the executor loads those at start,
				// and the cross compiler's copies would be second
				// instances, whose std::cout the first's initializer never
				// constructs.
				cc = testutil.NeedTool(t, "aarch64-linux-gnu-g++")
				libDir := t.TempDir()
				for link, lib := range map[string]string{"libstdc++.so": "libstdc++.so.6", "libgcc_s.so": "libgcc_s.so.1"} {
					target := testutil.NeedFile(t, "/lib/aarch64-linux-gnu/"+lib)
					if err := os.Symlink(target, filepath.Join(libDir, link)); err != nil {
						t.Fatal(err)
					}
				}
				libs = append(libs, "-L", libDir)
			}
			for name, src := range p.sources {
				objs = append(objs, testutil.CompileWith(t, cc, dir, name, src, p.flags...))
			}
			native := filepath.Join(dir, "native")
			link := append(append([]string{"-o", native}, objs...), p.libs...)
			if out, err := exec.Command(cc, append(link, "-lpthread")...).CombinedOutput(); err != nil {
				t.Fatalf("native link: %v\n%s", err, out)
			}
			want := run(t, qemu, native, "a", "b")
			inputs := append(append([]string{}, objs...), libs...)
			check(t, want, "arm64 gorc-jitlink", run(t, append(append([]string{qemu, jitlinkArm64}, inputs...), "-args", "a", "b")...))
			check(t, want, "arm64 gorc-jitlink -lazy", run(t, append(append([]string{qemu, jitlinkArm64, "-lazy"}, inputs...), "-args", "a", "b")...))
			check(t, want, "gorc-jitlink -oop-executor (arm64)", run(t, append(append([]string{tool, "-oop-executor=" + executorScript}, inputs...), "-args", "a", "b")...))
		})
	}
}

const sqliteArm64Src = `#include <stdio.h>
#include <sqlite3.h>
static int row(void *u, int n, char **v, char **c) {
	for (int i = 0; i < n; i++) printf("%s=%s ", c[i], v[i] ? v[i] : "NULL");
	printf("\n");
	return 0;
}
int main(void) {
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db)) return 1;
	sqlite3_exec(db, "create table t(a, b); insert into t values (1, 'x'), (2, 'y');"
		"select a, b, a*10, upper(b) from t order by a desc;", row, 0, 0);
	printf("%s\n", sqlite3_libversion());
	sqlite3_close(db);
	return 0;
}
`

// zlibArm64Src streams a buffer through deflate and inflate in small
// chunks, so both keep state across calls, and checks the round trip.
const zlibArm64Src = `#include <stdio.h>
#include <string.h>
#include <zlib.h>
enum { N = 100000, CHUNK = 1000 };
static unsigned char in[N], packed[N + 1024], out[N];
int main(int argc, char **argv) {
	for (int i = 0; i < N; i++) in[i] = "gorc links arm64 "[i % 17] ^ (i / 4096) ^ argv[argc - 1][0];
	z_stream d = {0};
	if (deflateInit(&d, 6) != Z_OK) return 10;
	d.next_in = in;
	d.next_out = packed;
	d.avail_out = sizeof packed;
	int rc;
	for (int off = 0; off < N; off += CHUNK) {
		d.avail_in = CHUNK;
		if ((rc = deflate(&d, off + CHUNK >= N ? Z_FINISH : Z_NO_FLUSH)) < 0) return 11;
	}
	if (rc != Z_STREAM_END) return 12;
	unsigned long plen = d.total_out;
	deflateEnd(&d);
	z_stream f = {0};
	if (inflateInit(&f) != Z_OK) return 20;
	f.next_in = packed;
	f.avail_in = plen;
	f.next_out = out;
	do {
		f.avail_out = CHUNK;
		rc = inflate(&f, Z_NO_FLUSH);
	} while (rc == Z_OK);
	if (rc != Z_STREAM_END) return 21;
	unsigned long ulen = f.total_out;
	inflateEnd(&f);
	printf("%s: %d -> %lu -> %lu bytes, crc32 %08lx/%08lx adler32 %08lx, same %d\n", zlibVersion(), N, plen, ulen,
	       crc32(0, in, N), crc32(0, out, ulen), adler32(1, out, ulen), ulen == N && !memcmp(in, out, N));
	return plen % 100;
}
`

// cxxArm64Src uses exceptions, a static constructor and destructor,
// iostreams, thread_local and std::thread.
const cxxArm64Src = `#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
struct Init { Init() { std::cout << "ctor\n"; } ~Init() { std::cout << "dtor\n"; } } init;
thread_local int tl = 7;
static int f(int x) { if (x > 2) throw std::runtime_error("big " + std::to_string(x)); return x; }
int main(int argc, char **) {
	try { f(1); f(argc + 1); } catch (const std::exception &e) { std::cout << "caught " << e.what() << "\n"; }
	std::vector<std::thread> ts;
	int sum[4] = {0};
	for (int i = 0; i < 4; i++) ts.emplace_back([i, &sum] { tl += i; sum[i] = tl; });
	for (auto &t : ts) t.join();
	std::cout << sum[0] + sum[1] + sum[2] + sum[3] << " " << tl << "\n";
	return 3;
}
`

const dynamicTLSSrc = `#include <pthread.h>
#include <stdio.h>
#include <string.h>
__thread char big[65536] = "init";
__thread long counter = 5;
static void *worker(void *arg) {
	counter += 100;
	strcat(big, "-thread");
	printf("%s %ld\n", big, counter);
	return 0;
}
int main(int argc, char **argv) {
	counter += argc;
	strcat(big, argv[1]);
	pthread_t t;
	pthread_create(&t, 0, worker, 0);
	pthread_join(t, 0);
	printf("%s %ld %d\n", big, counter, (int)sizeof big);
	return 0;
}
`
