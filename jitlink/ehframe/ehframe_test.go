package ehframe_test

import (
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
