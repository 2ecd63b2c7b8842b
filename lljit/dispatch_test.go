package lljit_test

import (
	"encoding/binary"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/remote"
)

// dispatchSrc calls the controller through LLVM's dispatch function: ask
// sends x to double_tag and returns the answer; long_answer checks a
// result too big to be inline; bad calls a byte that is not a registered
// tag and returns -1 when the call is refused.
const dispatchSrc = `#include <stdlib.h>
#include <string.h>
typedef struct { union { char *ptr; char inl[8]; } data; size_t size; } result;
extern result __llvm_orc_SimpleRemoteEPC_dispatch_fn(void *ctx, const void *tag, const char *data, size_t size);
extern char __llvm_orc_SimpleRemoteEPC_dispatch_ctx, double_tag, text_tag;
static char not_a_tag;

static result call(const void *tag, const void *data, size_t size) {
	return __llvm_orc_SimpleRemoteEPC_dispatch_fn(&__llvm_orc_SimpleRemoteEPC_dispatch_ctx, tag, data, size);
}

int ask(int x) {
	result r = call(&double_tag, &x, sizeof x);
	int y;
	if (r.size != sizeof y) return -1;
	memcpy(&y, r.data.inl, sizeof y);
	return y;
}

int long_answer(int unused) {
	result r = call(&text_tag, "abc", 3);
	int ok = r.size == 26 && memcmp(r.data.ptr, "abcabcabcabcabcabcabcabcab", 26) == 0;
	if (r.size > 8) free(r.data.ptr);
	return ok;
}

int bad(int unused) {
	result r = call(&not_a_tag, "x", 1);
	if (r.size == 0 && r.data.ptr) {
		int refused = strstr(r.data.ptr, "no handler") != 0;
		free(r.data.ptr);
		return refused ? -1 : -2;
	}
	return 0;
}
`

// testDispatch registers handlers, links dispatchSrc and calls it.
func testDispatch(t *testing.T, j *lljit.LLJIT, obj string) {
	var mu sync.Mutex
	var calls int
	err := j.RegisterJITDispatchHandlers(nil, map[string]orc.JITDispatchHandler{
		"double_tag": func(args []byte) ([]byte, error) {
			mu.Lock()
			calls++
			mu.Unlock()
			if len(args) != 4 {
				return nil, errors.New("want 4 bytes")
			}
			return binary.LittleEndian.AppendUint32(nil, 2*binary.LittleEndian.Uint32(args)), nil
		},
		"text_tag": func(args []byte) ([]byte, error) {
			return []byte(strings.Repeat(string(args), 9)[:26]), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	epc := j.ExecutorProcessControl()
	run := func(name string, arg int) int {
		addr, err := j.Lookup(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := epc.RunAsIntFunction(addr, arg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if got := run("ask", 21); got != 42 || calls != 1 {
		t.Errorf("ask(21) = %d after %d handler calls, want 42 after 1", got, calls)
	}
	if got := run("long_answer", 0); got != 1 {
		t.Errorf("long_answer() = %d, want 1", got)
	}
	if got := run("bad", 0); got != -1 {
		t.Errorf("a call to an unregistered tag: bad() = %d, want -1 (refused)", got)
	}
}

// TestJITDispatchInProcess: JIT'd code calls controller handlers by tag.
func TestJITDispatchInProcess(t *testing.T) {
	obj := testutil.Compile(t, t.TempDir(), "dispatch.c", dispatchSrc, "-O1", "-fPIC")
	j, err := lljit.New()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	testDispatch(t, j, obj)
}

// TestJITDispatchOutOfProcess: the same with the code in gorc-executor,
// the calls crossing the connection.
func TestJITDispatchOutOfProcess(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "dispatch.c", dispatchSrc, "-O1", "-fPIC")
	exe := buildExecutor(t, dir)
	epc, err := remote.Launch(exe)
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&lljit.Builder{EPC: epc}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := j.Close(); err != nil {
			t.Error(err)
		}
	}()
	testDispatch(t, j, obj)
}

// buildExecutor builds gorc-executor into dir.
func buildExecutor(t testing.TB, dir string) string {
	exe := filepath.Join(dir, "gorc-executor")
	build := exec.Command("go", "build", "-o", exe, "github.com/gorc-jit/gorc/cmd/gorc-executor")
	build.Dir = testutil.ModuleDir()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building gorc-executor: %v\n%s", err, out)
	}
	return testutil.TargetProgram(t, dir, exe)
}
