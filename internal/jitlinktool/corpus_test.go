package jitlinktool_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// Representatives of the failure classes the C test corpora (c-testsuite,
// gcc's torture tests) found; scripts/corpus.sh runs the corpora
// themselves.

// A global register variable is legal C: main returns with rbx (r12...)
// changed, and the host must not care.
const globalRegisterSrc = `#include <stdio.h>
register long acc asm("rbx");
register long steps asm("r12");
__attribute__((noinline)) static void add(long n) { acc += n; steps++; }
int main(int argc, char **argv) {
	acc = argc;
	steps = 0;
	for (int i = 0; i < 100; i++)
		add(i);
	printf("%ld %ld\n", acc, steps);
	return (int)(acc & 0x3f);
}
`

func TestGlobalRegisterVariable(t *testing.T) {
	dir := t.TempDir()
	for _, flags := range [][]string{{"-O0"}, {"-O2"}} {
		obj := testutil.Compile(t, dir, "globalreg.c", globalRegisterSrc, flags...)
		same(t, dir, []string{obj}, nil, nil, []string{"a", "b"})
		same(t, dir, []string{obj}, nil, []string{"-oop-executor=" + executor}, []string{"a"})
	}
}

// Decimal float and 128-bit division call helpers of libgcc.a, which gcc
// links without being asked.
const libgccSrc = `#include <stdio.h>
__attribute__((noinline)) __int128 quot(__int128 a, __int128 b) { return a / b; }
__attribute__((noinline)) unsigned __int128 urem(unsigned __int128 a, unsigned __int128 b) { return a % b; }
int main(void) {
	volatile _Decimal64 a = 1.5DD, b = 2.25DD;
	_Decimal64 c = a * b;
	if (c != 3.375DD)
		return 1;
	__int128 x = ((__int128)1 << 100) + 12345;
	printf("%lld %llu %d\n", (long long)(quot(x, 1000000007) % 1000000),
	       (unsigned long long)urem((unsigned __int128)x * 3, 999999937), (int)(c * 1000));
	return 0;
}
`

func TestLibgccFallback(t *testing.T) {
	dir := t.TempDir()
	for _, flags := range [][]string{{"-O0"}, {"-O2", "-fno-pic", "-fno-pie"}} {
		obj := testutil.Compile(t, dir, "libgcc.c", libgccSrc, flags...)
		ld := []string(nil)
		if len(flags) > 1 {
			ld = []string{"-no-pie"}
		}
		same(t, dir, []string{obj}, ld, nil, nil)
		// libgcc_s.so is a GNU ld script naming libgcc_s.so.1 (elsewhere
		// in the search path) and -lgcc.
		same(t, dir, []string{obj}, append(ld, "-lgcc_s"), []string{"-lgcc_s"}, nil)
		got := jit(t, "-no-libgcc", obj)
		if got.ExitCode == 0 || !strings.Contains(got.Stderr, "__bid_") {
			t.Fatalf("-no-libgcc: want a failure naming the decimal float helpers, got exit %d\n%s", got.ExitCode, got.Stderr)
		}
	}
}

