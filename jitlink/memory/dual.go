package memory

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
)

// DualMapped maps the same physical pages twice: read-write for the linker
// (working memory) and with final protections for the code that runs
// (target memory). Memory is never writable and executable through the same
// mapping, yet finalization needs no mprotect: each protection has its own
// region, mapped once with that protection. This avoids a system call (and a
// TLB shootdown on every other core) per linked graph, lets graphs share
// pages, and keeps all of them within 32-bit PC-relative range.
//
// The pages come from a memory file (a memfd); a DualMapped is the
// in-process case of the shared-memory mapping an executor on the same
// machine uses.
type DualMapped struct {
	mu      sync.Mutex
	file    *sysmem.MemFile
	reserve []byte // the whole target range
	regions [3]*dualRegion
	run     ActionRunner
	closed  bool
}

// Region order in the target range: code, read-only data, writable data.
const (
	regionCode = iota
	regionRO
	regionRW
)

// dualRegion is the part of the memfd holding one protection.
type dualRegion struct {
	prot   jitlink.MemProt
	target []byte // mapped with prot
	work   []byte // mapped read-write (the same pages; == target for RW)
	free   []dualSpan
}

// dualSpan is a free range of a region. Dirty ranges may hold old bytes.
type dualSpan struct {
	off, size uint64
	dirty     bool
}

// dualGranule is the allocation granularity within a region.
const dualGranule = 64

// punchThreshold: freed ranges at least this large go back to the system.
const punchThreshold = 1 << 20

// NewDualMapped reserves size bytes (at most 2 GiB) split between code,
// read-only data (a quarter each) and writable data (half), next to the
// process's shared libraries where there is room (see near.go).
func NewDualMapped(size uint64, opts ...SlabOption) (*DualMapped, error) {
	var o slabOptions
	for _, f := range opts {
		f(&o)
	}
	page := uint64(os.Getpagesize())
	if size < 16*page || size > 1<<31 {
		return nil, fmt.Errorf("dual-mapped region size %d out of range", size)
	}
	size = alignUp(size, 4*page)
	file, err := sysmem.NewMemFile("gorc-jit", size)
	if err != nil {
		return nil, err
	}
	d := &DualMapped{file: file, run: o.run}
	fail := func(err error) (*DualMapped, error) {
		d.release()
		return nil, err
	}
	if o.low {
		d.reserve, err = sysmem.Map(0, size, 0, sysmem.Reserve|sysmem.Low2GB)
	} else {
		// Code comes first: it is what reads library data.
		d.reserve, err = ReserveNearLibraries(size, size/4)
	}
	if err != nil {
		return fail(fmt.Errorf("reserving %d bytes: %w", size, err))
	}
	bounds := [4]uint64{0, size / 4, size / 2, size}
	prots := [3]jitlink.MemProt{jitlink.ProtRead | jitlink.ProtExec, jitlink.ProtRead, jitlink.ProtRead | jitlink.ProtWrite}
	for i := range d.regions {
		off, n := bounds[i], bounds[i+1]-bounds[i]
		r := &dualRegion{prot: prots[i], free: []dualSpan{{0, n, false}}}
		target, err := d.file.Map(d.reserve[off:off+n], off, n, prots[i])
		if err != nil {
			return fail(fmt.Errorf("mapping %s view: %w", prots[i], err))
		}
		r.target, r.work = target, target
		if prots[i] != jitlink.ProtRead|jitlink.ProtWrite {
			if r.work, err = d.file.Map(nil, off, n, jitlink.ProtRead|jitlink.ProtWrite); err != nil {
				return fail(fmt.Errorf("mapping working view: %w", err))
			}
		}
		d.regions[i] = r
	}
	return d, nil
}

// release unmaps everything and closes the memfd.
func (d *DualMapped) release() error {
	var errs []error
	for _, r := range d.regions {
		if r != nil && r.prot != jitlink.ProtRead|jitlink.ProtWrite {
			errs = append(errs, sysmem.Unmap(r.work))
		}
	}
	if d.reserve != nil {
		errs = append(errs, sysmem.Unmap(d.reserve))
	}
	errs = append(errs, d.file.Close())
	return errors.Join(errs...)
}

// Close unmaps the memory. Code in it must no longer run.
func (d *DualMapped) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.release()
}

// Base returns the target address of the start of the reserved range.
func (d *DualMapped) Base() uint64 { return sysmem.Addr(d.reserve) }

// Size returns the size of the reserved range.
func (d *DualMapped) Size() uint64 { return uint64(len(d.reserve)) }

