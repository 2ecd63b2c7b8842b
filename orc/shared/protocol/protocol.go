// Package protocol defines what controller and executor say to each other
// over the remote-executor connection: the Setup message, the names of the
// wrapper functions the executor publishes, and the SPS types of their
// arguments and results, as the SimpleRemoteEPC of LLVM 14, 19 and 22
// defines them (docs/llvm-protocols.md), plus gorc's own additions (marked
// as such), which LLVM's executor lacks.
package protocol

import (
	"fmt"
	"strings"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// Version names the LLVM release whose executor protocol a peer speaks.
// Releases between these were not examined.
type Version int

const (
	// LLVM14: Setup without a bootstrap map; memory reserve / finalize /
	// deallocate; dylib lookup answers addresses.
	LLVM14 Version = 14
	// LLVM19: Setup with a bootstrap map; dylib handles are addresses
	// and lookup answers (address, flags) pairs; eh-frames register
	// through llvm_orc_registerEHFrameSectionWrapper.
	LLVM19 Version = 19
	// LLVM22: memory reserve / initialize / deinitialize / release; dylib
	// resolve (no instance) answers optional (address, flags) pairs;
	// eh-frames register as allocation actions.
	LLVM22 Version = 22
)

func (v Version) String() string { return fmt.Sprintf("LLVM %d", int(v)) }

// ParseVersion reads "llvm14", "14", "llvm-19" and the like.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(s), "llvm"), "-")
	switch t {
	case "14":
		return LLVM14, nil
	case "19":
		return LLVM19, nil
	case "22":
		return LLVM22, nil
	}
	return 0, fmt.Errorf("unknown protocol %q: want llvm14, llvm19 or llvm22", s)
}

// Setup is the executor's opening message. Bootstrap (LLVM 19 and later)
// holds named SPS-encoded values; LLVM 14's Setup has no such field.
type Setup struct {
	Triple    string
	PageSize  uint64
	Bootstrap []BootstrapValue
	Symbols   []Symbol // the bootstrap symbols
}

// BootstrapValue is an entry of the Setup's bootstrap map.
type BootstrapValue struct {
	Name  string
	Value []byte
}

// setup14 is LLVM 14's Setup layout.
type setup14 struct {
	Triple   string
	PageSize uint64
	Symbols  []Symbol
}

// EncodeSetup encodes s in the layout of v: LLVM 14's, or the one LLVM 19
// and 22 share.
func EncodeSetup(s Setup, v Version) ([]byte, error) {
	if v == LLVM14 {
		return sps.Marshal(setup14{s.Triple, s.PageSize, s.Symbols})
	}
	if s.Bootstrap == nil {
		s.Bootstrap = []BootstrapValue{}
	}
	return sps.Marshal(s)
}

// DecodeSetup decodes an executor's Setup in either layout and says which
// protocol the executor speaks: LLVM 14 by the layout, LLVM 22 rather than
// 19 by its memory manager's initialize wrapper. The layouts cannot be
// confused: each must use every byte, and a 14 Setup read as a 19 one
// takes symbol addresses for lengths.
func DecodeSetup(payload []byte) (Setup, Version, error) {
	var s Setup
	err := sps.Unmarshal(payload, &s)
	if err == nil {
		if hasSymbol(s.Symbols, MemoryManagerInitialize) {
			return s, LLVM22, nil
		}
		return s, LLVM19, nil
	}
	var old setup14
	if err14 := sps.Unmarshal(payload, &old); err14 == nil {
		return Setup{Triple: old.Triple, PageSize: old.PageSize, Symbols: old.Symbols}, LLVM14, nil
	}
	return Setup{}, 0, fmt.Errorf("executor's Setup message (%d bytes) is in neither known layout: "+
		"(triple, page size, bootstrap map, symbols) of LLVM 19 and 22 (%v), nor (triple, page size, symbols) of LLVM 14",
		len(payload), err)
}

func hasSymbol(syms []Symbol, name string) bool {
	for _, s := range syms {
		if s.Name == name {
			return true
		}
	}
	return false
}

// Symbol is a named executor address.
type Symbol struct {
	Name string
	Addr sps.Addr
}

