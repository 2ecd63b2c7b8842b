package mcjit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/mcjit"
	"github.com/gorc-jit/gorc/orc/compile"
)

const modA = `
@base = global i32 1000
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]
define internal void @init() {
  %v = load i32, ptr @base
  %w = add i32 %v, 10
  store i32 %w, ptr @base
  ret void
}
define i32 @add_base(i32 %x) {
  %v = load i32, ptr @base
  %r = add i32 %v, %x
  ret i32 %r
}
`

const modB = `
declare i32 @add_base(i32)
define i32 @twice_plus_base(i32 %x) {
  %d = mul i32 %x, 2
  %r = call i32 @add_base(i32 %d)
  ret i32 %r
}
`

func needLLVM(t *testing.T) {
	t.Helper()
	if _, err := compile.FindLLVM(); err != nil {
		if testutil.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// Code is generated only when an address is asked for; modules added after
// the first finalization link against the earlier ones; constructors run.
func TestDeferredGenerationAndLaterModules(t *testing.T) {
	needLLVM(t)
	e, err := (&mcjit.Builder{}).Create(compile.Module{Name: "a", IR: []byte(modA)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.CodeGenerations != 0 {
		t.Fatalf("%d code generations before any address was asked for", e.CodeGenerations)
	}
	if err := e.RunStaticConstructorsDestructors(false); err != nil {
		t.Fatal(err)
	}
	if e.CodeGenerations != 1 {
		t.Fatalf("%d code generations after finalizing one module", e.CodeGenerations)
	}
	e.AddModule(compile.Module{Name: "b", IR: []byte(modB)})
	addr, err := e.GetSymbolAddress("twice_plus_base")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.ExecutorProcessControl().RunAsIntFunction(addr, 5)
	if err != nil || got != 1020 {
		t.Fatalf("twice_plus_base(5) = %d, %v; want 1020 (constructor ran once)", got, err)
	}
	if err := e.RunStaticConstructorsDestructors(false); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.ExecutorProcessControl().RunAsIntFunction(addr, 5); got != 1020 {
		t.Fatalf("constructors ran again: %d", got)
	}
	if _, err := e.GetSymbolAddress("nothing"); err == nil {
		t.Fatal("an undefined symbol has an address")
	}
}

// The on-disk cache makes a second engine skip code generation, keyed by
// module content and options.
func TestObjectCache(t *testing.T) {
	needLLVM(t)
	cache, err := mcjit.NewDiskCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(opt int, ir string) int {
		e, err := (&mcjit.Builder{ObjectCache: cache, OptLevel: &opt}).Create(compile.Module{Name: "a", IR: []byte(ir)})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		addr, err := e.GetSymbolAddress("add_base")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.ExecutorProcessControl().RunAsIntFunction(addr, 1); err != nil || got != 1001 {
			t.Fatalf("add_base(1) = %d, %v", got, err)
		}
		return e.CodeGenerations
	}
	for i, c := range []struct {
		opt  int
		ir   string
		gens int
	}{{2, modA, 1}, {2, modA, 0}, {0, modA, 1}, {2, modA + "\n; changed\n", 1}} {
		if got := run(c.opt, c.ir); got != c.gens {
			t.Errorf("run %d: %d code generations, want %d", i+1, got, c.gens)
		}
	}
}

// A module that does not compile, and one whose symbols cannot be
// resolved, are errors naming the module and the symbol.
func TestErrors(t *testing.T) {
	needLLVM(t)
	e, err := (&mcjit.Builder{}).Create(compile.Module{Name: "bad.ll", IR: []byte("define i32 @f( {")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.FinalizeObject(); err == nil {
		t.Error("bad IR finalized")
	}
	e, err = (&mcjit.Builder{}).Create(compile.Module{Name: "undef.ll", IR: []byte("declare i32 @no_such_function_anywhere()\ndefine i32 @f() {\n %r = call i32 @no_such_function_anywhere()\n ret i32 %r\n}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetSymbolAddress("f"); err == nil || !strings.Contains(err.Error(), "no_such_function_anywhere") || !strings.Contains(err.Error(), "undef.ll") {
		t.Errorf("got %v, want an error naming the module and the symbol", err)
	}
}

// Objects and archive members join the modules: a member is loaded when
// loaded code needs it (and the members it needs in turn), not otherwise.
func TestObjectsAndArchives(t *testing.T) {
	needLLVM(t)
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "obj.c", `int from_object(int x) { return x + 1; }`, "-fPIC")
	m1 := testutil.Compile(t, dir, "m1.c", `extern int from_member2(int); int from_member1(int x) { return from_member2(x) * 10; }`, "-fPIC")
	m2 := testutil.Compile(t, dir, "m2.c", `int from_member2(int x) { return x + 2; }`, "-fPIC")
	m3 := testutil.Compile(t, dir, "m3.c", `int unused_member(void) { return 0; }`, "-fPIC")
	lib := filepath.Join(dir, "libx.a")
	if out, err := exec.Command(testutil.NeedTool(t, "ar"), "rcs", lib, m1, m2, m3).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v\n%s", err, out)
	}
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	e, err := (&mcjit.Builder{}).Create(compile.Module{Name: "main", IR: []byte(`
declare i32 @from_object(i32)
declare i32 @from_member1(i32)
define i32 @f(i32 %x) {
  %a = call i32 @from_object(i32 %x)
  %b = call i32 @from_member1(i32 %a)
  ret i32 %b
}
`)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.AddObject(obj, data)
	if err := e.AddArchive(lib); err != nil {
		t.Fatal(err)
	}
	addr, err := e.GetSymbolAddress("f")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.ExecutorProcessControl().RunAsIntFunction(addr, 4); err != nil || got != 70 {
		t.Fatalf("f(4) = %d, %v; want 70", got, err)
	}
	if _, err := e.GetSymbolAddress("unused_member"); err == nil {
		t.Error("a member nothing needed was loaded")
	}
}
