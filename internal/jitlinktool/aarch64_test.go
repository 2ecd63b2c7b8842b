package jitlinktool_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// aarch64Sources are a small multi-object C program: weak, common and
// static data, function-pointer tables, thread-locals, calls to libc.
var aarch64Sources = map[string]string{
	"main.c": `#include <stdio.h>
#include <stdlib.h>
extern int (*ops[])(int, int);
extern int counter;
__attribute__((weak)) int weak_fn(void) { return 1; }
int common_data;
extern __thread int tls_count;
int apply(int i, int a, int b);
int main(int argc, char **argv) {
	int s = 0;
	for (int i = 0; i < 3; i++) s += apply(i, argc, 7);
	tls_count += s;
	printf("%d %d %d %d\n", s, counter, weak_fn(), tls_count + common_data);
	return s > 100 ? EXIT_FAILURE : 0;
}
`,
	"ops.c": `static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
int (*ops[])(int, int) = { add, sub, mul };
int counter;
__thread int tls_count = 2;
static __thread long tls_static[4];
int apply(int i, int a, int b) { counter++; tls_static[i & 3] += a; return ops[i](a, b) + (int)tls_static[i & 3]; }
`,
}

// gorc-jitlink -noexec links aarch64 objects on this (x86-64) machine with
// no executor: compiled by clang-19 and by gcc's cross compiler in the
// code models and PIC modes they support.
func TestAArch64NoExec(t *testing.T) {
	type compiler struct {
		cc    string
		flags []string
	}
	ccs := []compiler{{"clang-19", []string{"--target=aarch64-linux-gnu"}}}
	if _, err := exec.LookPath("aarch64-linux-gnu-gcc"); err == nil || testutil.InCI() {
		ccs = append(ccs, compiler{"aarch64-linux-gnu-gcc", nil})
	}
	for _, c := range ccs {
		for _, flags := range [][]string{{"-O0"}, {"-O2"}, {"-O2", "-fPIC"}, {"-O2", "-fno-pic", "-fno-pie"},
			{"-O2", "-mcmodel=large", "-fno-pic", "-ftls-model=local-exec"}, {"-O2", "-ftls-model=initial-exec"}} {
			// (clang's large code model has only local-exec TLS.)
			t.Run(c.cc+strings.Join(flags, ""), func(t *testing.T) {
				dir := t.TempDir()
				var objs []string
				for _, name := range []string{"main.c", "ops.c"} {
					objs = append(objs, testutil.CompileWith(t, c.cc, dir, name, aarch64Sources[name], append(c.flags, flags...)...))
				}
				for _, extra := range [][]string{{"-phony-externals"}, nil} {
					got := jit(t, append(append([]string{"-noexec"}, extra...), objs...)...)
					if got.ExitCode != 0 || got.Stdout != "" || got.Stderr != "" {
						t.Fatalf("gorc-jitlink -noexec %s: exit %d\n%s%s", strings.Join(extra, " "), got.ExitCode, got.Stdout, got.Stderr)
					}
				}
			})
		}
	}
}

// The tiny code model reaches data within 1 MiB: it links into a slab.
func TestAArch64NoExecTinyCodeModel(t *testing.T) {
	dir := t.TempDir()
	var objs []string
	for _, name := range []string{"main.c", "ops.c"} {
		objs = append(objs, testutil.CompileWith(t, "clang-19", dir, name, aarch64Sources[name], "--target=aarch64-linux-gnu", "-O1", "-mcmodel=tiny"))
	}
	got := jit(t, append([]string{"-noexec", "-phony-externals", "-slab-allocate", "16Mb"}, objs...)...)
	if got.ExitCode != 0 || got.Stderr != "" {
		t.Fatalf("exit %d\n%s", got.ExitCode, got.Stderr)
	}
}

// The first object says which architecture -noexec links for; an object
// for another is refused by name.
func TestAArch64NoExecMixedMachines(t *testing.T) {
	dir := t.TempDir()
	a64 := testutil.CompileWith(t, "clang-19", dir, "ops.c", aarch64Sources["ops.c"], "--target=aarch64-linux-gnu")
	x86 := testutil.Compile(t, dir, "main.c", aarch64Sources["main.c"])
	got := jit(t, "-noexec", "-phony-externals", a64, x86)
	want := filepath.Base(x86) + ": ELF machine EM_X86_64, but the JIT targets aarch64"
	if got.ExitCode == 0 || !strings.Contains(got.Stderr, want) {
		t.Fatalf("exit %d, stderr %q, want %q", got.ExitCode, got.Stderr, want)
	}
	// Without -noexec nothing runs aarch64 code here: refused as before.
	if got := jit(t, a64); got.ExitCode == 0 || !strings.Contains(got.Stderr, "ELF machine EM_AARCH64, but the JIT targets x86_64") {
		t.Fatalf("running an aarch64 object: exit %d, %q", got.ExitCode, got.Stderr)
	}
}
