package jitlink_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

func names(syms []*jitlink.Symbol) []string {
	var out []string
	for _, s := range syms {
		out = append(out, s.Name())
	}
	slices.Sort(out)
	return out
}

func collect[T any](seq func(func(T) bool)) []T {
	var out []T
	seq(func(v T) bool { out = append(out, v); return true })
	return out
}

func TestGraphBasics(t *testing.T) {
	g := x86_64.NewLinkGraph("basics.o")
	if g.PointerSize() != 8 || g.Endianness() != binary.LittleEndian || g.Arch() != triple.X86_64 || g.Name() != "basics.o" {
		t.Fatalf("graph metadata: %d %v %s %s", g.PointerSize(), g.Endianness(), g.Arch(), g.Name())
	}
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	bss := g.CreateSection(".bss", jitlink.ProtRead|jitlink.ProtWrite)
	if g.FindSection(".text") != text || g.FindSection(".nope") != nil {
		t.Fatal("FindSection")
	}
	code := []byte{0x90, 0x90, 0xc3}
	b := g.CreateContentBlock(text, code, 0x100, 16, 0)
	z := g.CreateZeroFillBlock(bss, 64, 0, 8, 0)
	if b.IsZeroFill() || !z.IsZeroFill() || z.Size() != 64 || b.Size() != 3 || b.Section() != text {
		t.Fatal("block properties")
	}
	f := g.AddDefinedSymbol(b, 0, "f", 3, jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable)
	anon := g.AddAnonymousSymbol(b, 2, 1, jitlink.Callable)
	ext := g.AddExternalSymbol("puts", 0, jitlink.Strong)
	weakExt := g.AddExternalSymbol("maybe", 0, jitlink.Weak)
	abs := g.AddAbsoluteSymbol("ABS", 0x1234, 0, jitlink.Strong, jitlink.ScopeDefault, jitlink.NoAttrs)
	common := g.AddCommonSymbol("comm", jitlink.ScopeDefault, bss, 0, 16, 16, jitlink.NoAttrs)

	if !f.IsDefined() || f.IsExternal() || f.IsAbsolute() || f.Block() != b || f.Address() != 0x100 || !f.IsCallable() {
		t.Fatalf("defined symbol: %v", f)
	}
	if anon.HasName() || anon.Scope() != jitlink.ScopeLocal || anon.Address() != 0x102 {
		t.Fatalf("anonymous symbol: %v", anon)
	}
	if !ext.IsExternal() || ext.Block() != nil || ext.IsWeaklyReferenced() || !weakExt.IsWeaklyReferenced() {
		t.Fatal("external symbols")
	}
	if !abs.IsAbsolute() || abs.Address() != 0x1234 {
		t.Fatal("absolute symbol")
	}
	if common.Linkage() != jitlink.Weak || common.Block().Size() != 16 || common.Block().Alignment() != 16 {
		t.Fatal("common symbol")
	}
	if got := names(collect(g.DefinedSymbols())); !slices.Equal(got, []string{"", "comm", "f"}) {
		t.Fatalf("defined symbols %q", got)
	}
	if got := names(g.ExternalSymbols()); !slices.Equal(got, []string{"maybe", "puts"}) {
		t.Fatalf("externals %q", got)
	}
	if len(collect(g.Blocks())) != 3 {
		t.Fatal("Blocks")
	}

	// Content is copy-on-write.
	m := b.MutableContent()
	m[0] = 0xcc
	if code[0] != 0x90 || b.Content()[0] != 0xcc {
		t.Fatal("MutableContent must copy the original content")
	}

	// makeExternal keeps edges valid: the same *Symbol now resolves elsewhere.
	g.MakeExternal(f)
	if !f.IsExternal() || f.Block() != nil || !slices.Contains(g.ExternalSymbols(), f) {
		t.Fatal("MakeExternal")
	}
	if slices.Contains(collect(g.DefinedSymbols()), f) {
		t.Fatal("MakeExternal left the symbol in its section")
	}
	g.MakeDefined(f, b, 1, 2, jitlink.Weak, jitlink.ScopeHidden, jitlink.Live)
	if f.Block() != b || f.Offset() != 1 || f.Linkage() != jitlink.Weak || slices.Contains(g.ExternalSymbols(), f) {
		t.Fatal("MakeDefined")
	}
	if !f.IsLive() || f.IsCallable() {
		t.Fatalf("MakeDefined with Live: live %v callable %v, want live and not callable", f.IsLive(), f.IsCallable())
	}
	if both := g.AddAnonymousSymbol(b, 0, 1, jitlink.Callable|jitlink.Live); !both.IsLive() || !both.IsCallable() {
		t.Fatal("AddAnonymousSymbol with Callable|Live")
	}
	if !weakExt.IsWeaklyReferenced() || weakExt.Linkage() != jitlink.Weak || ext.IsWeaklyReferenced() {
		t.Fatal("AddExternalSymbol: Weak linkage makes the reference weak, Strong does not")
	}

	g.RemoveSymbol(ext)
	g.RemoveSymbol(abs)
	if len(g.ExternalSymbols()) != 1 || len(g.AbsoluteSymbols()) != 0 || !ext.IsRemoved() {
		t.Fatal("RemoveSymbol")
	}
	g.RemoveSymbol(common)
	g.RemoveBlock(common.Block())
	if len(bss.Blocks()) != 1 {
		t.Fatal("RemoveBlock")
	}
	if s := g.AllocateString("x"); s != "x" {
		t.Fatal("AllocateString")
	}
	if c := g.AllocateContent([]byte{1, 2}); !bytes.Equal(c, []byte{1, 2}) {
		t.Fatal("AllocateContent")
	}
}

