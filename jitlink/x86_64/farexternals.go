package x86_64

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gorc-jit/gorc/jitlink"
)

// CopiesSectionName is the section of FarExternals' copies of variables.
const CopiesSectionName = "$__COPIES"

// FarExternals handles 32-bit references from code built without PIC
// (R_X86_64_32, 32S and PC32: Pointer32, Pointer32Signed, Delta32) to
// external symbols that end up out of their range, as JIT'd memory below
// 2 GiB is from a shared library's. A native link answers such references
// with a PLT entry in the executable whose address becomes the function's
// (a canonical PLT) and with a copy relocation for a variable. In a JIT:
//
//   - A function's address becomes that of a stub in the graph, which
//     jumps to it: calls through the pointer behave as calls to the
//     function. Unlike a canonical PLT, the library itself (and code
//     linked with 64-bit or GOT references) still sees the function's
//     own address, so comparing such pointers across the two can differ.
//   - A variable cannot be copied in general: the library's code keeps
//     using its own copy, already bound, so writes on either side would
//     be lost. Only variables whose value the library never changes and
//     that the program must not change may be copied, into read-only
//     memory (a write faults instead of being lost); Copy names them.
//   - Anything else is an error naming the symbol: compile with -fPIC.
//
// Add Passes to a graph's config when the graph is placed below 2 GiB
// (Target.AddFarExternalPasses does). The fields are jitlink.FarExternals'.
type FarExternals jitlink.FarExternals

// farTarget is what a far external's references may be sent to instead.
type farTarget struct{ stub, copy *jitlink.Symbol }

// Passes returns the post-prune pass that builds a stub or a copy for each
// external target of a 32-bit reference, and the pre-fixup pass that sends
// the references whose targets turned out out of range to them (or fails).
func (f FarExternals) Passes() (postPrune, preFixup jitlink.Pass) {
	targets := map[*jitlink.Symbol]*farTarget{}
	postPrune = func(g *jitlink.LinkGraph) error {
		var t *Tables
		var copies *jitlink.Section
		for _, sec := range slices.Clone(g.Sections()) {
			if isTable(sec) {
				continue
			}
			for _, b := range sec.Blocks() {
				for _, e := range b.Edges() {
					if !isFarCandidate(&e) || targets[e.Target] != nil {
						continue
					}
					ft := &farTarget{}
					if pointee, ok := f.copyOf(e.Target.Name()); ok {
						if copies == nil {
							copies = g.CreateSection(CopiesSectionName, jitlink.ProtRead)
						}
						cb := g.CreateMutableContentBlock(copies, make([]byte, 8), 0, 8, 0)
						cb.AddEdge(Pointer64, 0, externalSymbol(g, pointee), 0)
						ft.copy = g.AddAnonymousSymbol(cb, 0, 8, jitlink.Live)
					} else {
						if t == nil {
							t = NewTables(g, 8)
						}
						ft.stub = t.Stub(e.Target)
					}
					targets[e.Target] = ft
				}
			}
		}
		return nil
	}
	preFixup = func(g *jitlink.LinkGraph) error {
		var errs []error
		for b := range g.Blocks() {
			edges := b.Edges()
			for i := range edges {
				e := &edges[i]
				ft := targets[e.Target]
				if ft == nil || !isFarCandidate(e) || inRange32(b, e, e.Target.Address()) {
					continue
				}
				switch {
				case ft.copy != nil:
					e.Target = ft.copy
				case f.IsCode != nil && f.IsCode(e.Target.Address()):
					e.Target = ft.stub
				default:
					errs = append(errs, fmt.Errorf("%s: %s reference to %s (at %#x, a shared library's variable) from code built without -fPIC is out of range of JIT'd memory below 2 GiB, and the variable cannot be copied as a native link would: compile with -fPIC or -fPIE",
						g.SectionObject(b.Section()), KindName(e.Kind), e.Target.Name(), e.Target.Address()))
					delete(targets, e.Target) // one error per symbol
				}
			}
		}
		return errors.Join(errs...)
	}
	return postPrune, preFixup
}

func (f FarExternals) copyOf(name string) (string, bool) {
	if f.Copy == nil {
		return "", false
	}
	return f.Copy(name)
}

func isTable(sec *jitlink.Section) bool {
	switch sec.Name() {
	case GOTSectionName, StubsSectionName, CopiesSectionName:
		return true
	}
	return false
}

func isFarCandidate(e *jitlink.Edge) bool {
	switch e.Kind {
	case Pointer32, Pointer32Signed, Delta32:
		return e.Target.IsExternal() && e.Target.Name() != ""
	}
	return false
}

// inRange32 reports whether e's fixup fits with its target at addr.
func inRange32(b *jitlink.Block, e *jitlink.Edge, addr uint64) bool {
	v := int64(addr + uint64(e.Addend))
	switch e.Kind {
	case Pointer32:
		return uint64(v) <= 0xffffffff
	case Pointer32Signed:
		return fitsInt(v, 32)
	}
	return fitsInt(v-int64(b.FixupAddress(e)), 32)
}

// externalSymbol returns g's external symbol name, adding it if needed.
func externalSymbol(g *jitlink.LinkGraph, name string) *jitlink.Symbol {
	if s := g.FindExternalSymbol(name); s != nil {
		return s
	}
	return g.AddExternalSymbol(name, 0, jitlink.Strong)
}
