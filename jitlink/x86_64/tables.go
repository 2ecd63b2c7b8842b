package x86_64

import (
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

// tableLayout lays out x86-64 GOT entries (pointers, fixed up by a Pointer64
// edge each) and stubs, "jmp *entry(%rip)": ff 25 <rel32 to the GOT entry>,
// padded to 8 bytes with int3.
var tableLayout = jitlink.NewTableLayout(jitlink.TableLayout{
	GOTSection:       GOTSectionName,
	StubsSection:     StubsSectionName,
	GOTEdge:          Pointer64,
	GOTAlign:         16,
	Stub:             []byte{0xff, 0x25, 0, 0, 0, 0, 0xcc, 0xcc},
	StubSymbolSize:   6,
	StubAlign:        16,
	GOTSymbol:        GOTSymbolName,
	GOTBaseAlign:     16,
	GOTRelativeEdges: []jitlink.EdgeKind{Delta64FromGOT},
	StubEdges:        []jitlink.TableEdge{{Kind: Delta32, Offset: 2, Addend: -4}},
})

// StubSize is the size of one pointer-jump stub (see AppendStub).
const StubSize = 8

// AppendStub adds a pointer-jump stub, "jmp *entry(%rip)", at the end of
// block b, whose content must be mutable (RuntimeDyld-style loaders keep
// stubs at the end of the calling section). It jumps through the GOT entry
// got and returns the stub's offset in b.
func AppendStub(b *jitlink.Block, got *jitlink.Symbol) uint64 { return tableLayout.AppendStub(b, got) }

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

// BuildGOTAndStubs is a post-prune pass that lowers the GOT-requesting edge
// kinds to edges through GOT entries, and sends branches to external symbols
// through PLT stubs.
func BuildGOTAndStubs(g *jitlink.LinkGraph) error {
	tableLayout.LowerTableEdges(g, lowerTableEdge)
	return nil
}

// lowerTableEdge says what BuildGOTAndStubs makes of e.
func lowerTableEdge(e *jitlink.Edge) (jitlink.EdgeKind, jitlink.TableUse) {
	switch e.Kind {
	case RequestGOTAndTransformToDelta32:
		return Delta32, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToDelta64:
		return Delta64, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToDelta64FromGOT:
		return Delta64FromGOT, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToPCRel32GOTLoadRelaxable:
		return PCRel32GOTLoadRelaxable, jitlink.ViaGOTEntry
	case RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable:
		return PCRel32GOTLoadREXRelaxable, jitlink.ViaGOTEntry
	case BranchPCRel32:
		if e.Target.IsExternal() {
			return BranchPCRel32ToPtrJumpStubBypassable, jitlink.ViaStub
		}
	}
	return e.Kind, jitlink.NoTable
}

// OptimizeGOTAndStubs is a pre-fixup pass that bypasses GOT entries and
// stubs whose final targets are within range of the referencing
// instruction, rewriting the instruction where needed:
//
//	mov foo@GOTPCREL(%rip), %reg  ->  lea foo(%rip), %reg
//	call *foo@GOTPCREL(%rip)      ->  addr32 call foo
//	jmp *foo@GOTPCREL(%rip)       ->  jmp foo; nop
//	call foo@PLT (via a stub)     ->  call foo
func OptimizeGOTAndStubs(g *jitlink.LinkGraph) error {
	for b := range g.Blocks() {
		edges := b.Edges()
		for i := range edges {
			e := &edges[i]
			switch e.Kind {
			case PCRel32GOTLoadRelaxable, PCRel32GOTLoadREXRelaxable:
				relaxGOTLoad(b, e)
			case BranchPCRel32ToPtrJumpStubBypassable:
				e.Kind = BranchPCRel32
				real := TableTarget(TableTarget(e.Target))
				if real != nil && fitsInt(int64(real.Address()+uint64(e.Addend)-b.FixupAddress(e)), 32) {
					e.Target = real
				}
			}
		}
	}
	return nil
}

func relaxGOTLoad(b *jitlink.Block, e *jitlink.Edge) {
	real := TableTarget(e.Target)
	c := b.Content()
	off := int(e.Offset)
	if real == nil || off < 2 || off+4 > len(c) {
		return
	}
	op, modrm := c[off-2], c[off-1]
	disp := int64(real.Address() + uint64(e.Addend) - b.FixupAddress(e))
	switch {
	case op == 0x8b && modrm&0xc7 == 0x05 && fitsInt(disp, 32):
		// mov disp(%rip), %reg -> lea disp(%rip), %reg
		c[off-2] = 0x8d
	case op == 0xff && modrm == 0x15 && fitsInt(disp, 32):
		// call *disp(%rip) -> addr32 call rel32: same length, same rel32 slot.
		c[off-2], c[off-1] = 0x67, 0xe8
	case op == 0xff && modrm == 0x25 && fitsInt(disp+1, 32):
		// jmp *disp(%rip) -> jmp rel32; nop: the rel32 moves back a byte.
		c[off-2], c[off+3] = 0xe9, 0x90
		e.Offset--
	default:
		return
	}
	e.Kind, e.Target = Delta32, real
}
