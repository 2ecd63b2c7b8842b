package x86_64_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

const base = 0x10000 // first segment address in these tests

// fixup links a 16-byte data block carrying one edge at offset 4 to an
// absolute target, and returns the block's bytes.
func fixup(t *testing.T, kind jitlink.EdgeKind, target uint64, size uint64, addend int64) ([]byte, error) {
	t.Helper()
	g := x86_64.NewLinkGraph("test.o")
	sec := g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	b := g.CreateMutableContentBlock(sec, bytes.Repeat([]byte{0xaa}, 16), 0, 16, 0)
	g.AddDefinedSymbol(b, 0, "data", 16, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	tgt := g.AddAbsoluteSymbol("target", target, size, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	b.AddEdge(kind, 4, tgt, addend)
	err := jitlinktest.Link(g, jitlinktest.Options{})
	return b.Content(), err
}

func TestFixups(t *testing.T) {
	const P = base + 4 // fixup address
	le := binary.LittleEndian
	u64 := func(v uint64) []byte { return le.AppendUint64(nil, v) }
	u32 := func(v uint32) []byte { return le.AppendUint32(nil, v) }
	u16 := func(v uint16) []byte { return le.AppendUint16(nil, v) }
	for _, tc := range []struct {
		name   string
		kind   jitlink.EdgeKind
		target uint64
		size   uint64
		addend int64
		want   []byte // bytes at offset 4; nil means out of range
	}{
		{"Pointer64", x86_64.Pointer64, 0x1122334455667788, 0, 8, u64(0x1122334455667790)},
		{"Pointer64/neg-addend", x86_64.Pointer64, 0x1000, 0, -0x10, u64(0xff0)},
		{"Pointer32", x86_64.Pointer32, 0xfffffff0, 0, 0xf, u32(0xffffffff)},
		{"Pointer32/overflow", x86_64.Pointer32, 0xfffffff0, 0, 0x10, nil},
		{"Pointer32Signed", x86_64.Pointer32Signed, 0x7ffffff0, 0, 0xf, u32(0x7fffffff)},
		{"Pointer32Signed/overflow", x86_64.Pointer32Signed, 0x80000000, 0, 0, nil},
		{"Pointer32Signed/negative", x86_64.Pointer32Signed, 0, 0, -8, u32(0xfffffff8)},
		{"Pointer16", x86_64.Pointer16, 0xfff0, 0, 0xf, u16(0xffff)},
		{"Pointer16/negative", x86_64.Pointer16, 0, 0, -1, u16(0xffff)},
		{"Pointer16/overflow", x86_64.Pointer16, 0x10000, 0, 0, nil},
		{"Pointer8", x86_64.Pointer8, 0xf0, 0, 0xf, []byte{0xff}},
		{"Pointer8/overflow", x86_64.Pointer8, 0x100, 0, 0, nil},
		{"Delta64", x86_64.Delta64, 0x123456789, 0, 2, u64(0x123456789 + 2 - P)},
		{"Delta32/forward", x86_64.Delta32, P + 0x100, 0, -4, u32(0xfc)},
		{"Delta32/backward", x86_64.Delta32, P - 0x100, 0, -4, u32(0xfffffefc)},
		{"Delta32/overflow", x86_64.Delta32, P + 0x80000000, 0, 0, nil},
		{"Delta16", x86_64.Delta16, P + 0x7fff, 0, 0, u16(0x7fff)},
		{"Delta16/overflow", x86_64.Delta16, P + 0x8000, 0, 0, nil},
		{"Delta8", x86_64.Delta8, P - 0x80, 0, 0, []byte{0x80}},
		{"Delta8/overflow", x86_64.Delta8, P - 0x81, 0, 0, nil},
		{"NegDelta64", x86_64.NegDelta64, P - 0x40, 0, 1, u64(0x41)},
		{"NegDelta32", x86_64.NegDelta32, P - 0x40, 0, 0, u32(0x40)},
		{"NegDelta32/overflow", x86_64.NegDelta32, P + 0x80000001, 0, 0, nil},
		{"BranchPCRel32", x86_64.BranchPCRel32, P + 0x1000, 0, -4, u32(0xffc)},
		{"Size32", x86_64.Size32, 0x999, 0x40, 2, u32(0x42)},
		{"Size64", x86_64.Size64, 0x999, 0x1000000000, 0, u64(0x1000000000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fixup(t, tc.kind, tc.target, tc.size, tc.addend)
			if tc.want == nil {
				var fe *jitlink.FixupError
				if !errors.As(err, &fe) {
					t.Fatalf("want an out-of-range FixupError, got %v", err)
				}
				kindName, _, _ := strings.Cut(tc.name, "/")
				for _, s := range []string{"test.o", ".data", "offset 0x4", `relocation target "target" at address ` + fmt.Sprintf("%#x", tc.target), "out of range of " + kindName + " fixup"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if fe.Value == 0 || fe.TargetAddr != tc.target || fe.Addend != tc.addend {
					t.Errorf("FixupError fields: value %#x, target %#x, addend %#x", fe.Value, fe.TargetAddr, fe.Addend)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append(append(bytes.Repeat([]byte{0xaa}, 4), tc.want...), bytes.Repeat([]byte{0xaa}, 12-len(tc.want))...)
			if !bytes.Equal(got, want) {
				t.Fatalf("bytes\n got % x\nwant % x", got, want)
			}
		})
	}
}

func TestFixupPastEndOfBlock(t *testing.T) {
	g := x86_64.NewLinkGraph("short.o")
	sec := g.CreateSection(".data", jitlink.ProtRead)
	b := g.CreateMutableContentBlock(sec, make([]byte, 6), 0, 8, 0)
	g.AddDefinedSymbol(b, 0, "d", 6, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	b.AddEdge(x86_64.Pointer64, 2, g.AddAbsoluteSymbol("t", 1, 0, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live), 0)
	err := jitlinktest.Link(g, jitlinktest.Options{})
	var fe *jitlink.FixupError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "past the end") {
		t.Fatalf("want a FixupError about the field size, got %v", err)
	}
}

// codeGraph returns a graph with one code block holding code, a live symbol
// "f" at its start, and an external symbol "ext".
func codeGraph(code []byte) (*jitlink.LinkGraph, *jitlink.Block, *jitlink.Symbol) {
	g := x86_64.NewLinkGraph("code.o")
	sec := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	b := g.CreateMutableContentBlock(sec, append([]byte(nil), code...), 0, 16, 0)
	g.AddDefinedSymbol(b, 0, "f", uint64(len(code)), jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	return g, b, g.AddExternalSymbol("ext", 0, jitlink.Strong)
}

func rel32(from, to uint64) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(to-from))
}

func sectionBlocks(g *jitlink.LinkGraph, name string) []*jitlink.Block {
	if s := g.FindSection(name); s != nil {
		return s.Blocks()
	}
	return nil
}

// gotEntryFor returns the address of the GOT entry for a target and the
// pointer stored in it.
func gotEntryFor(t *testing.T, g *jitlink.LinkGraph, target string) (addr, value uint64) {
	t.Helper()
	for _, b := range sectionBlocks(g, x86_64.GOTSectionName) {
		for _, e := range b.Edges() {
			if e.Target.Name() == target {
				return b.Address() + uint64(e.Offset), binary.LittleEndian.Uint64(b.Content()[e.Offset:])
			}
		}
	}
	t.Fatalf("no GOT entry for %s", target)
	return 0, 0
}

func TestGOTLoadRelaxation(t *testing.T) {
	const near, far = base + 0x5000, 0x7fff00000000
	for _, tc := range []struct {
		name   string
		code   []byte
		kind   jitlink.EdgeKind
		target uint64
		// want builds the expected bytes given the code address, the
		// target's GOT entry address, and the target.
		want func(code, got, target uint64) []byte
	}{
		{"mov-rex/near->lea", []byte{0x48, 0x8b, 0x05, 0, 0, 0, 0}, x86_64.RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable, near,
			func(c, got, tgt uint64) []byte { return append([]byte{0x48, 0x8d, 0x05}, rel32(c+7, tgt)...) }},
		{"mov-rex/far->got", []byte{0x48, 0x8b, 0x05, 0, 0, 0, 0}, x86_64.RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable, far,
			func(c, got, tgt uint64) []byte { return append([]byte{0x48, 0x8b, 0x05}, rel32(c+7, got)...) }},
		{"mov-norex/near->lea", []byte{0x8b, 0x0d, 0, 0, 0, 0}, x86_64.RequestGOTAndTransformToPCRel32GOTLoadRelaxable, near,
			func(c, got, tgt uint64) []byte { return append([]byte{0x8d, 0x0d}, rel32(c+6, tgt)...) }},
		{"call/near->addr32-call", []byte{0xff, 0x15, 0, 0, 0, 0}, x86_64.RequestGOTAndTransformToPCRel32GOTLoadRelaxable, near,
			func(c, got, tgt uint64) []byte { return append([]byte{0x67, 0xe8}, rel32(c+6, tgt)...) }},
		{"call/far->got", []byte{0xff, 0x15, 0, 0, 0, 0}, x86_64.RequestGOTAndTransformToPCRel32GOTLoadRelaxable, far,
			func(c, got, tgt uint64) []byte { return append([]byte{0xff, 0x15}, rel32(c+6, got)...) }},
		{"jmp/near->jmp-nop", []byte{0xff, 0x25, 0, 0, 0, 0}, x86_64.RequestGOTAndTransformToPCRel32GOTLoadRelaxable, near,
			func(c, got, tgt uint64) []byte { return append(append([]byte{0xe9}, rel32(c+5, tgt)...), 0x90) }},
		{"plain-gotpcrel/near->got", []byte{0x48, 0x8b, 0x05, 0, 0, 0, 0}, x86_64.RequestGOTAndTransformToDelta32, near,
			func(c, got, tgt uint64) []byte { return append([]byte{0x48, 0x8b, 0x05}, rel32(c+7, got)...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, b, ext := codeGraph(tc.code)
			fieldOff := uint32(len(tc.code) - 4)
			b.AddEdge(tc.kind, fieldOff, ext, -4)
			if err := jitlinktest.Link(g, jitlinktest.Options{Externals: map[string]uint64{"ext": tc.target}}); err != nil {
				t.Fatal(err)
			}
			gotAddr, gotVal := gotEntryFor(t, g, "ext")
			if gotVal != tc.target {
				t.Errorf("GOT entry holds %#x, want %#x", gotVal, tc.target)
			}
			want := tc.want(b.Address(), gotAddr, tc.target)
			if !bytes.Equal(b.Content(), want) {
				t.Fatalf("code\n got % x\nwant % x", b.Content(), want)
			}
		})
	}
}

func TestPLTStubs(t *testing.T) {
	const near, far = base + 0x5000, 0x7fff00000000
	for _, target := range []uint64{near, far} {
		g, b, ext := codeGraph([]byte{0xe8, 0, 0, 0, 0, 0xc3})
		b.AddEdge(x86_64.BranchPCRel32, 1, ext, -4)
		if err := jitlinktest.Link(g, jitlinktest.Options{Externals: map[string]uint64{"ext": target}}); err != nil {
			t.Fatal(err)
		}
		stubs := sectionBlocks(g, x86_64.StubsSectionName)
		if len(stubs) != 1 {
			t.Fatalf("want one stub block, got %d", len(stubs))
		}
		stub := stubs[0]
		gotAddr, gotVal := gotEntryFor(t, g, "ext")
		if gotVal != target {
			t.Errorf("GOT entry holds %#x, want %#x", gotVal, target)
		}
		// The stub jumps through the GOT entry.
		wantStub := append([]byte{0xff, 0x25}, rel32(stub.Address()+6, gotAddr)...)
		if !bytes.Equal(stub.Content()[:6], wantStub) {
			t.Errorf("stub % x, want % x", stub.Content()[:6], wantStub)
		}
		// Near targets are called directly, far ones through the stub.
		dest := uint64(target)
		if target == far {
			dest = stub.Address()
		}
		want := append(append([]byte{0xe8}, rel32(b.Address()+5, dest)...), 0xc3)
		if !bytes.Equal(b.Content(), want) {
			t.Errorf("target %#x: call\n got % x\nwant % x", target, b.Content(), want)
		}
	}
}

// Calls to a symbol defined in the same graph never go through a stub.
func TestBranchToDefinedSymbolIsDirect(t *testing.T) {
	g, b, _ := codeGraph([]byte{0xe8, 0, 0, 0, 0, 0xc3, 0x90, 0x90, 0xc3})
	callee := g.AddDefinedSymbol(b, 8, "callee", 1, jitlink.Strong, jitlink.ScopeLocal, jitlink.Callable)
	b.AddEdge(x86_64.BranchPCRel32, 1, callee, -4)
	if err := jitlinktest.Link(g, jitlinktest.Options{}); err != nil {
		t.Fatal(err)
	}
	if s := g.FindSection(x86_64.StubsSectionName); s != nil && len(s.Blocks()) > 0 {
		t.Fatal("stub made for a defined target")
	}
	if got := binary.LittleEndian.Uint32(b.Content()[1:]); got != 3 {
		t.Fatalf("rel32 = %#x, want 3", got)
	}
}

// GOT-relative kinds (large code model) use the GOT base symbol.
func TestGOTRelative(t *testing.T) {
	// movabs $_GLOBAL_OFFSET_TABLE_-., %r11 ; movabs $data@GOTOFF, %rax ;
	// movabs $ext@GOT, %rcx
	code := []byte{
		0x49, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0,
		0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
		0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0,
	}
	g, b, ext := codeGraph(code)
	data := g.AddDefinedSymbol(b, 4, "local", 0, jitlink.Strong, jitlink.ScopeLocal, jitlink.NoAttrs)
	gotSym := x86_64.GOTSymbol(g)
	b.AddEdge(x86_64.Delta64, 2, gotSym, 2)
	b.AddEdge(x86_64.Delta64FromGOT, 12, data, 0)
	b.AddEdge(x86_64.RequestGOTAndTransformToDelta64FromGOT, 22, ext, 0)
	if err := jitlinktest.Link(g, jitlinktest.Options{Externals: map[string]uint64{"ext": 0x1234}}); err != nil {
		t.Fatal(err)
	}
	if !gotSym.IsDefined() {
		t.Fatal("_GLOBAL_OFFSET_TABLE_ was not defined")
	}
	got := gotSym.Address()
	c, le := b.Content(), binary.LittleEndian
	if v := le.Uint64(c[2:]); v != got+2-(b.Address()+2) {
		t.Errorf("GOTPC64 = %#x, want %#x", v, got+2-(b.Address()+2))
	}
	if v := le.Uint64(c[12:]); v != b.Address()+4-got {
		t.Errorf("GOTOFF64 = %#x, want %#x", v, b.Address()+4-got)
	}
	entry, val := gotEntryFor(t, g, "ext")
	if v := le.Uint64(c[22:]); v != entry-got || val != 0x1234 {
		t.Errorf("GOT64 = %#x (entry holds %#x), want %#x", v, val, entry-got)
	}
}

func TestUnloweredEdgeIsAnError(t *testing.T) {
	g, b, ext := codeGraph(make([]byte, 8))
	b.AddEdge(x86_64.RequestGOTAndTransformToDelta32, 0, ext, 0)
	err := x86_64.ApplyFixup(g, b, &b.Edges()[0], 0)
	if err == nil || !strings.Contains(err.Error(), "not lowered") {
		t.Fatalf("want an error for an unlowered GOT request, got %v", err)
	}
}
