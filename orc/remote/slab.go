package remote

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gorc-jit/gorc/internal/spans"
	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// slabSize is the slab a slab manager reserves in the executor: one range
// for every graph, so all stay within 32-bit reach of each other and (code
// first) of the executor's libraries.
const slabSize = 1 << 30

// slabGranule is the executor's allocation granularity in a slab (that of
// memory.DualMapped; orc/remote stays free of the memory package's
// system calls).
const slabGranule = 64

// slabManager allocates in a slab of gorc's executor (orcrt.SlabMemory):
// this process keeps the slab's free lists, so allocating costs no round
// trip, and graphs share the executor's pages and mappings. With shared
// memory the linker writes straight into the slab through this process's
// mapping of its file and finalizing sends only protections and actions;
// otherwise segments' content travels with the finalize call. Zero-fill
// never travels: free slab memory is zero. Requests the slab cannot hold
// go to the copying manager.
type slabManager struct {
	e                                    *EPC
	instance, reserve, finalize, release uint64
	wantShared                           bool
	fall                                 *copyingManager
	batch                                uint64          // finalize_batch, if the executor has it
	finalizer                            *batchFinalizer // nil: one call per allocation
	ready                                chan struct{}   // closed once the slab is set up (or failed to be)

	mu    sync.Mutex
	slab  *clientSlab
	fails bool // the slab could not be set up: use the fallback
}

// clientSlab is this process's record of a slab.
type clientSlab struct {
	regions []clientRegion
	local   []byte // this process's view of the slab's file, nil when copying
}

type clientRegion struct {
	prot          jitlink.MemProt
	addr, fileOff uint64
	free          *spans.List
}

func newSlabManager(e *EPC, shared bool) (*slabManager, error) {
	for _, name := range []string{protocol.SlabMemoryInstance, protocol.SlabMemoryReserve,
		protocol.SlabMemoryFinalize, protocol.SlabMemoryRelease} {
		if e.sym(name) == 0 {
			return nil, errors.New("the executor has no slab memory")
		}
	}
	m := &slabManager{e: e, wantShared: shared, fall: newCopyingManager(e),
		instance: e.sym(protocol.SlabMemoryInstance),
		reserve:  e.sym(protocol.SlabMemoryReserve),
		finalize: e.sym(protocol.SlabMemoryFinalize),
		release:  e.sym(protocol.SlabMemoryRelease),
		batch:    e.sym(protocol.SlabMemoryFinalizeBatch),
		ready:    make(chan struct{})}
	// At once, rather than at the first allocation: the round trip then
	// overlaps the JIT's construction and the adding of inputs instead of
	// delaying the first graph.
	go func() {
		defer close(m.ready)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.fails = m.setUp() != nil
	}()
	return m, nil
}

// setUp reserves the slab and, for shared memory, maps its file here.
// Called locked.
func (m *slabManager) setUp() error {
	r, err := sps.CallExpected[protocol.SlabReservation](m.e, m.reserve,
		protocol.ReserveArgs{Instance: sps.Addr(m.instance), Size: slabSize})
	if err != nil {
		return err
	}
	sl := &clientSlab{}
	var fileSize uint64
	for _, reg := range r.Regions {
		sl.regions = append(sl.regions, clientRegion{prot: jitlink.MemProt(reg.Prot), addr: uint64(reg.Addr),
			fileOff: reg.FileOff, free: spans.New(reg.Size)})
		fileSize = max(fileSize, reg.FileOff+reg.Size)
	}
	if m.wantShared {
		// Another machine, or not allowed to see the executor's files:
		// copy instead.
		if f, err := os.OpenFile(r.Path, os.O_RDWR, 0); err == nil {
			sl.local, _ = sysmem.MapFile(f, fileSize)
			f.Close()
		}
	}
	if sl.local != nil && m.batch != 0 {
		// Only requests without content: batching content made copying
		// slower (each batch waits for the one before).
		m.finalizer = &batchFinalizer{e: m.e, instance: m.instance, fn: m.batch}
	}
	m.slab = sl
	return nil
}

// slabPiece is one segment's granules.
type slabPiece struct {
	region    int
	off, size uint64
}

