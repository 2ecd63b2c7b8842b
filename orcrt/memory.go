package orcrt

import (
	"errors"
	"fmt"
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
// links into its own working memory, and sends the segments to finalize.
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
	mem       []byte
	finalized bool
	deallocs  []protocol.WrapperCall // reverse order of running
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
		protocol.MemoryManagerDeallocate: SyncWrapper(sps.Handler(func(a protocol.DeallocateArgs) error {
			if err := m.check(a.Instance); err != nil {
				return err
			}
			return m.Deallocate(a.Bases)
		})),
	})
	if err != nil {
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
	m.allocs[base] = &allocation{mem: mem}
	m.mu.Unlock()
	return base, nil
}

// Finalize copies each segment's content in, applies its protection, and
// runs the finalize actions. An allocation is finalized once, so the rest
// of each segment is still zero and is not written (a large zero-fill
// segment costs nothing until used). If finalizing fails, the allocation
// is released here, as LLVM's executor does: the dealloc actions of the
// finalize actions that ran are run and the memory is unmapped, and the
// controller does not deallocate it.
func (m *MemoryManager) Finalize(req protocol.FinalizeRequest) error {
	if len(req.Segments) == 0 {
		if len(req.Actions) > 0 {
			return errors.New("memory manager: finalize actions without segments")
		}
		return nil
	}
	base := uint64(req.Segments[0].Addr)
	for _, seg := range req.Segments {
		base = min(base, uint64(seg.Addr))
	}
	m.mu.Lock()
	alloc := m.allocs[base]
	if alloc == nil || alloc.finalized {
		m.mu.Unlock()
		return fmt.Errorf("memory manager: no allocation to finalize at %#x", base)
	}
	alloc.finalized = true
	m.mu.Unlock()
	fail := func(err error) error {
		m.mu.Lock()
		delete(m.allocs, base)
		m.mu.Unlock()
		return errors.Join(err, m.release(alloc))
	}
	for _, seg := range req.Segments {
		off := uint64(seg.Addr) - base
		if off > uint64(len(alloc.mem)) || seg.Size > uint64(len(alloc.mem))-off {
			return fail(fmt.Errorf("memory manager: range %#x+%#x is not in the allocation at %#x", uint64(seg.Addr), seg.Size, base))
		}
		if uint64(len(seg.Content)) > seg.Size {
			return fail(fmt.Errorf("memory manager: segment at %#x has %d bytes of content for %d bytes", uint64(seg.Addr), len(seg.Content), seg.Size))
		}
		copy(alloc.mem[off:], seg.Content)
	}
	for _, seg := range req.Segments {
		if err := protect(alloc.mem, uint64(seg.Addr)-base, seg.Size, seg.Prot); err != nil {
			return fail(err)
		}
	}
	m.config.flushCode(req.Segments)
	deallocs, err := runActions(m.s, req.Actions)
	if err != nil {
		return fail(err)
	}
	m.mu.Lock()
	alloc.deallocs = deallocs
	m.mu.Unlock()
	return nil
}

// protect applies prot to the pages of [off, off+size) of mem.
func protect(mem []byte, off, size uint64, prot uint8) error {
	if size == 0 {
		return nil
	}
	page := uint64(os.Getpagesize())
	start := off &^ (page - 1)
	end := min((off+size+page-1)&^(page-1), uint64(len(mem)))
	if err := sysmem.Protect(mem[start:end], jitlink.MemProt(prot)); err != nil {
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

// Deallocate runs the dealloc actions of the allocations at bases (in
// reverse order) and unmaps them.
func (m *MemoryManager) Deallocate(bases []sps.Addr) error {
	var errs []error
	for _, b := range bases {
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

func (m *MemoryManager) release(a *allocation) error {
	err := errors.Join(runDeallocs(m.s, a.deallocs), sysmem.Unmap(a.mem))
	m.budget.give(uint64(len(a.mem)))
	return err
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
