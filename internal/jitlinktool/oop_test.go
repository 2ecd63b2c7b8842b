package jitlinktool_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/internal/testutil"
)

const cxxNoTLSSrc = `#include <cstdio>
#include <stdexcept>
#include <string>
struct Tracer { const char *n; Tracer(const char *n) : n(n) { std::printf("construct %s\n", n); } ~Tracer() { std::printf("destruct %s\n", n); } };
static Tracer global("g");
static int f(int x) { if (x > 2) throw std::runtime_error("too big: " + std::to_string(x)); return x; }
int main() {
	int s = 0;
	for (int i = 0; i < 5; i++) { try { s += f(i); } catch (const std::exception &e) { std::printf("caught %s\n", e.what()); } }
	std::printf("sum %d\n", s);
	return 4;
}
`

// TestOutOfProcess runs the corpus with the code in an executor process:
// gorc-executor (the default -oop-executor, found next to the tool) and
// LLVM's llvm-jitlink-executor-14. The output must be the native program's.
func TestOutOfProcess(t *testing.T) {
	dir := t.TempDir()
	sqlite := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libsqlite3.a")
	multi := []string{
		testutil.Compile(t, dir, "main.c", multiMain, "-O2"),
		testutil.Compile(t, dir, "lib.c", multiLib, "-O2"),
		testutil.Compile(t, dir, "strong.c", multiStrong, "-O2"),
	}
	sqliteMain := testutil.Compile(t, dir, "sqlite.c", sqliteSrc, "-O2")
	cxxNoTLS := testutil.Compile(t, dir, "exc.cc", cxxNoTLSSrc, "-O1")
	initfini := testutil.Compile(t, dir, "initfini.c", initFiniSrc, "-O1")
	pie := testutil.Compile(t, dir, "pie.c", pieDataSrc)
	executors := map[string][]string{
		"gorc-executor":               {"-oop-executor"},
		"gorc-executor/shared-memory": {"-oop-executor", "-use-shared-memory"},
		"llvm-jitlink-executor-14":    {"-oop-executor=" + testutil.NeedTool(t, "llvm-jitlink-executor-14")},
	}
	for name, flags := range executors {
		t.Run(name, func(t *testing.T) {
			with := func(args ...string) []string { return append(slices.Clone(flags), args...) }
			same(t, dir, multi, nil, with(), []string{"x", "y"})
			same(t, dir, []string{sqliteMain}, []string{sqlite, "-lm"}, with(sqlite, "-lm"), nil)
			same(t, dir, []string{cxxNoTLS}, []string{"-lstdc++"}, with("-lstdc++"), nil)
			same(t, dir, []string{initfini}, nil, with(), []string{"x"})
			same(t, dir, []string{pie}, nil, with(), nil)
		})
	}
	// Thread-local storage needs gorc's executor runtime.
	t.Run("gorc-executor/tls-and-c++", func(t *testing.T) {
		tls := testutil.Compile(t, dir, "tls.c", tlsSrc, "-O1", "-fPIC")
		other := testutil.Compile(t, dir, "other.c", "__thread int other_tls = 42;", "-O1", "-fPIC")
		same(t, dir, []string{tls, other}, []string{"-pthread"}, []string{"-oop-executor"}, nil)
		cxx := testutil.Compile(t, dir, "prog.cc", cxxSrc, "-O1", "-fPIC")
		same(t, dir, []string{cxx}, []string{"-lstdc++"}, []string{"-oop-executor", "-lstdc++"}, nil)
	})
}

// TestOutOfProcessTCP runs programs in a gorc-executor listening on a
// loopback port; their output is the executor's.
func TestOutOfProcessTCP(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "sqlite.c", sqliteSrc, "-O2")
	lib := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libsqlite3.a")
	want := testutil.Native(t, dir, []string{obj}, []string{lib, "-lm"})
	for range 2 {
		addr := freePort(t)
		exe := exec.Command(executor, "listen="+addr)
		var out, errb bytes.Buffer
		exe.Stdout, exe.Stderr = &out, &errb
		if err := exe.Start(); err != nil {
			t.Fatal(err)
		}
		waitListening(t, addr)
		got := jit(t, "-oop-executor-connect="+addr, obj, lib, "-lm")
		if err := exe.Wait(); err != nil {
			t.Fatalf("executor: %v\n%s", err, errb.String())
		}
		if got.ExitCode != want.ExitCode || out.String() != want.Stdout {
			t.Fatalf("over TCP: exit %d, executor printed %q (stderr %s); native: exit %d, %q",
				got.ExitCode, out.String(), got.Stderr+errb.String(), want.ExitCode, want.Stdout)
		}
	}
}