func TestSplitBlock(t *testing.T) {
	g := x86_64.NewLinkGraph("split.o")
	sec := g.CreateSection(".data", jitlink.ProtRead)
	b := g.CreateContentBlock(sec, []byte("0123456789abcdef"), 0x1000, 8, 0)
	s0 := g.AddDefinedSymbol(b, 0, "s0", 4, jitlink.Strong, jitlink.ScopeDefault, jitlink.NoAttrs)
	s6 := g.AddDefinedSymbol(b, 6, "s6", 4, jitlink.Strong, jitlink.ScopeDefault, jitlink.NoAttrs)
	s10 := g.AddDefinedSymbol(b, 10, "s10", 4, jitlink.Strong, jitlink.ScopeDefault, jitlink.NoAttrs)
	tgt := g.AddExternalSymbol("t", 0, jitlink.Strong)
	b.AddEdge(x86_64.Pointer32, 2, tgt, 0)
	b.AddEdge(x86_64.Pointer32, 12, tgt, 0)

	front := g.SplitBlock(b, 6)
	if string(front.Content()) != "012345" || string(b.Content()) != "6789abcdef" {
		t.Fatalf("content %q / %q", front.Content(), b.Content())
	}
	if front.Address() != 0x1000 || b.Address() != 0x1006 || b.AlignmentOffset() != 6 {
		t.Fatalf("addresses %#x %#x alignoff %d", front.Address(), b.Address(), b.AlignmentOffset())
	}
	if s0.Block() != front || s6.Block() != b || s6.Offset() != 0 || s10.Offset() != 4 {
		t.Fatal("symbols not redistributed")
	}
	if len(front.Edges()) != 1 || front.Edges()[0].Offset != 2 || len(b.Edges()) != 1 || b.Edges()[0].Offset != 6 {
		t.Fatalf("edges %v / %v", front.Edges(), b.Edges())
	}
}

// The layout honours alignment offsets and puts zero-fill after content.
func TestLayoutAlignment(t *testing.T) {
	g := x86_64.NewLinkGraph("layout.o")
	sec := g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	a := g.CreateContentBlock(sec, []byte{1, 2, 3}, 0, 1, 0)
	z := g.CreateZeroFillBlock(sec, 8, 0x10, 8, 0)
	// One byte then a uint64: 8-aligned with offset 7.
	c := g.CreateContentBlock(sec, make([]byte, 9), 0x20, 8, 7)
	for _, b := range []*jitlink.Block{a, z, c} {
		g.AddAnonymousSymbol(b, 0, b.Size(), jitlink.Live)
	}
	lay := jitlink.ComputeLayout(g)
	if len(lay.Segments) != 1 {
		t.Fatalf("%d segments", len(lay.Segments))
	}
	seg := lay.Segments[0]
	if seg.Blocks[0] != a || seg.Blocks[1] != c || seg.Blocks[2] != z {
		t.Fatal("zero-fill blocks must follow content blocks")
	}
	if !slices.Equal(seg.Offsets, []uint64{0, 7, 16}) {
		t.Fatalf("offsets %v, want [0 7 16]", seg.Offsets)
	}
	if seg.Request.ContentSize != 16 || seg.Request.ZeroFillSize != 8 || seg.Request.Align != 8 {
		t.Fatalf("request %+v", seg.Request)
	}
}

