package memory

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

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
// The pages come from a memfd; a DualMapped is the in-process case of the
// shared-memory mapping an executor on the same machine uses.
type DualMapped struct {
	mu      sync.Mutex
	fd      int
	reserve []byte // the whole target range
	regions [3]*dualRegion
	run     ActionRunner
	flush   ICacheFlush
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
	page := uint64(unix.Getpagesize())
	if size < 16*page || size > 1<<31 {
		return nil, fmt.Errorf("dual-mapped region size %d out of range", size)
	}
	size = alignUp(size, 4*page)
	fd, err := unix.MemfdCreate("gorc-jit", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	d := &DualMapped{fd: fd, run: o.run, flush: o.flush}
	fail := func(err error) (*DualMapped, error) {
		d.release()
		return nil, err
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail(fmt.Errorf("ftruncate memfd: %w", err))
	}
	flags := unix.MAP_PRIVATE | unix.MAP_ANON | unix.MAP_NORESERVE
	if o.low {
		d.reserve, err = mmap(0, size, unix.PROT_NONE, flags|unix.MAP_32BIT)
	} else {
		// Code comes first: it is what reads library data.
		d.reserve, err = reserveNearLibraries(size, size/4, flags)
	}
	if err != nil {
		return fail(fmt.Errorf("reserving %d bytes: %w", size, err))
	}
	if o.low && addrOf(d.reserve)+size > 1<<31 {
		return fail(errors.New("no address space below 2 GiB"))
	}
	bounds := [4]uint64{0, size / 4, size / 2, size}
	prots := [3]jitlink.MemProt{jitlink.ProtRead | jitlink.ProtExec, jitlink.ProtRead, jitlink.ProtRead | jitlink.ProtWrite}
	for i := range d.regions {
		off, n := bounds[i], bounds[i+1]-bounds[i]
		r := &dualRegion{prot: prots[i], free: []dualSpan{{0, n, false}}}
		target, err := mmapFile(addrOf(d.reserve)+off, n, unixProt(prots[i]), unix.MAP_SHARED|unix.MAP_FIXED, fd, off)
		if err != nil {
			return fail(fmt.Errorf("mapping %s view: %w", prots[i], err))
		}
		r.target, r.work = target, target
		if prots[i] != jitlink.ProtRead|jitlink.ProtWrite {
			if r.work, err = mmapFile(0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED, fd, off); err != nil {
				return fail(fmt.Errorf("mapping working view: %w", err))
			}
		}
		d.regions[i] = r
	}
	return d, nil
}

func mmapFile(addr, size uint64, prot, flags, fd int, off uint64) ([]byte, error) {
	p, err := unix.MmapPtr(fd, int64(off), pointerAt(addr), uintptr(size), prot, flags)
	if err != nil {
		return nil, err
	}
	return unsafeSlice(p, size), nil
}

// release unmaps everything and closes the memfd.
func (d *DualMapped) release() error {
	var errs []error
	for _, r := range d.regions {
		if r != nil && r.prot != jitlink.ProtRead|jitlink.ProtWrite {
			errs = append(errs, munmap(r.work))
		}
	}
	if d.reserve != nil {
		errs = append(errs, munmap(d.reserve))
	}
	errs = append(errs, unix.Close(d.fd))
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
func (d *DualMapped) Base() uint64 { return addrOf(d.reserve) }

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
	page := uint64(unix.Getpagesize())
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
		ri, err := regionFor(s.Prot)
		if err != nil {
			d.freePieces(a.pieces)
			return nil, err
		}
		r := d.regions[ri]
		size := alignUp(s.Size(), dualGranule)
		if size == 0 {
			a.segs[i] = jitlink.SegmentAlloc{Addr: addrOf(r.target), Working: r.work[:0:0]}
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
		a.segs[i] = jitlink.SegmentAlloc{Addr: addrOf(r.target) + off, Working: w}
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
			fileOff := uint64(addrOf(r.target) - addrOf(d.reserve))
			if unix.Fallocate(d.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(fileOff+p.off), int64(p.size)) == nil {
				dirty = false
			}
		}
		r.give(p.off, p.size, dirty)
	}
}

type dualAlloc struct {
	d      *DualMapped
	reqs   []jitlink.SegmentRequest
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

// Finalize flushes the code (where the target needs it) and runs the
// actions: the target views already have their protections.
func (a *dualAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
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
