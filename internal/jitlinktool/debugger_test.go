package jitlinktool_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

const debugSrc = `#include <stdio.h>
int twice(int x) {
	int y = x * 2;
	return y;
}
int main(void) { printf("%d\n", twice(21)); return 0; }
`

// gdbScript stops in twice, shows where, and prints its argument.
var gdbScript = []string{"-batch", "-ex", "set breakpoint pending on", "-ex", "break twice", "-ex", "run",
	"-ex", "bt 2", "-ex", "print x", "-ex", "continue"}

func checkGDB(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{"Breakpoint 1, twice (x=21) at ", "debug.c:3\n", "in main () at ", "debug.c:6\n", "$1 = 21"} {
		if !strings.Contains(out, want) {
			t.Errorf("gdb output lacks %q:\n%s", want, out)
		}
	}
}

// -debugger-support: GDB stops at a breakpoint in JIT'd code compiled with
// -g, with source lines and variables, in process and in an executor.
func TestDebuggerSupport(t *testing.T) {
	gdb := testutil.NeedTool(t, "gdb")
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "debug.c", debugSrc, "-g", "-O0")
	args := append(append(append([]string{}, gdbScript...), "--args", tool, "-debugger-support"), obj)
	out, _ := exec.Command(gdb, args...).CombinedOutput()
	checkGDB(t, string(out))

	// The executor under the debugger, the tool linking into it.
	addr := freePort(t)
	exe := exec.Command(gdb, append(append([]string{}, gdbScript...), "--args", executor, "listen="+addr)...)
	var exeOut bytes.Buffer
	exe.Stdout, exe.Stderr = &exeOut, &exeOut
	if err := exe.Start(); err != nil {
		t.Fatal(err)
	}
	waitListening(t, addr)
	if got := jit(t, "-oop-executor-connect="+addr, "-debugger-support", obj); got.ExitCode != 0 {
		t.Errorf("tool: exit %d %s", got.ExitCode, got.Stderr)
	}
	exe.Wait()
	checkGDB(t, exeOut.String())
}
