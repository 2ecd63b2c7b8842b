// Package protocol defines what controller and executor say to each other
// over the remote-executor connection: the Setup message, the names of the
// wrapper functions the executor publishes, and the SPS types of their
// arguments and results, as LLVM 14's SimpleRemoteEPC defines them, plus
// gorc's own additions (marked as such), which LLVM's executor lacks.
package protocol

import (
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// Setup is the executor's opening message.
type Setup struct {
	Triple   string
	PageSize uint64
	Symbols  []Symbol // the bootstrap symbols
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
	DylibManagerLookup   = "__llvm_orc_SimpleExecutorDylibManager_lookup_wrapper"

	WriteUint8s  = "__llvm_orc_bootstrap_mem_write_uint8s_wrapper"
	WriteUint16s = "__llvm_orc_bootstrap_mem_write_uint16s_wrapper"
	WriteUint32s = "__llvm_orc_bootstrap_mem_write_uint32s_wrapper"
	WriteUint64s = "__llvm_orc_bootstrap_mem_write_uint64s_wrapper"
	WriteBuffers = "__llvm_orc_bootstrap_mem_write_buffers_wrapper"

	RegisterEHFrame   = "__llvm_orc_bootstrap_register_ehframe_section_wrapper"
	DeregisterEHFrame = "__llvm_orc_bootstrap_deregister_ehframe_section_wrapper"
	RunAsMain         = "__llvm_orc_bootstrap_run_as_main_wrapper"
)

// gorc's additions: an executor that publishes these is a gorc executor.
const (
	// RunAsVoid runs void f(void): args (Addr), result Empty.
	RunAsVoid = "__gorc_run_as_void_wrapper"
	// RunAsInt runs int f(int): args (Addr, int32), result int32.
	RunAsInt = "__gorc_run_as_int_wrapper"
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
)

// Memory protections in a Segment: jitlink.MemProt's bits, which are the
// wire's (LLVM's WireProtectionFlags), so a conversion is a type conversion.
const (
	ProtRead  = uint8(jitlink.ProtRead)
	ProtWrite = uint8(jitlink.ProtWrite)
	ProtExec  = uint8(jitlink.ProtExec)
)

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
