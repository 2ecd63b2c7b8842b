package orcrt_test

import (
	"bytes"
	"slices"
	"strings"
	"sync"
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

// TestSlabBatchAndReleaseTogether: finalize_batch finalizes each request
// on its own (one bad request fails alone), and one release of several
// neighbouring allocations runs their dealloc actions newest first and
// leaves their memory zero and free as one range, large enough to be
// punched out of the file.
func TestSlabBatchAndReleaseTogether(t *testing.T) {
	s, action, log := sessionWithActionLog(t)
	c, _ := connect(t, s, nil)
	inst := sps.Addr(c.syms[protocol.SlabMemoryInstance])
	r, err := sps.CallExpected[protocol.SlabReservation](c, c.syms[protocol.SlabMemoryReserve], protocol.ReserveArgs{Instance: inst, Size: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rw := r.Regions[2]
	piece := (rw.Size / 4) &^ 63
	if 3*piece < 1<<20 {
		t.Fatalf("read-write region of %d bytes: too small for this test", rw.Size)
	}
	var reqs []protocol.FinalizeRequest
	var bases []sps.Addr
	for i, name := range []string{"a", "b", "c"} {
		addr := rw.Addr + sps.Addr(uint64(i)*piece)
		content := bytes.Repeat([]byte(name), int(piece))
		reqs = append(reqs, protocol.FinalizeRequest{
			Segments: []protocol.Segment{{Prot: rw.Prot, Addr: addr, Size: piece, Content: content}},
			Actions:  []protocol.ActionPair{{Dealloc: protocol.WrapperCall{Fn: sps.Addr(action), Args: []byte(name)}}},
		})
		bases = append(bases, addr)
	}
	// The fourth overlaps the first.
	reqs = append(reqs, protocol.FinalizeRequest{Segments: []protocol.Segment{{Prot: rw.Prot, Addr: rw.Addr, Size: 64}}})
	errs, err := sps.CallExpected[[]error](c, c.syms[protocol.SlabMemoryFinalizeBatch], protocol.FinalizeBatchArgs{Instance: inst, Requests: reqs})
	if err != nil || len(errs) != 4 {
		t.Fatalf("finalize_batch: %v, %v", errs, err)
	}
	if errs[0] != nil || errs[1] != nil || errs[2] != nil || errs[3] == nil || !strings.Contains(errs[3].Error(), "in use") {
		t.Fatalf("finalize_batch results %v, want the fourth to fail as in use", errs)
	}
	if got := unsafeRead(uint64(bases[1]), 4); string(got) != "bbbb" {
		t.Fatalf("second allocation holds %q", got)
	}
	if err := sps.CallError(c, c.syms[protocol.SlabMemoryRelease], protocol.DeallocateArgs{Instance: inst, Bases: bases}); err != nil {
		t.Fatal(err)
	}
	if ran := log.ran(); !slices.Equal(ran, []string{"c", "b", "a"}) {
		t.Errorf("dealloc actions ran %q, want newest first", ran)
	}
	if got := unsafeRead(uint64(rw.Addr), int(3*piece)); !bytes.Equal(got, make([]byte, 3*piece)) {
		t.Fatal("released memory is not zero")
	}
	// Free as one range again.
	whole := protocol.FinalizeRequest{Segments: []protocol.Segment{{Prot: rw.Prot, Addr: rw.Addr, Size: 3 * piece}}}
	if err := sps.CallError(c, c.syms[protocol.SlabMemoryFinalize], protocol.FinalizeArgs{Instance: inst, Request: whole}); err != nil {
		t.Fatal(err)
	}
}

// actionLog records the arguments its action wrapper was called with.
type actionLog struct {
	mu   sync.Mutex
	args []string
}

func (l *actionLog) ran() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.args)
}

// sessionWithActionLog returns an executor session with its services and
// the address of an action wrapper (for alloc and dealloc actions) that
// records its arguments in log.
func sessionWithActionLog(t *testing.T) (s *orcrt.Session, action uint64, log *actionLog) {
	t.Helper()
	s = orcrt.NewSession()
	if err := orcrt.AddServices(s); err != nil {
		t.Fatal(err)
	}
	log = &actionLog{}
	action, err := s.RegisterWrapper("", orcrt.SyncWrapper(func(args []byte) ([]byte, error) {
		log.mu.Lock()
		log.args = append(log.args, string(args))
		log.mu.Unlock()
		return sps.Marshal(struct{ E error }{})
	}))
	if err != nil {
		t.Fatal(err)
	}
	return s, action, log
}
