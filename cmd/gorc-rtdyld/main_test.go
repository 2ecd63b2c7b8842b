package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "gorc-rtdyld")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// -execute runs C and C++ (exceptions thrown across objects) with the
// output and exit code of the natively linked program.
func TestExecuteMatchesNative(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir)
	for _, tc := range []struct {
		name    string
		srcs    map[string]string
		flags   []string
		ldflags []string
		load    []string
	}{
		{name: "c", srcs: map[string]string{
			"main.c": `#include <stdio.h>
#include <stdlib.h>
extern int sum(int n); extern const char *greeting;
static int table[4] = {1, 2, 3, 4};
int main(int argc, char **argv) {
	printf("%s %d %s\n", greeting, sum(10) + table[argc % 4], argc > 1 ? argv[1] : "-");
	return sum(3);
}`,
			"lib.c": `const char *greeting = "hello";
int sum(int n) { int s = 0; for (int i = 1; i <= n; i++) s += i; return s; }`,
		}, flags: []string{"-fPIC", "-O1"}},
		{name: "nopic", srcs: map[string]string{
			"main.c": `#include <stdio.h>
int g = 5; int main(void) { printf("g=%d\n", g); return g; }`,
		}, flags: []string{"-fno-pic", "-O0"}, ldflags: []string{"-no-pie"}},
		{name: "cxx", srcs: map[string]string{
			"main.cpp": `#include <cstdio>
#include <stdexcept>
void thrower(int);
int main() { try { thrower(3); } catch (const std::exception &e) { std::printf("caught %s\n", e.what()); return 4; } return 0; }`,
			"thrower.cpp": `#include <stdexcept>
void thrower(int x) { if (x > 1) throw std::runtime_error("too big"); }`,
		}, flags: []string{"-fPIC"}, ldflags: []string{"-lstdc++"}, load: []string{"-load", "libstdc++.so.6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			var objs []string
			for name, src := range tc.srcs {
				objs = append(objs, testutil.Compile(t, sub, name, src, tc.flags...))
			}
			want := testutil.Native(t, sub, objs, tc.ldflags, "arg")
			args := append(append(append([]string{"-entry", "main"}, tc.load...), objs...), "-args", "arg")
			got := testutil.Run(t, exec.Command(bin, args...))
			if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
				t.Errorf("gorc-rtdyld: %q exit %d (stderr %s); native: %q exit %d", got.Stdout, got.ExitCode, got.Stderr, want.Stdout, want.ExitCode)
			}
		})
	}
}

// -verify evaluates rtdyld-check expressions against sections mapped with
// -map-section and symbols defined with -dummy-extern; a false check fails.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir)
	src := `
	.text
	.globl _main
_main:
# rtdyld-check: decode_operand(call1, 0) = stub_addr(t.o, .text, ext) - next_pc(call1)
call1:
	call ext@PLT
# rtdyld-check: *{8}(got_addr(t.o, ext)) = 0x12345678
# rtdyld-check: decode_operand(load1, 4) = got_addr(t.o, ext) - next_pc(load1)
load1:
	movq ext@GOTPCREL(%rip), %rax
# rtdyld-check: section_addr(t.o, .text) = 0x40000
# rtdyld-check: *{8}data = 0x12345678
	ret
	.data
data:
	.quad ext
`
	obj := testutil.Assemble(t, dir, "t.s", src)
	check := filepath.Join(dir, "t.s")
	run := func(args ...string) testutil.Outcome {
		return testutil.Run(t, exec.Command(bin, append([]string{"-verify", "-check=" + check, "-dummy-extern", "ext=0x12345678"}, args...)...))
	}
	if o := run("-map-section", "t.o,.text=0x40000", obj); o.ExitCode != 0 {
		t.Fatalf("verify failed: %s", o.Stderr)
	}
	o := run("-map-section", "t.o,.text=0x50000", obj)
	if o.ExitCode == 0 || !strings.Contains(o.Stderr, "section_addr(t.o, .text) = 0x40000") {
		t.Fatalf("a false check passed or was not named: exit %d, %s", o.ExitCode, o.Stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.o"), []byte("\x7fELF junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o := run(filepath.Join(dir, "bad.o")); o.ExitCode == 0 || !strings.Contains(o.Stderr, "bad.o") {
		t.Fatalf("bad object: exit %d, %s", o.ExitCode, o.Stderr)
	}
}
