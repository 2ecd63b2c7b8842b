package jitlinktool_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// A lazy call whose body cannot be linked (it calls a function defined
// nowhere) reports the error, naming the missing symbol, and aborts, in
// process and in each executor, instead of jumping to address 0.
func TestLazyLinkFailureAborts(t *testing.T) {
	dir := t.TempDir()
	main := testutil.Compile(t, dir, "main.c", `#include <stdio.h>
int helper(int);
int main(void) { printf("before\n"); fflush(stdout); return helper(3); }
`, "-O1")
	helper := testutil.Compile(t, dir, "helper.c", "int missing_fn(int);\nint helper(int x) { return missing_fn(x) + 1; }\n", "-O1")
	for name, tc := range map[string]struct {
		flags []string
		exit  int    // -1: the tool itself dies of the signal
		abort string // how the abort is reported
	}{
		"in-process":               {nil, -1, "crashed: SIGABRT"},
		"gorc-executor":            {[]string{"-oop-executor=" + executor}, 128 + 6, "killed by signal 6"},
		"llvm-jitlink-executor-14": {[]string{"-oop-executor=" + testutil.NeedTool(t, "llvm-jitlink-executor-14")}, 128 + 6, "killed by signal 6"},
	} {
		t.Run(name, func(t *testing.T) {
			got := jit(t, append(append([]string{"-lazy"}, tc.flags...), main, helper)...)
			if got.Stdout != "before\n" || got.ExitCode != tc.exit ||
				!strings.Contains(got.Stderr, "lazy call to helper") || !strings.Contains(got.Stderr, "symbol not found: missing_fn") ||
				!strings.Contains(got.Stderr, tc.abort) || strings.Contains(got.Stderr, "SIGSEGV") {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, the error naming missing_fn and %q",
					got.ExitCode, got.Stdout, got.Stderr, tc.exit, tc.abort)
			}
		})
	}
}

// An object for another machine is refused when it is added, used or not,
// eagerly and lazily, naming the file and its machine. An archive's
// members are checked when one is pulled in: an unused foreign archive is
// ignored, as a static linker ignores members it does not need.
func TestForeignObjects(t *testing.T) {
	dir := t.TempDir()
	main := testutil.Compile(t, dir, "main.c", "int main(void) { return 3; }")
	caller := testutil.Compile(t, dir, "caller.c", "int foreign_fn(void);\nint main(void) { return foreign_fn(); }")
	const src = "int foreign_fn(void) { return 1; }\n"
	a64 := testutil.CompileWith(t, "clang-19", dir, "a64.c", src, "--target=aarch64-linux-gnu")
	i386 := testutil.CompileWith(t, "clang-19", dir, "i386.c", src, "--target=i386-linux-gnu")
	lib := filepath.Join(dir, "liba64.a")
	if out, err := exec.Command(testutil.NeedTool(t, "ar"), "rcs", lib, a64).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{main, a64}, []string{"a64.o: ELF machine EM_AARCH64, but the JIT targets x86_64"}},
		{[]string{"-lazy", main, a64}, []string{"a64.o: ELF machine EM_AARCH64, but the JIT targets x86_64"}},
		{[]string{"-oop-executor=" + executor, main, a64}, []string{"a64.o: ELF machine EM_AARCH64, but the JIT targets x86_64"}},
		{[]string{main, i386}, []string{"i386.o", "ELFCLASS32", "EM_386"}},
		{[]string{caller, lib}, []string{"liba64.a(a64.o): ELF machine EM_AARCH64, but the JIT targets x86_64"}},
	} {
		got := jit(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(got.Stderr), "\n")
		if got.ExitCode != 1 || len(lines) != 1 {
			t.Errorf("%v: want exit 1 and one line, got exit %d:\n%s", tc.args, got.ExitCode, got.Stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got.Stderr, w) {
				t.Errorf("%v: %q lacks %q", tc.args, got.Stderr, w)
			}
		}
	}
	if got := jit(t, main, lib); got.ExitCode != 3 {
		t.Errorf("an unused foreign archive: exit %d, want 3:\n%s", got.ExitCode, got.Stderr)
	}
}

// A shared library the executor cannot load, and an archive that cannot be
// read, are each one error naming the file, in process and out: libraries
// load while the inputs are added and the link runs (an error no lookup
// met is reported once the link is done), and input archives are opened
// while the executor starts.
func TestBrokenLibraries(t *testing.T) {
	dir := t.TempDir()
	main := testutil.Compile(t, dir, "main.c", "int main(void) { return 3; }")
	so := filepath.Join(dir, "libbroken.so")
	elf := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00"), make([]byte, 20)...)
	if err := os.WriteFile(so, elf, 0o644); err != nil {
		t.Fatal(err)
	}
	ar := filepath.Join(dir, "libbroken.a")
	if err := os.WriteFile(ar, []byte("!<arch>\nnot a member header at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, flags := range map[string][]string{
		"in-process":               nil,
		"gorc-executor":            {"-oop-executor=" + executor},
		"llvm-jitlink-executor-14": {"-oop-executor=" + testutil.NeedTool(t, "llvm-jitlink-executor-14")},
	} {
		for _, bad := range []string{so, ar} {
			t.Run(name+"/"+filepath.Base(bad), func(t *testing.T) {
				got := jit(t, append(slices.Clone(flags), main, bad)...)
				if got.ExitCode != 1 || !strings.Contains(got.Stderr, bad) || strings.Contains(got.Stderr, "panic") {
					t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and an error naming %s", got.ExitCode, got.Stderr, bad)
				}
			})
		}
	}
	if got := jit(t, main); got.ExitCode != 3 {
		t.Fatalf("without the broken libraries: exit %d, want 3:\n%s", got.ExitCode, got.Stderr)
	}
}
