package orcrt

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gorc-jit/gorc/internal/dualmap"
	"github.com/gorc-jit/gorc/internal/spans"
	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// SlabMemory is gorc's executor memory for gorc's controller: slabs the
// controller allocates in, as the in-process DualMapped does. Each slab is
// a dual mapping (internal/dualmap): one region per protection, mapped once with it,
// plus a read-write view. Finalizing writes content through the view (or
// nothing, when the controller maps the slab's file and wrote it there)
// and runs the actions; nothing is mprotected, so a slab costs the same
// few mappings however many graphs live in it, and no mapping is
// writable and executable.
//
// Free slab memory is zero (released ranges are cleared, large ones
// punched out of the file), so segments carry only content and a large
// zero-fill segment lands on untouched pages. The slab keeps its own
// record of what is in use: a finalize request for memory in use, or a
// release of something not finalized, is an error, not corruption.
type SlabMemory struct {
	s *Session
	service
	budget *budget
	config *memoryConfig

	mu     sync.Mutex
	slabs  []*execSlab
	allocs map[uint64]*slabAlloc // by lowest segment address
}

type execSlab struct {
	id   int // its index in SlabMemory.slabs
	m    *dualmap.Mapping
	free [3]*spans.List // by region
}

type slabAlloc struct {
	pieces   []slabPiece
	deallocs []protocol.WrapperCall
}

// slabPiece is one segment's range, rounded to whole granules.
type slabPiece struct {
	slab      *execSlab
	region    int
	off, size uint64
}

// NewSlabMemory creates the service and publishes its wrapper functions
// in s.
func NewSlabMemory(s *Session, opts ...MemoryOption) (*SlabMemory, error) {
	c := newMemoryConfig(opts)
	return newSlabMemory(s, c.budget(), &c)
}