// Bootstrap symbols of LLVM 14's executor.
const (
	DispatchCtx = "__llvm_orc_SimpleRemoteEPC_dispatch_ctx"
	DispatchFn  = "__llvm_orc_SimpleRemoteEPC_dispatch_fn"

	MemoryManagerInstance   = "__llvm_orc_SimpleExecutorMemoryManager_Instance"
	MemoryManagerReserve    = "__llvm_orc_SimpleExecutorMemoryManager_reserve_wrapper"
	MemoryManagerFinalize   = "__llvm_orc_SimpleExecutorMemoryManager_finalize_wrapper"
	MemoryManagerDeallocate = "__llvm_orc_SimpleExecutorMemoryManager_deallocate_wrapper"

	DylibManagerInstance = "__llvm_orc_SimpleExecutorDylibManager_Instance"
	DylibManagerOpen     = "__llvm_orc_SimpleExecutorDylibManager_open_wrapper"
	// DylibManagerLookup answers []sps.Addr in LLVM 14, []SymbolDef in 19.
	DylibManagerLookup = "__llvm_orc_SimpleExecutorDylibManager_lookup_wrapper"

	WriteUint8s  = "__llvm_orc_bootstrap_mem_write_uint8s_wrapper"
	WriteUint16s = "__llvm_orc_bootstrap_mem_write_uint16s_wrapper"
	WriteUint32s = "__llvm_orc_bootstrap_mem_write_uint32s_wrapper"
	WriteUint64s = "__llvm_orc_bootstrap_mem_write_uint64s_wrapper"
	WriteBuffers = "__llvm_orc_bootstrap_mem_write_buffers_wrapper"

	RegisterEHFrame   = "__llvm_orc_bootstrap_register_ehframe_section_wrapper"
	DeregisterEHFrame = "__llvm_orc_bootstrap_deregister_ehframe_section_wrapper"
	RunAsMain         = "__llvm_orc_bootstrap_run_as_main_wrapper"
)

// Names LLVM 19 and 22 add.
const (
	// LLVM 22's memory manager: reserve as in 14; initialize takes
	// FinalizeArgs and answers Expected<Addr> (the lowest segment
	// address, the key of the initialized region); deinitialize runs the
	// dealloc actions of regions by key and keeps the memory; release
	// takes reservation bases (DeallocateArgs) and unmaps them.
	MemoryManagerInitialize   = "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper"
	MemoryManagerDeinitialize = "__llvm_orc_SimpleExecutorMemoryManager_deinitialize_wrapper"
	MemoryManagerRelease      = "__llvm_orc_SimpleExecutorMemoryManager_release_wrapper"

	// DylibManagerResolve (22): ResolveArgs, answers
	// Expected<[]MaybeSymbolDef>.
	DylibManagerResolve = "__llvm_orc_SimpleExecutorDylibManager_resolve_wrapper"

	// LLVM 22's memory access: pointer writes void(seq<(Addr, Addr)>);
	// reads take seq<Addr> and answer seq<uintN>, seq<Addr> or
	// seq<string> (NUL-terminated in memory); buffer reads take
	// seq<AddrRange> and answer seq<seq<uint8>>.
	WritePointers = "__llvm_orc_bootstrap_mem_write_pointers_wrapper"
	ReadUint8s    = "__llvm_orc_bootstrap_mem_read_uint8s_wrapper"
	ReadUint16s   = "__llvm_orc_bootstrap_mem_read_uint16s_wrapper"
	ReadUint32s   = "__llvm_orc_bootstrap_mem_read_uint32s_wrapper"
	ReadUint64s   = "__llvm_orc_bootstrap_mem_read_uint64s_wrapper"
	ReadPointers  = "__llvm_orc_bootstrap_mem_read_pointers_wrapper"
	ReadBuffers   = "__llvm_orc_bootstrap_mem_read_buffers_wrapper"
	ReadStrings   = "__llvm_orc_bootstrap_mem_read_strings_wrapper"

	// LLVM's shared-memory mapper service (19 and 22): reserve takes
	// ReserveArgs and answers Expected<SharedReservation>; initialize
	// takes SharedInitializeArgs and answers Expected<Addr> (the region's
	// key); deinitialize and release take DeallocateArgs (keys, bases).
	SharedMemoryMapperInstance     = "__llvm_orc_ExecutorSharedMemoryMapperService_Instance"
	SharedMemoryMapperReserve      = "__llvm_orc_ExecutorSharedMemoryMapperService_Reserve"
	SharedMemoryMapperInitialize   = "__llvm_orc_ExecutorSharedMemoryMapperService_Initialize"
	SharedMemoryMapperDeinitialize = "__llvm_orc_ExecutorSharedMemoryMapperService_Deinitialize"
	SharedMemoryMapperRelease      = "__llvm_orc_ExecutorSharedMemoryMapperService_Release"

	// Run void f(void) and int f(int): int32(Addr) and int32(Addr, int32).
	RunAsVoidFunction = "__llvm_orc_bootstrap_run_as_void_function_wrapper"
	RunAsIntFunction  = "__llvm_orc_bootstrap_run_as_int_function_wrapper"

	// Eh-frame registration, Error(AddrRange): LLVM 19 calls these
	// directly after finalizing, LLVM 22 attaches them as allocation
	// actions.
	RegisterEHFrameSection       = "llvm_orc_registerEHFrameSectionWrapper"
	DeregisterEHFrameSection     = "llvm_orc_deregisterEHFrameSectionWrapper"
	RegisterEHFrameAllocAction   = "llvm_orc_registerEHFrameAllocAction"
	DeregisterEHFrameAllocAction = "llvm_orc_deregisterEHFrameAllocAction"
	// GDB JIT registration, Error(AddrRange, bool): LLVM 19 looks the
	// wrapper up in the process, LLVM 22 finds the action in Setup.
	RegisterJITLoaderGDBWrapper     = "llvm_orc_registerJITLoaderGDBWrapper"
	RegisterJITLoaderGDBAllocAction = "llvm_orc_registerJITLoaderGDBAllocAction"
)

