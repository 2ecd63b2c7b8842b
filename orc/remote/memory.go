package remote

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// copyingManager links into working memory here and sends each segment's
// content to the executor when the allocation is finalized (LLVM's
// EPCGenericJITLinkMemoryManager): one reservation per allocation, as
// LLVM's executor requires. Working memory covers content only: zero-fill
// is neither held here nor sent (the reservation's pages are fresh).
//
// LLVM 22's executor initializes instead of finalizing (answering the
// region's key) and releases instead of deallocating; on failure it keeps
// the reservation, so the controller releases it.
type copyingManager struct {
	e                                    *EPC
	instance, reserve, finalize, dealloc uint64
	initialize                           bool // LLVM 22's protocol
}

func newCopyingManager(e *EPC) *copyingManager {
	m := &copyingManager{e: e,
		instance: e.sym(protocol.MemoryManagerInstance),
		reserve:  e.sym(protocol.MemoryManagerReserve),
		finalize: e.sym(protocol.MemoryManagerFinalize),
		dealloc:  e.sym(protocol.MemoryManagerDeallocate)}
	if e.version == protocol.LLVM22 {
		m.initialize = true
		m.finalize = e.sym(protocol.MemoryManagerInitialize)
		m.dealloc = e.sym(protocol.MemoryManagerRelease)
	}
	return m
}

// layout places segments on page boundaries (each gets its own
// protection) and returns their offsets and the total size.
func layout(segs []jitlink.SegmentRequest, page uint64) ([]uint64, uint64, error) {
	offs := make([]uint64, len(segs))
	var end uint64
	for i, s := range segs {
		align := max(page, s.Align)
		if align&(align-1) != 0 {
			return nil, 0, fmt.Errorf("segment %d: alignment %d is not a power of two", i, s.Align)
		}
		offs[i] = (end + align - 1) &^ (align - 1)
		end = offs[i] + s.Size()
	}
	return offs, max((end+page-1)&^(page-1), page), nil
}

func (m *copyingManager) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	offs, total, err := layout(req.Segments, m.e.PageSize())
	if err != nil {
		return nil, err
	}
	base, err := sps.CallExpected[sps.Addr](m.e, m.reserve, protocol.ReserveArgs{Instance: sps.Addr(m.instance), Size: total})
	if err != nil {
		return nil, fmt.Errorf("reserving %d bytes in the executor: %w", total, err)
	}
	var content uint64
	for _, s := range req.Segments {
		content += s.ContentSize
	}
	working := make([]byte, content)
	a := &copyingAlloc{m: m, base: uint64(base), req: req.Segments, segs: make([]jitlink.SegmentAlloc, len(req.Segments))}
	for i, s := range req.Segments {
		a.segs[i] = jitlink.SegmentAlloc{Addr: uint64(base) + offs[i], Working: working[:s.ContentSize:s.ContentSize]}
		working = working[s.ContentSize:]
	}
	return a, nil
}

func (m *copyingManager) release(bases []sps.Addr) error {
	return sps.CallError(m.e, m.dealloc, protocol.DeallocateArgs{Instance: sps.Addr(m.instance), Bases: bases})
}

// copied is the Impl of a copying manager's FinalizedAlloc: a handle that
// releases once (the executor may since have reused the address).
type copied struct{ released atomic.Bool }

func (m *copyingManager) Deallocate(allocs []jitlink.FinalizedAlloc) error {
	var bases []sps.Addr
	var errs []error
	for _, a := range allocs {
		if c, ok := a.Impl.(*copied); !ok || c.released.Swap(true) {
			errs = append(errs, fmt.Errorf("deallocating %#x: not a live allocation of this memory manager", a.Addr))
			continue
		}
		bases = append(bases, sps.Addr(a.Addr))
	}
	if len(bases) > 0 {
		errs = append(errs, m.release(bases))
	}
	return errors.Join(errs...)
}

type copyingAlloc struct {
	m     *copyingManager
	base  uint64
	req   []jitlink.SegmentRequest
	segs  []jitlink.SegmentAlloc
	state jitlink.InFlightState
}

func (a *copyingAlloc) Segments() []jitlink.SegmentAlloc { return a.segs }

// Finalize sends the content and actions. If finalizing fails, the
// executor has released the reservation (LLVM 14's and 19's do the same),
// so it is not released again here: the address may already belong to
// another graph. LLVM 22's executor keeps it, so then it is released here.
func (a *copyingAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	if err := a.state.Finalizing(); err != nil {
		done(jitlink.FinalizedAlloc{}, err)
		return
	}
	req := protocol.FinalizeRequest{Actions: convertActions(actions)}
	for i, s := range a.req {
		if s.Size() == 0 {
			continue
		}
		req.Segments = append(req.Segments, protocol.Segment{Prot: uint8(s.Prot), Addr: sps.Addr(a.segs[i].Addr),
			Size: s.Size(), Content: a.segs[i].Working[:s.ContentSize]})
	}
	if len(req.Segments) == 0 {
		// LLVM's executor refuses an empty request: send a page of nothing.
		req.Segments = []protocol.Segment{{Prot: protocol.ProtRead, Addr: sps.Addr(a.base), Size: 1}}
	}
	// Answered later: the link goes on with other graphs meanwhile.
	go func() {
		args := protocol.FinalizeArgs{Instance: sps.Addr(a.m.instance), Request: req}
		var err error
		if a.m.initialize {
			if _, err = sps.CallExpected[sps.Addr](a.m.e, a.m.finalize, args); err != nil {
				err = errors.Join(err, a.m.release([]sps.Addr{sps.Addr(a.base)}))
			}
		} else {
			err = sps.CallError(a.m.e, a.m.finalize, args)
		}
		if err != nil {
			done(jitlink.FinalizedAlloc{}, fmt.Errorf("finalizing memory in the executor: %w", err))
			return
		}
		done(jitlink.FinalizedAlloc{Addr: a.base, Impl: &copied{}}, nil)
	}()
}

func (a *copyingAlloc) Abandon() error {
	if err := a.state.Abandoning(); err != nil {
		return err
	}
	return a.m.release([]sps.Addr{sps.Addr(a.base)})
}

func convertActions(actions []jitlink.AllocAction) []protocol.ActionPair {
	out := make([]protocol.ActionPair, len(actions))
	for i, a := range actions {
		out[i] = protocol.ActionPair{
			Finalize: protocol.WrapperCall{Fn: sps.Addr(a.Finalize.Fn), Args: a.Finalize.Args},
			Dealloc:  protocol.WrapperCall{Fn: sps.Addr(a.Dealloc.Fn), Args: a.Dealloc.Args},
		}
	}
	return out
}
