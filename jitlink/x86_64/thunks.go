package x86_64

import (
	"encoding/binary"

	"github.com/gorc-jit/gorc/jitlink"
)

// InitThunkGraph builds name(argc, argv, envp), which registers a
// finalizer thunk with __cxa_atexit and calls each initializer through a
// table, keeping argc, argv and envp in callee-saved registers.
func (t Target) InitThunkGraph(name string, inits, finis []uint64) *jitlink.LinkGraph {
	g := t.NewLinkGraph("<" + name + ">")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	ro := g.CreateSection(".rodata", jitlink.ProtRead)
	initTab := g.AddAnonymousSymbol(table(g, ro, inits), 0, uint64(8*len(inits)), jitlink.NoAttrs)

	var a code
	a.emit(0x53, 0x41, 0x54, 0x41, 0x55) // push rbx; push r12; push r13
	a.emit(0x89, 0xfb, 0x49, 0x89, 0xf4) // mov ebx, edi; mov r12, rsi
	a.emit(0x49, 0x89, 0xd5)             // mov r13, rdx
	if len(finis) > 0 {
		var f code
		finiTab := g.AddAnonymousSymbol(table(g, ro, finis), 0, uint64(8*len(finis)), jitlink.NoAttrs)
		f.emit(0x53) // push rbx (keeps calls 16-byte aligned)
		for i := len(finis) - 1; i >= 0; i-- {
			f.emit(0xff, 0x15) // call *tab[i](%rip)
			f.rel32Edge(Delta32, finiTab).Addend += int64(8 * i)
		}
		f.emit(0x5b, 0xc3) // pop rbx; ret
		fini := g.AddAnonymousSymbol(f.block(g, text, 16), 0, uint64(len(f.b)), jitlink.Callable)
		a.emit(0x48, 0x8d, 0x3d) // lea fini(%rip), %rdi
		a.rel32Edge(Delta32, fini)
		a.emit(0x31, 0xf6)       // xor esi, esi
		a.emit(0x48, 0x8d, 0x15) // lea __dso_handle(%rip), %rdx
		a.rel32Edge(Delta32, g.AddExternalSymbol("__dso_handle", 0, jitlink.Strong))
		a.emit(0xe8) // call __cxa_atexit
		a.rel32Edge(BranchPCRel32, g.AddExternalSymbol("__cxa_atexit", 0, jitlink.Strong))
	}
	for i := range inits {
		a.emit(0x89, 0xdf, 0x4c, 0x89, 0xe6, 0x4c, 0x89, 0xea) // argc, argv, envp
		a.emit(0xff, 0x15)                                     // call *tab[i](%rip)
		a.rel32Edge(Delta32, initTab).Addend += int64(8 * i)
	}
	a.emit(0x41, 0x5d, 0x41, 0x5c, 0x5b) // pop r13; pop r12; pop rbx
	a.emit(0x31, 0xc0, 0xc3)             // xor eax, eax; ret
	g.AddDefinedSymbol(a.block(g, text, 16), 0, name, uint64(len(a.b)), jitlink.Strong, jitlink.ScopeHidden, jitlink.Callable|jitlink.Live)
	return g
}

// table adds a read-only table of function pointers.
func table(g *jitlink.LinkGraph, sec *jitlink.Section, fns []uint64) *jitlink.Block {
	c := make([]byte, 8*len(fns))
	for i, fn := range fns {
		binary.LittleEndian.PutUint64(c[8*i:], fn)
	}
	return g.CreateContentBlock(sec, c, uint64(len(sec.Blocks()))<<16, 8, 0)
}
