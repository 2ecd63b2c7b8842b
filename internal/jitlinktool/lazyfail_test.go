package jitlinktool_test

import (
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
