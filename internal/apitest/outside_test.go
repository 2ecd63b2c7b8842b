// Package apitest checks the public API as a user sees it: from a module
// outside this repository.
package apitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

const cSrc = `#include <stdio.h>
#include <stdint.h>
int add3(int a, int b, int c) { return a + b + c; }
double hyp2(double x, double y) { return x * x + y * y; }
double mixed(int n, double x, char c, float f) { return n * x + c + f; }
long sum10(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j) {
	return a + b + c + d + e + f + g + 10 * h + 100 * i + 1000 * j;
}
static char msg[] = "pointer result";
const char *greeting(void) { return msg; }

extern int go_counter;            /* Go-defined data in JIT'd memory, reached PC-relative */
int bump(int by) { go_counter += by; return go_counter; }

void say(const char *what) { printf("C says: %s\n", what); }   /* buffered: a pipe loses it unless flushed */
`

const callbackSrc = `extern long go_twice(long x);
extern void go_log(const char *line);
long twice_plus_one(long x) { go_log("C calling Go"); return go_twice(x) + 1; }
`

const cxxSrc = `#include <stdexcept>
#include <string>
static int check(int x) { if (x < 0) throw std::invalid_argument("negative: " + std::to_string(x)); return x * 2; }
extern "C" int safe_double(int x) {
	try { return check(x); } catch (const std::exception &e) { return -(int)std::string(e.what()).size(); }
}
`

const mainSrc = `package main

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/remote"
)

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func main() {
	obj, cb, cxx, executor := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	for _, mode := range []string{"in process", "out of process"} {
		fmt.Println("==", mode)
		b := &lljit.Builder{}
		if mode == "out of process" {
			epc, err := remote.Launch(executor)
			check(err)
			b.EPC = epc
		}
		j, err := b.Create()
		check(err)
		counter, err := j.DefineData(nil, "go_counter", []byte{40, 0, 0, 0}, 0, 4, true)
		check(err)
		check(j.AddObjectFile(nil, obj))
		check(j.LoadDylib("libstdc++.so.6"))
		check(j.AddObjectFile(nil, cxx))

		var add3 func(int32, int32, int32) int32
		var hyp2 func(float64, float64) float64
		var mixed func(int32, float64, int8, float32) float64
		var sum10 func(a, b, c, d, e, f, g, h, i, j int64) int64
		var greeting func() unsafe.Pointer
		var bump func(int32) (int32, error)
		var say func(unsafe.Pointer)
		var safeDouble func(int32) int32
		for name, f := range map[string]any{"add3": &add3, "hyp2": &hyp2, "mixed": &mixed, "sum10": &sum10,
			"greeting": &greeting, "bump": &bump, "say": &say, "safe_double": &safeDouble} {
			check(j.Bind(name, f))
		}
		fmt.Println("add3:", add3(1, 2, -4))
		fmt.Println("hyp2:", hyp2(3, 4))
		fmt.Println("mixed:", mixed(3, 1.5, 'A', 0.25))
		fmt.Println("sum10:", sum10(1, 1, 1, 1, 1, 1, 1, 2, 3, 4))
		fmt.Println("greeting != nil:", greeting() != nil)
		n, err := bump(2)
		check(err)
		fmt.Println("bump:", n)
		fmt.Println("safe_double:", safeDouble(21), safeDouble(-5))

		check(j.ExportFunc(nil, "go_twice", func(x int64) int64 { return 2 * x }))
		check(j.ExportFunc(nil, "go_log", func(p unsafe.Pointer) {
			if mode == "in process" {
				fmt.Println("Go heard:", string(unsafe.Slice((*byte)(p), 12)))
			} else { // p points into the executor
				fmt.Println("Go heard C from the executor")
			}
		}))
		check(j.AddObjectFile(nil, cb))
		var twicePlusOne func(int64) int64
		check(j.Bind("twice_plus_one", &twicePlusOne))
		fmt.Println("twice_plus_one:", twicePlusOne(20))
		if mode == "in process" {
			mem, err := j.Bytes(counter, 4)
			check(err)
			mem[0] = 100
			fmt.Println("bump after Go wrote:", must(bump(1)))
			fmt.Println("greeting:", string(unsafe.Slice((*byte)(greeting()), 14)))
			msg := []byte("hello from Go\x00")
			say(unsafe.Pointer(&msg[0]))
		} else {
			check(j.ExecutorProcessControl().WriteMemory(counter, []byte{100}))
			fmt.Println("bump after Go wrote:", must(bump(1)))
			// Strings for the executor live in its memory.
			msg, err := j.DefineData(nil, "msg", []byte("hello from Go, far away\x00"), 0, 1, false)
			check(err)
			var sayAt func(uint64)
			check(j.Bind("say", &sayAt))
			sayAt(msg)
		}
		check(j.Close()) // flushes C stdio (in process; gorc-executor flushes as it exits)
	}
}

func must(v int32, err error) int32 {
	check(err)
	return v
}
`

// TestOutsideModule builds a program in a module of its own that uses
// gorc through a replace directive, with the public API only, and runs it
// with its output to a pipe: typed calls of five signatures, Go data in
// JIT'd memory used by default (PIE) code, C++ with exceptions, Go
// callbacks, and C output that survives the pipe; in process and in
// gorc-executor.
func TestOutsideModule(t *testing.T) {
	testutil.NeedTool(t, "g++")
	goTool := testutil.NeedTool(t, "go")
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "lib.c", cSrc, "-O1")
	cb := testutil.Compile(t, dir, "cb.c", callbackSrc, "-O1")
	cxx := testutil.Compile(t, dir, "cxx.cc", cxxSrc, "-O1")
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	mod := filepath.Join(dir, "user")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	goMod := "module example.com/user\n\ngo 1.26\n\nrequire github.com/gorc-jit/gorc v0.0.0\n\nreplace github.com/gorc-jit/gorc => " + repo + "\n"
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(goMod), "go.sum": sum, "main.go": []byte(mainSrc)} {
		if err := os.WriteFile(filepath.Join(mod, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := func(out, pkg string) {
		cmd := exec.Command(goTool, "build", "-mod=mod", "-o", out, pkg)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	prog, executor := filepath.Join(dir, "prog"), filepath.Join(dir, "gorc-executor")
	build(prog, ".")
	build(executor, "github.com/gorc-jit/gorc/cmd/gorc-executor")
	vet := exec.Command(goTool, "vet", ".")
	vet.Dir = mod
	vet.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if b, err := vet.CombinedOutput(); err != nil {
		t.Errorf("go vet of the outside module: %v\n%s", err, b)
	}
	out, err := exec.Command(prog, obj, cb, cxx, executor).Output() // stdout is a pipe
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `== in process
add3: -1
hyp2: 25
mixed: 69.75
sum10: 7+20+300+4000
greeting != nil: true
bump: 42
safe_double: 42 -12
Go heard: C calling Go
twice_plus_one: 41
bump after Go wrote: 101
greeting: pointer result
C says: hello from Go
== out of process
add3: -1
hyp2: 25
mixed: 69.75
sum10: 7+20+300+4000
greeting != nil: true
bump: 42
safe_double: 42 -12
Go heard C from the executor
twice_plus_one: 41
bump after Go wrote: 101
C says: hello from Go, far away
`
	want = strings.ReplaceAll(want, "7+20+300+4000", "4327")
	if string(out) != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}
