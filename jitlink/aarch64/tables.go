package aarch64

import (
	"encoding/binary"

	"github.com/gorc-jit/gorc/jitlink"
)

// Section names of the linker-made tables (the names LLVM uses, so that
// jitlink-check expressions written for llvm-jitlink work unchanged).
const (
	GOTSectionName   = "$__GOT"
	StubsSectionName = "$__STUBS"
	// GOTSymbolName is the ELF name of the GOT base.
	GOTSymbolName = "_GLOBAL_OFFSET_TABLE_"
)

// Instruction words of a stub, "adrp x16, entry; ldr x16, [x16, :lo12:entry];
// br x16": it reaches its GOT entry anywhere within +-4 GiB, and the entry
// holds a full 64-bit address, so a stub is also the veneer of a branch whose
// target is out of B/BL range.
const (
	adrpX16    = 0x90000010
	ldrX16X16  = 0xf9400210
	brX16      = 0xd61f0200
	stubLDROff = 4
	stubSize   = 12
)

// tableLayout lays out AArch64 GOT entries (pointers, fixed up by a Pointer64
// edge each) and stubs, whose ADRP and LDR are fixed up to the GOT entry.
var tableLayout = jitlink.NewTableLayout(jitlink.TableLayout{
	GOTSection:   GOTSectionName,
	StubsSection: StubsSectionName,
	GOTEdge:      Pointer64,
	GOTAlign:     16,
	Stub: binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(
		binary.LittleEndian.AppendUint32(nil, adrpX16), ldrX16X16), brX16),
	StubSymbolSize:   stubSize,
	StubAlign:        4,
	GOTSymbol:        GOTSymbolName,
	GOTBaseAlign:     4096, // the page GOTPageOffset15 counts from
	GOTRelativeEdges: []jitlink.EdgeKind{Delta64FromGOT, GOTPageOffset15},
	StubEdges:        []jitlink.TableEdge{{Kind: Page21}, {Kind: PageOffset12, Offset: stubLDROff}},
})

// Tables creates GOT entries and PLT stubs for a graph, one of each per
// target symbol.
type Tables = jitlink.Tables

// NewTables returns the table builder for g, reusing tables g already has.
// sizeHint is the expected number of GOT entries (and of stubs).
func NewTables(g *jitlink.LinkGraph, sizeHint int) *Tables { return tableLayout.NewTables(g, sizeHint) }

// TableTarget returns what a GOT entry or stub symbol points at: the target
// of the edge at the symbol's offset in its block (for a stub, its GOT
// entry). It returns nil for anything else (and for nil).
func TableTarget(s *jitlink.Symbol) *jitlink.Symbol { return tableLayout.TableTarget(s) }

// needsStub reports whether a B/BL to s goes through a stub: s is outside
// the graph (another JITDylib, a shared library, an absolute address), so
// it may be beyond B/BL range. OptimizeGOTAndStubs bypasses the stub when
// it is not.
func needsStub(s *jitlink.Symbol) bool { return s.IsExternal() || s.IsAbsolute() }

// BuildGOTAndStubs is a post-prune pass that lowers the GOT-requesting edge
// kinds to edges through GOT entries, and sends branches to symbols outside
// the graph through PLT stubs.
func BuildGOTAndStubs(g *jitlink.LinkGraph) error {
	tableLayout.LowerTableEdges(g, lowerTableEdge)
	return nil
}

// lowerTableEdge says what BuildGOTAndStubs makes of e.
func lowerTableEdge(e *jitlink.Edge) (jitlink.EdgeKind, jitlink.TableUse) {
	switch e.Kind {
	case RequestGOTAndTransformToPage21:
		return Page21, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToPageOffset12:
		return PageOffset12, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToGOTPageOffset15:
		return GOTPageOffset15, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToLDRLiteral19:
		return LDRLiteral19, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToDelta32:
		return Delta32, jitlink.ViaGOTEntry
	case Branch26PCRel:
		if needsStub(e.Target) {
			return Branch26PCRelToStub, jitlink.ViaStub
		}
	}
	return e.Kind, jitlink.NoTable
}

// OptimizeGOTAndStubs is a pre-fixup pass that sends branches straight to
// their final targets where those are within B/BL range, bypassing the stub
// (the others keep going through it: the stub is their range-extension
// veneer), and relaxes GOT loads (relaxGOTLoad).
func OptimizeGOTAndStubs(g *jitlink.LinkGraph) error {
	for b := range g.Blocks() {
		edges := b.Edges()
		for i := range edges {
			e := &edges[i]
			// (Stubs keep their loads: they are found by the edge to their
			// GOT entry.)
			if e.Kind == Page21 && i+1 < len(edges) && b.Section().Name() != StubsSectionName {
				relaxGOTLoad(b, e, &edges[i+1])
				continue
			}
			if e.Kind != Branch26PCRelToStub {
				continue
			}
			e.Kind = Branch26PCRel
			real := TableTarget(TableTarget(e.Target))
			if real == nil {
				continue
			}
			d := int64(real.Address() + uint64(e.Addend) - b.FixupAddress(e))
			if fitsInt(d, 28) && d&3 == 0 {
				e.Target = real
			}
		}
	}
	return nil
}

// Instruction words GOT-load relaxation writes.
const (
	nop        = 0xd503201f
	adrBase    = 0x10000000
	ldrXMask   = 0xffc00000 // LDR (64-bit, unsigned offset) without operands
	adrpOpMask = 0x9f000000
)

// relaxGOTLoad rewrites "adrp xN, entry; ldr xN, [xN, :lo12:entry]", a load
// of a target's address from its GOT entry, to compute the address instead
// when the target is in reach: "nop; adr xN, target" within +-1 MiB, else
// "adrp xN, target; add xN, xN, :lo12:target" within +-4 GiB. Only loads
// that overwrite the ADRP's register are relaxed (as lld does): otherwise
// later code may still use the register for the GOT page.
func relaxGOTLoad(b *jitlink.Block, adrpEdge, ldrEdge *jitlink.Edge) {
	entry := adrpEdge.Target
	if ldrEdge.Kind != PageOffset12 || ldrEdge.Target != entry || ldrEdge.Offset != adrpEdge.Offset+4 ||
		adrpEdge.Addend != 0 || ldrEdge.Addend != 0 || entry.Block() == nil || entry.Block().Section().Name() != GOTSectionName {
		return
	}
	real := TableTarget(entry)
	c := b.Content()
	off := int(adrpEdge.Offset)
	if real == nil || off+8 > len(c) {
		return
	}
	le := binary.LittleEndian
	w0, w1 := le.Uint32(c[off:]), le.Uint32(c[off+4:])
	reg := w0 & 31
	if w0&adrpOpMask != 0x90000000 || w1&ldrXMask != ldrX(0, 0, 0) || w1&31 != reg || w1>>5&31 != reg {
		return
	}
	T := real.Address()
	adrAt := b.Address() + uint64(off) + 4
	switch d := int64(T - adrAt); {
	case fitsInt(d, 21):
		le.PutUint32(c[off:], nop)
		le.PutUint32(c[off+4:], adrBase|reg)
		adrpEdge.Kind = jitlink.KeepAlive
		ldrEdge.Kind = ADRLiteral21
	case fitsInt(int64(page(T)-page(adrAt-4)), 33):
		le.PutUint32(c[off+4:], addImm(reg, reg, 0))
		ldrEdge.Kind = PageOffset12
	default:
		return
	}
	adrpEdge.Target, ldrEdge.Target = real, real
}