func regionFor(p jitlink.MemProt) (int, error) {
	switch p {
	case jitlink.ProtRead | jitlink.ProtExec:
		return regionCode, nil
	case jitlink.ProtRead:
		return regionRO, nil
	case jitlink.ProtRead | jitlink.ProtWrite:
		return regionRW, nil
	}
	return 0, fmt.Errorf("no region for memory protection %s", p)
}

// take finds size bytes aligned to align in r. Called locked.
func (r *dualRegion) take(size, align uint64) (off uint64, dirty bool, ok bool) {
	for i, s := range r.free {
		start := alignUp(s.off, align)
		if start+size > s.off+s.size {
			continue
		}
		var rest []dualSpan
		if start > s.off {
			rest = append(rest, dualSpan{s.off, start - s.off, s.dirty})
		}
		if end := start + size; end < s.off+s.size {
			rest = append(rest, dualSpan{end, s.off + s.size - end, s.dirty})
		}
		r.free = append(r.free[:i], append(rest, r.free[i+1:]...)...)
		return start, s.dirty, true
	}
	return 0, false, false
}

// give returns a range to r's free list, coalescing. Called locked.
func (r *dualRegion) give(off, size uint64, dirty bool) {
	i := 0
	for i < len(r.free) && r.free[i].off < off {
		i++
	}
	r.free = append(r.free, dualSpan{})
	copy(r.free[i+1:], r.free[i:])
	r.free[i] = dualSpan{off, size, dirty}
	if i+1 < len(r.free) && r.free[i].off+r.free[i].size == r.free[i+1].off {
		r.free[i].size += r.free[i+1].size
		r.free[i].dirty = r.free[i].dirty || r.free[i+1].dirty
		r.free = append(r.free[:i+1], r.free[i+2:]...)
	}
	if i > 0 && r.free[i-1].off+r.free[i-1].size == r.free[i].off {
		r.free[i-1].size += r.free[i].size
		r.free[i-1].dirty = r.free[i-1].dirty || r.free[i].dirty
		r.free = append(r.free[:i], r.free[i+1:]...)
	}
}

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
	a := &dualAlloc{d: d, segs: make([]jitlink.SegmentAlloc, len(req.Segments))}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("dual-mapped memory is closed")
	}
	for i, s := range req.Segments {
		ri, err := regionFor(s.Prot)
		if err != nil {
			d.freePieces(a.pieces)
			return nil, err
		}
		r := d.regions[ri]
		size := alignUp(s.Size(), dualGranule)
		if size == 0 {
			a.segs[i] = jitlink.SegmentAlloc{Addr: sysmem.Addr(r.target), Working: r.work[:0:0]}
			continue
		}
		off, dirty, ok := r.take(size, max(s.Align, dualGranule))
		if !ok {
			d.freePieces(a.pieces)
			return nil, fmt.Errorf("no room for a %d-byte %s segment in %d bytes of dual-mapped memory", size, s.Prot, len(r.target))
		}
		w := r.work[off : off+s.Size() : off+s.Size()]
		if dirty {
			clear(r.work[off : off+size])
		}
		a.pieces = append(a.pieces, dualPiece{ri, off, size})
		a.segs[i] = jitlink.SegmentAlloc{Addr: sysmem.Addr(r.target) + off, Working: w}
	}
	return a, nil
}

// freePieces returns ranges, punching large ones out of the memfd so their
// memory goes back to the system (and reads as zero). Called locked.
func (d *DualMapped) freePieces(ps []dualPiece) {
	if d.closed {
		return
	}
	for _, p := range ps {
		r := d.regions[p.region]
		dirty := true
		if p.size >= punchThreshold {
			fileOff := sysmem.Addr(r.target) - sysmem.Addr(d.reserve)
			if d.file.Discard(fileOff+p.off, p.size) == nil {
				dirty = false
			}
		}
		r.give(p.off, p.size, dirty)
	}
}

type dualAlloc struct {
	d      *DualMapped
	segs   []jitlink.SegmentAlloc
	pieces []dualPiece
}

func (a *dualAlloc) Segments() []jitlink.SegmentAlloc { return a.segs }

func (a *dualAlloc) release() error {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	a.d.freePieces(a.pieces)
	a.pieces = nil
	return nil
}

func (a *dualAlloc) Abandon() error { return a.release() }

// Finalize only runs the actions: the target views already have their
// protections, and x86-64 keeps instruction fetch coherent with the writes
// made through the working view.
func (a *dualAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	in := &inFlight{run: a.d.run, release: a.release}
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
