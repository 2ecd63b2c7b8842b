package jitlinktool_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// The harness example of the JITLink documentation: the harness's
// function_to_mock replaces the tested object's, the static
// function_to_test is promoted so the harness can call it, and
// -phony-externals stands in for irrelevant_external.
func TestHarness(t *testing.T) {
	dir := t.TempDir()
	test := testutil.Compile(t, dir, "test_code.c", `#include <stdio.h>
void irrelevant_external(void);
void irrelevant_function(void) { irrelevant_external(); }
int function_to_mock(int x) { return x + 1000; }
static void function_to_test(void) {
	int y = function_to_mock(1);
	printf("Y is %i\n", y);
}
`, "-O0")
	harness := testutil.Compile(t, dir, "test_code_harness.c", `#include <stdio.h>
void function_to_test(void);
int function_to_mock(int x) { printf("used mock utility function\n"); return 42; }
int main(void) { function_to_test(); return 0; }
`, "-O0")
	got := jit(t, "-phony-externals", test, "-harness", harness)
	if got.ExitCode != 0 || got.Stdout != "used mock utility function\nY is 42\n" {
		t.Fatalf("harness run: exit %d, stdout %q, stderr %q", got.ExitCode, got.Stdout, got.Stderr)
	}
	// Without -phony-externals, irrelevant_external is reported.
	got = jit(t, test, "-harness", harness)
	if got.ExitCode != 1 || !strings.Contains(got.Stderr, "irrelevant_external") {
		t.Fatalf("want irrelevant_external unresolved, got exit %d %q", got.ExitCode, got.Stderr)
	}
}

const checksSrc = `	.text
	.globl main
	.type main, @function
main:
	movq external_data@GOTPCREL(%rip), %rax
call_site:
	callq external_func@PLT
lea_site:
	leaq local_data(%rip), %rcx
	leaq _GLOBAL_OFFSET_TABLE_(%rip), %rdx
	xorl %eax, %eax
	retq

	.data
	.p2align 3
local_data:
	.quad external_func
	.quad 0x1122334455667788

# jitlink-check: *{8}local_data = external_func
# jitlink-check: *{8}(local_data + 8) = 0x1122334455667788
# jitlink-check: (*{8}(local_data + 8))[15:8] = 0x77
# jitlink-check: decode_operand(lea_site, 4) = local_data - next_pc(lea_site)
# jitlink-check: decode_operand(call_site, 0) = \
# jitlink-check:     stub_addr(checks.o, external_func) - next_pc(call_site)
# jitlink-check: *{8}(got_addr(checks.o, external_data)) = external_data
# jitlink-check: _GLOBAL_OFFSET_TABLE_ = got_addr(checks.o, external_data)
# jitlink-check: *{1}lea_site+1 = 0x8d
# jitlink-check: decode_operand(main, 4) = got_addr(checks.o, external_data) - next_pc(main)
# jitlink-check: section_addr(checks.o, .text) = 0xfff00000
# other-prefix: local_data - main = 0x2000
`

// -check with -noexec, -abs/-define-abs and a slab at a fixed (virtual)
// address, as LLVM's regression tests use them; -check-name; failing checks
// are reported and fail the run.
func TestChecks(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Assemble(t, dir, "checks.s", checksSrc)
	src := filepath.Join(dir, "checks.s")
	base := []string{"-noexec", "-slab-allocate", "100Kb", "-slab-address", "0xfff00000", "-slab-page-size", "4096",
		"-abs", "external_func=0x1000", "-define-abs", "external_data=0x2000"}
	got := jit(t, append(base, "-check", src, obj)...)
	if got.ExitCode != 0 {
		t.Fatalf("checks failed: %s", got.Stderr)
	}
	got = jit(t, append(base, "-check-name", "other-prefix", "-check", src, obj)...)
	if got.ExitCode != 0 {
		t.Fatalf("other-prefix checks failed: %s", got.Stderr)
	}
	bad := filepath.Join(dir, "bad.s")
	os.WriteFile(bad, []byte("# jitlink-check: *{8}local_data = 5\n# jitlink-check: nosuchsym = 1\n"), 0o644)
	got = jit(t, append(base, "-check", bad, obj)...)
	if got.ExitCode != 1 || !strings.Contains(got.Stderr, "bad.s:1: check failed") || !strings.Contains(got.Stderr, "unknown symbol nosuchsym") {
		t.Fatalf("want both failures reported, got exit %d:\n%s", got.ExitCode, got.Stderr)
	}
	empty := filepath.Join(dir, "empty.s")
	os.WriteFile(empty, []byte("nothing\n"), 0o644)
	if got = jit(t, append(base, "-check", empty, obj)...); got.ExitCode != 1 || !strings.Contains(got.Stderr, "no jitlink-check lines") {
		t.Fatalf("a check file without checks must fail, got %q", got.Stderr)
	}
	// Running code in a slab that could not be placed (here: at a
	// non-canonical address) is refused.
	got = jit(t, "-slab-allocate", "1Mb", "-slab-address", "0x800000000000", "-abs", "external_func=0", "-abs", "external_data=0", obj)
	if got.ExitCode != 1 || !strings.Contains(got.Stderr, "-noexec") {
		t.Fatalf("want a refusal to run at a virtual slab address, got %q", got.Stderr)
	}
}

