// Package memory provides jitlink.MemoryManagers for code that runs in this
// process: a simple mmap-per-graph manager, a slab that keeps every graph in
// one reserved address range, and a combinator that gives each simulated
// dylib its own slab.
//
// Memory is never writable and executable at once: segments are mapped
// read-write for linking and switched to their final protections when
// finalized. On x86-64 the instruction cache is coherent with data writes,
// and mprotect orders the writes before any execution.
package memory

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
)

// ActionRunner runs an allocation action's wrapper call in this process.
type ActionRunner func(call jitlink.WrapperCall) error

// InProcess maps fresh pages for every graph. It is safe for concurrent use.
type InProcess struct {
	pageSize uint64
	low      bool
	run      ActionRunner
	flush    ICacheFlush
}

// Option configures an in-process memory manager.
type Option func(*options)

type options struct {
	low   bool
	run   ActionRunner
	flush ICacheFlush
}

// ICacheFlush makes code just written at addr (size bytes of this
// process's memory) visible to instruction fetch: the target's
// jitlink.Target.FlushInstructionCache.
type ICacheFlush func(addr, size uint64)

// WithICacheFlush sets how code segments are made visible to instruction
// fetch once finalized (nothing by default, as x86-64 needs).
func WithICacheFlush(f ICacheFlush) Option { return func(o *options) { o.flush = f } }

// Low2GB places memory in the low 2 GiB of the address space, so code built
// with -fno-pic -fno-pie (32-bit absolute relocations) links.
func Low2GB() Option { return func(o *options) { o.low = true } }

// WithActionRunner sets how allocation actions are run. Without one, linking
// a graph that has allocation actions fails.
func WithActionRunner(r ActionRunner) Option { return func(o *options) { o.run = r } }

// NewInProcess returns an in-process memory manager.
func NewInProcess(opts ...Option) *InProcess {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return &InProcess{pageSize: uint64(os.Getpagesize()), low: o.low, run: o.run, flush: o.flush}
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }

// segmentOffsets places each segment on its own pages and returns the
// offsets and the total size.
func segmentOffsets(reqs []jitlink.SegmentRequest, page uint64) ([]uint64, uint64) {
	offs := make([]uint64, len(reqs))
	var total uint64
	for i, r := range reqs {
		total = alignUp(total, page)
		offs[i] = total
		total += alignUp(r.Size(), page)
	}
	return offs, total
}

func mapAnon(size uint64, low bool) ([]byte, error) {
	var flags sysmem.Flag
	if low {
		flags = sysmem.Low2GB
	}
	mem, err := sysmem.Map(0, size, jitlink.ProtRead|jitlink.ProtWrite, flags)
	if err != nil {
		return nil, fmt.Errorf("mapping %d bytes: %w", size, err)
	}
	return mem, nil
}

// checkAlignment rejects segments aligned more strictly than a page: mappings
// are only page-aligned.
func checkAlignment(reqs []jitlink.SegmentRequest, page uint64) error {
	for _, r := range reqs {
		if r.Align > page {
			return fmt.Errorf("segment alignment %d exceeds the page size %d", r.Align, page)
		}
	}
	return nil
}

// Allocate maps one read-write region holding every segment.
func (m *InProcess) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	if err := checkAlignment(req.Segments, m.pageSize); err != nil {
		return nil, err
	}
	offs, total := segmentOffsets(req.Segments, m.pageSize)
	if total == 0 {
		segs := make([]jitlink.SegmentAlloc, len(req.Segments))
		return &inFlight{reqs: req.Segments, segs: segs, run: m.run, flush: m.flush, release: func() error { return nil }}, nil
	}
	mem, err := mapAnon(total, m.low)
	if err != nil {
		return nil, err
	}
	a := &inFlight{reqs: req.Segments, run: m.run, flush: m.flush}
	a.release = func() error { return sysmem.Unmap(mem) }
	a.releaseFinalize = func(i int) error { return sysmem.Unmap(a.pages[i]) }
	a.segs = make([]jitlink.SegmentAlloc, len(req.Segments))
	for i, r := range req.Segments {
		w := mem[offs[i] : offs[i]+r.Size() : offs[i]+r.Size()]
		a.segs[i] = jitlink.SegmentAlloc{Addr: sysmem.Addr(mem) + offs[i], Working: w}
		a.pages = append(a.pages, mem[offs[i]:offs[i]+alignUp(r.Size(), m.pageSize)])
	}
	return a, nil
}