// TestREADMEOneLiner: "gorc-executor listen=ADDR & gorc-jitlink
// -oop-executor-connect=ADDR prog.o" starts both at once; the tool waits
// for the executor to listen, on TCP or a Unix socket.
func TestREADMEOneLiner(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "hello.c", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 3; }\n")
	for _, addr := range []string{freePort(t), freePort(t), "unix:" + filepath.Join(dir, "exec.sock")} {
		exe := exec.Command(executor, "listen="+addr)
		var out, errb bytes.Buffer
		exe.Stdout, exe.Stderr = &out, &errb
		tool := exec.Command(tool, "-oop-executor-connect="+addr, obj)
		var terr bytes.Buffer
		tool.Stderr = &terr
		if err := exe.Start(); err != nil {
			t.Fatal(err)
		}
		err := tool.Run()
		if exe.Wait(); tool.ProcessState.ExitCode() != 3 || out.String() != "hello\n" {
			t.Fatalf("tool: %v, %s; executor printed %q, %s", err, terr.String(), out.String(), errb.String())
		}
		if !strings.Contains(errb.String(), "gorc-executor: listening on "+addr) {
			t.Fatalf("executor's stderr: %q", errb.String())
		}
	}
}

// TestExecutorToken: an executor listening with a token
// turns away controllers without it (gorc-jitlink with no token or a wrong
// one, llvm-jitlink-14) with a clear error, and runs the program for the
// one that has it.
func TestExecutorToken(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "hello.c", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 3; }\n")
	tokenFile := filepath.Join(dir, "token")
	wrongFile := filepath.Join(dir, "wrong")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	os.WriteFile(wrongFile, []byte("guess\n"), 0o600)
	sock := freePort(t)
	exe := exec.Command(executor, "-token-file="+tokenFile, "listen="+sock)
	var out, errb bytes.Buffer
	exe.Stdout, exe.Stderr = &out, &errb
	if err := exe.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exe.Process.Kill(); exe.Wait() })

	for _, tc := range []struct {
		cmd  *exec.Cmd
		want string
	}{
		{exec.Command(tool, "-oop-executor-connect="+sock, obj), "the executor requires a token"},
		{exec.Command(tool, "-oop-executor-token-file="+wrongFile, "-oop-executor-connect="+sock, obj), "wrong token"},
		{exec.Command(testutil.NeedTool(t, "llvm-jitlink-14"), "-oop-executor-connect="+sock, obj), "TagAddr not zero"},
	} {
		tc.cmd.Env = append(os.Environ(), "GORC_EXECUTOR_TOKEN=")
		got := testutil.Run(t, tc.cmd)
		if got.ExitCode == 0 || !strings.Contains(got.Stderr, tc.want) {
			t.Errorf("%s: exit %d, %q; want an error with %q", strings.Join(tc.cmd.Args, " "), got.ExitCode, got.Stderr, tc.want)
		}
	}
	cmd := exec.Command(tool, "-oop-executor-connect="+sock, obj)
	cmd.Env = append(os.Environ(), "GORC_EXECUTOR_TOKEN=s3cret")
	if got := testutil.Run(t, cmd); got.ExitCode != 3 {
		t.Fatalf("with the token: exit %d, %q; executor: %q", got.ExitCode, got.Stderr, errb.String())
	}
	if err := exe.Wait(); err != nil || out.String() != "hello\n" {
		t.Fatalf("executor: %v, printed %q; stderr %q", err, out.String(), errb.String())
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	for range 200 {
		// The executor serves one connection, so only look for the
		// listening socket in /proc/net/tcp instead of connecting.
		if listening(addr) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("executor did not listen on %s", addr)
}

// listening reports whether a socket listens on addr (127.0.0.1:port),
// from /proc/net/tcp.
func listening(addr string) bool {
	_, port, _ := net.SplitHostPort(addr)
	out, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	var p int
	fmt.Sscan(port, &p)
	needle := fmt.Sprintf("0100007F:%04X 00000000:0000 0A", p)
	return strings.Contains(string(out), needle)
}

// TestLLVMControllerGorcExecutor: llvm-jitlink-14 runs programs in
// gorc-executor as it does in its own executor. (llvm-jitlink passes the
// program exactly the -args, without an argv[0]; these programs ignore
// argc.)
func TestLLVMControllerGorcExecutor(t *testing.T) {
	llvm := testutil.NeedTool(t, "llvm-jitlink-14")
	dir := t.TempDir()
	sqlite := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libsqlite3.a")
	hello := testutil.Compile(t, dir, "hello.c", "#include <stdio.h>\nint main(void) { printf(\"hello\\n\"); return 5; }\n", "-O2")
	sqliteMain := testutil.Compile(t, dir, "sqlite.c", sqliteSrc, "-O2")
	exc := testutil.Compile(t, dir, "exc.cc", strings.ReplaceAll(cxxNoTLSSrc, "static Tracer global(\"g\");", ""), "-O1")
	for _, tc := range []struct {
		objs, ldflags, inputs []string
	}{
		{[]string{hello}, nil, nil},
		{[]string{sqliteMain}, []string{sqlite, "-lm"}, []string{sqlite}},
		{[]string{exc}, []string{"-lstdc++"}, nil},
	} {
		want := testutil.Native(t, dir, tc.objs, tc.ldflags)
		args := append(append([]string{"-oop-executor=" + executor}, tc.objs...), tc.inputs...)
		got := testutil.Run(t, exec.Command(llvm, args...))
		if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
			t.Errorf("llvm-jitlink-14 %s: exit %d, %q (stderr %s); native: exit %d, %q",
				strings.Join(args, " "), got.ExitCode, got.Stdout, got.Stderr, want.ExitCode, want.Stdout)
		}
	}
}

