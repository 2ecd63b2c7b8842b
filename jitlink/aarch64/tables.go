package aarch64

import (
	"encoding/binary"
	"slices"

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

// GOT entries and stubs are packed into shared blocks, one symbol per entry,
// as in the x86-64 package: a large object needs thousands of them.
const (
	gotEntrySize    = 8
	stubSize        = 12
	entriesPerBlock = 4096
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
)

var (
	nullPointers  = make([]byte, gotEntrySize*entriesPerBlock)
	stubTemplates = func() []byte {
		b := make([]byte, 0, stubSize*entriesPerBlock)
		for range entriesPerBlock {
			b = binary.LittleEndian.AppendUint32(b, adrpX16)
			b = binary.LittleEndian.AppendUint32(b, ldrX16X16)
			b = binary.LittleEndian.AppendUint32(b, brX16)
		}
		return b
	}()
)

// Tables creates GOT entries and PLT stubs for a graph, one of each per
// target symbol.
type Tables struct {
	g       *jitlink.LinkGraph
	gotSec  *jitlink.Section
	stubSec *jitlink.Section
	gotBlk  *jitlink.Block
	stubBlk *jitlink.Block
	index   map[*jitlink.Symbol]int32
	entries []entry
	hint    int
}

type entry struct{ got, stub *jitlink.Symbol }

// NewTables returns the table builder for g, reusing tables g already has.
// sizeHint is the expected number of GOT entries (and of stubs).
func NewTables(g *jitlink.LinkGraph, sizeHint int) *Tables {
	t := &Tables{g: g, index: make(map[*jitlink.Symbol]int32, sizeHint), entries: make([]entry, 0, sizeHint), hint: sizeHint}
	g.Reserve(2*sizeHint, 4, 0)
	if t.gotSec = g.FindSection(GOTSectionName); t.gotSec != nil {
		for _, s := range t.gotSec.Symbols() {
			if tgt := TableTarget(s); tgt != nil {
				t.entry(tgt).got = s
			}
		}
	}
	if t.stubSec = g.FindSection(StubsSectionName); t.stubSec != nil {
		for _, s := range t.stubSec.Symbols() {
			if tgt := TableTarget(TableTarget(s)); tgt != nil {
				t.entry(tgt).stub = s
			}
		}
	}
	return t
}

func (t *Tables) entry(target *jitlink.Symbol) *entry {
	i, ok := t.index[target]
	if !ok {
		i = int32(len(t.entries))
		t.entries = append(t.entries, entry{})
		t.index[target] = i
	}
	return &t.entries[i]
}

// TableTarget returns what a GOT entry or stub symbol points at: the target
// of the edge at the symbol's offset in its block (for a stub, its GOT
// entry). It returns nil for anything else (and for nil).
func TableTarget(s *jitlink.Symbol) *jitlink.Symbol {
	if s == nil || s.Block() == nil {
		return nil
	}
	edges := s.Block().Edges()
	size := uint64(gotEntrySize)
	if s.Block().Section().Name() == StubsSectionName {
		size = stubSize / 2 // two edges per stub
	}
	want := s.Offset()
	if i := int(want / size); i < len(edges) && uint64(edges[i].Offset) == want {
		return edges[i].Target
	}
	for i := range edges {
		if uint64(edges[i].Offset) == want {
			return edges[i].Target
		}
	}
	return nil
}

// slot appends one entry of size bytes to *cur (a block of sec), starting a
// new block when it is full, and returns the block and the entry's offset.
func (t *Tables) slot(sec *jitlink.Section, cur **jitlink.Block, template []byte, size uint64, align uint64) (*jitlink.Block, uint64) {
	b := *cur
	if b == nil || b.Size()+size > uint64(len(template)) {
		// Original addresses keep blocks in creation order after the GOT
		// base (address 0).
		addr := uint64(len(sec.Blocks())+1) << 32
		b = t.g.CreateContentBlock(sec, template[:0], addr, align, 0)
		n := min(max(t.hint, 16), entriesPerBlock)
		b.SetEdges(make([]jitlink.Edge, 0, n))
		sec.GrowSymbols(n)
		*cur = b
	}
	off := b.Size()
	b.SetContent(template[:off+size])
	return b, off
}

// GOTEntry returns the GOT entry for target, creating it if needed.
func (t *Tables) GOTEntry(target *jitlink.Symbol) *jitlink.Symbol {
	return t.gotEntry(t.entry(target), target)
}

func (t *Tables) gotEntry(e *entry, target *jitlink.Symbol) *jitlink.Symbol {
	if e.got != nil {
		return e.got
	}
	if t.gotSec == nil {
		t.gotSec = t.g.CreateSection(GOTSectionName, jitlink.ProtRead)
	}
	b, off := t.slot(t.gotSec, &t.gotBlk, nullPointers, gotEntrySize, 16)
	b.AddEdge(Pointer64, uint32(off), target, 0)
	e.got = t.g.AddAnonymousSymbol(b, off, gotEntrySize, jitlink.Live)
	return e.got
}

// Stub returns the PLT stub that jumps to target through its GOT entry,
// creating both if needed.
func (t *Tables) Stub(target *jitlink.Symbol) *jitlink.Symbol {
	e := t.entry(target)
	if e.stub != nil {
		return e.stub
	}
	got := t.gotEntry(e, target)
	if t.stubSec == nil {
		t.stubSec = t.g.CreateSection(StubsSectionName, jitlink.ProtRead|jitlink.ProtExec)
	}
	b, off := t.slot(t.stubSec, &t.stubBlk, stubTemplates, stubSize, 4)
	b.AddEdge(Page21, uint32(off), got, 0)
	b.AddEdge(PageOffset12, uint32(off+stubLDROff), got, 0)
	e.stub = t.g.AddAnonymousSymbol(b, off, stubSize, jitlink.Callable|jitlink.Live)
	return e.stub
}

// needsStub reports whether a B/BL to s goes through a stub: s is outside
// the graph (another JITDylib, a shared library, an absolute address), so
// it may be beyond B/BL range. OptimizeGOTAndStubs bypasses the stub when
// it is not.
func needsStub(s *jitlink.Symbol) bool { return s.IsExternal() || s.IsAbsolute() }

// BuildGOTAndStubs is a post-prune pass that lowers the GOT-requesting edge
// kinds to edges through GOT entries, and sends branches to symbols outside
// the graph through PLT stubs.
func BuildGOTAndStubs(g *jitlink.LinkGraph) error {
	var t *Tables
	for _, sec := range slices.Clone(g.Sections()) {
		if sec.Name() == GOTSectionName || sec.Name() == StubsSectionName {
			continue
		}
		for _, b := range sec.Blocks() {
			edges := b.Edges()
			for i := range edges {
				e := &edges[i]
				var kind jitlink.EdgeKind
				switch e.Kind {
				case RequestGOTAndTransformToPage21:
					kind = Page21
				case RequestGOTAndTransformToPageOffset12:
					kind = PageOffset12
				case RequestGOTAndTransformToGOTPageOffset15:
					kind = GOTPageOffset15
				case RequestGOTAndTransformToLDRLiteral19:
					kind = LDRLiteral19
				case RequestGOTAndTransformToDelta32:
					kind = Delta32
				case Branch26PCRel:
					if !needsStub(e.Target) {
						continue
					}
					kind = Branch26PCRelToStub
				default:
					continue
				}
				if t == nil {
					t = NewTables(g, len(g.ExternalSymbols())+16)
				}
				if kind == Branch26PCRelToStub {
					e.Kind, e.Target = kind, t.Stub(e.Target)
				} else {
					e.Kind, e.Target = kind, t.GOTEntry(e.Target)
				}
			}
		}
	}
	return nil
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