func TestDiagnosticOptions(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "hello.c", `#include <stdio.h>
int other_entry(int argc, char **argv) { printf("other entry %d %s\n", argc, argv[1]); return 9; }
int main(void) { puts("main"); return 0; }
`, "-O1")
	got := jit(t, "-show-addrs", "-show-graph", "-show-times", "-debug", "-entry", "other_entry", obj, "-args", "arg1")
	if got.ExitCode != 9 || !strings.HasSuffix(got.Stdout, "other entry 2 arg1\n") {
		t.Fatalf("-entry: exit %d, stdout %q, stderr %s", got.ExitCode, got.Stdout, got.Stderr)
	}
	for _, want := range []string{"hello.o:", "section .text", "symbol", "other_entry", `LinkGraph "` + obj + `" (triple = x86_64-unknown-linux-gnu)`, "edge +"} {
		if !strings.Contains(got.Stdout, want) {
			t.Errorf("-show-addrs/-show-graph output lacks %q", want)
		}
	}
	for _, want := range []string{"phase times:", "load inputs", "link: fixup", "linking " + obj, "entry point other_entry"} {
		if !strings.Contains(got.Stderr, want) {
			t.Errorf("-show-times/-debug output lacks %q:\n%s", want, got.Stderr)
		}
	}
	// -noexec links and looks up, but does not run.
	if got = jit(t, "-noexec", obj); got.ExitCode != 0 || got.Stdout != "" {
		t.Fatalf("-noexec ran the program: %q", got.Stdout)
	}
	// -show-graphs prints only the graphs whose names match.
	if got = jit(t, "-noexec", "-show-graphs", "nomatch", obj); got.ExitCode != 0 || got.Stdout != "" {
		t.Fatalf("-show-graphs nomatch printed %q (%s)", got.Stdout, got.Stderr)
	}
	if got = jit(t, "-noexec", "-show-graphs", `hello\.o$`, obj); !strings.Contains(got.Stdout, "LinkGraph") {
		t.Fatalf("-show-graphs hello.o printed %q (%s)", got.Stdout, got.Stderr)
	}
	// -perf-support leaves a jitdump under $JITDUMPDIR (package perfjit
	// tests its contents).
	cmd := exec.Command(tool, "-perf-support", obj)
	cmd.Env = append(os.Environ(), "JITDUMPDIR="+dir)
	if got = testutil.Run(t, cmd); got.ExitCode != 0 || got.Stdout != "main\n" {
		t.Fatalf("-perf-support: exit %d %q %s", got.ExitCode, got.Stdout, got.Stderr)
	}
	if dumps, _ := filepath.Glob(filepath.Join(dir, ".debug/jit/gorc-jit-*/jit-*.dump")); len(dumps) != 1 {
		t.Fatalf("-perf-support: dumps %v", dumps)
	} else if fi, err := os.Stat(dumps[0]); err != nil || fi.Size() <= 40 {
		t.Fatalf("-perf-support: dump %s has no records (%v)", dumps[0], err)
	}
	// -no-process-syms hides libc; -phony-externals turns that into nulls.
	got = jit(t, "-no-process-syms", obj)
	if got.ExitCode != 1 || !strings.Contains(got.Stderr, "puts") {
		t.Fatalf("-no-process-syms: want puts unresolved, got exit %d %q", got.ExitCode, got.Stderr)
	}
	if got = jit(t, "-noexec", "-no-process-syms", "-phony-externals", obj); got.ExitCode != 0 {
		t.Fatalf("-phony-externals: %s", got.Stderr)
	}
	if got = jit(t, "-help"); got.ExitCode != 0 || !strings.Contains(got.Stdout, "usage: gorc-jitlink") {
		t.Fatalf("-help: %q", got.Stdout)
	}
}

