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

	// PreservingCallStub returns the machine code of a function
	//
	//	uint64_t stub(uint64_t fn, const uint64_t args[6])
	//
	// that calls fn with the six integer arguments and returns what fn
	// returns in the two integer return registers, and that itself saves
	// and restores every register the C ABI makes callee-saved (and the
	// floating-point control state). Hosts call JIT'd entry points through
	// it, so that code which breaks the ABI on return (legal C such as a
	// global register variable in a callee-saved register) cannot corrupt
	// the caller. The code is position-independent and needs no
	// relocation; nil means the target has none (call fn directly).
	PreservingCallStub() []byte

	// AddFarExternalPasses installs, for a graph placed in the low 2 GiB
	// because its code was built without PIC, the passes that let its
	// 32-bit references reach external symbols out of their range (see
	// FarExternals). It returns an error naming the architecture if the
	// target has no such passes.
	AddFarExternalPasses(cfg *PassConfig, fe FarExternals) error

	// GOTSectionName returns the name of the section that holds the GOT
	// entries the architecture's backend makes.
	GOTSectionName() string
	// IsBranch reports whether kind is a direct call or jump to its
	// target, which a stub jumping to that target may stand in for.
	IsBranch(kind EdgeKind) bool
	// BlockStubs returns a function that appends to block b of g (whose
	// content must be mutable) a stub jumping to callee through a GOT
	// entry of g, and returns the stub's symbol. RuntimeDyld-style loaders
	// keep such stubs at the end of the calling section, so that they stay
	// in branch range however sections are mapped. The function's calls
	// share GOT entries (one per callee) with each other and with the
	// backend's table passes.
	BlockStubs(g *LinkGraph) func(b *Block, callee *Symbol) *Symbol

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

// FarExternals configures Target.AddFarExternalPasses. A native link
// answers a 32-bit reference of non-PIC code to a shared library's
// function with a canonical PLT entry and one to its variable with a copy
// relocation; a JIT sends the function's references to a stub, copies only
// variables that never change, and fails for the rest (compile with
// -fPIC).
type FarExternals struct {
	// IsCode reports whether an executor address is code (in executable
	// memory). Nil: no address is known to be code.
	IsCode func(addr uint64) bool
	// Copy reports whether the external variable name may be copied, and
	// the symbol whose address the variable holds (it holds nothing else
	// for its life), so that the copy is that address.
	Copy func(name string) (pointee string, ok bool)
}
