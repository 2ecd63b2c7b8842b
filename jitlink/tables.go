package jitlink

import "slices"

// TableLayout describes an architecture's GOT entries and PLT stubs: what
// Tables needs to build them. The logic of building, finding and reusing
// them is the same on every architecture; only sizes, names, stub bytes and
// edge kinds differ. Create one per architecture with NewTableLayout.
type TableLayout struct {
	GOTSection   string   // name of the GOT section
	StubsSection string   // name of the PLT stub section
	GOTEdge      EdgeKind // the pointer edge a GOT entry holds to its target
	GOTAlign     uint64   // alignment of GOT blocks
	// Stub is one stub's bytes; each stub takes len(Stub) bytes of its block.
	Stub []byte
	// StubSymbolSize is the size of a stub's symbol (the instructions, not
	// the padding that may follow them in Stub).
	StubSymbolSize uint64
	StubAlign      uint64 // alignment of stub blocks
	// StubEdges are the edges from a stub to its GOT entry, by offset in the
	// stub, in increasing offset order. TableTarget follows the first.
	StubEdges []TableEdge
	// GOTSymbol is the name of the GOT base symbol, defined at the start of
	// the GOT (aligned to GOTBaseAlign) when something refers to it by name
	// or through one of the GOTRelativeEdges.
	GOTSymbol        string
	GOTBaseAlign     uint64
	GOTRelativeEdges []EdgeKind

	gotTemplate, stubTemplate []byte           // entriesPerTableBlock entries each
	gotRelative               [256 / 64]uint64 // GOTRelativeEdges as a set
}

// TableEdge is an edge of a stub to its GOT entry.
type TableEdge struct {
	Kind   EdgeKind
	Offset uint32
	Addend int64
}

// gotEntrySize is the size of a GOT entry: a 64-bit pointer.
const gotEntrySize = 8

// GOT entries and stubs are packed into shared blocks, one symbol per entry,
// rather than one block each: a large object needs thousands of them, and
// after dead-stripping nothing removes single entries.
const entriesPerTableBlock = 4096

// NewTableLayout returns l ready for use, with the block templates built
// once.
func NewTableLayout(l TableLayout) *TableLayout {
	l.gotTemplate = make([]byte, gotEntrySize*entriesPerTableBlock)
	l.stubTemplate = make([]byte, 0, len(l.Stub)*entriesPerTableBlock)
	for range entriesPerTableBlock {
		l.stubTemplate = append(l.stubTemplate, l.Stub...)
	}
	for _, k := range l.GOTRelativeEdges {
		l.gotRelative[k/64] |= 1 << (k % 64)
	}
	return &l
}

// AppendStub adds a stub jumping through the GOT entry got at the end of
// block b, whose content must be mutable (RuntimeDyld-style loaders keep
// stubs at the end of the calling section), and returns its offset in b.
func (l *TableLayout) AppendStub(b *Block, got *Symbol) uint64 {
	off := b.Size()
	b.SetMutableContent(append(b.MutableContent(), l.Stub...))
	l.addStubEdges(b, off, got)
	return off
}

func (l *TableLayout) addStubEdges(b *Block, off uint64, got *Symbol) {
	for _, e := range l.StubEdges {
		b.AddEdge(e.Kind, uint32(off)+e.Offset, got, e.Addend)
	}
}

// TableTarget returns what a GOT entry or stub symbol points at: the target
// of the entry's edge (for a stub, its GOT entry). It returns nil for
// anything else (and for nil).
func (l *TableLayout) TableTarget(s *Symbol) *Symbol {
	if s == nil || s.Block() == nil {
		return nil
	}
	edges := s.Block().Edges()
	want := s.Offset()
	// Entries are appended in order, so the edge is usually at its slot.
	slot := want / gotEntrySize
	if s.Block().Section().Name() == l.StubsSection {
		want += uint64(l.StubEdges[0].Offset)
		slot = s.Offset() / uint64(len(l.Stub)) * uint64(len(l.StubEdges))
	}
	if i := int(slot); i < len(edges) && uint64(edges[i].Offset) == want {
		return edges[i].Target
	}
	for i := range edges {
		if uint64(edges[i].Offset) == want {
			return edges[i].Target
		}
	}
	return nil
}

// GOTEntryTarget returns what s points at if it is a GOT entry, else nil.
func (l *TableLayout) GOTEntryTarget(s *Symbol) *Symbol {
	if !s.IsDefined() || s.Block() == nil || s.Block().Section().Name() != l.GOTSection {
		return nil
	}
	return l.TableTarget(s)
}

// StubTarget returns the function s jumps to (through its GOT entry) if it
// is a PLT stub, else nil.
func (l *TableLayout) StubTarget(s *Symbol) *Symbol {
	if !s.IsDefined() || s.Block() == nil || s.Block().Section().Name() != l.StubsSection {
		return nil
	}
	return l.TableTarget(l.TableTarget(s))
}