// Segments are grouped by protection; sections keep their ordinal order.
func TestLayoutSegments(t *testing.T) {
	g := x86_64.NewLinkGraph("segs.o")
	data := g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	ro := g.CreateSection(".rodata", jitlink.ProtRead)
	text2 := g.CreateSection(".text.hot", jitlink.ProtRead|jitlink.ProtExec)
	text2.SetOrdinal(-1)
	for _, s := range []*jitlink.Section{data, text, ro, text2} {
		b := g.CreateContentBlock(s, []byte{0}, 0, 1, 0)
		g.AddAnonymousSymbol(b, 0, 1, jitlink.Live)
	}
	lay := jitlink.ComputeLayout(g)
	var got []string
	for _, seg := range lay.Segments {
		var secs []string
		for _, b := range seg.Blocks {
			secs = append(secs, b.Section().Name())
		}
		got = append(got, seg.Request.Prot.String()+":"+strings.Join(secs, ","))
	}
	want := []string{"R-X:.text.hot,.text", "R--:.rodata", "RW-:.data"}
	if !slices.Equal(got, want) {
		t.Fatalf("segments %q, want %q", got, want)
	}
}

// Dead-stripping keeps what live symbols reach, including through
// keep-alive edges, and drops the rest.
func TestPrune(t *testing.T) {
	g := x86_64.NewLinkGraph("prune.o")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	mk := func(name string) (*jitlink.Block, *jitlink.Symbol) {
		b := g.CreateContentBlock(text, make([]byte, 8), 0, 1, 0)
		return b, g.AddDefinedSymbol(b, 0, name, 8, jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable)
	}
	rootB, root := mk("root")
	calleeB, callee := mk("callee")
	fdeB, fde := mk("fde")
	_, dead := mk("dead")
	used := g.AddExternalSymbol("used", 0, jitlink.Strong)
	unused := g.AddExternalSymbol("unused", 0, jitlink.Strong)
	rootB.AddEdge(x86_64.BranchPCRel32, 1, callee, -4)
	calleeB.AddEdge(x86_64.BranchPCRel32, 1, used, -4)
	calleeB.AddEdge(jitlink.KeepAlive, 0, fde, 0)
	_ = fdeB
	root.SetLive(true)
	jitlink.Prune(g)
	if got := names(collect(g.DefinedSymbols())); !slices.Equal(got, []string{"callee", "fde", "root"}) {
		t.Fatalf("kept %q", got)
	}
	if !dead.IsRemoved() || !unused.IsRemoved() || used.IsRemoved() {
		t.Fatal("dead and unused symbols must be removed, used ones kept")
	}
	if len(text.Blocks()) != 3 {
		t.Fatalf("%d blocks kept, want 3", len(text.Blocks()))
	}
}

