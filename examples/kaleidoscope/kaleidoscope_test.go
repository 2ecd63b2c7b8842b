package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

const script = `def fib(n) if n < 3 then 1 else fib(n-1) + fib(n-2)
fib(20)
extern putchard(c)
for i = 1, i < 4 in putchard(64 + i)
extern sin(x)
extern cos(x)
sin(1.5)*sin(1.5) + cos(1.5)*cos(1.5)
def twice(x) x * 2
twice(fib(10)) + 0.5
nosuch(1)
def fib(x) x
printd(3.25)
`

const want = `Evaluated to 6765.000000
ABCDEvaluated to 0.000000
Evaluated to 1.000000
Evaluated to 110.500000
3.250000
Evaluated to 0.000000
`

// TestREPL runs a session of the REPL, in process and with the code in
// gorc-executor: definitions are compiled lazily, expressions at once,
// errors reported without ending the session.
func TestREPL(t *testing.T) {
	testutil.NeedTool(t, "llc-19", "llc")
	dir := t.TempDir()
	bin := filepath.Join(dir, "kaleidoscope")
	exe := filepath.Join(dir, "gorc-executor")
	for out, pkg := range map[string]string{bin: "./", exe: "github.com/gorc-jit/gorc/cmd/gorc-executor"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, b)
		}
	}
	for _, args := range [][]string{nil, {"-oop", exe}} {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(script)
		got := testutil.Run(t, cmd)
		if got.ExitCode != 0 || got.Stdout != want {
			t.Errorf("%v: exit %d\n--- stdout\n%s--- want\n%s--- stderr\n%s", args, got.ExitCode, got.Stdout, want, got.Stderr)
		}
		for _, e := range []string{"error: unknown function nosuch", "error: fib is already defined"} {
			if !strings.Contains(got.Stderr, e) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, e, got.Stderr)
			}
		}
	}
}
