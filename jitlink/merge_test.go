package jitlink_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// member is a hand-built object for merge tests: a .data section with one
// 8-byte pointer per reference, named defs and externals.
type member struct {
	g    *jitlink.LinkGraph
	data *jitlink.Block
}

func newMember(name string, size int) member {
	g := x86_64.NewLinkGraph(name)
	b := g.CreateContentBlock(g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite), make([]byte, size), 0, 8, 0)
	return member{g, b}
}

func (m member) define(name string, off uint64, l jitlink.Linkage, sc jitlink.Scope) *jitlink.Symbol {
	return m.g.AddDefinedSymbol(m.data, off, name, 8, l, sc, jitlink.NoAttrs)
}

func (m member) pointTo(off uint32, s *jitlink.Symbol) { m.data.AddEdge(x86_64.Pointer64, off, s, 0) }

func word(b *jitlink.Block, off int) uint64 { return binary.LittleEndian.Uint64(b.Content()[off:]) }

func TestMergeResolvesAmongGraphs(t *testing.T) {
	// a.o: strong f, static helper, references g and lib; weak w.
	a := newMember("lib.a(a.o)", 32)
	f := a.define("f", 0, jitlink.Strong, jitlink.ScopeDefault)
	helperA := a.define("helper", 8, jitlink.Strong, jitlink.ScopeLocal)
	wa := a.define("w", 16, jitlink.Weak, jitlink.ScopeDefault)
	a.pointTo(0, a.g.AddExternalSymbol("g", 0, jitlink.Strong))
	a.pointTo(8, helperA)
	a.pointTo(16, a.g.AddExternalSymbol("lib", 0, jitlink.Weak))
	a.pointTo(24, wa)
	// b.o: strong g, its own static helper, strong w (beats a.o's weak
	// one), references f and lib (strongly).
	b := newMember("lib.a(b.o)", 32)
	g := b.define("g", 0, jitlink.Strong, jitlink.ScopeDefault)
	helperB := b.define("helper", 8, jitlink.Strong, jitlink.ScopeLocal)
	wb := b.define("w", 16, jitlink.Strong, jitlink.ScopeDefault)
	b.pointTo(0, b.g.AddExternalSymbol("f", 0, jitlink.Strong))
	b.pointTo(8, helperB)
	b.pointTo(16, b.g.AddExternalSymbol("lib", 0, jitlink.Strong))
	b.pointTo(24, b.g.AddExternalSymbol("w", 0, jitlink.Strong))

	m, err := jitlink.MergeGraphs("lib.a", []*jitlink.LinkGraph{a.g, b.g})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "lib.a" || len(m.Sections()) != 2 {
		t.Fatalf("merged graph %s has %d sections, want lib.a with 2", m.Name(), len(m.Sections()))
	}
	if ext := m.ExternalSymbols(); len(ext) != 1 || ext[0].Name() != "lib" || ext[0].IsWeaklyReferenced() {
		t.Fatalf("externals %v, want lib alone, strongly referenced", ext)
	}
	if !wa.IsRemoved() || wb.IsRemoved() {
		t.Fatal("the weak w should lose to the strong one")
	}
	if err := jitlinktest.Link(m, jitlinktest.Options{Externals: map[string]uint64{"lib": 0x1234}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		b    *jitlink.Block
		off  int
		want uint64
	}{
		{"a.o's g", a.data, 0, g.Address()},
		{"a.o's helper", a.data, 8, helperA.Address()},
		{"a.o's lib", a.data, 16, 0x1234},
		{"a.o's w", a.data, 24, wb.Address()},
		{"b.o's f", b.data, 0, f.Address()},
		{"b.o's helper", b.data, 8, helperB.Address()},
		{"b.o's w", b.data, 24, wb.Address()},
	} {
		if got := word(c.b, c.off); got != c.want || got == 0 {
			t.Errorf("%s = %#x, want %#x", c.what, got, c.want)
		}
	}
	if helperA.Address() == helperB.Address() {
		t.Error("static functions of the same name in two objects were merged")
	}
}

func TestMergeDuplicateStrong(t *testing.T) {
	a, b := newMember("lib.a(a.o)", 8), newMember("lib.a(b.o)", 8)
	a.define("dup", 0, jitlink.Strong, jitlink.ScopeDefault)
	b.define("dup", 0, jitlink.Strong, jitlink.ScopeHidden)
	_, err := jitlink.MergeGraphs("lib.a", []*jitlink.LinkGraph{a.g, b.g})
	var de *jitlink.DuplicateSymbolError
	if !errors.As(err, &de) || de.Name != "dup" || de.First != "lib.a(a.o)" || de.Second != "lib.a(b.o)" {
		t.Fatalf("want a duplicate definition of dup in a.o and b.o, got %v", err)
	}
	// An absolute symbol names its graph too.
	c, d := newMember("lib.a(c.o)", 8), newMember("lib.a(d.o)", 8)
	c.define("dup", 0, jitlink.Strong, jitlink.ScopeDefault)
	d.g.AddAbsoluteSymbol("dup", 0x1000, 0, jitlink.Strong, jitlink.ScopeDefault, jitlink.NoAttrs)
	_, err = jitlink.MergeGraphs("lib.a", []*jitlink.LinkGraph{d.g, c.g})
	if !errors.As(err, &de) || de.Name != "dup" || de.First != "lib.a(d.o)" || de.Second != "lib.a(c.o)" {
		t.Fatalf("want a duplicate definition of dup in d.o and c.o, got %v", err)
	}
}

func TestMergeCommons(t *testing.T) {
	a, b, c := newMember("a.o", 8), newMember("b.o", 8), newMember("c.o", 8)
	ca := a.g.AddCommonSymbol("buf", jitlink.ScopeDefault, a.g.CreateSection(".common", jitlink.ProtRead|jitlink.ProtWrite), 0, 16, 4, jitlink.NoAttrs)
	cb := b.g.AddCommonSymbol("buf", jitlink.ScopeDefault, b.g.CreateSection(".common", jitlink.ProtRead|jitlink.ProtWrite), 0, 64, 32, jitlink.NoAttrs)
	c.define("user", 0, jitlink.Strong, jitlink.ScopeDefault)
	c.pointTo(0, c.g.AddExternalSymbol("buf", 0, jitlink.Strong))
	m, err := jitlink.MergeGraphs("m", []*jitlink.LinkGraph{a.g, b.g, c.g})
	if err != nil {
		t.Fatal(err)
	}
	if cb.IsRemoved() == ca.IsRemoved() || ca.IsRemoved() {
		t.Fatal("the first common should win")
	}
	if ca.Size() != 64 || ca.Block().Size() != 64 || ca.Block().Alignment() != 32 {
		t.Fatalf("winning common has size %d, block %d aligned %d; want 64, 64, 32", ca.Size(), ca.Block().Size(), ca.Block().Alignment())
	}
	if len(m.ExternalSymbols()) != 0 {
		t.Fatalf("externals %v, want none", m.ExternalSymbols())
	}
	if err := jitlinktest.Link(m, jitlinktest.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := word(c.data, 0); got != ca.Address() || got%32 != 0 {
		t.Fatalf("c.o's buf = %#x, want the winner %#x, 32-aligned", got, ca.Address())
	}
	// A strong definition beats a common.
	s, d := newMember("s.o", 8), newMember("d.o", 8)
	dc := d.g.AddCommonSymbol("v", jitlink.ScopeDefault, d.g.CreateSection(".common", jitlink.ProtRead|jitlink.ProtWrite), 0, 8, 8, jitlink.NoAttrs)
	sv := s.define("v", 0, jitlink.Strong, jitlink.ScopeDefault)
	if _, err := jitlink.MergeGraphs("m2", []*jitlink.LinkGraph{d.g, s.g}); err != nil {
		t.Fatal(err)
	}
	if !dc.IsRemoved() || sv.IsRemoved() {
		t.Fatal("a strong definition should beat a common one")
	}
}

func TestMergeFixupErrorNamesMember(t *testing.T) {
	a, b := newMember("lib.a(a.o)", 8), newMember("lib.a(b.o)", 8)
	a.define("x", 0, jitlink.Strong, jitlink.ScopeDefault)
	b.define("y", 0, jitlink.Strong, jitlink.ScopeDefault)
	// A 32-bit absolute reference to a symbol far above 4 GiB.
	b.data.AddEdge(x86_64.Pointer32, 0, b.g.AddExternalSymbol("far", 0, jitlink.Strong), 0)
	m, err := jitlink.MergeGraphs("lib.a", []*jitlink.LinkGraph{a.g, b.g})
	if err != nil {
		t.Fatal(err)
	}
	err = jitlinktest.Link(m, jitlinktest.Options{Externals: map[string]uint64{"far": 1 << 40}})
	var fe *jitlink.FixupError
	if !errors.As(err, &fe) || fe.Graph != "lib.a(b.o)" || fe.Section != ".data" || fe.Target != "far" {
		t.Fatalf("want a fixup error naming lib.a(b.o), .data and far, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "lib.a(b.o): section .data") {
		t.Fatalf("error %q does not start with the member and section", err)
	}
}

// TestMergeManyGraphs merges many graphs, as a large archive link does: a
// ring where each member defines f<i> and a weak w (the first member's
// wins) and points at f<i+1>, w and libc's "ext" (the one external left).
// Linked, every pointer holds its target's address.
func TestMergeManyGraphs(t *testing.T) {
	const n = 500
	members := make([]member, n)
	graphs := make([]*jitlink.LinkGraph, n)
	for i := range members {
		m := newMember(fmt.Sprintf("lib.a(m%d.o)", i), 32)
		m.define(fmt.Sprintf("f%d", i), 0, jitlink.Strong, jitlink.ScopeDefault)
		m.define("w", 8, jitlink.Weak, jitlink.ScopeDefault)
		m.pointTo(0, m.g.AddExternalSymbol(fmt.Sprintf("f%d", (i+1)%n), 0, jitlink.Strong))
		m.pointTo(8, m.g.AddExternalSymbol("w", 0, jitlink.Strong))
		m.pointTo(16, m.g.AddExternalSymbol("ext", 0, jitlink.Strong))
		members[i], graphs[i] = m, m.g
	}
	g, err := jitlink.MergeGraphs("lib.a", graphs)
	if err != nil {
		t.Fatal(err)
	}
	if ext := g.ExternalSymbols(); len(ext) != 1 || ext[0].Name() != "ext" {
		t.Fatalf("externals after merge: %v, want only ext", ext)
	}
	if err := jitlinktest.Link(g, jitlinktest.Options{Externals: map[string]uint64{"ext": 0x1234}}); err != nil {
		t.Fatal(err)
	}
	w := members[0].data.Address() + 8
	for i, m := range members {
		next := members[(i+1)%n].data.Address()
		if got := word(m.data, 0); got != next {
			t.Fatalf("member %d: pointer to f%d is %#x, want %#x", i, (i+1)%n, got, next)
		}
		if got := word(m.data, 8); got != w {
			t.Fatalf("member %d: pointer to w is %#x, want the first member's %#x", i, got, w)
		}
		if got := word(m.data, 16); got != 0x1234 {
			t.Fatalf("member %d: pointer to ext is %#x, want 0x1234", i, got)
		}
	}
}
