package x86_64

import (
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
// rather than one block each: a large object needs thousands of them, and
// after dead-stripping nothing removes single entries.
const (
	entrySize       = 8 // a pointer, or a 6-byte stub padded with int3
	entriesPerBlock = 4096
)

var (
	// GOT entries are pointers, fixed up by a Pointer64 edge each.
	nullPointers = make([]byte, entrySize*entriesPerBlock)
	// A stub is "jmp *entry(%rip)": ff 25 <rel32 to the GOT entry>.
	stubTemplates = func() []byte {
		b := make([]byte, entrySize*entriesPerBlock)
		for i := 0; i < len(b); i += entrySize {
			copy(b[i:], []byte{0xff, 0x25, 0, 0, 0, 0, 0xcc, 0xcc})
		}
		return b
	}()
)

const stubRel32Offset = 2

// StubSize is the size of one pointer-jump stub (see AppendStub).
const StubSize = entrySize

// AppendStub adds a pointer-jump stub, "jmp *entry(%rip)", at the end of
// block b, whose content must be mutable (RuntimeDyld-style loaders keep
// stubs at the end of the calling section). It jumps through the GOT entry
// got and returns the stub's offset in b.
func AppendStub(b *jitlink.Block, got *jitlink.Symbol) uint64 {
	off := b.Size()
	b.SetMutableContent(append(b.MutableContent(), stubTemplates[:entrySize]...))
	b.AddEdge(Delta32, uint32(off+stubRel32Offset), got, -4)
	return off
}

// Tables creates GOT entries and PLT stubs for a graph, one of each per
// target symbol.
type Tables struct {
	g       *jitlink.LinkGraph
	gotSec  *jitlink.Section
	stubSec *jitlink.Section
	gotBlk  *jitlink.Block            // block being filled with GOT entries
	stubBlk *jitlink.Block            // block being filled with stubs
	index   map[*jitlink.Symbol]int32 // target -> position in entries
	entries []entry
	hint    int
}

// entry is a target's GOT entry and stub, as far as they exist.
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
// of the edge at the symbol's offset in its block. It returns nil for
// anything else (and for nil).
func TableTarget(s *jitlink.Symbol) *jitlink.Symbol {
	if s == nil {
		return nil
	}
	b := s.Block()
	if b == nil {
		return nil
	}
	edges := b.Edges()
	want := s.Offset()
	if s.Block().Section().Name() == StubsSectionName {
		want += stubRel32Offset
	}
	// Entries are appended in order, so the edge is usually at its slot.
	if i := int(s.Offset() / entrySize); i < len(edges) && uint64(edges[i].Offset) == want {
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
func (t *Tables) slot(sec *jitlink.Section, cur **jitlink.Block, template []byte) (*jitlink.Block, uint64) {
	b := *cur
	if b == nil || b.Size()+entrySize > uint64(len(template)) {
		// Original addresses keep blocks in creation order after the GOT
		// base (address 0).
		addr := uint64(len(sec.Blocks())+1) << 32
		b = t.g.CreateContentBlock(sec, template[:0], addr, 16, 0)
		n := min(max(t.hint, 16), entriesPerBlock)
		b.SetEdges(make([]jitlink.Edge, 0, n))
		sec.GrowSymbols(n)
		*cur = b
	}
	off := b.Size()
	b.SetContent(template[:off+entrySize])
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
	b, off := t.slot(t.gotSec, &t.gotBlk, nullPointers)
	b.AddEdge(Pointer64, uint32(off), target, 0)
	e.got = t.g.AddAnonymousSymbol(b, off, entrySize, jitlink.Live)
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
	b, off := t.slot(t.stubSec, &t.stubBlk, stubTemplates)
	b.AddEdge(Delta32, uint32(off+stubRel32Offset), got, -4)
	e.stub = t.g.AddAnonymousSymbol(b, off, 6, jitlink.Callable|jitlink.Live)
	return e.stub
}

// BuildGOTAndStubs is a post-prune pass that lowers the GOT-requesting edge
// kinds to edges through GOT entries, and sends branches to external symbols
// through PLT stubs.
func BuildGOTAndStubs(g *jitlink.LinkGraph) error {
	var t *Tables
	// Creating entries adds blocks to the graph, which the loop must not
	// visit: take the list of sections first (tables are new sections).
	for _, sec := range slices.Clone(g.Sections()) {
		if sec.Name() == GOTSectionName || sec.Name() == StubsSectionName {
			continue
		}
		for _, b := range sec.Blocks() {
			edges := b.Edges()
			for i := range edges {
				e := &edges[i]
				switch e.Kind {
				case RequestGOTAndTransformToDelta32, RequestGOTAndTransformToDelta64,
					RequestGOTAndTransformToDelta64FromGOT, RequestGOTAndTransformToPCRel32GOTLoadRelaxable,
					RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable:
				case BranchPCRel32:
					if !e.Target.IsExternal() {
						continue
					}
				default:
					continue
				}
				if t == nil {
					t = NewTables(g, len(g.ExternalSymbols())+16)
				}
				switch e.Kind {
				case RequestGOTAndTransformToDelta32:
					e.Kind, e.Target = Delta32, t.GOTEntry(e.Target)
				case RequestGOTAndTransformToDelta64:
					e.Kind, e.Target = Delta64, t.GOTEntry(e.Target)
				case RequestGOTAndTransformToDelta64FromGOT:
					e.Kind, e.Target = Delta64FromGOT, t.GOTEntry(e.Target)
				case RequestGOTAndTransformToPCRel32GOTLoadRelaxable:
					e.Kind, e.Target = PCRel32GOTLoadRelaxable, t.GOTEntry(e.Target)
				case RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable:
					e.Kind, e.Target = PCRel32GOTLoadREXRelaxable, t.GOTEntry(e.Target)
				case BranchPCRel32:
					e.Kind, e.Target = BranchPCRel32ToPtrJumpStubBypassable, t.Stub(e.Target)
				}
			}
		}
	}
	return nil
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
