package jitlink

import (
	"errors"
	"sync/atomic"
)

// Memory management is split in three steps, so the same linker can place
// code in its own process or in another one:
//
//   - Allocate reserves target memory for each segment and hands back working
//     memory the linker writes (the two are the same pages in process).
//   - Finalize makes target memory hold the working bytes with the final
//     protections, then runs the allocation actions. It may complete later.
//   - Deallocate runs the dealloc actions and releases the memory.

// SegmentRequest describes one segment of an allocation: the blocks of the
// graph that share a protection and lifetime, laid out contiguously.
type SegmentRequest struct {
	Prot     MemProt
	Lifetime Lifetime
	// Align is the required alignment of the segment's start.
	Align uint64
	// ContentSize bytes of content are followed by ZeroFillSize zero bytes.
	ContentSize  uint64
	ZeroFillSize uint64
}

// Size returns the segment's total size.
func (s SegmentRequest) Size() uint64 { return s.ContentSize + s.ZeroFillSize }

// AllocRequest is what the linker asks a MemoryManager for.
type AllocRequest struct {
	// Graph is the graph being linked (for diagnostics and naming).
	Graph *LinkGraph
	// Dylib identifies the simulated dylib the graph is linked into (nil for
	// none). Memory managers may keep one address pool per dylib so that all
	// of a dylib's code stays within range of itself.
	Dylib any
	// Segments lists the segments in layout order.
	Segments []SegmentRequest
}

// SegmentAlloc is the memory given to one requested segment.
type SegmentAlloc struct {
	// Addr is the segment's address in the executor.
	Addr uint64
	// Working is where the linker writes the segment's bytes, zeroed. It
	// covers at least the segment's content (ContentSize bytes); a manager
	// may leave out the zero-fill part, which the linker never writes (so
	// a large zero-fill segment costs no working memory).
	Working []byte
}

// WrapperCall is a call to a wrapper function in the executor: a function
// taking and returning a byte buffer (see the ORC runtime). Fn == 0 is no
// call.
type WrapperCall struct {
	Fn   uint64
	Args []byte
}

// AllocAction is a pair of calls run in the executor: Finalize once the
// allocation's memory is finalized, Dealloc before it is released. Memory
// managers run dealloc actions in reverse order.
type AllocAction struct {
	Finalize WrapperCall
	Dealloc  WrapperCall
}

// FinalizedAlloc is a handle to finalized memory. Give it back to the memory
// manager that made it to release the memory.
type FinalizedAlloc struct {
	// Addr identifies the allocation in the executor.
	Addr uint64
	// Impl belongs to the memory manager that made the allocation.
	Impl any
}

// InFlightAlloc is memory allocated but not yet finalized.
//
// Ownership is single: the caller passes the allocation to exactly one of
// Finalize and Abandon, once. From then on the memory manager owns it. If
// Finalize fails, the manager has already undone the finalize actions that
// ran and released the memory (out of process, the executor releases it,
// as LLVM's does); the caller must not release it again. A second Finalize
// or an Abandon after Finalize is refused with an error (InFlightState).
type InFlightAlloc interface {
	// Segments returns the memory of each requested segment, in request
	// order.
	Segments() []SegmentAlloc
	// Finalize transfers working memory to the executor, applies the final
	// protections and runs the finalize actions, then calls done, possibly
	// later and from another goroutine. On failure the memory is released.
	Finalize(actions []AllocAction, done func(FinalizedAlloc, error))
	// Abandon releases memory that was never finalized.
	Abandon() error
}

// InFlightState keeps an InFlightAlloc to its contract: whichever of
// Finalize and Abandon comes first wins, and a later call is an error
// rather than a second release.
type InFlightState struct{ used atomic.Int32 }

const (
	inFlightFinalized = 1 + iota
	inFlightAbandoned
)

// Finalizing marks the allocation finalized, or says why it cannot be.
func (s *InFlightState) Finalizing() error { return s.mark(inFlightFinalized) }

// Abandoning marks the allocation abandoned, or says why it cannot be.
func (s *InFlightState) Abandoning() error { return s.mark(inFlightAbandoned) }

func (s *InFlightState) mark(to int32) error {
	if s.used.CompareAndSwap(0, to) {
		return nil
	}
	if s.used.Load() == inFlightFinalized {
		return errors.New("allocation was already finalized: its memory belongs to the memory manager")
	}
	return errors.New("allocation was already abandoned")
}

// MemoryManager allocates memory for linked graphs.
type MemoryManager interface {
	Allocate(req *AllocRequest) (InFlightAlloc, error)
	// Deallocate runs the dealloc actions of the given allocations and
	// releases their memory.
	Deallocate(allocs []FinalizedAlloc) error
}
