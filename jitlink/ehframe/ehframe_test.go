package ehframe_test

import (
	"encoding/binary"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/ehframe"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// The .eh_frame sections of a merged graph become one range, laid out
// after the other read-only sections and terminated once at its end.
func TestNullTerminatorJoinsMergedSections(t *testing.T) {
	member := func(name string, size int) *jitlink.LinkGraph {
		g := x86_64.NewLinkGraph(name)
		ro := g.CreateSection(".rodata", jitlink.ProtRead)
		g.AddAnonymousSymbol(g.CreateContentBlock(ro, make([]byte, 24), 0, 8, 0), 0, 24, jitlink.Live)
		eh := g.CreateSection(".eh_frame", jitlink.ProtRead)
		g.AddAnonymousSymbol(g.CreateContentBlock(eh, make([]byte, size), 0, 4, 0), 0, uint64(size), jitlink.Live)
		return g
	}
	g, err := jitlink.MergeGraphs("lib.a", []*jitlink.LinkGraph{member("a.o", 16), member("b.o", 40), member("c.o", 12)})
	if err != nil {
		t.Fatal(err)
	}
	err = jitlinktest.Link(g, jitlinktest.Options{Passes: func(cfg *jitlink.PassConfig) {
		cfg.PostPrune = append(cfg.PostPrune, ehframe.AddNullTerminator(".eh_frame"))
	}})
	if err != nil {
		t.Fatal(err)
	}
	start, end, ok := ehframe.Range(g, ".eh_frame")
	if !ok || end-start != 16+40+12+4 {
		t.Fatalf("range %#x-%#x (%v), want the three sections and one terminator, %d bytes", start, end, ok, 16+40+12+4)
	}
	var prevEnd uint64
	blocks := 0
	for sec := range g.SectionsNamed(".eh_frame") {
		s, e := sec.Range()
		if prevEnd != 0 && s != prevEnd {
			t.Errorf("%s of %s starts at %#x, not right after the previous one (%#x)", sec.Name(), g.SectionObject(sec), s, prevEnd)
		}
		prevEnd = e
		blocks += len(sec.Blocks())
	}
	if blocks != 4 {
		t.Errorf("%d blocks, want 3 and one terminator", blocks)
	}
	for sec := range g.SectionsNamed(".rodata") {
		if _, e := sec.Range(); e > start {
			t.Errorf("%s of %s ends at %#x, inside the .eh_frame range from %#x", sec.Name(), g.SectionObject(sec), e, start)
		}
	}
}

// SplitAndFix gives each record its own edges (the FDE's PC-begin moved to
// the FDE's offsets) and room for the CIE edge, whether or not the
// section's edge slice has that room (the ELF builder leaves it; a graph
// made by hand need not).
func TestSplitCarvesEdges(t *testing.T) {
	for _, room := range []int{0, 2} {
		g := x86_64.NewLinkGraph("t.o")
		text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
		fn := g.AddAnonymousSymbol(g.CreateContentBlock(text, make([]byte, 16), 0, 16, 0), 0, 16, jitlink.Live)
		// A CIE (length 12: id 0, version 1, empty augmentation, padding)
		// and an FDE (length 20: CIE pointer, PC begin, PC range, padding).
		c := make([]byte, 16+24)
		le := func(off int, v uint32) { binary.LittleEndian.PutUint32(c[off:], v) }
		le(0, 12)
		c[8] = 1
		le(16, 20)
		le(20, 20) // back to the CIE at 0, from the pointer field at 20
		le(28, 16)
		eh := g.CreateSection(".eh_frame", jitlink.ProtRead)
		b := g.CreateContentBlock(eh, c, 0x100, 4, 0)
		edges := make([]jitlink.Edge, 1, 1+room)
		edges[0] = jitlink.Edge{Target: fn, Offset: 24, Kind: x86_64.Delta32}
		b.SetEdges(edges)
		if err := ehframe.SplitAndFix(".eh_frame", ehframe.Kinds{NegDelta32: x86_64.NegDelta32})(g); err != nil {
			t.Fatal(err)
		}
		blocks := eh.Blocks()
		if len(blocks) != 2 {
			t.Fatalf("room %d: %d blocks, want a CIE and an FDE", room, len(blocks))
		}
		fde := blocks[0]
		if fde.Address() != 0x110 {
			fde = blocks[1]
		}
		var pc, cie bool
		for _, e := range fde.Edges() {
			pc = pc || e.Offset == 8 && e.Target == fn && e.Kind == x86_64.Delta32
			cie = cie || e.Offset == 4 && e.Kind == x86_64.NegDelta32 && e.Target.Block() != nil && e.Target.Block().Address() == 0x100
		}
		if !pc || !cie || len(fde.Edges()) != 2 {
			t.Errorf("room %d: FDE edges %v, want PC begin at 8 and the CIE pointer at 4", room, fde.Edges())
		}
		keep := false
		for _, e := range fn.Block().Edges() {
			keep = keep || e.Kind == jitlink.KeepAlive && e.Target.Block() == fde
		}
		if !keep {
			t.Errorf("room %d: the function does not keep its FDE alive", room)
		}
	}
}
