package jitlink

import (
	"encoding/binary"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Target is an architecture as the layers above the linker see it:
// everything machine-specific that ORC, its platforms, lljit and the
// in-process runtime need and that does not come from an object file.
// Graphs built from objects carry their architecture's Backend (fixups,
// GOT/PLT passes); a Target supplies the rest: the facts of the machine,
// the passes a TLS platform adds, the machine code JIT layers write
// (lazy-call stubs and their reentry code, platform thunks), and what
// memory holding code needs.
//
// Each architecture package implements it (x86_64.Target); jitlink/target
// picks one by triple. A Target holds no state of a session and is safe
// for concurrent use. The graphs its methods build are ordinary graphs of
// the architecture: they are linked like any other, so their addresses and
// the external symbols they name are resolved by the usual lookups.
//
// Code that a method documents as "called as f(args)" follows the
// target's C calling convention.
type Target interface {
	// Triple returns the target the value was made for.
	Triple() triple.Triple
	// PointerSize returns the size of an address in bytes.
	PointerSize() int
	// Endianness returns the byte order of the target's memory.
	Endianness() binary.ByteOrder

	// NewLinkGraph returns an empty graph of the architecture, for code
	// and data built by hand.
	NewLinkGraph(name string) *LinkGraph
	// PointerEdge returns the edge kind that stores its target's address
	// (plus the addend) in a pointer-sized field.
	PointerEdge() EdgeKind
	// TailCallThunk adds to g, in sec, a function that keeps its first
	// keep arguments, passes the address of each of extra as the following
	// arguments (a nil entry passes a null pointer) and tail-calls callee.
	// It returns the function's block; the caller names it. ELF's
	// atexit(f) is such a thunk: __cxa_atexit(f, NULL, &__dso_handle).
	TailCallThunk(g *LinkGraph, sec *Section, keep int, extra []*Symbol, callee *Symbol) *Block

	// GOTEntryTarget returns the symbol a GOT entry the architecture's
	// backend made points at, or nil if s is not such an entry.
	GOTEntryTarget(s *Symbol) *Symbol
	// StubTarget returns the function a PLT stub the architecture's
	// backend made jumps to, or nil if s is not such a stub.
	StubTarget(s *Symbol) *Symbol

	// AddTLSPasses installs the passes that lower thread-local accesses
	// for a TLS platform (whose symbols' values are TLS keys, see
	// EncodeTLSKey): after pruning, the dynamic models' tls_index entries
	// and the initial-exec GOT entries; before fixups, initial- and
	// local-exec accesses to modules in static TLS. staticTPOff returns a
	// key's offset from the thread pointer, or false when its module is
	// not in static TLS (such an access then fails with a message saying
	// so).
	AddTLSPasses(cfg *PassConfig, staticTPOff func(key uint64) (int64, bool))

	// LazyReentryGraph returns the code lazy call-throughs enter on their
	// first call (see LazyReentry).
	LazyReentryGraph(r LazyReentry) *LinkGraph
	// LazyStubsGraph returns a graph named name with one stub per entry
	// of stubs: a function of the stub's name that jumps through a
	// pointer, which first points at a trampoline entering the reentry
	// code at reentry with the stub's id. It returns the pointers'
	// symbols, in the order of stubs: once the graph is allocated, their
	// addresses are where the controller writes a body's address (one
	// aligned pointer-sized store, which a caller racing with it sees
	// whole).
	LazyStubsGraph(name string, reentry uint64, stubs []LazyStub) (*LinkGraph, []*Symbol)

	// InitThunkGraph returns a graph defining name, hidden, called as
	// name(argc, argv, envp): if finis is not empty it registers a
	// function calling finis in reverse order with
	// __cxa_atexit(f, NULL, &__dso_handle), then it calls each of inits
	// in order as init(argc, argv, envp), as the dynamic loader runs
	// initializers, and returns 0. __cxa_atexit and __dso_handle are
	// external symbols of the graph.
	InitThunkGraph(name string, inits, finis []uint64) *LinkGraph

	// FlushInstructionCache makes code just written to size bytes at
	// addr, memory of this process, visible to instruction fetch (nothing
	// to do where instruction fetch is coherent with stores, as on
	// x86-64). In-process memory managers call it when they finalize code
	// (memory.WithICacheFlush), and so do the executor's memory services
	// (orcrt) with their host's.
	FlushInstructionCache(addr, size uint64)
}

// LazyReentry describes the reentry code of lazy call-throughs. Entered
// from a trampoline with a call-through's id, it saves the argument
// registers, calls DispatchFn(DispatchCtx, &tag, &id, sizeof id) (the
// JIT dispatch function) to ask the controller for the body's address,
// restores the registers and jumps to the body. When the controller
// answers with an error, it jumps with the arguments restored to
// FailureHandler if that is not 0, else calls ReportFailure(message),
// which must not return.
type LazyReentry struct {
	// Symbol names the reentry code; TagSymbol names a byte whose address
	// is the tag of the controller's dispatch handler.
	Symbol, TagSymbol       string
	DispatchFn, DispatchCtx uint64
	FailureHandler          uint64
	ReportFailure           uint64
}

// LazyStub is one lazy call-through: a function named Name, hidden when
// Hidden, whose first call enters the reentry code with ID.
type LazyStub struct {
	Name   string
	ID     uint64
	Hidden bool
}