// Deallocate runs dealloc actions and unmaps the allocations.
func (m *InProcess) Deallocate(allocs []jitlink.FinalizedAlloc) error {
	return deallocate(allocs)
}

// finalized is the Impl of an in-process FinalizedAlloc.
type finalized struct {
	dealloc []jitlink.WrapperCall
	run     ActionRunner
	release func() error
	done    bool
}

func deallocate(allocs []jitlink.FinalizedAlloc) error {
	var errs []error
	for _, fa := range allocs {
		f, ok := fa.Impl.(*finalized)
		if !ok || f.done {
			errs = append(errs, fmt.Errorf("deallocate: %#x is not a live allocation of this memory manager", fa.Addr))
			continue
		}
		f.done = true
		for _, c := range slices.Backward(f.dealloc) {
			if err := f.run(c); err != nil {
				errs = append(errs, fmt.Errorf("dealloc action at %#x: %w", c.Fn, err))
			}
		}
		if err := f.release(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inFlight is an allocation between Allocate and Finalize. pages[i] is
// segment i rounded up to whole pages (for mprotect).
type inFlight struct {
	reqs    []jitlink.SegmentRequest
	segs    []jitlink.SegmentAlloc
	pages   [][]byte
	run     ActionRunner
	flush   ICacheFlush // nil: instruction fetch sees writes
	release func() error
	// releaseFinalize frees the finalize-lifetime segments, if the manager
	// can free part of an allocation; nil otherwise.
	releaseFinalize func(seg int) error
	state           jitlink.InFlightState
}

func (a *inFlight) Segments() []jitlink.SegmentAlloc { return a.segs }

func (a *inFlight) Abandon() error {
	if err := a.state.Abandoning(); err != nil {
		return err
	}
	return a.release()
}

// Finalize releases the memory itself if it fails (see
// jitlink.InFlightAlloc).
func (a *inFlight) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	if err := a.state.Finalizing(); err != nil {
		done(jitlink.FinalizedAlloc{}, err)
		return
	}
	fa, err := a.finalize(actions)
	done(fa, err)
}

func (a *inFlight) finalize(actions []jitlink.AllocAction) (jitlink.FinalizedAlloc, error) {
	for i, p := range a.pages {
		// Working memory is mapped read-write: such segments are final.
		if len(p) == 0 || a.reqs[i].Prot == jitlink.ProtRead|jitlink.ProtWrite {
			continue
		}
		if err := sysmem.Protect(p, a.reqs[i].Prot); err != nil {
			a.release()
			return jitlink.FinalizedAlloc{}, fmt.Errorf("mprotect %s segment at %#x: %w", a.reqs[i].Prot, a.segs[i].Addr, err)
		}
	}
	a.flushCode()
	fa, err := a.runActions(actions)
	if err != nil {
		return fa, err
	}
	if a.releaseFinalize != nil {
		for i, r := range a.reqs {
			if r.Lifetime == jitlink.LifetimeFinalize {
				a.releaseFinalize(i)
			}
		}
	}
	if len(a.segs) > 0 {
		fa.Addr = a.segs[0].Addr
	}
	return fa, nil
}

// flushCode makes the code segments visible to instruction fetch, before
// any action can run them.
func (a *inFlight) flushCode() {
	if a.flush == nil {
		return
	}
	for i, r := range a.reqs {
		if r.Prot&jitlink.ProtExec != 0 && r.Size() > 0 {
			a.flush(a.segs[i].Addr, r.Size())
		}
	}
}

// runActions runs the finalize actions in order and returns the finalized
// allocation, which remembers the dealloc actions. If an action fails, those
// that ran are undone and the memory is released.
func (a *inFlight) runActions(actions []jitlink.AllocAction) (jitlink.FinalizedAlloc, error) {
	run := a.run
	if run == nil {
		run = func(c jitlink.WrapperCall) error {
			return fmt.Errorf("no action runner configured for wrapper call to %#x", c.Fn)
		}
	}
	var dealloc []jitlink.WrapperCall
	for _, act := range actions {
		if act.Finalize.Fn != 0 {
			if err := run(act.Finalize); err != nil {
				for _, c := range slices.Backward(dealloc) {
					run(c)
				}
				a.release()
				return jitlink.FinalizedAlloc{}, fmt.Errorf("finalize action at %#x: %w", act.Finalize.Fn, err)
			}
		}
		if act.Dealloc.Fn != 0 {
			dealloc = append(dealloc, act.Dealloc)
		}
	}
	return jitlink.FinalizedAlloc{Impl: &finalized{dealloc: dealloc, run: run, release: a.release}}, nil
}
