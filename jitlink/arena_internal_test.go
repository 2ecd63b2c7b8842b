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
	if len(a.cur) != 2 || len(a.next) != 3 {
		t.Fatalf("after reserve: cur %d, next %d; want 2, 3", len(a.cur), len(a.next))
	}
	cur, next := &a.cur[0], &a.next[0]
	got := []*Symbol{a.alloc(), a.alloc(), a.alloc(), a.alloc(), a.alloc()}
	if got[0] != cur || got[2] != next || len(a.cur)+len(a.next) != 0 {
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
	if g.symArena.used != 40 || len(g.symArena.cur)+len(g.symArena.next) != 0 ||
		g.blockArena.used != 10 || len(g.blockArena.cur) != 0 || g.addrArena.used != 10 || len(g.addrArena.cur) != 0 {
		t.Fatalf("arenas: %+v %+v %+v", g.symArena.used, g.blockArena.used, g.addrArena.used)
	}
}
