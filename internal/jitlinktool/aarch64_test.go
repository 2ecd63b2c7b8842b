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

// A branch to a function more than 128 MiB away goes through a veneer (a
// stub loading the target from its GOT entry); one in range goes straight
// there. Checked with -check's AArch64 decode_operand against a slab at a
// fixed address, as LLVM's regression tests do.
func TestAArch64VeneerChecks(t *testing.T) {
	dir := t.TempDir()
	src := `
	.text
	.globl	main
	.p2align 2
main:
# jitlink-check: decode_operand(call_far, 0) = (stub_addr(veneer.o, far_func) - call_far)[27:2]
# jitlink-check: *{8}(got_addr(veneer.o, far_func)) = far_func
# jitlink-check: decode_operand(stub_addr(veneer.o, far_func), 1) = \
# jitlink-check:     got_addr(veneer.o, far_func)[32:12] - stub_addr(veneer.o, far_func)[32:12]
# jitlink-check: decode_operand(stub_addr(veneer.o, far_func) + 4, 2) = got_addr(veneer.o, far_func)[11:3]
# jitlink-check: decode_operand(stub_addr(veneer.o, far_func) + 8, 0) = 16
call_far:
	bl	far_func
# jitlink-check: decode_operand(jump_far, 0)[25:0] = (stub_addr(veneer.o, far_func) - jump_far)[27:2]
jump_far:
	b	far_func
# jitlink-check: decode_operand(call_near, 0) = (near_func - call_near)[27:2]
call_near:
	bl	near_func
# jitlink-check: decode_operand(load_near, 1) = near_data - load_near
# jitlink-check: *{4}(load_near - 4) = 0xd503201f
	adrp	x0, :got:near_data
load_near:
	ldr	x0, [x0, :got_lo12:near_data]
# jitlink-check: next_pc(call_far) = jump_far
	ret
`
	obj := testutil.CompileWith(t, "clang-19", dir, "veneer.s", src, "--target=aarch64-linux-gnu")
	check := filepath.Join(dir, "veneer.s")
	got := jit(t, "-noexec", "-slab-allocate", "1Mb", "-slab-address", "0x40000000", "-slab-page-size", "4096",
		"-abs", "far_func=0x7f0000001000", "-abs", "near_func=0x40100000", "-abs", "near_data=0x40080000",
		"-check", check, obj)
	if got.ExitCode != 0 || got.Stderr != "" {
		t.Fatalf("exit %d\n%s", got.ExitCode, got.Stderr)
	}
	// Conditional branches get no veneer: out of range is an error, in
	// the words of every fixup's.
	obj = testutil.CompileWith(t, "clang-19", dir, "cond.s", "\t.text\n\t.globl main\nmain:\n\tcbz x0, far\n\t.skip 0x100000\n"+
		"\t.section .text.far,\"ax\"\nfar:\n\tret\n", "--target=aarch64-linux-gnu")
	got = jit(t, "-noexec", obj)
	if got.ExitCode == 0 || !strings.Contains(got.Stderr, "is out of range of CondBranch19PCRel fixup") {
		t.Fatalf("conditional branch out of range: exit %d, %q", got.ExitCode, got.Stderr)
	}
}
