package elfplatform

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
	"github.com/gorc-jit/gorc/orc"
)

// graphInits are the initializers and finalizers of one linked graph.
type graphInits struct {
	seq     uint64 // order in which the object was added
	rt      *orc.ResourceTracker
	preinit []uint64
	inits   []fnList
	finis   []fnList
}

// fnList is the functions of one section, in the order a static link would
// place them in .init_array or .fini_array.
type fnList struct {
	prio int // 0..65535, or noPriority
	fns  []uint64
}

const noPriority = 1 << 16

// sectionKind classifies an initializer section and its priority.
func sectionKind(name string) (kind string, prio int, reversed bool) {
	base, suffix, _ := strings.Cut(name[1:], ".")
	prio = noPriority
	if suffix != "" {
		if n, err := strconv.Atoi(suffix); err == nil && n >= 0 && n < noPriority {
			prio = n
		}
	}
	switch base {
	case "ctors", "dtors":
		// Run backwards by crtbegin in the old scheme: a static link
		// reverses them into .init_array/.fini_array, and their numeric
		// suffixes count priority down.
		if prio != noPriority {
			prio = 65535 - prio
		}
		if base == "ctors" {
			return "init", prio, true
		}
		return "fini", prio, true
	case "init_array":
		return "init", prio, false
	case "fini_array":
		return "fini", prio, false
	case "preinit_array":
		return "preinit", prio, false
	}
	return "", 0, false
}

// recordInits reads the function pointers of the graph's initializer
// sections (after fixups) and keeps them until the JITDylib is initialized.
func (p *Platform) recordInits(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph) {
	gi := &graphInits{rt: mr.Tracker()}
	for _, sec := range g.Sections() {
		if !orc.IsInitSection(sec.Name()) {
			continue
		}
		kind, prio, reversed := sectionKind(sec.Name())
		blocks := slices.Clone(sec.Blocks())
		slices.SortFunc(blocks, func(a, b *jitlink.Block) int { return cmp.Compare(a.Address(), b.Address()) })
		var fns []uint64
		for _, b := range blocks {
			c := b.Content()
			for i := 0; i+8 <= len(c); i += 8 {
				// crtbegin-style sentinels (0, -1) are not functions.
				if fn := binary.LittleEndian.Uint64(c[i:]); fn != 0 && fn != ^uint64(0) {
					fns = append(fns, fn)
				}
			}
		}
		if reversed {
			slices.Reverse(fns)
		}
		switch kind {
		case "preinit":
			gi.preinit = append(gi.preinit, fns...)
		case "init":
			gi.inits = append(gi.inits, fnList{prio, fns})
		case "fini":
			gi.finis = append(gi.finis, fnList{prio, fns})
		}
	}
	if len(gi.preinit)+len(gi.inits)+len(gi.finis) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dylibs[mr.JITDylib()]
	if d == nil {
		return
	}
	gi.seq = p.order[mr.InitSymbol()]
	if gi.seq == 0 {
		gi.seq = p.seq.Add(1)
	}
	delete(p.order, mr.InitSymbol())
	d.graphs = append(d.graphs, gi)
}

// order returns the initializers in run order, and the finalizers in
// .fini_array order (which runs backwards).
func order(graphs []*graphInits) (inits, finis []uint64) {
	slices.SortFunc(graphs, func(a, b *graphInits) int { return cmp.Compare(a.seq, b.seq) })
	flatten := func(lists func(*graphInits) []fnList) []uint64 {
		type entry struct {
			prio int
			seq  uint64
			fns  []uint64
		}
		var es []entry
		for _, g := range graphs {
			for _, l := range lists(g) {
				es = append(es, entry{l.prio, g.seq, l.fns})
			}
		}
		// Prioritized sections by priority, then the rest, each in object
		// order (the sort is stable).
		slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(a.prio, b.prio) })
		var out []uint64
		for _, e := range es {
			out = append(out, e.fns...)
		}
		return out
	}
	for _, g := range graphs {
		inits = append(inits, g.preinit...)
	}
	inits = append(inits, flatten(func(g *graphInits) []fnList { return g.inits })...)
	finis = flatten(func(g *graphInits) []fnList { return g.finis })
	return inits, finis
}

// asm builds x86-64 code with relocations.
type asm struct {
	g     *jitlink.LinkGraph
	code  []byte
	edges []jitlink.Edge
}

func (a *asm) emit(b ...byte) { a.code = append(a.code, b...) }

// rel32 emits a 32-bit PC-relative field to target at the end of an
// instruction.
func (a *asm) rel32(kind jitlink.EdgeKind, target *jitlink.Symbol) {
	a.edges = append(a.edges, jitlink.Edge{Kind: kind, Offset: uint32(len(a.code)), Target: target, Addend: -4})
	a.emit(0, 0, 0, 0)
}