// TestExecutorCrashAndExit: a program that crashes or calls exit in the
// executor is reported, and the tool exits as the program did.
func TestExecutorCrashAndExit(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "crash.c", `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
	printf("before\n");
	fflush(stdout);
	if (argc > 1) exit(7);
	*(volatile int *)16 = 1;
	return 0;
}
`)
	got := jit(t, "-oop-executor", obj)
	if got.ExitCode != 128+11 || got.Stdout != "before\n" || !strings.Contains(got.Stderr, "killed by signal 11") ||
		!strings.Contains(got.Stderr, "SIGSEGV") {
		t.Errorf("crash: exit %d, stdout %q, stderr %q", got.ExitCode, got.Stdout, got.Stderr)
	}
	got = jit(t, "-oop-executor", obj, "-args", "x")
	if got.ExitCode != 7 || got.Stdout != "before\n" || !strings.Contains(got.Stderr, "exited with status 7") {
		t.Errorf("exit: exit %d, stdout %q, stderr %q", got.ExitCode, got.Stdout, got.Stderr)
	}
}

// TestControllerWithoutCgo: a gorc-jitlink built with CGO_ENABLED=0 links
// for an executor process (and says it cannot run code itself).
func TestControllerWithoutCgo(t *testing.T) {
	dir := t.TempDir()
	pure := filepath.Join(dir, "gorc-jitlink-nocgo")
	build := exec.Command("go", "build", "-o", pure, "github.com/gorc-jit/gorc/cmd/gorc-jitlink")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, out)
	}
	obj := testutil.Compile(t, dir, "sqlite.c", sqliteSrc, "-O2")
	lib := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libsqlite3.a")
	want := testutil.Native(t, dir, []string{obj}, []string{lib, "-lm"})
	got := testutil.Run(t, exec.Command(pure, "-oop-executor="+executor, obj, lib, "-lm"))
	if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
		t.Fatalf("cgo-free controller: exit %d, %q (%s); native exit %d, %q", got.ExitCode, got.Stdout, got.Stderr, want.ExitCode, want.Stdout)
	}
	got = testutil.Run(t, exec.Command(pure, obj, lib, "-lm"))
	if got.ExitCode != 1 || !strings.Contains(got.Stderr, "needs a build with cgo") || !strings.Contains(got.Stderr, "-oop-executor") {
		t.Fatalf("in process without cgo: exit %d, %q", got.ExitCode, got.Stderr)
	}
}
