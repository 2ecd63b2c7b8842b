package memory

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/gorc-jit/gorc/internal/dualmap"
	"github.com/gorc-jit/gorc/internal/spans"
	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
)

// DualMapped allocates from a dual mapping (internal/dualmap): working memory is the
// read-write view and target memory already has its final protection, so
// finalization needs no mprotect. This avoids a system call (and a TLB
// shootdown on every other core) per linked graph, lets graphs share pages,
// and keeps all of them within 32-bit PC-relative range.
//
// Free memory is kept zero (Zero on release), so allocating writes nothing
// and a large zero-fill segment costs no memory until it is used.
type DualMapped struct {
	mu     sync.Mutex
	m      *dualmap.Mapping
	free   [3]*spans.List
	run    ActionRunner
	flush  ICacheFlush
	closed bool
}

// NewDualMapped reserves size bytes (at most 2 GiB) split between code,
// read-only data (a quarter each) and writable data (half), next to the
// process's shared libraries where there is room.
func NewDualMapped(size uint64, opts ...SlabOption) (*DualMapped, error) {
	var o slabOptions
	for _, f := range opts {
		f(&o)
	}
	m, err := dualmap.New(size, o.low)
	if err != nil {
		return nil, err
	}
	d := &DualMapped{m: m, run: o.run, flush: o.flush}
	for i, r := range m.Regions {
		d.free[i] = spans.New(uint64(len(r.Target)))
	}
	return d, nil
}

// Close unmaps the memory. Code in it must no longer run.
func (d *DualMapped) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.m.Close()
}

// Base returns the target address of the start of the reserved range.
func (d *DualMapped) Base() uint64 { return d.m.Base() }

// Size returns the size of the reserved range.
func (d *DualMapped) Size() uint64 { return d.m.Size() }

// dualPiece is one segment's range.
type dualPiece struct {
	region    int
	off, size uint64
}

// Allocate places each segment in the region of its protection.
func (d *DualMapped) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	page := uint64(os.Getpagesize())
	if err := checkAlignment(req.Segments, page); err != nil {
		return nil, err
	}
	a := &dualAlloc{d: d, reqs: req.Segments, segs: make([]jitlink.SegmentAlloc, len(req.Segments))}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("dual-mapped memory is closed")
	}
	for i, s := range req.Segments {
		ri, err := dualmap.RegionFor(s.Prot)
		if err != nil {
			d.freePieces(a.pieces)
			return nil, err
		}
		r := d.m.Regions[ri]
		size := alignUp(s.Size(), dualmap.Granule)
		if size == 0 {
			a.segs[i] = jitlink.SegmentAlloc{Addr: sysmem.Addr(r.Target), Working: r.Work[:0:0]}
			continue
		}
		off, ok := d.free[ri].TakeAligned(size, max(s.Align, dualmap.Granule))
		if !ok {
			d.freePieces(a.pieces)
			return nil, fmt.Errorf("no room for a %d-byte %s segment in %d bytes of dual-mapped memory", size, s.Prot, len(r.Target))
		}
		a.pieces = append(a.pieces, dualPiece{ri, off, size})
		a.segs[i] = jitlink.SegmentAlloc{Addr: sysmem.Addr(r.Target) + off, Working: r.Work[off : off+s.Size() : off+s.Size()]}
	}
	return a, nil
}

// freePieces zeroes ranges and returns them to the free lists. Called
// locked.
func (d *DualMapped) freePieces(ps []dualPiece) error {
	if d.closed {
		return nil
	}
	var errs []error
	for _, p := range ps {
		d.m.Zero(d.m.Regions[p.region], p.off, p.size)
		errs = append(errs, d.free[p.region].Give(p.off, p.size))
	}
	return errors.Join(errs...)
}

type dualAlloc struct {
	d      *DualMapped
	reqs   []jitlink.SegmentRequest
	segs   []jitlink.SegmentAlloc
	pieces []dualPiece
	state  jitlink.InFlightState
}

func (a *dualAlloc) Segments() []jitlink.SegmentAlloc { return a.segs }

func (a *dualAlloc) release() error {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	err := a.d.freePieces(a.pieces)
	a.pieces = nil
	return err
}

func (a *dualAlloc) Abandon() error {
	if err := a.state.Abandoning(); err != nil {
		return err
	}
	return a.release()
}

// Finalize flushes the code (where the target needs it) and runs the
// actions: the target views already have their protections.
func (a *dualAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	if err := a.state.Finalizing(); err != nil {
		done(jitlink.FinalizedAlloc{}, err)
		return
	}
	in := &inFlight{reqs: a.reqs, segs: a.segs, run: a.d.run, flush: a.d.flush, release: a.release}
	in.flushCode()
	fa, err := in.runActions(actions)
	if err != nil {
		done(jitlink.FinalizedAlloc{}, err)
		return
	}
	if len(a.segs) > 0 {
		fa.Addr = a.segs[0].Addr
	}
	done(fa, nil)
}

// Deallocate runs dealloc actions and returns the memory.
func (d *DualMapped) Deallocate(allocs []jitlink.FinalizedAlloc) error { return deallocate(allocs) }
