// Package compile turns program representations into objects for the
// object linking layer: LLVM IR (with the LLVM tools on the machine) and C
// (with the C compiler), behind a Compiler interface; an on-disk object
// cache keyed by content; the IR handling that compile-on-demand needs
// (reading a module's interface, extracting one function); and the compile
// layers that tie them to ORC.
package compile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Compiler compiles a representation (source text, or IR) into an ELF
// relocatable object.
type Compiler interface {
	Compile(ctx context.Context, src []byte) ([]byte, error)
	// ID identifies the compiler and its flags, for caching: objects are
	// reused only for the same ID and input.
	ID() string
}

// Tool is a compiler run as a separate program: the input on stdin, the
// object written to a temporary file.
type Tool struct {
	path    string
	args    []string // before "-o OUT -"
	version string
}

// ID returns the tool's path, version and flags.
func (t *Tool) ID() string {
	return t.path + "\x00" + t.version + "\x00" + strings.Join(t.args, "\x00")
}

// Path returns the program's path.
func (t *Tool) Path() string { return t.path }

// Compile runs the tool on src.
func (t *Tool) Compile(ctx context.Context, src []byte) ([]byte, error) {
	out, err := os.CreateTemp("", "gorc-compile-*.o")
	if err != nil {
		return nil, err
	}
	out.Close()
	defer os.Remove(out.Name())
	args := append(append([]string{}, t.args...), "-o", out.Name(), "-")
	cmd := exec.CommandContext(ctx, t.path, args...)
	cmd.Stdin = bytes.NewReader(src)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return nil, fmt.Errorf("%s: %v: %s", filepath.Base(t.path), err, msg)
	}
	return os.ReadFile(out.Name())
}

// LLVM is the LLVM toolchain compile layers use: llc to compile IR,
// llvm-extract to split modules, llvm-dis to read bitcode.
type LLVM struct {
	LLC, Extract, Dis string
	Version           string
}

// FindLLVM finds the newest LLVM installation (llc and llvm-extract of one
// version) and checks that it runs.
func FindLLVM() (*LLVM, error) {
	var candidates [][3]string
	for _, v := range installedLLVMVersions() {
		dir := fmt.Sprintf("/usr/lib/llvm-%d/bin", v)
		candidates = append(candidates, [3]string{dir + "/llc", dir + "/llvm-extract", dir + "/llvm-dis"})
	}
	if llc, err := exec.LookPath("llc"); err == nil {
		dir := filepath.Dir(llc)
		candidates = append(candidates, [3]string{llc, filepath.Join(dir, "llvm-extract"), filepath.Join(dir, "llvm-dis")})
	}
	for _, c := range candidates {
		if !executable(c[0]) || !executable(c[1]) {
			continue
		}
		out, err := exec.Command(c[0], "--version").Output()
		if err != nil {
			continue
		}
		return &LLVM{LLC: c[0], Extract: c[1], Dis: c[2], Version: versionLine(out)}, nil
	}
	return nil, errors.New("no LLVM tools found (llc and llvm-extract; install llvm-19)")
}

// installedLLVMVersions returns the major versions of Debian's LLVM
// installations (/usr/lib/llvm-N), newest first.
func installedLLVMVersions() []int {
	dirs, _ := filepath.Glob("/usr/lib/llvm-*")
	var vs []int
	for _, d := range dirs {
		if v, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "llvm-")); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(vs)))
	return vs
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// versionLine picks the "LLVM version N" line of --version output.
func versionLine(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "version") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(string(out))
}

// Compiler returns llc as a Compiler producing position-independent
// objects at -O2 (extra flags follow).
func (l *LLVM) Compiler(flags ...string) *Tool {
	args := append([]string{"-filetype=obj", "-relocation-model=pic", "-O2"}, flags...)
	return &Tool{path: l.LLC, args: args, version: l.Version}
}

// FindCC finds the C compiler (cc, gcc or clang) as a Compiler of C
// source producing position-independent objects at -O2 (extra flags
// follow, e.g. include directories).
func FindCC(flags ...string) (*Tool, error) {
	for _, name := range []string{"cc", "gcc", "clang"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(path, "--version").Output()
		if err != nil {
			continue
		}
		args := append([]string{"-x", "c", "-c", "-fPIC", "-O2"}, flags...)
		return &Tool{path: path, args: args, version: versionLine(out)}, nil
	}
	return nil, errors.New("no C compiler found (cc, gcc or clang)")
}
