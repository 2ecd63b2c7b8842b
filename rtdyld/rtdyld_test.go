package rtdyld_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
	"github.com/gorc-jit/gorc/orc/remote"
	"github.com/gorc-jit/gorc/rtdyld"
)

// Calls from .text to a function in .text.callee (a section of its own)
// and a PC-relative load of .data: relocations between sections that the
// test moves apart.
const twoSections = `
	.section .text.callee,"ax",@progbits
	.globl callee
callee:
	ret
	.text
	.globl caller
caller:
	call callee
	movl counter(%rip), %eax
	movabsq $ext, %rax
	ret
	.data
	.globl counter
counter:
	.long 7
`

func load(t *testing.T, mm rtdyld.MemoryManager, objs ...string) *rtdyld.Dyld {
	t.Helper()
	d := rtdyld.New(mm)
	for _, o := range objs {
		data, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.LoadObject(o, data); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func section(t *testing.T, d *rtdyld.Dyld, name string) *rtdyld.Section {
	t.Helper()
	for _, s := range d.Sections() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no section %s", name)
	return nil
}

// Relocations are applied for the mapped addresses, and again after a
// re-map; nothing is applied before ResolveRelocations.
func TestMapAndResolveAgain(t *testing.T) {
	obj := testutil.Assemble(t, t.TempDir(), "two.s", twoSections)
	mm := rtdyld.NewLocalMemoryManager()
	mm.DefineSymbol("ext", 0x1122334455667788)
	d := load(t, mm, obj)
	text, callee, data := section(t, d, ".text"), section(t, d, ".text.callee"), section(t, d, ".data")
	le := binary.LittleEndian
	if got := le.Uint32(text.Local[1:]); got != 0 {
		t.Fatalf("call displacement %#x before ResolveRelocations; want the object's 0", got)
	}
	for _, base := range []uint64{0x10000, 0x7f0000000000} {
		d.MapSectionAddress(text.ID, base)
		d.MapSectionAddress(callee.ID, base+0x1000)
		d.MapSectionAddress(data.ID, base+0x20000)
		if err := d.ResolveRelocations(); err != nil {
			t.Fatal(err)
		}
		// call rel32 at offset 0 (5 bytes); movl rel32 at 5 (6 bytes);
		// movabs imm64 at 11 (10 bytes).
		if got, want := int32(le.Uint32(text.Local[1:])), int32(0x1000-5); got != want {
			t.Errorf("base %#x: call displacement %#x, want %#x", base, got, want)
		}
		if got, want := int32(le.Uint32(text.Local[7:])), int32(0x20000-11); got != want {
			t.Errorf("base %#x: load displacement %#x, want %#x", base, got, want)
		}
		if got := le.Uint64(text.Local[13:]); got != 0x1122334455667788 {
			t.Errorf("base %#x: absolute external %#x", base, got)
		}
		if a, ok := d.Symbol("counter"); !ok || a != base+0x20000 {
			t.Errorf("counter at %#x, %v; want %#x", a, ok, base+0x20000)
		}
	}
}

// A relocation that cannot reach its target after a re-map is an error
// naming the object, section, kind and symbol; an unresolved external is
// an error naming the symbol.
func TestErrorsName(t *testing.T) {
	obj := testutil.Assemble(t, t.TempDir(), "two.s", twoSections)
	mm := rtdyld.NewLocalMemoryManager()
	d := load(t, mm, obj)
	err := d.ResolveRelocations()
	var unresolved *rtdyld.UnresolvedError
	if !errors.As(err, &unresolved) || !strings.Contains(err.Error(), `"ext"`) || !strings.Contains(err.Error(), "two.o") {
		t.Fatalf("got %v, want an unresolved-symbol error naming ext and two.o", err)
	}
	mm.DefineSymbol("ext", 1)
	d.MapSectionAddress(section(t, d, ".text").ID, 0x1000)
	d.MapSectionAddress(section(t, d, ".data").ID, 0x400000000)
	err = d.ResolveRelocations()
	for _, want := range []string{"two.o", "section .text", "counter", "Delta32", "out of range"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}

// Common symbols are gathered into one section; calls to external
// functions go through stubs in the loader's own allocation.
func TestCommonsAndStubs(t *testing.T) {
	obj := testutil.Assemble(t, t.TempDir(), "c.s", `
	.text
	.globl f
f:
	call puts@PLT
	movq a@GOTPCREL(%rip), %rax
	ret
	.comm a,4,4
	.comm b,8,16
`)
	d := load(t, rtdyld.NewLocalMemoryManager(), obj)
	if err := d.ResolveRelocations(); err != nil {
		t.Fatal(err)
	}
	common := section(t, d, rtdyld.CommonSectionName)
	if len(common.Local) < 12 || common.Align != 16 {
		t.Errorf("common section: %d bytes aligned %d; want both symbols, 16-byte alignment", len(common.Local), common.Align)
	}
	o := d.Objects()[0]
	stub, ok := o.StubAddr(".text", "puts")
	text := section(t, d, ".text")
	// f's 13 bytes, then the stub.
	if !ok || stub != text.Addr+13 || len(text.Local) != 13+x86_64.StubSize {
		t.Errorf("stub for puts at %#x (%v), not at the end of .text (%#x, %d bytes)", stub, ok, text.Addr, len(text.Local))
	}
	if got := int32(binary.LittleEndian.Uint32(text.Local[1:])); uint64(int64(got)) != stub-(text.Addr+5) {
		t.Errorf("the call goes to %+#x, not to the stub", got)
	}
	if _, ok := o.GOTAddr("a"); !ok {
		t.Error("no GOT entry for a")
	}
}

// A program's sections are placed in an executor process (gorc-executor,
// and LLVM 14's) through section remapping, relocated for their executor
// addresses and run there.
func TestRemoteExecutor(t *testing.T) {
	dir := t.TempDir()
	gorcExecutor := filepath.Join(dir, "gorc-executor")
	if out, err := exec.Command("go", "build", "-o", gorcExecutor, "github.com/gorc-jit/gorc/cmd/gorc-executor").CombinedOutput(); err != nil {
		t.Fatalf("building gorc-executor: %v\n%s", err, out)
	}
	a := testutil.Compile(t, dir, "a.c", `#include <stdio.h>
extern int twice(int);
int counter = 1;
int main(int argc, char **argv) { counter += twice(20); printf("%s: %d\n", argv[1], counter); return counter; }`, "-fPIC")
	b := testutil.Compile(t, dir, "b.c", `int twice(int x) { return 2 * x; }`, "-fPIC")
	for _, exe := range []string{gorcExecutor, "llvm-jitlink-executor-14"} {
		t.Run(filepath.Base(exe), func(t *testing.T) {
			if exe == "llvm-jitlink-executor-14" {
				exe = testutil.NeedTool(t, exe)
			}
			var stdout bytes.Buffer
			epc, err := remote.Launch(exe, remote.Stdio(&stdout, os.Stderr))
			if err != nil {
				t.Fatal(err)
			}
			defer epc.Close()
			mm := rtdyld.NewExecutorMemoryManager(epc)
			d := load(t, mm, a, b)
			if err := d.Finalize(); err != nil {
				t.Fatal(err)
			}
			main, ok := d.Symbol("main")
			if !ok {
				t.Fatal("no main")
			}
			if local := section(t, d, ".text"); main < local.Addr || main >= local.Addr+uint64(len(local.Local)) {
				t.Fatalf("main at %#x is not in .text as mapped (%#x)", main, local.Addr)
			}
			rc, err := epc.RunAsMain(main, []string{"prog", "remote"})
			if err != nil || rc != 41 {
				t.Fatalf("main returned %d, %v; want 41", rc, err)
			}
			if err := mm.Close(); err != nil {
				t.Fatal(err)
			}
			epc.Close()
			if got := stdout.String(); got != "remote: 41\n" {
				t.Errorf("executor printed %q", got)
			}
		})
	}
}

// Two objects defining the same weak function agree on its address: the
// second's definition loses and its references go to the first's.
func TestWeakDefinitionsAgree(t *testing.T) {
	dir := t.TempDir()
	src := `
	.text
	.weak baz
baz:
	ret
	.globl %s
%s:
	leaq baz(%%rip), %%rax
	ret
`
	a := testutil.Assemble(t, dir, "a.s", fmt.Sprintf(src, "foo", "foo"))
	b := testutil.Assemble(t, dir, "b.s", fmt.Sprintf(src, "bar", "bar"))
	d := load(t, rtdyld.NewLocalMemoryManager(), a, b)
	if err := d.ResolveRelocations(); err != nil {
		t.Fatal(err)
	}
	baz, _ := d.Symbol("baz")
	for _, fn := range []string{"foo", "bar"} {
		sec, off, ok := d.SymbolSection(fn)
		if !ok {
			t.Fatalf("no %s", fn)
		}
		at, _ := d.Symbol(fn)
		target := at + 7 + uint64(int64(int32(binary.LittleEndian.Uint32(sec.Local[off+3:]))))
		if target != baz {
			t.Errorf("%s takes baz's address as %#x, baz is at %#x", fn, target, baz)
		}
	}
}
