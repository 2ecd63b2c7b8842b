package bench

import (
	"testing"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/object"
)

// BenchmarkMergeCrypto merges the graphs of every member of libcrypto.a
// as the object layer merges the members one lookup pulls (the crypto
// link pulls 723 of them): the graphs are built outside the timer.
func BenchmarkMergeCrypto(b *testing.B) {
	testutil.NeedFile(b, cryptoArchive)
	a, err := archive.Open(cryptoArchive)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		graphs := memberGraphs(b, a)
		b.StartTimer()
		if _, err := jitlink.MergeGraphs("libcrypto.a", graphs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinkMergedCrypto links the merged graph of every member of
// libcrypto.a (built and merged outside the timer) through jitlink's
// phases after the merge: pre-prune, prune, GOT and stubs, layout and
// copying into memory, fixups. Externals resolve to one address within
// reach; the memory is ordinary Go memory.
func BenchmarkLinkMergedCrypto(b *testing.B) {
	testutil.NeedFile(b, cryptoArchive)
	a, err := archive.Open(cryptoArchive)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		graphs := memberGraphs(b, a)
		g, err := jitlink.MergeGraphs("libcrypto.a", graphs)
		if err != nil {
			b.Fatal(err)
		}
		ext := map[string]uint64{}
		for _, s := range g.ExternalSymbols() {
			ext[s.Name()] = 0x4000_0000
		}
		b.StartTimer()
		err = jitlinktest.Link(g, jitlinktest.Options{Externals: ext, Passes: func(cfg *jitlink.PassConfig) {
			cfg.MarkLive = jitlink.MarkExportsLive
		}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// memberGraphs builds the graph of every member of a.
func memberGraphs(b *testing.B, a *archive.Archive) []*jitlink.LinkGraph {
	members := a.Members()
	graphs := make([]*jitlink.LinkGraph, 0, len(members))
	for _, m := range members {
		g, err := object.NewLinkGraph(a.MemberName(m), m.Data)
		if err != nil {
			b.Fatal(err)
		}
		graphs = append(graphs, g)
	}
	return graphs
}
