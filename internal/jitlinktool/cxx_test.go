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