func (m *slabManager) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	<-m.ready
	m.mu.Lock()
	a, ok := m.place(req.Segments)
	m.mu.Unlock()
	if !ok {
		return m.fall.Allocate(req)
	}
	var working []byte
	if m.slab.local == nil {
		var content uint64
		for _, s := range req.Segments {
			content += s.ContentSize
		}
		working = make([]byte, content)
	}
	for i, s := range req.Segments {
		p := a.pieces[i]
		r := m.slab.regions[p.region]
		a.segs[i].Addr = r.addr + p.off
		if m.slab.local != nil {
			start := r.fileOff + p.off
			a.segs[i].Working = m.slab.local[start : start+s.Size() : start+s.Size()]
		} else {
			a.segs[i].Working, working = working[:s.ContentSize:s.ContentSize], working[s.ContentSize:]
		}
	}
	return a, nil
}

// place takes room for every segment from its region's free list, or
// reports that the slab cannot hold the request. Called locked.
func (m *slabManager) place(segs []jitlink.SegmentRequest) (*slabAlloc, bool) {
	if m.slab == nil {
		return nil, false
	}
	a := &slabAlloc{m: m, req: segs, segs: make([]jitlink.SegmentAlloc, len(segs)), pieces: make([]slabPiece, len(segs))}
	placed := false
	for i, s := range segs {
		ri := m.slab.region(s.Prot)
		if ri < 0 {
			m.give(a.pieces[:i])
			return nil, false
		}
		size := (s.Size() + slabGranule - 1) &^ (slabGranule - 1)
		off, ok := m.slab.regions[ri].free.TakeAligned(size, max(s.Align, slabGranule))
		if !ok {
			m.give(a.pieces[:i])
			return nil, false
		}
		a.pieces[i] = slabPiece{ri, off, size}
		placed = placed || size > 0
	}
	if !placed {
		// Nothing to place: the executor keeps no empty allocations.
		return nil, false
	}
	return a, true
}

func (sl *clientSlab) region(p jitlink.MemProt) int {
	for i, r := range sl.regions {
		if r.prot == p {
			return i
		}
	}
	return -1
}

// give returns pieces to the free lists. Called locked.
func (m *slabManager) give(ps []slabPiece) error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, m.slab.regions[p.region].free.Give(p.off, p.size))
	}
	return errors.Join(errs...)
}

func (m *slabManager) giveLocked(ps []slabPiece) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.give(ps)
}

// slabFinalized is the Impl of a slab allocation's FinalizedAlloc: a
// handle that releases once.
type slabFinalized struct {
	pieces   []slabPiece
	released atomic.Bool
}

func (m *slabManager) Deallocate(allocs []jitlink.FinalizedAlloc) error {
	var bases []sps.Addr
	var pieces []slabPiece
	var other []jitlink.FinalizedAlloc
	var errs []error
	for _, fa := range allocs {
		f, ok := fa.Impl.(*slabFinalized)
		switch {
		case !ok:
			other = append(other, fa)
		case f.released.Swap(true):
			errs = append(errs, fmt.Errorf("deallocating %#x: already deallocated", fa.Addr))
		default:
			bases = append(bases, sps.Addr(fa.Addr))
			pieces = append(pieces, f.pieces...)
		}
	}
	if len(bases) > 0 {
		// The executor frees (and zeroes) the memory whatever its dealloc
		// actions answer.
		errs = append(errs, sps.CallError(m.e, m.release, protocol.DeallocateArgs{Instance: sps.Addr(m.instance), Bases: bases}),
			m.giveLocked(pieces))
	}
	if len(other) > 0 {
		errs = append(errs, m.fall.Deallocate(other))
	}
	return errors.Join(errs...)
}

type slabAlloc struct {
	m      *slabManager
	req    []jitlink.SegmentRequest
	segs   []jitlink.SegmentAlloc
	pieces []slabPiece
	state  jitlink.InFlightState
}

func (a *slabAlloc) Segments() []jitlink.SegmentAlloc { return a.segs }