// -l NAME and -lNAME find shared libraries (through linker scripts such as
// glibc's libm.so) and archives.
func TestLibraries(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "m.c", `#include <math.h>
#include <stdio.h>
int main(int argc, char **argv) { volatile double x = argc * 2.0; printf("%.6f %.6f\n", sqrt(x), cbrt(x * 4)); return 0; }
`, "-O2")
	want := testutil.Native(t, dir, []string{obj}, []string{"-lm"})
	for _, args := range [][]string{{"-lm", obj}, {"-l", "m", obj}} {
		got := jit(t, args...)
		if got.Stdout != want.Stdout || got.ExitCode != 0 {
			t.Fatalf("%v: got %q (%d) %s, want %q", args, got.Stdout, got.ExitCode, got.Stderr, want.Stdout)
		}
	}
}

// A crashing program dies of its signal, as natively, with one line of
// explanation and no Go stack dump.
func TestCrashingProgram(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"segv.c":  "int main(void) { volatile int *p = 0; return *p; }",
		"abort.c": "#include <stdlib.h>\nint main(void) { abort(); }",
	} {
		obj := testutil.Compile(t, dir, name, src)
		want := testutil.Native(t, dir, []string{obj}, nil)
		got := jit(t, obj)
		if got.ExitCode != want.ExitCode || got.ExitCode != -1 {
			t.Errorf("%s: exit %d, native %d", name, got.ExitCode, want.ExitCode)
		}
		if !strings.Contains(got.Stderr, "crashed: SIG") || strings.Contains(got.Stderr, "goroutine") || strings.Count(got.Stderr, "\n") != 1 {
			t.Errorf("%s: want one line about the crash, got:\n%s", name, got.Stderr)
		}
	}
}

// Bad input gives one clear line per problem and exit status 1, never a
// crash.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "u.c", "int a(void); int b(void); int main(void) { return a() + b(); }")
	corrupt := filepath.Join(dir, "corrupt.o")
	data, _ := os.ReadFile(obj)
	os.WriteFile(corrupt, data[:200], 0o644)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{obj}, []string{"symbols not found: a, b", "u.o"}},
		{[]string{corrupt}, []string{"corrupt.o", "malformed object"}},
		{[]string{"-nosuchoption", obj}, []string{"unknown option -nosuchoption"}},
		{[]string{"-abs", "x", obj}, []string{"want NAME=ADDRESS"}},
		{[]string{filepath.Join(dir, "missing.o")}, []string{"missing.o", "no such file"}},
		{[]string{"-entry", "nothere", obj}, []string{"entry point nothere", "not found"}},
		{nil, []string{"no input files"}},
		{[]string{"-oop-executor", "-perf-support", obj}, []string{"-perf-support", "not with -oop-executor"}},
		{[]string{"-oop-executor", "-slab-allocate", "1Mb", obj}, []string{"-slab options"}},
		{[]string{"-use-shared-memory", obj}, []string{"-use-shared-memory applies to an executor process"}},
		{[]string{"-oop-executor", "-use-shared-memory=maybe", obj}, []string{"-use-shared-memory \"maybe\""}},
		{[]string{"-oop-executor=/no/such/executor", obj}, []string{"starting executor", "/no/such/executor"}},
		{[]string{"-oop-executor-connect=127.0.0.1:1", obj}, []string{"connecting to executor"}},
		{[]string{"-oop-executor-token-file=/no/such/token", obj}, []string{"-oop-executor-token-file is for an executor reached with -oop-executor-connect"}},
		{[]string{"-oop-executor-token-file=/no/such/token", "-oop-executor-connect=127.0.0.1:1", obj}, []string{"the executor's token: reading the token", "/no/such/token"}},
		{[]string{"-oop-executor=/bin/true", obj}, []string{"executor /bin/true", "before its Setup message"}},
	} {
		got := jit(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(got.Stderr), "\n")
		if got.ExitCode != 1 || len(lines) != 1 || strings.Contains(got.Stderr, "goroutine") {
			t.Errorf("%v: want exit 1 and one line, got exit %d:\n%s", tc.args, got.ExitCode, got.Stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got.Stderr, w) {
				t.Errorf("%v: %q lacks %q", tc.args, got.Stderr, w)
			}
		}
	}
}
