package lljit_test

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
)

// An object for another machine is refused by AddObjectFile and
// AddLazyObject, naming the file and its machine, not at lookup.
func TestForeignObjectRejectedAtAdd(t *testing.T) {
	dir := t.TempDir()
	triple, want := "aarch64-linux-gnu", "foreign.o: ELF machine EM_AARCH64, but the JIT targets x86_64"
	if runtime.GOARCH == "arm64" {
		triple, want = "x86_64-linux-gnu", "foreign.o: ELF machine EM_X86_64, but the JIT targets aarch64"
	}
	obj := testutil.CompileWith(t, "clang-19", dir, "foreign.c", "int foreign_fn(void) { return 1; }\n", "--target="+triple)
	j, err := lljit.NewLazy()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, obj); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("AddObjectFile: %v, want %q", err, want)
	}
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AddLazyObject(nil, obj, data); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("AddLazyObject: %v, want %q", err, want)
	}
	if _, err := j.Lookup(t.Context(), "foreign_fn"); err == nil {
		t.Error("the refused object's symbol was defined")
	}
}
