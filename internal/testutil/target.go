package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The tests may run for an architecture the machine does not run natively:
// GOARCH=arm64 go test -exec qemu-aarch64 on x86-64 (see .ci/run). Then C
// compiled at test time must be compiled for the target, and programs of the
// target (the test binary re-run as a child, gorc-executor) must be started
// through qemu: with no binfmt_misc entry, the kernel cannot exec them.

// gnuArch names GOARCH values as the GNU triples' first component does (the
// prefix of cross compilers and the suffix of qemu-user's programs).
var gnuArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// hostRunsTarget reports whether the machine runs programs of runtime.GOARCH
// natively. uname is a host program: run from a test under qemu-user it
// still reports the real machine.
var hostRunsTarget = sync.OnceValue(func() bool {
	out, err := exec.Command("uname", "-m").Output()
	return err != nil || strings.TrimSpace(string(out)) == gnuArch[runtime.GOARCH]
})

// targetCompiler returns the C (cxx false) or C++ compiler that compiles
// for runtime.GOARCH: the host's gcc, or the cross compiler named by the
// target's triple.
func targetCompiler(cxx bool) string {
	name := "gcc"
	if cxx {
		name = "g++"
	}
	if hostRunsTarget() {
		return name
	}
	return gnuArch[runtime.GOARCH] + "-linux-gnu-" + name
}

// emulator returns qemu-user's program for runtime.GOARCH.
func emulator() string { return "qemu-" + gnuArch[runtime.GOARCH] }

// TargetCommand is exec.Command for a program of the target architecture
// (built by go build with this test's GOARCH, or this test binary): started
// through qemu-user when the machine cannot run it natively.
func TargetCommand(name string, args ...string) *exec.Cmd {
	if hostRunsTarget() {
		return exec.Command(name, args...)
	}
	return exec.Command(emulator(), append([]string{name}, args...)...)
}

// TargetProgram returns a path that starts the program of the target
// architecture at path when executed: path itself, or a script in dir that
// runs it under qemu-user (for APIs that take a program's path, such as
// remote.Launch).
func TargetProgram(t testing.TB, dir, path string) string {
	t.Helper()
	if hostRunsTarget() {
		return path
	}
	qemu, err := exec.LookPath(emulator())
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, filepath.Base(path)+"-"+runtime.GOARCH)
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec "+qemu+" "+path+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// targetTestdata makes the objects of each fixture directory (a testdata
// directory with a gen.sh, relative to the package directory) match
// runtime.GOARCH. The committed objects are x86-64; for another target the
// directories are copied (sources and gen.sh) into a temporary tree, gen.sh
// rebuilds the objects there with the target's compiler (CC), and the
// process changes into the tree so that the tests' relative paths find
// them. It returns the function that removes the tree.
func targetTestdata(fixtures []string) (func(), error) {
	if len(fixtures) == 0 || runtime.GOARCH == "amd64" {
		return func() {}, nil
	}
	tree, err := os.MkdirTemp("", "gorc-testdata-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(tree) }
	// Deep enough for fixtures named like ../../lljit/testdata.
	pkg := filepath.Join(tree, "a", "b", "c", "pkg")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		cleanup()
		return nil, err
	}
	for _, dir := range fixtures {
		dst := filepath.Join(pkg, dir)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			cleanup()
			return nil, err
		}
		srcs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
		for _, src := range append(srcs, filepath.Join(dir, "gen.sh")) {
			data, err := os.ReadFile(src)
			if err == nil {
				err = os.WriteFile(filepath.Join(dst, filepath.Base(src)), data, 0o644)
			}
			if err != nil {
				cleanup()
				return nil, err
			}
		}
		gen := exec.Command("sh", filepath.Join(dst, "gen.sh"))
		gen.Env = append(os.Environ(), "CC="+targetCompiler(false))
		if out, err := gen.CombinedOutput(); err != nil {
			cleanup()
			return nil, fmt.Errorf("rebuilding %s for %s: %v\n%s", dir, runtime.GOARCH, err, out)
		}
	}
	if err := os.Chdir(pkg); err != nil {
		cleanup()
		return nil, err
	}
	return cleanup, nil
}

// MultiarchLibDir returns Debian's library directory for runtime.GOARCH
// (/usr/lib/x86_64-linux-gnu, /usr/lib/aarch64-linux-gnu).
func MultiarchLibDir() string { return "/usr/lib/" + gnuArch[runtime.GOARCH] + "-linux-gnu" }

// TargetTriple returns the target triple of runtime.GOARCH on Linux, as
// LLVM's tools take it (for llc's -mtriple).
func TargetTriple() string { return gnuArch[runtime.GOARCH] + "-linux-gnu" }
