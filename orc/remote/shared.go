package remote

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/gorc-jit/gorc/internal/spans"
	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// sharedSlabSize is the address range a shared-memory manager reserves in
// the executor: one range for every graph, so all stay within 32-bit reach
// of each other and (code and data mixed) of the executor's libraries.
const sharedSlabSize = 512 << 20

// sharedManager links straight into memory the executor maps too (gorc's
// shared-memory mapper): the linker's working memory is the executor's
// memory, seen through this process's mapping of the same memfd, and
// finalizing only applies protections and runs actions there.
type sharedManager struct {
	e                                        *EPC
	instance, reserve, initialize, releaseFn uint64
	page                                     uint64

	mu    sync.Mutex
	slab  *sharedSlab
	fails bool // the slab could not be set up: use the fallback
	fall  *copyingManager
}

type sharedSlab struct {
	base  uint64 // executor address
	local []byte // this process's view
	free  *spans.List
}

// pageSpan is the Impl of a shared FinalizedAlloc.
type pageSpan struct{ off, size uint64 }

func newSharedManager(e *EPC) (*sharedManager, error) {
	for _, name := range []string{protocol.SharedMemoryInstance, protocol.SharedMemoryReserve,
		protocol.SharedMemoryInitialize, protocol.SharedMemoryRelease} {
		if e.sym(name) == 0 {
			return nil, errors.New("the executor has no shared-memory mapper")
		}
	}
	return &sharedManager{e: e, page: e.PageSize(), fall: newCopyingManager(e),
		instance:   e.sym(protocol.SharedMemoryInstance),
		reserve:    e.sym(protocol.SharedMemoryReserve),
		initialize: e.sym(protocol.SharedMemoryInitialize),
		releaseFn:  e.sym(protocol.SharedMemoryRelease)}, nil
}

// setUp reserves the slab and maps it here. Called locked.
func (m *sharedManager) setUp() error {
	r, err := sps.CallExpected[protocol.SharedReservation](m.e, m.reserve,
		protocol.SharedReserveArgs{Instance: sps.Addr(m.instance), Size: sharedSlabSize})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(r.Path, os.O_RDWR, 0)
	if err != nil {
		// Another machine, or not allowed to see the executor's files.
		return err
	}
	defer f.Close()
	local, err := sysmem.MapFile(f, sharedSlabSize)
	if err != nil {
		return err
	}
	m.slab = &sharedSlab{base: uint64(r.Addr), local: local, free: spans.New(sharedSlabSize)}
	return nil
}

func (m *sharedManager) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	offs, total, err := layout(req.Segments, m.page)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.slab == nil && !m.fails {
		if err := m.setUp(); err != nil {
			m.fails = true
		}
	}
	var off uint64
	ok := false
	if m.slab != nil {
		off, ok = m.slab.free.Take(total)
	}
	m.mu.Unlock()
	if !ok {
		return m.fall.Allocate(req)
	}
	a := &sharedAlloc{m: m, off: off, size: total, req: req.Segments, segs: make([]jitlink.SegmentAlloc, len(req.Segments))}
	for i, s := range req.Segments {
		start := off + offs[i]
		end := start + s.Size()
		a.segs[i] = jitlink.SegmentAlloc{Addr: m.slab.base + start, Working: m.slab.local[start:end:end]}
	}
	return a, nil
}

func (m *sharedManager) Deallocate(allocs []jitlink.FinalizedAlloc) error {
	var shared []sps.Addr
	var spans []pageSpan
	var copied []jitlink.FinalizedAlloc
	for _, fa := range allocs {
		if sp, ok := fa.Impl.(pageSpan); ok {
			shared = append(shared, sps.Addr(fa.Addr))
			spans = append(spans, sp)
		} else {
			copied = append(copied, fa)
		}
	}
	var errs []error
	if len(shared) > 0 {
		errs = append(errs, sps.CallError(m.e, m.releaseFn, protocol.SharedReleaseArgs{Instance: sps.Addr(m.instance), Bases: shared}))
		// The executor punched the pages out: they read as zero again.
		m.mu.Lock()
		for _, sp := range spans {
			m.slab.free.Give(sp.off, sp.size)
		}
		m.mu.Unlock()
	}
	if len(copied) > 0 {
		errs = append(errs, m.fall.Deallocate(copied))
	}
	return errors.Join(errs...)
}

type sharedAlloc struct {
	m         *sharedManager
	off, size uint64
	req       []jitlink.SegmentRequest
	segs      []jitlink.SegmentAlloc
}

func (a *sharedAlloc) Segments() []jitlink.SegmentAlloc { return a.segs }

func (a *sharedAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	req := protocol.FinalizeRequest{Actions: convertActions(actions)}
	for i, s := range a.req {
		if s.Size() > 0 {
			req.Segments = append(req.Segments, protocol.Segment{Prot: uint8(s.Prot), Addr: sps.Addr(a.segs[i].Addr), Size: s.Size()})
		}
	}
	base := a.m.slab.base + a.off
	if len(req.Segments) == 0 {
		req.Segments = []protocol.Segment{{Prot: protocol.ProtRead, Addr: sps.Addr(base), Size: 1}}
	}
	// Answered later: the link goes on with other graphs meanwhile.
	go func() {
		err := sps.CallError(a.m.e, a.m.initialize, protocol.SharedInitializeArgs{Instance: sps.Addr(a.m.instance), Request: req})
		if err != nil {
			done(jitlink.FinalizedAlloc{}, errors.Join(fmt.Errorf("initializing shared memory in the executor: %w", err), a.Abandon()))
			return
		}
		done(jitlink.FinalizedAlloc{Addr: base, Impl: pageSpan{a.off, a.size}}, nil)
	}()
}

// Abandon returns memory that was never initialized: only this process
// wrote it, so clearing it here is enough.
func (a *sharedAlloc) Abandon() error {
	m := a.m
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.slab.local[a.off : a.off+a.size])
	m.slab.free.Give(a.off, a.size)
	return nil
}
