package aarch64

import (
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Triple is the target triple of AArch64 graphs on Linux.
var Triple = triple.New(triple.AArch64, triple.UnknownVendor, triple.Linux, triple.GNU)

// Backend links AArch64 graphs: it applies fixups, builds the GOT and PLT
// stubs after pruning, defines the GOT base symbol when something uses it,
// and bypasses stubs of branches in range before fixups. Format backends
// wrap it; graphs built by hand use it directly (see NewLinkGraph). A
// Backend belongs to one graph.
type Backend struct {
	gotSym *jitlink.Symbol // the GOT base, once defined
}

// NewLinkGraph returns an empty AArch64 graph with a Backend.
func NewLinkGraph(name string) *jitlink.LinkGraph {
	return jitlink.NewLinkGraph(name, Triple, &Backend{})
}

// EdgeKindName names an AArch64 edge kind.
func (be *Backend) EdgeKindName(k jitlink.EdgeKind) string { return KindName(k) }

// ApplyFixup applies e to b.
func (be *Backend) ApplyFixup(g *jitlink.LinkGraph, b *jitlink.Block, e *jitlink.Edge) error {
	var got uint64
	if be.gotSym != nil {
		got = be.gotSym.Address()
	}
	return ApplyFixup(g, b, e, got)
}

// AddDefaultPasses installs GOT and stub building and stub bypassing.
func (be *Backend) AddDefaultPasses(g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	cfg.PostPrune = append(cfg.PostPrune, be.buildTables)
	cfg.PreFixup = append(cfg.PreFixup, OptimizeGOTAndStubs)
	return nil
}

// buildTables is a post-prune pass: BuildGOTAndStubs, then the GOT base
// defined at the start of the graph's GOT if anything refers to it.
func (be *Backend) buildTables(g *jitlink.LinkGraph) error {
	if s := tableLayout.BuildTables(g, lowerTableEdge); s != nil {
		be.gotSym = s
	}
	return nil
}
