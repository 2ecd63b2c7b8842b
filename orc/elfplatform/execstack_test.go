package elfplatform

import (
	"bytes"
	"debug/elf"
	"testing"
)

// TestExecutableStackLibrary parses the generated library: a shared object
// with an executable PT_GNU_STACK and a dynamic section inside its one
// PT_LOAD.
func TestExecutableStackLibrary(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(ExecutableStackLibrary(elf.EM_X86_64)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 {
		t.Fatalf("type %v machine %v", f.Type, f.Machine)
	}
	var load, dyn, stack *elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			load = p
		case elf.PT_DYNAMIC:
			dyn = p
		case elf.PT_GNU_STACK:
			stack = p
		}
	}
	if load == nil || dyn == nil || stack == nil {
		t.Fatalf("program headers %v", f.Progs)
	}
	if stack.Flags&elf.PF_X == 0 {
		t.Errorf("PT_GNU_STACK flags %v: not executable", stack.Flags)
	}
	if dyn.Off+dyn.Filesz > load.Filesz || load.Flags&elf.PF_W == 0 {
		t.Errorf("dynamic section %#x+%#x not in the writable load segment %#x (%v)", dyn.Off, dyn.Filesz, load.Filesz, load.Flags)
	}
}
