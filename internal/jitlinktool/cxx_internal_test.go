package jitlinktool

import (
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// TestWithCXXRuntime: only objects that use the C++ runtime pull it in,
// and not when libstdc++ is on the command line already.
func TestWithCXXRuntime(t *testing.T) {
	dir := t.TempDir()
	c := testutil.Compile(t, dir, "c.c", "#include <stdio.h>\nint main(void) { puts(\"plain C\"); return 0; }\n")
	cc := testutil.Compile(t, dir, "cc.cc", "#include <string>\nint len(const char *s) { return std::string(s).size(); }\n")
	if got := withCXXRuntime(nil, []string{c}); len(got) != 0 {
		t.Errorf("C object: libs %q", got)
	}
	if got := withCXXRuntime([]string{"z"}, []string{c, cc}); strings.Join(got, " ") != "z stdc++ m gcc_s" {
		t.Errorf("C++ object: libs %q", got)
	}
	if got := withCXXRuntime([]string{"stdc++"}, []string{cc}); strings.Join(got, " ") != "stdc++" {
		t.Errorf("C++ object with -lstdc++: libs %q", got)
	}
	if got := withCXXRuntime(nil, []string{"/x/libstdc++.a", cc}); len(got) != 0 {
		t.Errorf("C++ object with libstdc++.a: libs %q", got)
	}
}
