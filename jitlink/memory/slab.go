package memory

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/gorc-jit/gorc/internal/spans"
	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
)

// Slab reserves one address range up front and places every graph inside it,
// so that all of them are within 32-bit PC-relative range of one another.
// Freed ranges are reused. It is safe for concurrent use.
//
// A slab may have a target address different from its working memory (see
// SlabAddress): then linked addresses are those of the target range, while
// the bytes live in working memory. Such a slab is for links that are
// inspected but not run (llvm-jitlink's -noexec -slab-address).
type Slab struct {
	mu       sync.Mutex
	mem      []byte // the reserved working range
	base     uint64 // target address of mem[0]
	pageSize uint64
	free     *spans.List // offsets into mem
	// used is the high-water mark of allocation: pages beyond it were never
	// handed out and are still zero.
	used    uint64
	run     ActionRunner
	flush   ICacheFlush // nil when virtual: target addresses are not ours
	virtual bool        // target addresses are not where the bytes are
	closed  bool
}

// SlabOption configures a slab.
type SlabOption func(*slabOptions)

type slabOptions struct {
	options
	pageSize uint64
	addr     uint64
	hasAddr  bool
}

// SlabAddress sets the target address of the slab. The slab tries to map its
// working memory there; if it cannot, addresses are still assigned from addr
// but the memory is only good for inspection, not execution (Virtual reports
// this).
func SlabAddress(addr uint64) SlabOption {
	return func(o *slabOptions) { o.addr, o.hasAddr = addr, true }
}

// SlabPageSize overrides the page size used to lay out segments.
func SlabPageSize(n uint64) SlabOption { return func(o *slabOptions) { o.pageSize = n } }

// SlabLow2GB reserves the slab in the low 2 GiB of the address space.
func SlabLow2GB() SlabOption { return func(o *slabOptions) { o.low = true } }

// SlabICacheFlush sets how code segments are made visible to instruction
// fetch once finalized (see WithICacheFlush).
func SlabICacheFlush(f ICacheFlush) SlabOption { return func(o *slabOptions) { o.flush = f } }

// SlabActionRunner sets how allocation actions are run.
func SlabActionRunner(r ActionRunner) SlabOption { return func(o *slabOptions) { o.run = r } }

// NewSlab reserves size bytes of address space (rounded up to pages), next
// to the process's shared libraries where there is room
// (sysmem.ReserveNearLibraries).
func NewSlab(size uint64, opts ...SlabOption) (*Slab, error) {
	var o slabOptions
	for _, f := range opts {
		f(&o)
	}
	sysPage := uint64(os.Getpagesize())
	page := sysPage
	if o.pageSize != 0 {
		if o.pageSize&(o.pageSize-1) != 0 || o.pageSize%sysPage != 0 {
			return nil, fmt.Errorf("slab page size %d is not a power-of-two multiple of the system page size %d", o.pageSize, sysPage)
		}
		page = o.pageSize
	}
	if size == 0 || size > 1<<40 {
		return nil, fmt.Errorf("slab size %d out of range", size)
	}
	size = alignUp(size, page)
	s := &Slab{pageSize: page, run: o.run, flush: o.flush, free: spans.New(size)}
	var err error
	switch {
	case o.hasAddr:
		if o.addr%page != 0 {
			return nil, fmt.Errorf("slab address %#x is not page-aligned", o.addr)
		}
		s.mem, err = sysmem.Map(o.addr, size, 0, sysmem.Reserve|sysmem.Exact)
		if err != nil {
			s.mem, err = sysmem.Map(0, size, 0, sysmem.Reserve)
			s.virtual, s.flush = true, nil
		}
		s.base = o.addr
	case o.low:
		s.mem, err = sysmem.Map(0, size, 0, sysmem.Reserve|sysmem.Low2GB)
		s.base = sysmem.Addr(s.mem)
	default:
		s.mem, err = sysmem.ReserveNearLibraries(size, size)
		s.base = sysmem.Addr(s.mem)
	}
	if err != nil {
		return nil, fmt.Errorf("slab: reserving %d bytes: %w", size, err)
	}
	return s, nil
}

