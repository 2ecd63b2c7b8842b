package x86_64

import (
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
)

// TestFarExternals links a block below 2 GiB with 32-bit references to a
// far function (sent to a stub), a far copyable variable (sent to a
// read-only copy of its value), a far variable that cannot be copied (an
// error naming it) and a near symbol (left alone).
func TestFarExternals(t *testing.T) {
	g := NewLinkGraph("far.o")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	b := g.CreateMutableContentBlock(text, make([]byte, 32), 0, 16, 0)
	g.AddDefinedSymbol(b, 0, "main", 32, jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	fn := g.AddExternalSymbol("printf", 0, jitlink.Strong)
	stdout := g.AddExternalSymbol("stdout", 0, jitlink.Strong)
	optind := g.AddExternalSymbol("optind", 0, jitlink.Strong)
	near := g.AddExternalSymbol("near", 0, jitlink.Strong)
	b.AddEdge(Pointer32, 0, fn, 0)
	b.AddEdge(Delta32, 8, stdout, -4)
	b.AddEdge(Delta32, 16, optind, -4)
	b.AddEdge(Pointer32Signed, 24, near, 0)

	const far = 0x7f0000000000
	fe := FarExternals{
		IsCode: func(addr uint64) bool { return addr == far+0x1000 },
		Copy: func(name string) (string, bool) {
			return "_IO_2_1_stdout_", name == "stdout"
		},
	}
	postPrune, preFixup := fe.Passes()
	if err := postPrune(g); err != nil {
		t.Fatal(err)
	}
	copies, stubs := g.FindSection(CopiesSectionName), g.FindSection(StubsSectionName)
	if copies == nil || stubs == nil || copies.Prot()&jitlink.ProtWrite != 0 {
		t.Fatalf("copies %v, stubs %v: want both, copies read-only", copies, stubs)
	}

	// Lay out below 2 GiB; the library lies far above.
	addr := uint64(0x40000000)
	for _, sec := range g.Sections() {
		for _, blk := range sec.Blocks() {
			blk.SetAddress(addr)
			addr += 0x1000
		}
	}
	for _, s := range g.ExternalSymbols() {
		s.Addressable().SetAddress(far + 0x5000)
	}
	fn.Addressable().SetAddress(far + 0x1000)
	stdout.Addressable().SetAddress(far + 0x2000)
	optind.Addressable().SetAddress(far + 0x3000)
	near.Addressable().SetAddress(0x50000000)

	err := preFixup(g)
	if err == nil || !strings.Contains(err.Error(), "optind") || !strings.Contains(err.Error(), "-fPIC") {
		t.Fatalf("want an error naming optind and -fPIC, got %v", err)
	}
	if strings.Contains(err.Error(), "stdout") || strings.Contains(err.Error(), "printf") {
		t.Errorf("error names a symbol that has an answer: %v", err)
	}
	edges := b.Edges()
	if s := edges[0].Target; s.Block() == nil || s.Block().Section() != stubs || TableTarget(TableTarget(s)) != fn {
		t.Errorf("printf's address: target %v, want its stub", s)
	}
	if s := edges[1].Target; s.Block() == nil || s.Block().Section() != copies || s.Block().Edges()[0].Target.Name() != "_IO_2_1_stdout_" {
		t.Errorf("stdout: target %v, want a copy holding _IO_2_1_stdout_", s)
	}
	if edges[3].Target != near {
		t.Errorf("near symbol redirected to %v", edges[3].Target)
	}
	for _, e := range edges {
		if e.Target == optind || e.Target == near {
			continue
		}
		if !inRange32(b, &e, e.Target.Address()) {
			t.Errorf("%s edge at %d still out of range", KindName(e.Kind), e.Offset)
		}
	}
}
