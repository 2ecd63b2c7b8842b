package orcrt

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// MemoryManager is the executor's JIT'd memory, as LLVM's
// SimpleExecutorMemoryManager: the controller reserves an allocation,
// links into its own working memory, and sends the segments to finalize
// (LLVM 14 and 19) or to initialize (LLVM 22).
//
// Each reservation is its own mapping, as LLVM's controller requires (a
// finalize request starts at a reservation's base), so every live
// allocation costs the process a few mappings; gorc's controller uses
// SlabMemory instead and this only for what a slab cannot hold.
type MemoryManager struct {
	s *Session
	service
	budget *budget
	config *memoryConfig

	mu     sync.Mutex
	allocs map[uint64]*allocation // by base address
}

// allocation is one reserved range.
type allocation struct {
	mem     []byte
	regions map[uint64]*region // initialized ranges, by start
	// reused: a region was deinitialized, so the pages may hold old
	// content and initializing must clear what content does not cover.
	reused bool
	// shm is the shared-memory object of a reservation of the shared
	// memory mapper (whose controller writes all content), removed at
	// release.
	shm string
}

// region is an initialized (finalized) range of an allocation.
type region struct {
	size     uint64
	deallocs []protocol.WrapperCall // reverse order of running
}

// NewMemoryManager creates the memory manager, publishes its wrapper
// functions in s, and adds it to s's resource managers.
func NewMemoryManager(s *Session, opts ...MemoryOption) (*MemoryManager, error) {
	c := newMemoryConfig(opts)
	return newMemoryManager(s, c.budget(), &c)
}