// PreloadEnv names the environment variable by which a controller that
// launches gorc-executor chooses the libraries it loads at start (a list
// separated by colons, possibly empty) instead of LLVM's executor's set
// (libm, libgcc_s, libstdc++): gorc's controller loads what a program
// needs itself. LLVM's executors ignore it.
const PreloadEnv = "GORC_EXECUTOR_PRELOAD"

// gorc's additions: an executor that publishes these is a gorc executor.
const (
	// RunAsVoid runs void f(void): args (Addr), result Empty.
	RunAsVoid = "__gorc_run_as_void_wrapper"
	// RunAsInt runs int f(int): args (Addr, int32), result int32.
	RunAsInt = "__gorc_run_as_int_wrapper"
	// RunAsMainAndExit runs main as RunAsMain does, answers its result,
	// and then ends the executor process through C's exit(that result),
	// as a native program ends: args RunAsMainArgs, result int64.
	RunAsMainAndExit = "__gorc_run_as_main_and_exit_wrapper"
	// CallFunction calls a function of any C signature: args
	// CallFunctionArgs, result Expected<uint64> (the result word).
	CallFunction = "__gorc_call_function_wrapper"
	// FlushStdio flushes the executor's C stdio streams: args and result
	// Empty.
	FlushStdio = "__gorc_flush_stdio_wrapper"
	// NewCallback makes a C function that forwards its calls to the
	// controller: args NewCallbackArgs, result Expected<Addr>.
	NewCallback = "__gorc_new_callback_wrapper"
	// ReleaseCallback frees a NewCallback function: args Addr, result
	// Empty.
	ReleaseCallback = "__gorc_release_callback_wrapper"
	// ReserveTLSModule reserves a TLS module id: result Expected<uint32>.
	ReserveTLSModule = "__gorc_reserve_tls_module_wrapper"
	// ReserveStaticTLS places a module in static TLS: args
	// StaticTLSArgs, result Expected<int64> (the offset from the thread
	// pointer).
	ReserveStaticTLS = "__gorc_reserve_static_tls_wrapper"

	// Slab memory: a dual-mapped range the controller allocates in (and
	// may map too), many graphs sharing its pages. reserve takes
	// ReserveArgs and answers Expected<SlabReservation>; finalize takes
	// FinalizeArgs (Content empty when the controller wrote the memory
	// itself); release takes DeallocateArgs.
	SlabMemoryInstance = "__gorc_SlabMemory_Instance"
	SlabMemoryReserve  = "__gorc_SlabMemory_reserve_wrapper"
	SlabMemoryFinalize = "__gorc_SlabMemory_finalize_wrapper"
	SlabMemoryRelease  = "__gorc_SlabMemory_release_wrapper"
	// seq<Error> finalize_batch(Addr instance, seq<FinalizeRequest>):
	// finalizes each request as SlabMemoryFinalize does, one Error each.
	SlabMemoryFinalizeBatch = "__gorc_SlabMemory_finalize_batch_wrapper"
)

