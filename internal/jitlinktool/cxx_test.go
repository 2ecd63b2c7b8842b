package jitlinktool_test

import (
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// TestCxxRuntimeAutoLinked: a C++ object runs without -lstdc++, as g++
// links it; -nostdlib++ turns that off, and the error then names the fix
// instead of listing every mangled name.
func TestCxxRuntimeAutoLinked(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "prog.cc", cxxSrc, "-O1", "-fPIC")
	t.Run("auto", func(t *testing.T) {
		same(t, dir, []string{obj}, []string{"-lstdc++"}, nil, nil)
	})
	t.Run("auto-out-of-process", func(t *testing.T) {
		same(t, dir, []string{obj}, []string{"-lstdc++"}, []string{"-oop-executor=" + executor}, nil)
	})
	t.Run("nostdlib++", func(t *testing.T) {
		out := jit(t, "-nostdlib++", obj)
		if out.ExitCode == 0 || !strings.Contains(out.Stderr, "link libstdc++") || !strings.Contains(out.Stderr, "more") {
			t.Fatalf("-nostdlib++: exit %d\n%s", out.ExitCode, out.Stderr)
		}
		if n := strings.Count(out.Stderr, "_Z"); n > 12 {
			t.Errorf("the error lists %d mangled names:\n%s", n, out.Stderr)
		}
	})
}

// TestCrashNamesFunction: a crash report names the JIT'd function and the
// offset in it, in process and in gorc-executor.
func TestCrashNamesFunction(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "crash.c", `
		__attribute__((noinline)) void crash_here(volatile int *p) { *p = 1; }
		int main(void) { crash_here(0); return 0; }`, "-O1")
	for name, args := range map[string][]string{"in-process": nil, "gorc-executor": {"-oop-executor=" + executor}} {
		got := jit(t, append(args, obj)...)
		if got.ExitCode == 0 || !strings.Contains(got.Stderr, "SIGSEGV") || !strings.Contains(got.Stderr, " in crash_here+0x") {
			t.Errorf("%s: exit %d, stderr %q", name, got.ExitCode, got.Stderr)
		}
	}
}
