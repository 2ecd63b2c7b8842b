package orcrt_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orcrt"
)

// Both memory services flush exactly the code segments they finalize,
// before running the finalize actions.
func TestCodeFlush(t *testing.T) {
	type flushed struct{ addr, size uint64 }
	var mu sync.Mutex
	var got []flushed
	s := orcrt.NewSession()
	err := orcrt.AddServices(s, orcrt.CodeFlush(func(addr, size uint64) {
		mu.Lock()
		got = append(got, flushed{addr, size})
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s, nil)
	check := func(what string, code protocol.Segment) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if want := []flushed{{uint64(code.Addr), code.Size}}; !slices.Equal(got, want) {
			t.Errorf("%s: flushed %v, want %v", what, got, want)
		}
		got = nil
	}

	inst := sps.Addr(c.syms[protocol.MemoryManagerInstance])
	base, err := sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerReserve], protocol.ReserveArgs{Instance: inst, Size: 0x2000})
	if err != nil {
		t.Fatal(err)
	}
	code := protocol.Segment{Prot: protocol.ProtRead | protocol.ProtExec, Addr: base, Size: 0x1000, Content: []byte{1, 2, 3}}
	data := protocol.Segment{Prot: protocol.ProtRead | protocol.ProtWrite, Addr: base + 0x1000, Size: 0x1000}
	req := protocol.FinalizeRequest{Segments: []protocol.Segment{code, data}}
	if err := sps.CallError(c, c.syms[protocol.MemoryManagerFinalize], protocol.FinalizeArgs{Instance: inst, Request: req}); err != nil {
		t.Fatal(err)
	}
	check("memory manager", code)

	inst = sps.Addr(c.syms[protocol.SlabMemoryInstance])
	r, err := sps.CallExpected[protocol.SlabReservation](c, c.syms[protocol.SlabMemoryReserve], protocol.ReserveArgs{Instance: inst, Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	code = protocol.Segment{Prot: r.Regions[0].Prot, Addr: r.Regions[0].Addr + 64, Size: 100, Content: []byte{1, 2, 3}}
	data = protocol.Segment{Prot: r.Regions[2].Prot, Addr: r.Regions[2].Addr, Size: 64}
	if code.Prot&protocol.ProtExec == 0 {
		t.Fatalf("first slab region has protection %d", code.Prot)
	}
	req = protocol.FinalizeRequest{Segments: []protocol.Segment{code, data}}
	if err := sps.CallError(c, c.syms[protocol.SlabMemoryFinalize], protocol.FinalizeArgs{Instance: inst, Request: req}); err != nil {
		t.Fatal(err)
	}
	check("slab memory", code)
}