// Memory protections in a Segment: the low bits are jitlink.MemProt's,
// which are the wire's (LLVM's WireProtectionFlags), so converting them is
// a type conversion (MemProt masks the rest off). LLVM 19 and 22 add
// ProtFinalizeOnly (memory needed only until finalized), which an executor
// may ignore.
const (
	ProtRead         = uint8(jitlink.ProtRead)
	ProtWrite        = uint8(jitlink.ProtWrite)
	ProtExec         = uint8(jitlink.ProtExec)
	ProtFinalizeOnly = 8
)

// MemProt returns a segment's protections without the other flags.
func MemProt(p uint8) jitlink.MemProt { return jitlink.MemProt(p & (ProtRead | ProtWrite | ProtExec)) }

// WrapperCall is a call of a wrapper function by address.
type WrapperCall struct {
	Fn   sps.Addr
	Args []byte
}

// ActionPair is an allocation action: Finalize runs after the memory is
// finalized, Dealloc before it is released.
type ActionPair struct {
	Finalize, Dealloc WrapperCall
}

// Segment is a range of an allocation with its final protection. Content
// may be shorter than Size: the rest is zero.
type Segment struct {
	Prot    uint8
	Addr    sps.Addr
	Size    uint64
	Content []byte
}

// FinalizeRequest finalizes one allocation.
type FinalizeRequest struct {
	Segments []Segment
	Actions  []ActionPair
}

// ReserveArgs: Expected<Addr> reserve(Addr instance, uint64 size).
type ReserveArgs struct {
	Instance sps.Addr
	Size     uint64
}

// FinalizeArgs: Error finalize(Addr instance, FinalizeRequest).
type FinalizeArgs struct {
	Instance sps.Addr
	Request  FinalizeRequest
}

// MarshalSPS encodes a as its fields, as any struct, but into a buffer
// grown once to their size: copied segment content (1.3 MB for main +
// libsqlite3.a) would otherwise grow it step by step, each step a new
// allocation to fault in and a copy, on the way to running the program.
func (a FinalizeArgs) MarshalSPS(e *sps.Encoder) error {
	n := 64
	for _, s := range a.Request.Segments {
		n += 64 + len(s.Content)
	}
	for _, x := range a.Request.Actions {
		n += 64 + len(x.Finalize.Args) + len(x.Dealloc.Args)
	}
	e.Grow(n)
	if err := e.Encode(a.Instance); err != nil {
		return err
	}
	return e.Encode(a.Request)
}

// FinalizeBatchArgs: seq<Error> finalize_batch(Addr instance,
// seq<FinalizeRequest> requests) (gorc's slab memory).
type FinalizeBatchArgs struct {
	Instance sps.Addr
	Requests []FinalizeRequest
}

// DeallocateArgs: Error deallocate(Addr instance, seq<Addr> bases).
type DeallocateArgs struct {
	Instance sps.Addr
	Bases    []sps.Addr
}

// OpenArgs: Expected<uint64> open(Addr instance, string path, uint64 mode).
// An empty path is the executor process itself.
type OpenArgs struct {
	Instance sps.Addr
	Path     string
	Mode     uint64
}

// LookupRequest is one name to look up; a missing name that is not
// required comes back as address 0.
type LookupRequest struct {
	Name     string
	Required bool
}

// LookupArgs: Expected<seq<Addr>> lookup(Addr instance, uint64 handle,
// seq<LookupRequest>).
type LookupArgs struct {
	Instance sps.Addr
	Handle   uint64
	Names    []LookupRequest
}

// SharedReservation is a shared-memory mapper reservation: its address
// and the name of its POSIX shared-memory object.
type SharedReservation struct {
	Addr sps.Addr
	Name string
}

// SharedSegment is a segment of a shared-memory initialize request: the
// controller has written its content.
type SharedSegment struct {
	Prot uint8
	Addr sps.Addr
	Size uint64
}

