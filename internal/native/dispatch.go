//go:build linux

package native

/*
#include <stdlib.h>
#include <string.h>
#include "runtime.h"
*/
import "C"

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"
)

// DispatchFunc answers a call JIT'd code makes to the controller: tag
// names the handler, args are the bytes the code passed.
type DispatchFunc func(tag uint64, args []byte) ([]byte, error)

// dispatchers maps the contexts JIT'd code passes to gorc_jit_dispatch to
// their functions. A context is an opaque number, checked on every call,
// so a corrupt one gets an error rather than a crash.
var (
	dispatchers sync.Map // uint64 -> DispatchFunc
	nextCtx     atomic.Uint64
)

// NewDispatchContext registers f and returns the context value JIT'd code
// passes to the dispatch function, and a function that unregisters it.
func NewDispatchContext(f DispatchFunc) (ctx uint64, release func()) {
	ctx = 0x6f72630000000000 | nextCtx.Add(1) // "orc" in the high bytes: never a small integer
	dispatchers.Store(ctx, f)
	return ctx, func() { dispatchers.Delete(ctx) }
}

// DispatchFunction returns the address of gorc_jit_dispatch, the C
// function JIT'd code calls to reach the controller (with the signature of
// LLVM's __llvm_orc_SimpleRemoteEPC_dispatch_fn).
func DispatchFunction() uint64 { return uint64(uintptr(C.gorc_jit_dispatch)) }

//export gorcDispatch
func gorcDispatch(ctx, tag C.uintptr_t, data *C.char, size C.size_t, out *C.gorc_wrapper_result) {
	f, ok := dispatchers.Load(uint64(ctx))
	if !ok {
		setError(out, "call to the controller with an unknown dispatch context")
		return
	}
	if size > 1<<30 {
		setError(out, "call to the controller with more than 1 GiB of arguments")
		return
	}
	args := C.GoBytes(unsafe.Pointer(data), C.int(size))
	res, err := f.(DispatchFunc)(uint64(tag), args)
	if err != nil {
		setError(out, err.Error())
		return
	}
	setResult(out, res)
}

// setError stores an out-of-band error: Size 0 and a malloc'd message.
func setError(out *C.gorc_wrapper_result, msg string) {
	out.Size = 0
	*(**C.char)(unsafe.Pointer(&out.Data)) = C.CString(msg)
}

// setResult stores bytes inline (up to a pointer's size) or malloc'd.
func setResult(out *C.gorc_wrapper_result, b []byte) {
	out.Size = C.size_t(len(b))
	if len(b) <= 8 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out.Data)), 8), b)
		return
	}
	p := C.malloc(C.size_t(len(b)))
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	*(*unsafe.Pointer)(unsafe.Pointer(&out.Data)) = p
}

// CallDispatch calls the controller through the dispatch context ctx, as
// JIT'd code does through gorc_jit_dispatch (for Go code in the executor:
// callbacks that forward to the controller).
func CallDispatch(ctx, tag uint64, args []byte) ([]byte, error) {
	f, ok := dispatchers.Load(ctx)
	if !ok {
		return nil, errors.New("call to the controller with an unknown dispatch context")
	}
	return f.(DispatchFunc)(tag, args)
}