// Finalize sends the segments (their content unless it is already in
// place) and the actions. If finalizing fails, the executor has released
// (and zeroed) what it took, and the pieces go back to the free lists
// here.
func (a *slabAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	if err := a.state.Finalizing(); err != nil {
		done(jitlink.FinalizedAlloc{}, err)
		return
	}
	req := protocol.FinalizeRequest{Actions: convertActions(actions)}
	base := ^uint64(0)
	for i, s := range a.req {
		if s.Size() == 0 {
			continue
		}
		seg := protocol.Segment{Prot: uint8(s.Prot), Addr: sps.Addr(a.segs[i].Addr), Size: s.Size()}
		if a.m.slab.local == nil {
			seg.Content = a.segs[i].Working[:s.ContentSize]
		}
		req.Segments = append(req.Segments, seg)
		base = min(base, a.segs[i].Addr)
	}
	// Answered later: the link goes on with other graphs meanwhile.
	finished := func(err error) {
		if err != nil {
			a.clearContent()
			done(jitlink.FinalizedAlloc{}, errors.Join(fmt.Errorf("finalizing memory in the executor: %w", err), a.m.giveLocked(a.pieces)))
			return
		}
		done(jitlink.FinalizedAlloc{Addr: base, Impl: &slabFinalized{pieces: a.pieces}}, nil)
	}
	if a.m.finalizer != nil {
		a.m.finalizer.add(req, finished)
		return
	}
	go func() {
		finished(sps.CallError(a.m.e, a.m.finalize, protocol.FinalizeArgs{Instance: sps.Addr(a.m.instance), Request: req}))
	}()
}

// Abandon returns memory the executor never saw finalized. With shared
// memory this process may have written its content: clearing that keeps
// free slab memory zero (the zero-fill part was never written).
func (a *slabAlloc) Abandon() error {
	if err := a.state.Abandoning(); err != nil {
		return err
	}
	a.clearContent()
	return a.m.giveLocked(a.pieces)
}

// clearContent zeroes what this process may have written into shared
// memory (the zero-fill part it never writes).
func (a *slabAlloc) clearContent() {
	if a.m.slab.local != nil {
		for i, s := range a.req {
			clear(a.segs[i].Working[:s.ContentSize])
		}
	}
}

// batchFinalizer sends finalize requests to gorc's executor one call at a
// time: requests made while a call is on its way wait, and go together in
// the next call. A link finalizes graphs faster than the executor answers,
// so most go in batches: one message each way, and one wake-up of each
// process, for many graphs (sqlite: 90 graphs in about a dozen calls).
// Nothing waits longer than one call's round trip more than it did.
type batchFinalizer struct {
	e            *EPC
	instance, fn uint64

	mu      sync.Mutex
	sending bool
	queue   []queuedFinalize
}

type queuedFinalize struct {
	req  protocol.FinalizeRequest
	done func(error)
}

// maxBatchBytes bounds a batch's size (actions' arguments); a larger
// request goes alone.
const maxBatchBytes = 4 << 20

func (f *batchFinalizer) add(req protocol.FinalizeRequest, done func(error)) {
	f.mu.Lock()
	f.queue = append(f.queue, queuedFinalize{req, done})
	start := !f.sending
	f.sending = true
	f.mu.Unlock()
	if start {
		go f.send()
	}
}

// send makes calls until the queue is empty.
func (f *batchFinalizer) send() {
	for {
		f.mu.Lock()
		n, size := 0, 0
		for ; n < len(f.queue); n++ {
			if size += requestBytes(f.queue[n].req); n > 0 && size > maxBatchBytes {
				break
			}
		}
		batch := f.queue[:n:n]
		f.queue = f.queue[n:]
		if n == 0 {
			f.sending = false
			f.queue = nil
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		args := protocol.FinalizeBatchArgs{Instance: sps.Addr(f.instance), Requests: make([]protocol.FinalizeRequest, n)}
		for i, q := range batch {
			args.Requests[i] = q.req
		}
		errs, err := sps.CallExpected[[]error](f.e, f.fn, args)
		if err == nil && len(errs) != n {
			err = fmt.Errorf("the executor answered %d results for %d finalize requests", len(errs), n)
		}
		// Not on this goroutine: a caller's continuation may wait for
		// something the next batch brings.
		go func() {
			for i, q := range batch {
				if err != nil {
					q.done(err)
				} else {
					q.done(errs[i])
				}
			}
		}()
	}
}

// requestBytes is about the size of a request on the wire.
func requestBytes(r protocol.FinalizeRequest) int {
	n := 0
	for _, s := range r.Segments {
		n += len(s.Content) + 32
	}
	for _, a := range r.Actions {
		n += len(a.Finalize.Args) + len(a.Dealloc.Args) + 32
	}
	return n
}