// Tables creates GOT entries and PLT stubs for a graph, one of each per
// target symbol.
type Tables struct {
	l       *TableLayout
	g       *LinkGraph
	gotSec  *Section
	stubSec *Section
	gotBlk  *Block            // block being filled with GOT entries
	stubBlk *Block            // block being filled with stubs
	index   map[*Symbol]int32 // target -> position in entries
	entries []tableEntry
	// gotHint and stubHint are the expected numbers of GOT entries and
	// stubs: the first block of each is made with room for their edges.
	gotHint, stubHint int
}

// tableEntry is a target's GOT entry and stub, as far as they exist.
type tableEntry struct{ got, stub *Symbol }

// NewTables returns the table builder for g, reusing tables g already has.
// sizeHint is the expected number of GOT entries (and of stubs).
func (l *TableLayout) NewTables(g *LinkGraph, sizeHint int) *Tables {
	return l.newTables(g, sizeHint, sizeHint)
}

func (l *TableLayout) newTables(g *LinkGraph, gotHint, stubHint int) *Tables {
	t := &Tables{l: l, g: g, index: make(map[*Symbol]int32, gotHint), entries: make([]tableEntry, 0, gotHint),
		gotHint: gotHint, stubHint: stubHint}
	// A symbol per entry and per stub; the GOT and stub blocks.
	g.Reserve(gotHint+stubHint, 2, 0)
	if t.gotSec = g.FindSection(l.GOTSection); t.gotSec != nil {
		for _, s := range t.gotSec.Symbols() {
			if tgt := l.TableTarget(s); tgt != nil {
				t.entry(tgt).got = s
			}
		}
	}
	if t.stubSec = g.FindSection(l.StubsSection); t.stubSec != nil {
		for _, s := range t.stubSec.Symbols() {
			if tgt := l.TableTarget(l.TableTarget(s)); tgt != nil {
				t.entry(tgt).stub = s
			}
		}
	}
	return t
}

func (t *Tables) entry(target *Symbol) *tableEntry {
	i, ok := t.index[target]
	if !ok {
		i = int32(len(t.entries))
		t.entries = append(t.entries, tableEntry{})
		t.index[target] = i
	}
	return &t.entries[i]
}

// slot appends one entry of size bytes to *cur (a block of sec), starting a
// new block when it is full, and returns the block and the entry's offset.
func (t *Tables) slot(sec *Section, cur **Block, template []byte, size, align uint64, hint, edgesPer int) (*Block, uint64) {
	b := *cur
	if b == nil || b.Size()+size > uint64(len(template)) {
		// Original addresses keep blocks in creation order after the GOT
		// base (address 0).
		addr := uint64(len(sec.Blocks())+1) << 32
		b = t.g.CreateContentBlock(sec, template[:0], addr, align, 0)
		n := min(max(hint, 4), entriesPerTableBlock)
		b.SetEdges(make([]Edge, 0, n*edgesPer))
		sec.GrowSymbols(n)
		*cur = b
	}
	off := b.Size()
	b.SetContent(template[:off+size])
	return b, off
}

// GOTEntry returns the GOT entry for target, creating it if needed.
func (t *Tables) GOTEntry(target *Symbol) *Symbol {
	return t.gotEntry(t.entry(target), target)
}

func (t *Tables) gotEntry(e *tableEntry, target *Symbol) *Symbol {
	if e.got != nil {
		return e.got
	}
	if t.gotSec == nil {
		t.gotSec = t.g.CreateSection(t.l.GOTSection, ProtRead)
	}
	b, off := t.slot(t.gotSec, &t.gotBlk, t.l.gotTemplate, gotEntrySize, t.l.GOTAlign, t.gotHint, 1)
	b.AddEdge(t.l.GOTEdge, uint32(off), target, 0)
	e.got = t.g.AddAnonymousSymbol(b, off, gotEntrySize, Live)
	return e.got
}

// Stub returns the PLT stub that jumps to target through its GOT entry,
// creating both if needed.
func (t *Tables) Stub(target *Symbol) *Symbol {
	e := t.entry(target)
	if e.stub != nil {
		return e.stub
	}
	got := t.gotEntry(e, target)
	if t.stubSec == nil {
		t.stubSec = t.g.CreateSection(t.l.StubsSection, ProtRead|ProtExec)
	}
	b, off := t.slot(t.stubSec, &t.stubBlk, t.l.stubTemplate, uint64(len(t.l.Stub)), t.l.StubAlign, t.stubHint, len(t.l.StubEdges))
	t.l.addStubEdges(b, off, got)
	e.stub = t.g.AddAnonymousSymbol(b, off, t.l.StubSymbolSize, Callable|Live)
	return e.stub
}

