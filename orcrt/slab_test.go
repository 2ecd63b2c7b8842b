package orcrt_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orcrt"
)

// TestSlabMemoryOverTheWire drives slab memory as gorc's controller does,
// and as a confused one might: the slab keeps its own record of what is
// in use, so finalizing memory in use, a segment in the wrong region and
// releasing twice are errors; released memory reads as zero again.
func TestSlabMemoryOverTheWire(t *testing.T) {
	s := orcrt.NewSession()
	if err := orcrt.AddServices(s, orcrt.MaxReserved(3<<20)); err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s, nil)
	inst := sps.Addr(c.syms[protocol.SlabMemoryInstance])
	reserve := func(size uint64) (protocol.SlabReservation, error) {
		return sps.CallExpected[protocol.SlabReservation](c, c.syms[protocol.SlabMemoryReserve], protocol.ReserveArgs{Instance: inst, Size: size})
	}
	r, err := reserve(2 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reserve(2 << 20); err == nil || !strings.Contains(err.Error(), "limit of 3145728 bytes") {
		t.Fatalf("reserving past MaxReserved: %v", err)
	}
	if len(r.Regions) != 3 || !strings.HasPrefix(r.Path, "/proc/") {
		t.Fatalf("reservation %+v", r)
	}
	rw := r.Regions[2]
	if rw.Prot != protocol.ProtRead|protocol.ProtWrite {
		t.Fatalf("third region has protection %d", rw.Prot)
	}
	finalize := func(segs ...protocol.Segment) error {
		return sps.CallError(c, c.syms[protocol.SlabMemoryFinalize], protocol.FinalizeArgs{Instance: inst, Request: protocol.FinalizeRequest{Segments: segs}})
	}
	release := func(addr sps.Addr) error {
		return sps.CallError(c, c.syms[protocol.SlabMemoryRelease], protocol.DeallocateArgs{Instance: inst, Bases: []sps.Addr{addr}})
	}
	seg := protocol.Segment{Prot: rw.Prot, Addr: rw.Addr + 128, Size: 100, Content: []byte("hello")}
	if err := finalize(seg); err != nil {
		t.Fatal(err)
	}
	if got := unsafeRead(uint64(seg.Addr), 8); !bytes.Equal(got, []byte("hello\x00\x00\x00")) {
		t.Fatalf("slab holds %q", got)
	}
	for _, tc := range []struct {
		name string
		seg  protocol.Segment
		msg  string
	}{
		{"overlapping", protocol.Segment{Prot: rw.Prot, Addr: rw.Addr + 192, Size: 8}, "in use"},
		{"wrong region", protocol.Segment{Prot: protocol.ProtRead | protocol.ProtExec, Addr: rw.Addr + 1024, Size: 8}, "its region is"},
		{"outside", protocol.Segment{Prot: rw.Prot, Addr: 0x1000, Size: 8}, "not in a slab"},
		{"past the end", protocol.Segment{Prot: rw.Prot, Addr: rw.Addr + sps.Addr(rw.Size) - 64, Size: 128}, "does not fit"},
	} {
		if err := finalize(tc.seg); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("finalizing %s: %v, want an error with %q", tc.name, err, tc.msg)
		}
	}
	if err := release(seg.Addr); err != nil {
		t.Fatal(err)
	}
	if err := release(seg.Addr); err == nil {
		t.Fatal("released twice")
	}
	if got := unsafeRead(uint64(seg.Addr), 8); !bytes.Equal(got, make([]byte, 8)) {
		t.Fatalf("released memory holds %q", got)
	}
}
