package aarch64_test

import (
	"testing"

	"golang.org/x/arch/arm64/arm64asm"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
)

// A call to a function beyond B/BL range goes through a veneer (the PLT
// stub: adrp/ldr/br x16 through a GOT entry holding the full address); a
// call to one in range goes straight to it.
func TestBranchRangeExtension(t *testing.T) {
	const (
		far  = base + 0x400000000 // 16 GiB away
		back = base - 0x8000004   // just out of range backwards
		near = base + 0x1000
	)
	g := aarch64.NewLinkGraph("calls.o")
	sec := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	code := le.AppendUint32(nil, bl)
	code = le.AppendUint32(code, bl)
	code = le.AppendUint32(code, b)
	code = le.AppendUint32(code, bl)
	blk := g.CreateMutableContentBlock(sec, code, 0, 4, 0)
	g.AddDefinedSymbol(blk, 0, "caller", uint64(len(code)), jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	for i, name := range []string{"far", "near", "far", "back"} {
		var tgt *jitlink.Symbol
		for _, s := range g.ExternalSymbols() {
			if s.Name() == name {
				tgt = s
			}
		}
		if tgt == nil {
			tgt = g.AddExternalSymbol(name, 0, jitlink.Strong)
		}
		blk.AddEdge(aarch64.Branch26PCRel, uint32(4*i), tgt, 0)
	}
	mem := &jitlinktest.Memory{Base: base}
	err := jitlinktest.Link(g, jitlinktest.Options{Memory: mem, Externals: map[string]uint64{"far": far, "near": near, "back": back}})
	if err != nil {
		t.Fatal(err)
	}
	read := func(addr uint64, n int) []byte {
		for _, s := range mem.Segments {
			if addr >= s.Addr && addr+uint64(n) <= s.Addr+uint64(len(s.Working)) {
				return s.Working[addr-s.Addr:][:n]
			}
		}
		t.Fatalf("no memory at %#x", addr)
		return nil
	}
	decode := func(addr uint64) arm64asm.Inst {
		inst, err := arm64asm.Decode(read(addr, 4))
		if err != nil {
			t.Fatalf("at %#x: %v", addr, err)
		}
		return inst
	}
	branchTarget := func(addr uint64) uint64 {
		return addr + uint64(int64(decode(addr).Args[0].(arm64asm.PCRel)))
	}
	// veneerTarget follows a stub and returns the address its GOT entry holds.
	veneerTarget := func(stub uint64) uint64 {
		adrp, ldr, br := decode(stub), decode(stub+4), decode(stub+8)
		if adrp.Op != arm64asm.ADRP || ldr.Op != arm64asm.LDR || br.Op != arm64asm.BR || br.Args[0] != arm64asm.X16 {
			t.Fatalf("stub at %#x is %v; %v; %v", stub, adrp, ldr, br)
		}
		page := stub&^0xfff + uint64(int64(adrp.Args[1].(arm64asm.PCRel)))
		off := uint64(le.Uint32(read(stub+4, 4))>>10&0xfff) * 8 // the LDR's scaled imm12
		return le.Uint64(read(page+off, 8))
	}
	caller := blk.Address()
	if got := branchTarget(caller + 4); got != near {
		t.Errorf("bl near goes to %#x, want %#x directly", got, near)
	}
	for _, c := range []struct {
		at   uint64
		want uint64
	}{{caller, far}, {caller + 8, far}, {caller + 12, back}} {
		stub := branchTarget(c.at)
		if stub == c.want {
			t.Fatalf("branch at %#x goes straight to its out-of-range target", c.at)
		}
		if got := veneerTarget(stub); got != c.want {
			t.Errorf("branch at %#x: veneer at %#x goes to %#x, want %#x", c.at, stub, got, c.want)
		}
	}
	if branchTarget(caller) != branchTarget(caller+8) {
		t.Errorf("two branches to far use different veneers")
	}
}