// A pass error fails the link and the context hears about it.
func TestPassErrorFailsLink(t *testing.T) {
	g := x86_64.NewLinkGraph("fail.o")
	sec := g.CreateSection(".data", jitlink.ProtRead)
	b := g.CreateContentBlock(sec, []byte{0}, 0, 1, 0)
	g.AddDefinedSymbol(b, 0, "x", 1, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	for _, phase := range []string{"pre-prune", "post-prune", "post-allocation", "pre-fixup", "post-fixup"} {
		err := jitlinktest.Link(g, jitlinktest.Options{Passes: func(cfg *jitlink.PassConfig) {
			fail := func(*jitlink.LinkGraph) error {
				return &jitlink.UnsupportedError{File: "fail.o", Offset: -1, What: phase}
			}
			switch phase {
			case "pre-prune":
				cfg.PrePrune = append(cfg.PrePrune, fail)
			case "post-prune":
				cfg.PostPrune = append(cfg.PostPrune, fail)
			case "post-allocation":
				cfg.PostAllocation = append(cfg.PostAllocation, fail)
			case "pre-fixup":
				cfg.PreFixup = append(cfg.PreFixup, fail)
			case "post-fixup":
				cfg.PostFixup = append(cfg.PostFixup, fail)
			}
		}})
		if err == nil || !strings.Contains(err.Error(), phase) {
			t.Errorf("%s: want the pass error, got %v", phase, err)
		}
	}
}

func TestUndefinedExternal(t *testing.T) {
	g := x86_64.NewLinkGraph("undef.o")
	sec := g.CreateSection(".data", jitlink.ProtRead)
	b := g.CreateContentBlock(sec, make([]byte, 16), 0, 8, 0)
	g.AddDefinedSymbol(b, 0, "x", 16, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	b.AddEdge(x86_64.Pointer64, 0, g.AddExternalSymbol("needed", 0, jitlink.Strong), 0)
	b.AddEdge(x86_64.Pointer64, 8, g.AddExternalSymbol("optional", 0, jitlink.Weak), 0)
	err := jitlinktest.Link(g, jitlinktest.Options{})
	var ue *jitlink.UndefinedSymbolsError
	if !errorsAs(err, &ue) || !slices.Equal(ue.Names, []string{"needed"}) || ue.Graph != "undef.o" {
		t.Fatalf("want an UndefinedSymbolsError for needed only, got %v", err)
	}
	// A weak reference alone may stay undefined and reads as 0.
	g2 := x86_64.NewLinkGraph("weak.o")
	b2 := g2.CreateContentBlock(g2.CreateSection(".data", jitlink.ProtRead), bytes.Repeat([]byte{0xff}, 8), 0, 8, 0)
	g2.AddDefinedSymbol(b2, 0, "y", 8, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	b2.AddEdge(x86_64.Pointer64, 0, g2.AddExternalSymbol("optional", 0, jitlink.Weak), 0)
	if err := jitlinktest.Link(g2, jitlinktest.Options{}); err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint64(b2.Content()); v != 0 {
		t.Fatalf("weak undefined resolved to %#x, want 0", v)
	}
}

func TestDump(t *testing.T) {
	g := x86_64.NewLinkGraph("dump.o")
	b := g.CreateContentBlock(g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec), make([]byte, 5), 0, 16, 0)
	g.AddDefinedSymbol(b, 0, "main", 5, jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	b.AddEdge(x86_64.BranchPCRel32, 1, g.AddExternalSymbol("puts", 0, jitlink.Strong), -4)
	var buf bytes.Buffer
	if err := g.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`LinkGraph "dump.o" (triple = x86_64-unknown-linux-gnu)`, "section .text R-X", "symbol 0x0+0x0 main", "edge +0x1 BranchPCRel32 -> puts -0x4", "external puts"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, buf.String())
		}
	}
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

// A definition that lost to another graph's becomes an external reference;
// the interface (named, non-local definitions) is what stays live.
func TestExternalizeLosersAndMarkExportsLive(t *testing.T) {
	g := x86_64.NewLinkGraph("t.o")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	def := func(name string, l jitlink.Linkage, sc jitlink.Scope) *jitlink.Symbol {
		b := g.CreateContentBlock(text, make([]byte, 4), 0, 1, 0)
		return g.AddDefinedSymbol(b, 0, name, 4, l, sc, jitlink.Callable)
	}
	won := def("won", jitlink.Weak, jitlink.ScopeDefault)
	lost := def("lost", jitlink.Weak, jitlink.ScopeDefault)
	local := def("local", jitlink.Strong, jitlink.ScopeLocal)
	pass := jitlink.ExternalizeLosers(func(s *jitlink.Symbol) bool { return s != lost && s != local })
	if err := pass(g); err != nil {
		t.Fatal(err)
	}
	if !lost.IsExternal() || !lost.IsWeaklyReferenced() || won.IsExternal() || local.IsExternal() {
		t.Fatalf("after the pass: lost %v, won %v, local %v; want only lost external (and weakly referenced)", lost, won, local)
	}
	if err := jitlink.MarkExportsLive(g); err != nil {
		t.Fatal(err)
	}
	if !won.IsLive() || local.IsLive() {
		t.Fatalf("live: won %v local %v, want only the export", won.IsLive(), local.IsLive())
	}
}
