package x86_64

import (
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Triple is the target triple of x86-64 graphs on Linux.
var Triple = triple.New(triple.X86_64, triple.UnknownVendor, triple.Linux, triple.GNU)

// Backend links x86-64 graphs: it applies fixups, builds the GOT and PLT
// stubs after pruning, defines the GOT base symbol when something uses it,
// and relaxes GOT and stub accesses before fixups. Format backends wrap it;
// graphs built by hand use it directly (see NewLinkGraph). A Backend belongs
// to one graph.
type Backend struct {
	gotSym *jitlink.Symbol // the GOT base, once defined
}

// NewLinkGraph returns an empty x86-64 graph with a Backend.
func NewLinkGraph(name string) *jitlink.LinkGraph {
	return jitlink.NewLinkGraph(name, Triple, &Backend{})
}

// EdgeKindName names an x86-64 edge kind.
func (be *Backend) EdgeKindName(k jitlink.EdgeKind) string { return KindName(k) }

// ApplyFixup applies e to b.
func (be *Backend) ApplyFixup(g *jitlink.LinkGraph, b *jitlink.Block, e *jitlink.Edge) error {
	var got uint64
	if be.gotSym != nil {
		got = be.gotSym.Address()
	}
	return ApplyFixup(g, b, e, got)
}

// AddDefaultPasses installs GOT and stub building and relaxation.
func (be *Backend) AddDefaultPasses(g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	cfg.PostPrune = append(cfg.PostPrune, be.buildTables)
	cfg.PreFixup = append(cfg.PreFixup, OptimizeGOTAndStubs)
	return nil
}

// GOTSymbol returns the graph's GOT base symbol: the external symbol named
// GOTSymbolName if there is one, else a new one. Edges that are relative to
// the GOT base target it; it is defined after the GOT is built.
func GOTSymbol(g *jitlink.LinkGraph) *jitlink.Symbol {
	return externalSymbol(g, GOTSymbolName)
}

// buildTables is a post-prune pass: BuildGOTAndStubs, then the GOT base
// defined at the start of the graph's GOT if anything refers to it.
func (be *Backend) buildTables(g *jitlink.LinkGraph) error {
	if s := tableLayout.BuildTables(g, lowerTableEdge); s != nil {
		be.gotSym = s
	}
	return nil
}