// Virtual reports whether target addresses differ from the working memory
// (code in the slab cannot run).
func (s *Slab) Virtual() bool { return s.virtual }

// Base returns the target address of the start of the slab.
func (s *Slab) Base() uint64 { return s.base }

// Size returns the size of the slab.
func (s *Slab) Size() uint64 { return uint64(len(s.mem)) }

// Close unmaps the slab. Memory allocated from it must no longer be in use.
func (s *Slab) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return sysmem.Unmap(s.mem)
}

// take reserves size bytes and returns their offset, and how many of them
// (from the start) may hold bytes of an earlier allocation.
func (s *Slab) take(size uint64) (off, dirty uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, errors.New("slab is closed")
	}
	if off, ok := s.free.Take(size); ok {
		// Pages below the high-water mark were used before; the rest are
		// fresh and still zero.
		if s.used > off {
			dirty = min(size, s.used-off)
		}
		s.used = max(s.used, off+size)
		return off, dirty, nil
	}
	return 0, 0, fmt.Errorf("slab of %d bytes has no free range of %d bytes", len(s.mem), size)
}

func (s *Slab) give(off, size uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	// Make the pages inaccessible (a stale pointer faults rather than runs
	// old code) but keep them committed: the next allocation reuses them
	// without faulting them in again. Close returns them to the system.
	sysmem.Protect(s.mem[off:off+size], 0)
	return s.free.Give(off, size)
}

// Allocate places the graph's segments in one free range of the slab.
func (s *Slab) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	if err := checkAlignment(req.Segments, s.pageSize); err != nil {
		return nil, err
	}
	offs, total := segmentOffsets(req.Segments, s.pageSize)
	a := &inFlight{reqs: req.Segments, run: s.run, flush: s.flush, segs: make([]jitlink.SegmentAlloc, len(req.Segments))}
	if total == 0 {
		a.release = func() error { return nil }
		return a, nil
	}
	start, dirty, err := s.take(total)
	if err != nil {
		return nil, err
	}
	region := s.mem[start : start+total]
	if err := sysmem.Protect(region, jitlink.ProtRead|jitlink.ProtWrite); err != nil {
		s.give(start, total)
		return nil, fmt.Errorf("slab: mprotect: %w", err)
	}
	// Working memory must start zeroed.
	clear(region[:dirty])
	a.release = func() error { return s.give(start, total) }
	for i, r := range req.Segments {
		w := region[offs[i] : offs[i]+r.Size() : offs[i]+r.Size()]
		a.segs[i] = jitlink.SegmentAlloc{Addr: s.base + start + offs[i], Working: w}
		a.pages = append(a.pages, region[offs[i]:offs[i]+alignUp(r.Size(), s.pageSize)])
	}
	return a, nil
}

// Deallocate runs dealloc actions and returns the ranges to the slab.
func (s *Slab) Deallocate(allocs []jitlink.FinalizedAlloc) error { return deallocate(allocs) }

// PerDylib is a memory manager that gives each simulated dylib (the Dylib of
// an allocation request) its own memory manager, made on first use, so that
// each dylib's code stays within range of itself.
type PerDylib struct {
	mu   sync.Mutex
	make func() (jitlink.MemoryManager, error)
	mms  map[any]jitlink.MemoryManager
}

// NewPerDylib returns a PerDylib that makes managers with newManager (for
// example, a function returning a new Slab).
func NewPerDylib(newManager func() (jitlink.MemoryManager, error)) *PerDylib {
	return &PerDylib{make: newManager, mms: make(map[any]jitlink.MemoryManager)}
}

func (p *PerDylib) manager(key any) (jitlink.MemoryManager, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if mm := p.mms[key]; mm != nil {
		return mm, nil
	}
	mm, err := p.make()
	if err != nil {
		return nil, err
	}
	p.mms[key] = mm
	return mm, nil
}

// Allocate allocates from the request's dylib's manager.
func (p *PerDylib) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	mm, err := p.manager(req.Dylib)
	if err != nil {
		return nil, err
	}
	return mm.Allocate(req)
}

// Deallocate releases allocations made by any of the dylibs' managers.
func (p *PerDylib) Deallocate(allocs []jitlink.FinalizedAlloc) error { return deallocate(allocs) }
