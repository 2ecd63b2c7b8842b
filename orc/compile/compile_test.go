package compile_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/compile"
)

const interfaceIR = `; a comment mentioning @not_a_symbol
@counter = dso_local global i32 5, align 4
@table = internal unnamed_addr constant [3 x i32] [i32 1, i32 2, i32 3]
@.str = private unnamed_addr constant [6 x i8] c"a@b()\00"
@ext = external global i32
@weak_var = weak global i32 0
@hidden_var = hidden global i32 1
@"quoted name" = global i32 2
@alias = alias i32, ptr @counter
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @main, ptr null }]
@llvm.used = appending global [1 x ptr] [ptr @counter], section "llvm.metadata"
declare i32 @printf(ptr, ...)
define available_externally i32 @inline_only(i32 %x) {
  ret i32 %x
}
define internal i32 @helper(i32 %x) {
  %r = call i32 @leaf(i32 %x)
  ret i32 %r
}
define linkonce_odr hidden i32 @odr(i32 %x) {
  ret i32 %x
}
define dso_local i32 @main(i32 %argc, ptr %argv) {
  %a = call i32 @helper(i32 %argc)
  %b = call i32 (ptr, ...) @printf(ptr @.str, i32 %a)
  %c = call i32 @"quoted fn"(i32 %b)
  ret i32 %c
}
`

func TestInterface(t *testing.T) {
	syms, err := compile.Interface([]byte(interfaceIR))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]compile.IRSymbol{}
	for _, s := range syms {
		got[s.Name] = s
	}
	want := map[string]compile.IRSymbol{
		"counter":     {Name: "counter"},
		"table":       {Name: "table", Local: true},
		".str":        {Name: ".str", Local: true},
		"weak_var":    {Name: "weak_var", Weak: true},
		"hidden_var":  {Name: "hidden_var", Hidden: true},
		"quoted name": {Name: "quoted name"},
		"alias":       {Name: "alias"},
		"helper":      {Name: "helper", Function: true, Local: true},
		"odr":         {Name: "odr", Function: true, Weak: true, Hidden: true},
		"main":        {Name: "main", Function: true},
	}
	if len(got) != len(want) {
		t.Errorf("got %d definitions, want %d: %+v", len(got), len(want), syms)
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: got %+v, want %+v", n, got[n], w)
		}
	}
	if calls := compile.Calls([]byte(interfaceIR)); !slices.Equal(calls, []string{"leaf", "helper", "printf", "quoted fn"}) {
		t.Errorf("Calls = %q", calls)
	}
}

// ExtractGlobals works on modules with and without aliases (llvm-extract
// refuses a pattern that matches nothing).
func TestExtractGlobals(t *testing.T) {
	l, err := compile.FindLLVM()
	if err != nil {
		if testutil.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, ir := range []string{
		"@g = global i32 1\n@a = alias i32, ptr @g\ndefine i32 @f() {\n  ret i32 0\n}\n",
		"@g = global i32 1\n@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @f, ptr null }]\ndefine void @f() {\n  ret void\n}\n",
	} {
		out, err := l.ExtractGlobals(t.Context(), []byte(ir))
		if err != nil {
			t.Errorf("%v\n%s", err, ir)
			continue
		}
		if !strings.Contains(string(out), "@g = global i32 1") || strings.Contains(string(out), "ret ") {
			t.Errorf("extracted globals:\n%s", out)
		}
	}
}

// TestCacheConcurrentWriters: writers of one key (as concurrent processes
// compiling the same input) never expose a partial object, and leave no
// temporary files.
func TestCacheConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	c, err := compile.NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := compile.Key([]byte("llc"), []byte("module"))
	obj := bytes.Repeat([]byte("object!"), 100000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := c.Put(key, obj); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if got, ok := c.Get(key); ok && !bytes.Equal(got, obj) {
				t.Error("read a partial object")
			}
		}()
	}
	wg.Wait()
	if got, ok := c.Get(key); !ok || !bytes.Equal(got, obj) {
		t.Fatal("object not cached")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != key+".o" {
		t.Fatalf("cache holds %v", entries)
	}
	if compile.Key([]byte("a"), []byte("bc")) == compile.Key([]byte("ab"), []byte("c")) {
		t.Fatal("keys of different parts collide")
	}
}

func llvmTools(t *testing.T) *compile.LLVM {
	testutil.NeedTool(t, "llc-19", "llc")
	l, err := compile.FindLLVM()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLayers compiles IR (whole, transformed, and as bitcode) and C
// through the layers and runs it.
func TestLayers(t *testing.T) {
	llvm := llvmTools(t)
	j, err := (&lljit.LazyBuilder{Transform: func(m compile.Module) (compile.Module, error) {
		// The transform layer: every "add 1" becomes "add 100".
		m.IR = bytes.ReplaceAll(m.IR, []byte("%x, 1\n"), []byte("%x, 100\n"))
		return m, nil
	}}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ir := "define i32 @inc(i32 %x) {\n  %r = add i32 %x, 1\n  ret i32 %r\n}\n"
	if err := j.AddIRModule(nil, compile.Module{Name: "inc.ll", IR: []byte(ir)}); err != nil {
		t.Fatal(err)
	}
	// The same function as bitcode, under another name.
	dir := t.TempDir()
	ll := filepath.Join(dir, "dec.ll")
	os.WriteFile(ll, []byte(strings.ReplaceAll(strings.ReplaceAll(ir, "inc", "dec"), "add i32 %x, 1", "sub i32 %x, 2")), 0o644)
	bc := filepath.Join(dir, "dec.bc")
	as := filepath.Join(filepath.Dir(llvm.LLC), "llvm-as")
	if out, err := exec.Command(as, "-o", bc, ll).CombinedOutput(); err != nil {
		t.Fatalf("llvm-as: %v %s", err, out)
	}
	bitcode, _ := os.ReadFile(bc)
	if err := j.AddLazyIRModule(nil, compile.Module{Name: "dec.bc", IR: bitcode}); err != nil {
		t.Fatal(err)
	}
	cc, err := compile.FindCC()
	if err != nil {
		t.Fatal(err)
	}
	if err := compile.NewCLayer(j.ObjectLinkingLayer(), cc).Add(j.MainJITDylib().DefaultResourceTracker(), "sq.c",
		[]byte("int square(int x) { return x * x; }\n")); err != nil {
		t.Fatal(err)
	}
	epc := j.ExecutorProcessControl()
	for name, want := range map[string]int{"inc": 105, "dec": 3, "square": 25} {
		addr, err := j.Lookup(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := epc.RunAsIntFunction(addr, 5); err != nil || got != want {
			t.Errorf("%s(5) = %d, %v; want %d", name, got, err, want)
		}
	}
	// A C source that does not compile is one error naming it.
	err = compile.NewCLayer(j.ObjectLinkingLayer(), cc).Add(j.MainJITDylib().DefaultResourceTracker(), "bad.c", []byte("int f( {"))
	if err == nil || !strings.Contains(err.Error(), "bad.c") {
		t.Errorf("bad C: %v", err)
	}
}