func newSlabMemory(s *Session, b *budget, c *memoryConfig) (*SlabMemory, error) {
	m := &SlabMemory{s: s, budget: b, config: c, allocs: make(map[uint64]*slabAlloc)}
	var err error
	if m.service, err = newService(s, "slab memory", protocol.SlabMemoryInstance); err != nil {
		return nil, err
	}
	err = m.publish(s, m, map[string]WrapperFunction{
		protocol.SlabMemoryReserve: SyncWrapper(sps.Handler(func(a protocol.ReserveArgs) sps.Expected[protocol.SlabReservation] {
			if err := m.check(a.Instance); err != nil {
				return sps.Fail[protocol.SlabReservation](err)
			}
			r, err := m.Reserve(a.Size)
			if err != nil {
				return sps.Fail[protocol.SlabReservation](err)
			}
			return sps.Ok(r)
		})),
		protocol.SlabMemoryFinalize: SyncWrapper(sps.Handler(func(a protocol.FinalizeArgs) error {
			if err := m.check(a.Instance); err != nil {
				return err
			}
			return m.Finalize(a.Request)
		})),
		protocol.SlabMemoryFinalizeBatch: SyncWrapper(sps.Handler(func(a protocol.FinalizeBatchArgs) sps.Expected[[]error] {
			if err := m.check(a.Instance); err != nil {
				return sps.Fail[[]error](err)
			}
			errs := make([]error, len(a.Requests))
			for i, r := range a.Requests {
				errs[i] = m.Finalize(r)
			}
			return sps.Ok(errs)
		})),
		protocol.SlabMemoryRelease: SyncWrapper(sps.Handler(func(a protocol.DeallocateArgs) error {
			if err := m.check(a.Instance); err != nil {
				return err
			}
			return m.Release(a.Bases)
		})),
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Reserve maps a new slab of size bytes (at most 2 GiB) next to the
// shared libraries where there is room.
func (m *SlabMemory) Reserve(size uint64) (protocol.SlabReservation, error) {
	if size > 1<<31 {
		return protocol.SlabReservation{}, fmt.Errorf("slab memory: a slab of %d bytes is larger than 2 GiB", size)
	}
	if err := m.budget.take(size); err != nil {
		return protocol.SlabReservation{}, fmt.Errorf("slab memory: %w", err)
	}
	dm, err := dualmap.New(size, false)
	if err != nil {
		m.budget.give(size)
		return protocol.SlabReservation{}, fmt.Errorf("slab memory: %w", err)
	}
	if dm.Size() != size {
		// Rounded up: account for what was mapped.
		m.budget.give(size)
		if err := m.budget.take(dm.Size()); err != nil {
			dm.Close()
			return protocol.SlabReservation{}, fmt.Errorf("slab memory: %w", err)
		}
	}
	sl := &execSlab{m: dm}
	r := protocol.SlabReservation{Path: dm.Path()}
	for i, reg := range dm.Regions {
		sl.free[i] = spans.New(uint64(len(reg.Target)))
		r.Regions = append(r.Regions, protocol.SlabRegion{Prot: uint8(reg.Prot), Addr: sps.Addr(sysmem.Addr(reg.Target)),
			Size: uint64(len(reg.Target)), FileOff: reg.FileOff})
	}
	m.mu.Lock()
	sl.id = len(m.slabs)
	m.slabs = append(m.slabs, sl)
	m.mu.Unlock()
	return r, nil
}

// take marks the granules of a segment in use. Called locked.
func (m *SlabMemory) take(seg protocol.Segment) (slabPiece, error) {
	addr := uint64(seg.Addr)
	for _, sl := range m.slabs {
		for i, reg := range sl.m.Regions {
			base, n := sysmem.Addr(reg.Target), uint64(len(reg.Target))
			if addr < base || addr-base >= n {
				continue
			}
			if uint8(reg.Prot) != seg.Prot {
				return slabPiece{}, fmt.Errorf("slab memory: segment at %#x has protection bits %#x, its region is %s", addr, seg.Prot, reg.Prot)
			}
			off := addr - base
			if off%dualmap.Granule != 0 || seg.Size > n-off {
				return slabPiece{}, fmt.Errorf("slab memory: segment %#x+%#x does not fit its region", addr, seg.Size)
			}
			size := min((seg.Size+dualmap.Granule-1)&^(dualmap.Granule-1), n-off)
			if err := sl.free[i].TakeAt(off, size); err != nil {
				return slabPiece{}, fmt.Errorf("slab memory: segment %#x+%#x overlaps memory in use", addr, seg.Size)
			}
			return slabPiece{sl, i, off, size}, nil
		}
	}
	return slabPiece{}, fmt.Errorf("slab memory: segment %#x+%#x is not in a slab", addr, seg.Size)
}

// give zeroes pieces and returns them to their free lists. Called locked.
func (m *SlabMemory) give(ps []slabPiece) error {
	var errs []error
	for _, p := range ps {
		p.slab.m.Zero(p.slab.m.Regions[p.region], p.off, p.size)
		errs = append(errs, p.slab.free[p.region].Give(p.off, p.size))
	}
	return errors.Join(errs...)
}

// Finalize writes the segments' content (free memory is already zero
// after it) and runs the actions. If it fails, the allocation is
// released here: the memory is zeroed and free again.
func (m *SlabMemory) Finalize(req protocol.FinalizeRequest) error {
	var segs []protocol.Segment
	for _, seg := range req.Segments {
		if seg.Size > 0 {
			segs = append(segs, seg)
		}
	}
	if len(segs) == 0 {
		return errors.New("slab memory: nothing to finalize")
	}
	a := &slabAlloc{}
	base := uint64(segs[0].Addr)
	m.mu.Lock()
	for _, seg := range segs {
		p, err := m.take(seg)
		if err == nil && uint64(len(seg.Content)) > seg.Size {
			err = fmt.Errorf("slab memory: segment at %#x has %d bytes of content for %d bytes", uint64(seg.Addr), len(seg.Content), seg.Size)
		}
		if err != nil {
			err = errors.Join(err, m.give(a.pieces))
			m.mu.Unlock()
			return err
		}
		a.pieces = append(a.pieces, p)
		copy(p.slab.m.Regions[p.region].Work[p.off:], seg.Content)
		base = min(base, uint64(seg.Addr))
	}
	m.allocs[base] = a
	m.mu.Unlock()
	m.config.flushCode(segs)
	deallocs, err := runActions(m.s, req.Actions)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		delete(m.allocs, base)
		return errors.Join(err, m.give(a.pieces))
	}
	a.deallocs = deallocs
	return nil
}

// Release runs the dealloc actions of the allocations at bases, the last
// base first (a controller lists them in allocation order; the newest
// graphs' registrations are found first, see gorc_deregister_function_names_wrapper),
// and then frees their memory together: neighbouring pieces are zeroed as
// one range, so that a large one (a session's code, say) is punched out of
// the file rather than faulted in here to be cleared.
func (m *SlabMemory) Release(bases []sps.Addr) error {
	var errs []error
	var pieces []slabPiece
	for _, b := range slices.Backward(bases) {
		m.mu.Lock()
		a := m.allocs[uint64(b)]
		delete(m.allocs, uint64(b))
		m.mu.Unlock()
		if a == nil {
			errs = append(errs, fmt.Errorf("slab memory: no allocation at %#x", uint64(b)))
			continue
		}
		errs = append(errs, runDeallocs(m.s, a.deallocs))
		pieces = append(pieces, a.pieces...)
	}
	m.mu.Lock()
	errs = append(errs, m.give(mergePieces(pieces)))
	m.mu.Unlock()
	return errors.Join(errs...)
}

// mergePieces sorts pieces and joins those that touch.
func mergePieces(ps []slabPiece) []slabPiece {
	slices.SortFunc(ps, func(a, b slabPiece) int {
		if a.slab != b.slab {
			return cmp.Compare(a.slab.id, b.slab.id)
		}
		return cmp.Or(cmp.Compare(a.region, b.region), cmp.Compare(a.off, b.off))
	})
	var out []slabPiece
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].slab == p.slab && out[n-1].region == p.region && out[n-1].off+out[n-1].size == p.off {
			out[n-1].size += p.size
			continue
		}
		out = append(out, p)
	}
	return out
}

// Detach forgets the allocations; their memory stays for running code.
func (m *SlabMemory) Detach() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.allocs = make(map[uint64]*slabAlloc)
	m.slabs = nil
	return nil
}

// Shutdown runs every allocation's dealloc actions and unmaps the slabs.
func (m *SlabMemory) Shutdown() error {
	m.mu.Lock()
	allocs, slabs := m.allocs, m.slabs
	m.allocs, m.slabs = make(map[uint64]*slabAlloc), nil
	m.mu.Unlock()
	var errs []error
	for _, a := range allocs {
		errs = append(errs, runDeallocs(m.s, a.deallocs))
	}
	for _, sl := range slabs {
		errs = append(errs, sl.m.Close())
		m.budget.give(sl.m.Size())
	}
	return errors.Join(errs...)
}
