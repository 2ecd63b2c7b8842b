package elfplatform

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc"
)

// Executable stacks
//
// gcc's nested functions whose address is taken run trampolines on the
// stack, and the objects holding them carry an executable .note.GNU-stack.
// glibc gives such a program an executable stack, and a dlopen'ed library
// whose PT_GNU_STACK is executable makes every thread's stack executable
// (the main thread's, those of running threads and of threads created
// later). That is glibc's own, supported mechanism, so the JIT uses it: it
// loads a library with nothing in it but an executable PT_GNU_STACK into
// the executor. Calling glibc's private _dl_make_stack_executable, or
// mprotecting one thread's stack, would be neither stable nor complete.

// ExecutableStackLibrary returns a minimal ELF shared object for machine
// whose only effect, when loaded, is to ask for an executable stack: one
// writable PT_LOAD holding the headers and an empty dynamic section,
// symbol table and hash table, and a PT_GNU_STACK with PF_X.
func ExecutableStackLibrary(machine elf.Machine) []byte {
	const (
		ehSize  = 64
		phSize  = 56
		nPhdrs  = 3
		dynOff  = ehSize + nPhdrs*phSize // 232, 8-aligned
		nDyn    = 6
		hashOff = dynOff + nDyn*16
		symOff  = hashOff + 16
		strOff  = symOff + 24
		size    = strOff + 1
	)
	var buf bytes.Buffer
	w := func(v any) { binary.Write(&buf, binary.LittleEndian, v) }
	w(elf.Header64{
		Ident:     [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:      uint16(elf.ET_DYN),
		Machine:   uint16(machine),
		Version:   uint32(elf.EV_CURRENT),
		Phoff:     ehSize,
		Ehsize:    ehSize,
		Phentsize: phSize,
		Phnum:     nPhdrs,
		Shentsize: 64,
	})
	// Writable: the dynamic linker relocates the dynamic section in place.
	// Aligned for the largest page size (64 KiB on some arm64 kernels).
	w(elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Filesz: size, Memsz: size, Align: 0x10000})
	w(elf.Prog64{Type: uint32(elf.PT_DYNAMIC), Flags: uint32(elf.PF_R | elf.PF_W), Off: dynOff, Vaddr: dynOff, Paddr: dynOff,
		Filesz: nDyn * 16, Memsz: nDyn * 16, Align: 8})
	w(elf.Prog64{Type: uint32(elf.PT_GNU_STACK), Flags: uint32(elf.PF_R | elf.PF_W | elf.PF_X), Align: 16})
	for _, d := range []elf.Dyn64{
		{Tag: int64(elf.DT_HASH), Val: hashOff},
		{Tag: int64(elf.DT_STRTAB), Val: strOff},
		{Tag: int64(elf.DT_SYMTAB), Val: symOff},
		{Tag: int64(elf.DT_STRSZ), Val: 1},
		{Tag: int64(elf.DT_SYMENT), Val: 24},
		{Tag: int64(elf.DT_NULL)},
	} {
		w(d)
	}
	w([4]uint32{1, 1, 0, 0}) // hash: one bucket, one chain, both empty
	w(elf.Sym64{})           // the null symbol
	buf.WriteByte(0)         // the empty string table
	return buf.Bytes()
}

// EnableExecutableStack makes the executor's thread stacks executable by
// loading ExecutableStackLibrary (for the executor's machine) there (from a file in dir, which the
// executor must see: the same machine). Code must not rely on it in an
// executor whose C library ignores PT_GNU_STACK or refuses executable
// stacks (glibc 2.41 and later unless glibc.rtld.execstack=2 is set): the
// load then fails with the C library's message.
func EnableExecutableStack(epc orc.ExecutorProcessControl, dir string) error {
	var machine elf.Machine
	switch epc.TargetTriple().Arch {
	case triple.X86_64:
		machine = elf.EM_X86_64
	case triple.AArch64:
		machine = elf.EM_AARCH64
	default:
		return fmt.Errorf("executable stack: no support for executor triple %s", epc.TargetTriple())
	}
	f, err := os.CreateTemp(dir, "gorc-execstack-*.so")
	if err != nil {
		return fmt.Errorf("executable stack: %w", err)
	}
	path := f.Name()
	defer os.Remove(path) // the loaded mapping outlives the name
	_, err = f.Write(ExecutableStackLibrary(machine))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = epc.LoadDylib(path)
	}
	if err != nil {
		return fmt.Errorf("executable stack (for code with an executable .note.GNU-stack, such as gcc's nested functions): loading %s: %w", filepath.Base(path), err)
	}
	return nil
}