// SharedInitializeArgs: Expected<Addr> initialize(Addr instance, Addr
// reservation, (seq<SharedSegment>, seq<ActionPair>)).
type SharedInitializeArgs struct {
	Instance    sps.Addr
	Reservation sps.Addr
	Request     struct {
		Segments []SharedSegment
		Actions  []ActionPair
	}
}

// SymbolDef is LLVM 19's ExecutorSymbolDef: an address and its
// JITSymbolFlags (flags, target flags).
type SymbolDef struct {
	Addr        sps.Addr
	Flags       uint8
	TargetFlags uint8
}

// SymbolExported is JITSymbolFlags::Exported, what LLVM's executor
// reports for every symbol it finds.
const SymbolExported = 0x10

// MaybeSymbolDef is LLVM 22's optional SymbolDef: a bool, then the
// definition if true.
type MaybeSymbolDef struct {
	Found bool
	Def   SymbolDef
}

// MarshalSPS writes the bool and, if found, the definition.
func (m MaybeSymbolDef) MarshalSPS(e *sps.Encoder) error {
	e.Bool(m.Found)
	if m.Found {
		return e.Encode(m.Def)
	}
	return nil
}

// UnmarshalSPS reads what MarshalSPS writes.
func (m *MaybeSymbolDef) UnmarshalSPS(d *sps.Decoder) error {
	found, err := d.Bool()
	if err != nil || !found {
		*m = MaybeSymbolDef{}
		return err
	}
	m.Found = true
	return d.Decode(&m.Def)
}

// ResolveArgs: Expected<seq<MaybeSymbolDef>> resolve(Addr handle,
// seq<LookupRequest>) (LLVM 22; no instance).
type ResolveArgs struct {
	Handle sps.Addr
	Names  []LookupRequest
}

// RunAsMainArgs: int64 run_as_main(Addr main, seq<string> args); argv is
// exactly Args.
type RunAsMainArgs struct {
	Main sps.Addr
	Args []string
}

// RunAsIntArgs: int32 run_as_int(Addr fn, int32 arg) (gorc).
type RunAsIntArgs struct {
	Fn  sps.Addr
	Arg int32
}

// CallFunctionArgs: Expected<uint64> call_function(Addr fn, uint8 result,
// seq<uint8> params, seq<uint64> args) (gorc). Types are orc.CType values,
// words as orc.FunctionCaller describes.
type CallFunctionArgs struct {
	Fn     sps.Addr
	Result uint8
	Params []uint8
	Args   []uint64
}

// NewCallbackArgs: Expected<Addr> new_callback(string name, uint8 result,
// seq<uint8> params, Addr ctx, Addr tag) (gorc). Each call of the function
// sends its argument words (seq<uint64>) through the JIT dispatch context
// ctx to the controller's handler for tag, which answers the result word
// (uint64).
type NewCallbackArgs struct {
	Name     string
	Result   uint8
	Params   []uint8
	Ctx, Tag sps.Addr
}

// StaticTLSArgs describe a TLS module's block: its initialized bytes, then
// zeroes up to Size (gorc).
type StaticTLSArgs struct {
	Module      uint32
	Size, Align uint64
	Image       []byte
}

// Write pairs of the bootstrap memory writes: void(seq<WriteN>).
type (
	WriteUint8 struct {
		Addr  sps.Addr
		Value uint8
	}
	WriteUint16 struct {
		Addr  sps.Addr
		Value uint16
	}
	WriteUint32 struct {
		Addr  sps.Addr
		Value uint32
	}
	WriteUint64 struct {
		Addr  sps.Addr
		Value uint64
	}
	WriteBuffer struct {
		Addr sps.Addr
		Data []byte
	}
	WritePointer struct {
		Addr, Value sps.Addr
	}
)

// SlabReservation describes a reserved slab: the file holding its pages
// (a /proc/PID/fd path the controller may map) and its regions, one per
// protection, each mapped from FileOff of the file. A segment lies within
// the region of its protection; a finalized allocation is known by its
// lowest segment address. Free slab memory reads as zero, so segments
// carry content only, never zero-fill.
type SlabReservation struct {
	Path    string
	Regions []SlabRegion
}

// SlabRegion is one region of a slab.
type SlabRegion struct {
	Prot    uint8
	Addr    sps.Addr
	Size    uint64
	FileOff uint64
}
