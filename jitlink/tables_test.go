package jitlink_test

import (
	"bytes"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// A made-up architecture: 6-byte stubs with two edges to their GOT entry.
const (
	toyPointer = jitlink.FirstArchKind + iota
	toyHi
	toyLo
	toyGOTRel
)

var toyLayout = jitlink.NewTableLayout(jitlink.TableLayout{
	GOTSection:       "got",
	StubsSection:     "stubs",
	GOTEdge:          toyPointer,
	GOTAlign:         8,
	Stub:             []byte{1, 2, 3, 4, 5, 6},
	StubSymbolSize:   5,
	StubAlign:        2,
	StubEdges:        []jitlink.TableEdge{{Kind: toyHi, Offset: 1}, {Kind: toyLo, Offset: 3, Addend: -2}},
	GOTSymbol:        "GOTBASE",
	GOTBaseAlign:     64,
	GOTRelativeEdges: []jitlink.EdgeKind{toyGOTRel},
})

func TestTablesLayout(t *testing.T) {
	g := x86_64.NewLinkGraph("toy")
	f, h := g.AddExternalSymbol("f", 0, jitlink.Strong), g.AddExternalSymbol("h", 0, jitlink.Strong)
	tb := toyLayout.NewTables(g, 2)
	sf, sh := tb.Stub(f), tb.Stub(h)
	if tb.Stub(f) != sf || tb.GOTEntry(f) != toyLayout.TableTarget(sf) {
		t.Fatal("second request made a new stub or entry")
	}
	if sh.Offset() != 6 || sh.Size() != 5 || sf.Block() != sh.Block() {
		t.Fatalf("stubs not packed: offset %d size %d", sh.Offset(), sh.Size())
	}
	if got := sh.Block().Content(); !bytes.Equal(got, []byte{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("stub block content %v", got)
	}
	e := sh.Block().Edges()[3]
	if e.Kind != toyLo || e.Offset != 9 || e.Addend != -2 || e.Target != tb.GOTEntry(h) {
		t.Fatalf("stub edge %+v", e)
	}
	if toyLayout.StubTarget(sh) != h || toyLayout.GOTEntryTarget(tb.GOTEntry(h)) != h || toyLayout.StubTarget(tb.GOTEntry(h)) != nil {
		t.Fatal("targets of entries not found")
	}
	// A second builder finds the entries already made.
	if tb2 := toyLayout.NewTables(g, 0); tb2.Stub(h) != sh || len(g.FindSection("stubs").Blocks()) != 1 {
		t.Fatal("existing tables not reused")
	}
	// The GOT base is defined only once something refers to it.
	if toyLayout.DefineGOTBase(g) != nil {
		t.Fatal("GOT base defined with nothing referring to it")
	}
	sf.Block().AddEdge(toyGOTRel, 0, f, 0)
	base := toyLayout.DefineGOTBase(g)
	if base == nil || base.Name() != "GOTBASE" || base.Block().Section().Name() != "got" || base.Block().Alignment() != 64 {
		t.Fatalf("GOT base %v", base)
	}
}
