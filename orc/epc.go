package orc

import (
	"errors"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// DylibHandle identifies a library loaded in the executor.
type DylibHandle uint64

// SymbolRequest is a symbol to look up in an executor library.
type SymbolRequest struct {
	Name     string
	Required bool
}

// ExecutorProcessControl gives the controller access to the executor: the
// process that runs JIT'd code, which may be this process or another one.
type ExecutorProcessControl interface {
	// TargetTriple is the executor's target triple.
	TargetTriple() triple.Triple
	// PageSize is the executor's page size.
	PageSize() uint64
	// MemoryManager allocates JIT'd memory in the executor.
	MemoryManager() jitlink.MemoryManager
	// LoadDylib loads a shared library in the executor; "" is the executor
	// process itself.
	LoadDylib(path string) (DylibHandle, error)
	// LookupSymbols looks names up in a loaded library. A missing symbol
	// that is not required comes back as address 0; a missing required one
	// is an error.
	LookupSymbols(h DylibHandle, syms []SymbolRequest) ([]uint64, error)
	// RunAsMain calls int main(int, char**) at addr with argv = args.
	RunAsMain(addr uint64, args []string) (int, error)
	// RunAsVoidFunction calls void f(void) at addr.
	RunAsVoidFunction(addr uint64) error
	// RunAsIntFunction calls int f(int) at addr.
	RunAsIntFunction(addr uint64, arg int) (int, error)
	// CallWrapper calls a wrapper function (bytes in, bytes out) at addr.
	CallWrapper(addr uint64, args []byte) ([]byte, error)
	// WriteMemory writes data to executor memory at addr (memory that is
	// writable there, such as a stub's pointer).
	WriteMemory(addr uint64, data []byte) error
	// JITDispatch returns the executor function JIT'd code calls to reach
	// the controller, and the context value it passes (LLVM's
	// __llvm_orc_SimpleRemoteEPC_dispatch_fn and _ctx); ok is false if the
	// executor has none.
	JITDispatch() (fn, ctx uint64, ok bool)
	// SetJITDispatchHandler installs the function that answers those
	// calls; tag is the executor address JIT'd code named.
	SetJITDispatchHandler(h func(tag uint64, args []byte) ([]byte, error))
	// Close releases the executor (for a remote one, ends the connection).
	Close() error
}

// ErrWrapperAtZero is CallWrapper's answer for address 0, a function the
// executor does not offer: it is never called.
var ErrWrapperAtZero = errors.New("call to a wrapper function at address 0 (the executor does not offer it)")

// RuntimeSymbols is offered by executors that carry gorc's runtime: the
// addresses of its functions by name (gorc_tls_get_addr, the registration
// wrappers, gorc_lazy_compile_failed, ...).
type RuntimeSymbols interface {
	RuntimeSymbol(name string) (uint64, bool)
}

// RuntimeFunction looks the runtime function name up in rt; ok is false if
// the executor does not offer it. An offered address of 0 is an error:
// code that would call it must fail to link rather than jump to 0.
func RuntimeFunction(rt RuntimeSymbols, name string) (addr uint64, ok bool, err error) {
	addr, ok = rt.RuntimeSymbol(name)
	if ok && addr == 0 {
		return 0, false, fmt.Errorf("the executor's runtime function %s is at address 0", name)
	}
	return addr, ok, nil
}

// DispatchFunction returns epc's JIT dispatch function and context (see
// ExecutorProcessControl.JITDispatch); ok is false if it has none. A
// dispatch function at address 0 is an error, never code to call.
func DispatchFunction(epc ExecutorProcessControl) (fn, ctx uint64, ok bool, err error) {
	fn, ctx, ok = epc.JITDispatch()
	if ok && fn == 0 {
		return 0, 0, false, errors.New("the executor's JIT dispatch function is at address 0")
	}
	return fn, ctx, ok, nil
}
