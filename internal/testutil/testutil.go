// Package testutil holds helpers for gorc's end-to-end tests: finding tools,
// compiling C at test time, and running native reference programs.
package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// InCI reports whether tests run under CI, where a missing tool is a failure
// rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedTool returns the path of a tool, or skips the test when it is missing
// (fails under CI).
func NeedTool(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if InCI() {
		t.Fatalf("required tool %s not found (CI=true: tests must not skip)", strings.Join(names, " or "))
	}
	t.Skipf("%s not found", strings.Join(names, " or "))
	return ""
}

// NeedFile returns path, or skips when it does not exist (fails under CI).
func NeedFile(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if InCI() {
			t.Fatalf("required file %s missing (CI=true: tests must not skip): %v", path, err)
		}
		t.Skipf("%s missing", path)
	}
	return path
}

// Compile compiles one C (or C++, by extension) source given as text into an
// object for the target architecture (runtime.GOARCH) in dir and returns its
// path.
func Compile(t testing.TB, dir, name, src string, flags ...string) string {
	t.Helper()
	cxx := strings.HasSuffix(name, ".cc") || strings.HasSuffix(name, ".cpp")
	return CompileWith(t, targetCompiler(cxx), dir, name, src, flags...)
}

// CompileWith is Compile with an explicit compiler command.
func CompileWith(t testing.TB, compiler, dir, name, src string, flags ...string) string {
	t.Helper()
	cc := NeedTool(t, compiler)
	srcPath := filepath.Join(dir, name)
	if err := os.WriteFile(srcPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := strings.TrimSuffix(srcPath, filepath.Ext(srcPath)) + ".o"
	args := append([]string{"-c", "-o", obj, srcPath}, flags...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", compiler, strings.Join(args, " "), err, out)
	}
	return obj
}

// Assemble assembles a GNU assembler source into an object.
func Assemble(t testing.TB, dir, name, src string) string {
	t.Helper()
	as := NeedTool(t, "as")
	srcPath := filepath.Join(dir, name)
	if err := os.WriteFile(srcPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := strings.TrimSuffix(srcPath, filepath.Ext(srcPath)) + ".o"
	if out, err := exec.Command(as, "-o", obj, srcPath).CombinedOutput(); err != nil {
		t.Fatalf("as %s: %v\n%s", srcPath, err, out)
	}
	return obj
}

// Outcome is what a program printed and how it exited.
type Outcome struct {
	Stdout   string
	Stderr   string
	ExitCode int
}

// Main is a TestMain that lets the test binary serve as its own child
// process: when one of the environment variables in children is set, it
// runs that child function and exits with its result; otherwise it runs the
// tests. End-to-end tests run JIT'd programs in a child so that their
// output, exit status and crashes are the program's own. fixtures name the
// testdata directories (with a gen.sh) whose committed x86-64 objects the
// tests load by relative path: for another target they are rebuilt first
// (see targetTestdata).
func Main(m *testing.M, children map[string]func() int, fixtures ...string) {
	for env, child := range children {
		if os.Getenv(env) != "" {
			os.Exit(child())
		}
	}
	cleanup, err := targetTestdata(fixtures)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// ModuleDir returns the directory of gorc's module (for go build of its
// commands, whatever the test's working directory).
func ModuleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Child returns a command re-running this test binary, with no tests and
// with env (NAME=value) added to the environment: Main runs the child that
// env names.
func Child(env ...string) *exec.Cmd {
	cmd := TargetCommand(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Run runs a command and returns its outcome; failure to start fails the
// test, a non-zero exit does not.
func Run(t testing.TB, cmd *exec.Cmd) Outcome {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running %s: %v", cmd.Path, err)
		}
		code = ee.ExitCode()
	}
	return Outcome{Stdout: out.String(), Stderr: errb.String(), ExitCode: code}
}

// Native links objs with the target's compiler driver (plus ldflags) and runs
// the program with args: the reference every JIT'd run is compared with.
func Native(t testing.TB, dir string, objs []string, ldflags []string, args ...string) Outcome {
	t.Helper()
	driver := targetCompiler(slices.Contains(ldflags, "-lstdc++"))
	exe := filepath.Join(dir, "native.exe")
	cmdArgs := append(append([]string{"-o", exe}, objs...), ldflags...)
	if out, err := exec.Command(NeedTool(t, driver), cmdArgs...).CombinedOutput(); err != nil {
		t.Fatalf("native link %s: %v\n%s", strings.Join(cmdArgs, " "), err, out)
	}
	return Run(t, TargetCommand(exe, args...))
}

// RSS returns the resident memory of this process in bytes (Linux's
// /proc/self/statm; skips elsewhere, fails in CI).
func RSS(t testing.TB) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		if InCI() {
			t.Fatalf("reading resident memory: %v", err)
		}
		t.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		t.Fatalf("/proc/self/statm: %q", data)
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		t.Fatalf("/proc/self/statm: %v", err)
	}
	return pages * uint64(os.Getpagesize())
}
