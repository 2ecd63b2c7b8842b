package jitlink

import (
	"testing"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// A reservation is used up exactly: the rest of the current chunk first,
// then one allocation for what was missing, and nodes never move.
func TestArenaReserve(t *testing.T) {
	var a arena[Symbol]
	a.reserve(3)
	first := a.alloc()
	a.reserve(5) // 2 left in the current chunk: 3 more are needed
	if len(a.cur) != 2 || a.free != 3 || len(a.spare) != 1 {
		t.Fatalf("after reserve: cur %d, spare %d; want 2, 3", len(a.cur), a.free)
	}
	cur, next := &a.cur[0], &a.spare[0][0]
	got := []*Symbol{a.alloc(), a.alloc(), a.alloc(), a.alloc(), a.alloc()}
	if got[0] != cur || got[2] != next || len(a.cur)+a.free != 0 {
		t.Fatal("reserved nodes were not handed out in order")
	}
	first.name = "kept"
	if a.used != 6 || first.name != "kept" {
		t.Fatalf("used %d", a.used)
	}
	// Unreserved nodes come in chunks that grow with use.
	a.alloc()
	if len(a.cur) != 3 { // min 4, one taken
		t.Fatalf("a chunk of %d after running dry, want 4", len(a.cur)+1)
	}
}

// A merged graph uses what its members reserved and did not use before
// allocating more.
func TestArenaAbsorb(t *testing.T) {
	var a, b arena[Block]
	a.reserve(2)
	a.alloc()
	b.reserve(3)
	b.alloc()
	a.absorb(&b)
	if b.free != 0 || len(b.cur) != 0 || a.used != 2 || len(a.cur)+a.free != 3 {
		t.Fatalf("after absorb: a has %d+%d free, used %d; b %+v", len(a.cur), a.free, a.used, b)
	}
	a.reserve(3) // covered
	if a.free != 2 {
		t.Fatalf("reserve allocated: %d spare", a.free)
	}
	seen := map[*Block]bool{}
	for range 3 {
		seen[a.alloc()] = true
	}
	if len(seen) != 3 || len(a.cur)+a.free != 0 || len(a.spare) != 0 {
		t.Fatalf("%d distinct nodes, %d+%d left", len(seen), len(a.cur), a.free)
	}
}

// Building a graph whose counts were reserved allocates no further chunks.
func TestReserveCoversCreation(t *testing.T) {
	g := NewLinkGraph("g", triple.New(triple.X86_64, triple.UnknownVendor, triple.Linux, triple.GNU), nil)
	sec := g.CreateSection(".text", ProtRead|ProtExec)
	g.Reserve(40, 10, 10)
	for i := range 10 {
		b := g.CreateContentBlock(sec, []byte{0x90}, uint64(i), 1, 0)
		for range 3 {
			g.AddAnonymousSymbol(b, 0, 1, NoAttrs)
		}
		g.AddExternalSymbol("x", 0, Strong)
	}
	if g.symArena.used != 40 || len(g.symArena.cur)+g.symArena.free != 0 ||
		g.blockArena.used != 10 || len(g.blockArena.cur) != 0 || g.addrArena.used != 10 || len(g.addrArena.cur) != 0 {
		t.Fatalf("arenas: %+v %+v %+v", g.symArena.used, g.blockArena.used, g.addrArena.used)
	}
}