func newMemoryManager(s *Session, b *budget, c *memoryConfig) (*MemoryManager, error) {
	m := &MemoryManager{s: s, budget: b, config: c, allocs: make(map[uint64]*allocation)}
	var err error
	if m.service, err = newService(s, "memory manager", protocol.MemoryManagerInstance); err != nil {
		return nil, err
	}
	release := SyncWrapper(sps.Handler(func(a protocol.DeallocateArgs) error {
		if err := m.check(a.Instance); err != nil {
			return err
		}
		return m.Deallocate(a.Bases)
	}))
	err = m.publish(s, m, map[string]WrapperFunction{
		protocol.MemoryManagerReserve: SyncWrapper(sps.Handler(func(a protocol.ReserveArgs) sps.Expected[sps.Addr] {
			if err := m.check(a.Instance); err != nil {
				return sps.Fail[sps.Addr](err)
			}
			addr, err := m.Reserve(a.Size)
			if err != nil {
				return sps.Fail[sps.Addr](err)
			}
			return sps.Ok(sps.Addr(addr))
		})),
		protocol.MemoryManagerFinalize: SyncWrapper(sps.Handler(func(a protocol.FinalizeArgs) error {
			if err := m.check(a.Instance); err != nil {
				return err
			}
			return m.Finalize(a.Request)
		})),
		protocol.MemoryManagerDeallocate: release,
		protocol.MemoryManagerInitialize: SyncWrapper(sps.Handler(func(a protocol.FinalizeArgs) sps.Expected[sps.Addr] {
			if err := m.check(a.Instance); err != nil {
				return sps.Fail[sps.Addr](err)
			}
			key, err := m.Initialize(a.Request)
			if err != nil {
				return sps.Fail[sps.Addr](err)
			}
			return sps.Ok(sps.Addr(key))
		})),
		protocol.MemoryManagerDeinitialize: SyncWrapper(sps.Handler(func(a protocol.DeallocateArgs) error {
			if err := m.check(a.Instance); err != nil {
				return err
			}
			return m.Deinitialize(a.Bases)
		})),
		protocol.MemoryManagerRelease: release,
	})
	if err != nil {
		return nil, err
	}
	if err := addSharedMemoryMapper(s, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Reserve maps size bytes, readable and writable until finalized. The
// pages are fresh, so zero until written.
func (m *MemoryManager) Reserve(size uint64) (uint64, error) {
	if size == 0 || size > 1<<47 {
		return 0, fmt.Errorf("memory manager: cannot reserve %d bytes", size)
	}
	if err := m.budget.take(size); err != nil {
		return 0, fmt.Errorf("memory manager: %w", err)
	}
	mem, err := sysmem.Map(0, size, jitlink.ProtRead|jitlink.ProtWrite, sysmem.Reserve)
	if err != nil {
		m.budget.give(size)
		return 0, fmt.Errorf("memory manager: reserving %d bytes: %w", size, err)
	}
	base := sysmem.Addr(mem)
	m.mu.Lock()
	m.allocs[base] = &allocation{mem: mem, regions: make(map[uint64]*region)}
	m.mu.Unlock()
	return base, nil
}

// Finalize (LLVM 14 and 19) copies each segment's content into the
// allocation whose base is the lowest segment address, applies the
// protections, and runs the finalize actions. An allocation is finalized
// once, so the rest of each segment is still zero and is not written (a
// large zero-fill segment costs nothing until used). If finalizing fails,
// the allocation is released here, as LLVM's executor does: the dealloc
// actions of the finalize actions that ran are run and the memory is
// unmapped, and the controller does not deallocate it.
func (m *MemoryManager) Finalize(req protocol.FinalizeRequest) error {
	if len(req.Segments) == 0 {
		if len(req.Actions) > 0 {
			return errors.New("memory manager: finalize actions without segments")
		}
		return nil
	}
	lo, hi := span(req.Segments)
	m.mu.Lock()
	alloc := m.allocs[lo]
	if alloc == nil || len(alloc.regions) > 0 || alloc.reused {
		m.mu.Unlock()
		return fmt.Errorf("memory manager: no allocation to finalize at %#x", lo)
	}
	r := &region{size: hi - lo}
	alloc.regions[lo] = r // claimed: a second finalize fails
	m.mu.Unlock()
	if err := m.initialize(alloc, r, req); err != nil {
		m.mu.Lock()
		delete(m.allocs, lo)
		m.mu.Unlock()
		return errors.Join(err, m.release(alloc))
	}
	return nil
}

// Initialize (LLVM 22) initializes a region of a reservation as Finalize
// does, but the region may lie anywhere in the reservation and several
// may; it returns the region's key (its lowest address), by which
// Deinitialize names it. If it fails, the reservation stays, its region
// writable again, for the controller to release (as LLVM 22's executor
// does).
func (m *MemoryManager) Initialize(req protocol.FinalizeRequest) (uint64, error) {
	if len(req.Segments) == 0 {
		return 0, errors.New("memory manager: empty initialize request")
	}
	lo, hi := span(req.Segments)
	m.mu.Lock()
	alloc, base := m.containing(lo, hi)
	if alloc == nil {
		m.mu.Unlock()
		return 0, fmt.Errorf("memory manager: range %#x-%#x is not within one reservation", lo, hi)
	}
	for start, r := range alloc.regions {
		if lo < start+r.size && start < hi {
			m.mu.Unlock()
			return 0, fmt.Errorf("memory manager: range %#x-%#x overlaps the initialized region at %#x", lo, hi, start)
		}
	}
	r := &region{size: hi - lo}
	alloc.regions[lo] = r
	m.mu.Unlock()
	if err := m.initialize(alloc, r, req); err != nil {
		m.mu.Lock()
		delete(alloc.regions, lo)
		m.mu.Unlock()
		return 0, errors.Join(err, protect(alloc.mem, lo-base, hi-lo, protocol.ProtRead|protocol.ProtWrite))
	}
	return lo, nil
}

// span returns the lowest and highest address segs cover.
func span(segs []protocol.Segment) (lo, hi uint64) {
	lo = uint64(segs[0].Addr)
	for _, seg := range segs {
		lo = min(lo, uint64(seg.Addr))
		hi = max(hi, uint64(seg.Addr)+seg.Size)
	}
	return lo, hi
}

// containing finds the allocation holding [lo, hi) and its base; m.mu is
// held.
func (m *MemoryManager) containing(lo, hi uint64) (*allocation, uint64) {
	if a := m.allocs[lo]; a != nil && hi-lo <= uint64(len(a.mem)) {
		return a, lo
	}
	for base, a := range m.allocs {
		if base <= lo && hi <= base+uint64(len(a.mem)) && lo <= hi {
			return a, base
		}
	}
	return nil, 0
}

// initialize writes req's segments into alloc, protects them and runs
// the finalize actions, recording their dealloc actions in r. On failure
// the dealloc actions of the actions that ran have run.
func (m *MemoryManager) initialize(alloc *allocation, r *region, req protocol.FinalizeRequest) error {
	base := sysmem.Addr(alloc.mem)
	for _, seg := range req.Segments {
		off := uint64(seg.Addr) - base
		if uint64(seg.Addr) < base || off > uint64(len(alloc.mem)) || seg.Size > uint64(len(alloc.mem))-off {
			return fmt.Errorf("memory manager: range %#x+%#x is not in the allocation at %#x", uint64(seg.Addr), seg.Size, base)
		}
		if uint64(len(seg.Content)) > seg.Size {
			return fmt.Errorf("memory manager: segment at %#x has %d bytes of content for %d bytes", uint64(seg.Addr), len(seg.Content), seg.Size)
		}
		n := copy(alloc.mem[off:], seg.Content)
		if alloc.reused && alloc.shm == "" {
			clear(alloc.mem[off+uint64(n) : off+seg.Size])
		}
	}
	for _, seg := range req.Segments {
		if err := protect(alloc.mem, uint64(seg.Addr)-base, seg.Size, seg.Prot); err != nil {
			return err
		}
	}
	m.config.flushCode(req.Segments)
	deallocs, err := runActions(m.s, req.Actions)
	if err != nil {
		return err
	}
	m.mu.Lock()
	r.deallocs = deallocs
	m.mu.Unlock()
	return nil
}

// Deinitialize (LLVM 22) runs the dealloc actions of the regions with the
// given keys, last first, and makes their memory writable again for
// reuse; the reservation stays.
func (m *MemoryManager) Deinitialize(keys []sps.Addr) error {
	var errs []error
	for _, k := range slices.Backward(keys) {
		m.mu.Lock()
		alloc, base := m.containing(uint64(k), uint64(k))
		var r *region
		if alloc != nil {
			r = alloc.regions[uint64(k)]
			delete(alloc.regions, uint64(k))
			alloc.reused = true
		}
		m.mu.Unlock()
		if r == nil {
			errs = append(errs, fmt.Errorf("memory manager: no initialized region at %#x", uint64(k)))
			continue
		}
		errs = append(errs, runDeallocs(m.s, r.deallocs),
			protect(alloc.mem, uint64(k)-base, r.size, protocol.ProtRead|protocol.ProtWrite))
	}
	return errors.Join(errs...)
}

// protect applies prot to the pages of [off, off+size) of mem.
func protect(mem []byte, off, size uint64, prot uint8) error {
	if size == 0 {
		return nil
	}
	page := uint64(os.Getpagesize())
	start := off &^ (page - 1)
	end := min((off+size+page-1)&^(page-1), uint64(len(mem)))
	if err := sysmem.Protect(mem[start:end], protocol.MemProt(prot)); err != nil {
		return fmt.Errorf("memory manager: mprotect %#x+%#x: %w", sysmem.Addr(mem)+start, end-start, err)
	}
	return nil
}

// runActions runs finalize actions in order and returns the dealloc
// actions of those that succeeded. On failure it runs those deallocs
// (in reverse) itself and returns the error.
func runActions(s *Session, actions []protocol.ActionPair) ([]protocol.WrapperCall, error) {
	var deallocs []protocol.WrapperCall
	for i, a := range actions {
		if a.Finalize.Fn != 0 {
			if err := runAction(s, a.Finalize); err != nil {
				return nil, errors.Join(fmt.Errorf("finalize action %d: %w", i, err), runDeallocs(s, deallocs))
			}
		}
		if a.Dealloc.Fn != 0 {
			deallocs = append(deallocs, a.Dealloc)
		}
	}
	return deallocs, nil
}

// runDeallocs runs dealloc actions, last first.
func runDeallocs(s *Session, deallocs []protocol.WrapperCall) error {
	var errs []error
	for _, d := range slices.Backward(deallocs) {
		errs = append(errs, runAction(s, d))
	}
	return errors.Join(errs...)
}

// runAction calls an action's wrapper function; its result is an SPS
// Error.
func runAction(s *Session, c protocol.WrapperCall) error {
	out, err := s.CallWrapperSync(uint64(c.Fn), c.Args)
	if err != nil {
		return err
	}
	return sps.ActionResult(uint64(c.Fn), out)
}

// Deallocate (LLVM 14 and 19; LLVM 22's release) runs the dealloc
// actions of the allocations at bases and unmaps them, the last base
// first, as LLVM's executor does: a controller lists a JITDylib's header
// graph before the graphs whose dealloc actions deregister from it.
func (m *MemoryManager) Deallocate(bases []sps.Addr) error {
	var errs []error
	for _, b := range slices.Backward(bases) {
		m.mu.Lock()
		a := m.allocs[uint64(b)]
		delete(m.allocs, uint64(b))
		m.mu.Unlock()
		if a == nil {
			errs = append(errs, fmt.Errorf("memory manager: no allocation at %#x", uint64(b)))
			continue
		}
		errs = append(errs, m.release(a))
	}
	return errors.Join(errs...)
}

// release runs the dealloc actions of a's regions, the highest region
// first, and unmaps it.
func (m *MemoryManager) release(a *allocation) error {
	var errs []error
	for _, start := range slices.Backward(slices.Sorted(maps.Keys(a.regions))) {
		errs = append(errs, runDeallocs(m.s, a.regions[start].deallocs))
	}
	errs = append(errs, sysmem.Unmap(a.mem))
	// LLVM's controller unlinks the object once it has mapped it.
	if err := os.Remove(a.shm); a.shm != "" && err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	m.budget.give(uint64(len(a.mem)))
	return errors.Join(errs...)
}

// Detach forgets the allocations: the memory stays for the code using it.
func (m *MemoryManager) Detach() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.allocs = make(map[uint64]*allocation)
	return nil
}

// Shutdown releases every allocation.
func (m *MemoryManager) Shutdown() error {
	m.mu.Lock()
	allocs := m.allocs
	m.allocs = make(map[uint64]*allocation)
	m.mu.Unlock()
	var errs []error
	for _, a := range allocs {
		errs = append(errs, m.release(a))
	}
	return errors.Join(errs...)
}