// DefineGOTBase defines the GOT base symbol at the start of g's GOT, making
// the GOT if needed, when anything refers to it: an external symbol of that
// name or an edge of one of the GOTRelativeEdges kinds. It returns the
// symbol, or nil when nothing refers to it.
func (l *TableLayout) DefineGOTBase(g *LinkGraph) *Symbol {
	return l.defineGOTBase(g, hasEdgeKind(g, l.GOTRelativeEdges))
}

// BuildTables is an architecture's post-prune table pass: LowerTableEdges,
// then DefineGOTBase, told by the lowering's walk over every edge whether
// any edge is GOT-relative instead of walking them again. It returns the
// GOT base symbol, or nil when nothing refers to it.
func (l *TableLayout) BuildTables(g *LinkGraph, lower func(e *Edge) (EdgeKind, TableUse)) *Symbol {
	return l.defineGOTBase(g, l.LowerTableEdges(g, lower))
}

// defineGOTBase is DefineGOTBase for a caller that knows whether any edge
// is one of the GOTRelativeEdges kinds.
func (l *TableLayout) defineGOTBase(g *LinkGraph, gotRelative bool) *Symbol {
	ext := g.FindExternalSymbol(l.GOTSymbol)
	if ext == nil && !gotRelative {
		return nil
	}
	sec := g.FindSection(l.GOTSection)
	if sec == nil {
		sec = g.CreateSection(l.GOTSection, ProtRead)
	}
	// The GOT base is an empty block at original address 0: it sorts before
	// every entry.
	base := g.CreateContentBlock(sec, []byte{}, 0, l.GOTBaseAlign, 0)
	if ext != nil {
		g.MakeDefined(ext, base, 0, 0, Strong, ScopeLocal, Live)
		return ext
	}
	return g.AddDefinedSymbol(base, 0, l.GOTSymbol, 0, Strong, ScopeLocal, Live)
}

func hasEdgeKind(g *LinkGraph, kinds []EdgeKind) bool {
	for b := range g.Blocks() {
		for _, e := range b.Edges() {
			for _, k := range kinds {
				if e.Kind == k {
					return true
				}
			}
		}
	}
	return false
}

// TableUse says what an edge goes through after LowerTableEdges.
type TableUse uint8

const (
	NoTable     TableUse = iota // the edge stays as it is
	ViaGOTEntry                 // the edge targets its target's GOT entry
	ViaStub                     // the edge targets its target's PLT stub
)

// LowerTableEdges is the body of an architecture's post-prune GOT-and-stubs
// pass. For each edge outside the tables, lower says what the edge goes
// through and its new kind; such an edge is retargeted to its target's GOT
// entry or stub, which are made as needed. It reports whether any edge,
// lowered or not, is one of the GOTRelativeEdges kinds (for
// BuildTables: table entries never are).
func (l *TableLayout) LowerTableEdges(g *LinkGraph, lower func(e *Edge) (EdgeKind, TableUse)) (gotRelative bool) {
	// Creating entries adds blocks to the graph, which the loop must not
	// visit: take the list of sections first (tables are new sections).
	sections := slices.DeleteFunc(slices.Clone(g.Sections()), func(sec *Section) bool {
		return sec.Name() == l.GOTSection || sec.Name() == l.StubsSection
	})
	// The tables are made at the first edge that needs them, sized for an
	// entry per tabled edge at most and an entry per external symbol and
	// a few more: most tabled edges go to external symbols, and many
	// edges share one. A small graph counts its tabled edges first; on a
	// large one that walk would cost as much as the lowering (a cache
	// miss per edge and per branch target), and the count would exceed
	// the bound anyway.
	limit := len(g.ExternalSymbols()) + 16
	gotHint, stubHint := limit, limit
	edges := 0
	for _, sec := range sections {
		for _, b := range sec.blocks {
			edges += len(b.edges)
		}
	}
	if edges < countTableEdgesBelow {
		var gots, stubs int
		for _, sec := range sections {
			for _, b := range sec.blocks {
				for i := range b.edges {
					switch _, use := lower(&b.edges[i]); use {
					case ViaStub:
						stubs++
					case ViaGOTEntry:
						gots++
					}
				}
			}
		}
		gotHint, stubHint = min(gots+stubs, limit), min(stubs, limit)
	}
	var t *Tables
	for _, sec := range sections {
		for _, b := range sec.blocks {
			for i := range b.edges {
				e := &b.edges[i]
				kind, use := lower(e)
				gotRelative = gotRelative || l.gotRelative[kind/64]&(1<<(kind%64)) != 0
				if use == NoTable {
					continue
				}
				if t == nil {
					t = l.newTables(g, gotHint, stubHint)
				}
				if use == ViaStub {
					e.Kind, e.Target = kind, t.Stub(e.Target)
				} else {
					e.Kind, e.Target = kind, t.GOTEntry(e.Target)
				}
			}
		}
	}
	return gotRelative
}

// countTableEdgesBelow is the number of edges below which LowerTableEdges
// counts the tabled edges before making the tables.
const countTableEdgesBelow = 8192
