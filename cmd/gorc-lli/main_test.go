package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

func build(t *testing.T, dir string, pkgs ...string) {
	t.Helper()
	args := append([]string{"build", "-o", dir + "/"}, pkgs...)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// emitLLVM compiles C or C++ source to IR text with clang-19 and to an
// object with the same compiler, for the native reference.
func emitLLVM(t *testing.T, dir, name, src string) (ll, obj string) {
	t.Helper()
	clang := "clang-19"
	if strings.HasSuffix(name, ".cpp") {
		clang = "clang++-19"
	}
	obj = testutil.CompileWith(t, clang, dir, name, src, "-fPIC", "-O1")
	ll = strings.TrimSuffix(obj, ".o") + ".ll"
	if out, err := exec.Command(clang, "-S", "-emit-llvm", "-O1", "-o", ll, filepath.Join(dir, name)).CombinedOutput(); err != nil {
		t.Fatalf("%s -emit-llvm: %v\n%s", clang, err, out)
	}
	return ll, obj
}

var programs = []struct {
	name    string
	srcs    [][2]string // first is the main module
	ldflags []string
}{
	{name: "c", srcs: [][2]string{
		{"main.c", `#include <stdio.h>
#include <string.h>
extern int helper(int);
extern const char *names[];
int counter = 10;
__attribute__((constructor)) static void init(void) { counter += 5; printf("ctor %d\n", counter); }
__attribute__((destructor)) static void fini(void) { printf("dtor %d\n", counter); }
int main(int argc, char **argv) {
	for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i == 0 ? 0 : i, i == 0 ? "-" : argv[i]);
	counter = helper(counter);
	printf("%s %s %d %zu\n", names[0], names[1], counter, strlen(names[1]));
	return counter % 7;
}`},
		{"helper.c", `const char *names[] = {"alpha", "beta"};
static int twice(int x) { return 2 * x; }
int helper(int x) { return twice(x) + 1; }`},
	}},
	{name: "cxx", srcs: [][2]string{
		{"main.cpp", `#include <cstdio>
#include <stdexcept>
#include <string>
int thrower(int);
struct Global { std::string s; Global() : s("global") { std::printf("Global()\n"); } ~Global() { std::printf("~Global %s\n", s.c_str()); } } g;
int main() {
	try { thrower(7); } catch (const std::exception &e) { std::printf("caught %s with %s\n", e.what(), g.s.c_str()); return 9; }
	return 0;
}`},
		{"thrower.cpp", `#include <stdexcept>
int thrower(int x) { if (x > 3) throw std::runtime_error("too big"); return x; }`},
	}, ldflags: []string{"-lstdc++"}},
}

// C and C++ programs compiled to IR by clang run under every JIT kind with
// the output and exit code of the natively built program.
func TestProgramsMatchNative(t *testing.T) {
	testutil.NeedTool(t, "clang-19")
	bin := t.TempDir()
	build(t, bin, ".")
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			var lls, objs []string
			for _, s := range p.srcs {
				ll, obj := emitLLVM(t, dir, s[0], s[1])
				lls, objs = append(lls, ll), append(objs, obj)
			}
			want := testutil.Native(t, dir, objs, p.ldflags, "x", "y")
			for _, kind := range []string{"mcjit", "orc", "orc-lazy"} {
				args := []string{"-jit-kind=" + kind}
				for _, ll := range lls[1:] {
					args = append(args, "-extra-module="+ll)
				}
				args = append(args, lls[0], "x", "y")
				got := testutil.Run(t, exec.Command(filepath.Join(bin, "gorc-lli"), args...))
				if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
					t.Errorf("-jit-kind=%s: %q exit %d (stderr %s)\nnative: %q exit %d", kind, got.Stdout, got.ExitCode, got.Stderr, want.Stdout, want.ExitCode)
				}
			}
		})
	}
}

// With the object cache, a second run generates no code; the result is
// the same. -remote-mcjit runs the program in gorc-executor, its sections
// remapped there.
func TestCacheAndRemote(t *testing.T) {
	testutil.NeedTool(t, "clang-19")
	bin := t.TempDir()
	build(t, bin, ".", "github.com/gorc-jit/gorc/cmd/gorc-executor")
	dir := t.TempDir()
	p := programs[0]
	var lls, objs []string
	for _, s := range p.srcs {
		ll, obj := emitLLVM(t, dir, s[0], s[1])
		lls, objs = append(lls, ll), append(objs, obj)
	}
	want := testutil.Native(t, dir, objs, nil)
	cache := filepath.Join(dir, "cache")
	for i, gens := range []string{"2 code generations", "0 code generations"} {
		got := testutil.Run(t, exec.Command(filepath.Join(bin, "gorc-lli"), "-jit-kind=mcjit", "-stats", "-enable-cache-manager", "-object-cache-dir="+cache, "-extra-module="+lls[1], lls[0]))
		if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode || !strings.Contains(got.Stderr, gens) {
			t.Errorf("run %d: %q exit %d, stderr %q; want %q exit %d and %q", i+1, got.Stdout, got.ExitCode, got.Stderr, want.Stdout, want.ExitCode, gens)
		}
	}
	got := testutil.Run(t, exec.Command(filepath.Join(bin, "gorc-lli"), "-remote-mcjit", "-mcjit-remote-process="+filepath.Join(bin, "gorc-executor"), "-extra-module="+lls[1], lls[0]))
	if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
		t.Errorf("-remote-mcjit: %q exit %d (stderr %s); native %q exit %d", got.Stdout, got.ExitCode, got.Stderr, want.Stdout, want.ExitCode)
	}
}

// Bad input is one clear error and a non-zero exit, for every JIT kind.
func TestBadInput(t *testing.T) {
	bin := t.TempDir()
	build(t, bin, ".")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ll")
	if err := os.WriteFile(bad, []byte("define i32 @main( {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"mcjit", "orc", "orc-lazy"} {
		for _, in := range []string{bad, filepath.Join(dir, "missing.ll")} {
			got := testutil.Run(t, exec.Command(filepath.Join(bin, "gorc-lli"), "-jit-kind="+kind, in))
			if got.ExitCode == 0 || !strings.Contains(got.Stderr, filepath.Base(in)) || strings.Contains(got.Stderr, "panic") {
				t.Errorf("-jit-kind=%s %s: exit %d, stderr %q", kind, filepath.Base(in), got.ExitCode, got.Stderr)
			}
		}
	}
}