func (a *asm) block(sec *jitlink.Section) *jitlink.Block {
	b := a.g.CreateContentBlock(sec, a.code, uint64(len(sec.Blocks()))<<16, 16, 0)
	b.SetEdges(a.edges)
	return b
}

// table adds a read-only table of function pointers.
func table(g *jitlink.LinkGraph, sec *jitlink.Section, fns []uint64) *jitlink.Block {
	c := make([]byte, 8*len(fns))
	for i, fn := range fns {
		binary.LittleEndian.PutUint64(c[8*i:], fn)
	}
	return g.CreateContentBlock(sec, c, uint64(len(sec.Blocks()))<<16, 8, 0)
}

// initThunk builds name(argc, argv, envp): it registers a finalizer thunk
// with __cxa_atexit (on the JITDylib's __dso_handle), then calls each
// initializer as the dynamic loader does, with argc, argv and envp.
func initThunk(name string, inits, finis []uint64) *jitlink.LinkGraph {
	g := x86_64.NewLinkGraph("<" + name + ">")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	ro := g.CreateSection(".rodata", jitlink.ProtRead)
	initTab := g.AddAnonymousSymbol(table(g, ro, inits), 0, uint64(8*len(inits)), jitlink.NoAttrs)

	a := &asm{g: g}
	a.emit(0x53, 0x41, 0x54, 0x41, 0x55) // push rbx; push r12; push r13
	a.emit(0x89, 0xfb, 0x49, 0x89, 0xf4) // mov ebx, edi; mov r12, rsi
	a.emit(0x49, 0x89, 0xd5)             // mov r13, rdx
	if len(finis) > 0 {
		f := &asm{g: g}
		finiTab := g.AddAnonymousSymbol(table(g, ro, finis), 0, uint64(8*len(finis)), jitlink.NoAttrs)
		f.emit(0x53) // push rbx (keeps calls 16-byte aligned)
		for i := len(finis) - 1; i >= 0; i-- {
			f.emit(0xff, 0x15) // call *tab[i](%rip)
			f.rel32(x86_64.Delta32, finiTab)
			f.edges[len(f.edges)-1].Addend += int64(8 * i)
		}
		f.emit(0x5b, 0xc3) // pop rbx; ret
		fini := g.AddAnonymousSymbol(f.block(text), 0, uint64(len(f.code)), jitlink.Callable)
		a.emit(0x48, 0x8d, 0x3d) // lea fini(%rip), %rdi
		a.rel32(x86_64.Delta32, fini)
		a.emit(0x31, 0xf6)       // xor esi, esi
		a.emit(0x48, 0x8d, 0x15) // lea __dso_handle(%rip), %rdx
		a.rel32(x86_64.Delta32, g.AddExternalSymbol("__dso_handle", 0, jitlink.Strong))
		a.emit(0xe8) // call __cxa_atexit
		a.rel32(x86_64.BranchPCRel32, g.AddExternalSymbol("__cxa_atexit", 0, jitlink.Strong))
	}
	for i := range inits {
		a.emit(0x89, 0xdf, 0x4c, 0x89, 0xe6, 0x4c, 0x89, 0xea) // argc, argv, envp
		a.emit(0xff, 0x15)                                     // call *tab[i](%rip)
		a.rel32(x86_64.Delta32, initTab)
		a.edges[len(a.edges)-1].Addend += int64(8 * i)
	}
	a.emit(0x41, 0x5d, 0x41, 0x5c, 0x5b) // pop r13; pop r12; pop rbx
	a.emit(0x31, 0xc0, 0xc3)             // xor eax, eax; ret
	g.AddDefinedSymbol(a.block(text), 0, name, uint64(len(a.code)), jitlink.Strong, jitlink.ScopeHidden, jitlink.Callable|jitlink.Live)
	return g
}

// deinitThunk builds name(): __cxa_finalize(&__dso_handle), which runs the
// JITDylib's exit handlers and finalizers.
func deinitThunk(name string) *jitlink.LinkGraph {
	g := x86_64.NewLinkGraph("<" + name + ">")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	a := &asm{g: g}
	a.emit(0x48, 0x8d, 0x3d) // lea __dso_handle(%rip), %rdi
	a.rel32(x86_64.Delta32, g.AddExternalSymbol("__dso_handle", 0, jitlink.Strong))
	a.emit(0xe9) // jmp __cxa_finalize
	a.rel32(x86_64.BranchPCRel32, g.AddExternalSymbol("__cxa_finalize", 0, jitlink.Strong))
	g.AddDefinedSymbol(a.block(text), 0, name, uint64(len(a.code)), jitlink.Strong, jitlink.ScopeHidden, jitlink.Callable|jitlink.Live)
	return g
}