// A linker script found by -l names a library by file name and another by
// -l: both are searched in the library search path, as ld does.
func TestLinkerScriptSearchPath(t *testing.T) {
	dir := t.TempDir()
	libDir, scriptDir := filepath.Join(dir, "lib"), filepath.Join(dir, "script")
	for _, d := range []string{libDir, scriptDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	libObj := testutil.Compile(t, dir, "greet.c", `#include <math.h>
double greet(double x) { return sqrt(x) * 2; }
`, "-fPIC")
	lib := filepath.Join(libDir, "libgreet.so.1")
	if out, err := exec.Command(testutil.NeedTool(t, "gcc"), "-shared", "-o", lib, libObj, "-lm").CombinedOutput(); err != nil {
		t.Fatalf("gcc -shared: %v\n%s", err, out)
	}
	script := "/* GNU ld script */\nGROUP ( libgreet.so.1 -lm )\n"
	if err := os.WriteFile(filepath.Join(scriptDir, "libgreet.so"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := testutil.Compile(t, dir, "main.c", `#include <stdio.h>
double greet(double);
int main(void) { printf("%g\n", greet(16)); return (int)greet(100); }
`)
	ldflags := []string{"-L" + scriptDir, "-L" + libDir, "-lgreet", "-Wl,-rpath," + libDir}
	same(t, dir, []string{obj}, ldflags, []string{"-L", scriptDir, "-L" + libDir, "-lgreet"}, nil)
	got := jit(t, "-L", scriptDir, "-lgreet", obj)
	if got.ExitCode == 0 || !strings.Contains(got.Stderr, "libgreet.so.1 not found") {
		t.Fatalf("without the library's directory: want an error naming libgreet.so.1, got exit %d\n%s", got.ExitCode, got.Stderr)
	}
}

// gcc's nested functions whose address escapes run a trampoline on the
// stack: the object's .note.GNU-stack asks for an executable stack, in
// the main thread and in threads.
const nestedSrc = `#include <pthread.h>
#include <stdio.h>
static int apply(int (*f)(int), int n) { int s = 0; for (int i = 0; i < n; i++) s += f(i); return s; }
static int run(int k) {
	int scale(int x) { return x * k; }
	return apply(scale, 10);
}
static void *thread(void *arg) { return (void *)(long)run((int)(long)arg); }
int main(int argc, char **argv) {
	pthread_t th;
	void *r;
	pthread_create(&th, NULL, thread, (void *)7L);
	pthread_join(th, &r);
	printf("%d %ld\n", run(argc), (long)r);
	return run(2) & 0x7f;
}
`

func TestNestedFunctionTrampolines(t *testing.T) {
	dir := t.TempDir()
	for _, flags := range [][]string{{"-O0"}, {"-O2"}} {
		obj := testutil.Compile(t, dir, "nested.c", nestedSrc, flags...)
		same(t, dir, []string{obj}, []string{"-pthread"}, nil, []string{"x"})
		same(t, dir, []string{obj}, []string{"-pthread"}, []string{"-oop-executor=" + executor}, nil)
	}
}

// Code built with -fno-pic is placed below 2 GiB; its 32-bit references to
// libc's stdio streams and to libc functions' addresses cannot reach libc.
const noPICLibcSrc = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int (*put)(const char *) = puts;
int main(void) {
	int v[] = {5, 3, 9, 1};
	int (*pf)(char *, const char *, ...) = sprintf;
	char buf[32];
	void (*sorter)(void *, size_t, size_t, int (*)(const void *, const void *)) = qsort;
	sorter(v, 4, sizeof v[0], cmp);
	pf(buf, "%d %d %d %d", v[0], v[1], v[2], v[3]);
	fprintf(stdout, "%s\n", buf);
	fprintf(stderr, "to stderr\n");
	fflush(stdout);
	put(buf);
	printf("%d %d\n", pf == sprintf, (size_t (*)(const char *))strlen == strlen);
	return (int)strlen(buf);
}
`

// A libc variable that changes while the program runs cannot be copied.
const noPICEnvironSrc = `#include <stdio.h>
extern char **environ;
int main(void) { printf("%d\n", environ != 0); return 0; }
`

func TestNoPICLibcReferences(t *testing.T) {
	dir := t.TempDir()
	for _, opt := range []string{"-O0", "-O2"} {
		obj := testutil.Compile(t, dir, "nopic.c", noPICLibcSrc, opt, "-fno-pic", "-fno-pie")
		same(t, dir, []string{obj}, []string{"-no-pie"}, nil, nil)
	}
	obj := testutil.Compile(t, dir, "environ.c", noPICEnvironSrc, "-O1", "-fno-pic", "-fno-pie")
	got := jit(t, obj)
	if got.ExitCode == 0 || !strings.Contains(got.Stderr, "environ") || !strings.Contains(got.Stderr, "-fPIC") {
		t.Fatalf("environ from -fno-pic code: want an error naming environ and -fPIC, got exit %d\n%s", got.ExitCode, got.Stderr)
	}
}
