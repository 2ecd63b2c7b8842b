//go:build linux

// Package native is gorc's only cgo: it calls linked code by address, and
// resolves symbols of this process and of shared libraries with dlopen/dlsym.
package native

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

// gorc_call6 calls fn with six integer arguments through stub (the
// register-preserving stub of the host's jitlink.Target), or directly if
// stub is 0.
static uint64_t gorc_call6(uintptr_t stub, uintptr_t fn, uint64_t a, uint64_t b, uint64_t c,
                           uint64_t d, uint64_t e, uint64_t f) {
	if (!stub)
		return ((uint64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t))fn)(a, b, c, d, e, f);
	uint64_t args[6] = {a, b, c, d, e, f};
	return ((uint64_t (*)(uintptr_t, const uint64_t *))stub)(fn, args);
}

static uint64_t gorc_environ(void) { return (uint64_t)(uintptr_t)environ; }

static uintptr_t gorc_dlsym(void *h, const char *name) { return (uintptr_t)dlsym(h, name); }

#include "runtime.h"

static gorc_wrapper_result gorc_call_wrapper(uintptr_t stub, uintptr_t fn, const char *data, size_t size) {
	if (!stub)
		return ((gorc_wrapper_result (*)(const char *, size_t))fn)(data, size);
	uint64_t args[6] = {(uint64_t)(uintptr_t)data, size};
	return ((gorc_wrapper_result (*)(uintptr_t, const uint64_t *))stub)(fn, args);
}
static void *gorc_rtld_default(void) { return RTLD_DEFAULT; }
static void gorc_fflush_all(void) { fflush(NULL); }
static void gorc_write(uintptr_t dst, const void *src, size_t n) { memcpy((void *)dst, src, n); }
static void gorc_read(uintptr_t src, void *dst, size_t n) { memcpy(dst, (const void *)src, n); }
static size_t gorc_strlen(uintptr_t s) { return strlen((const char *)s); }
static void gorc_store64(uintptr_t dst, uint64_t v) { __atomic_store_n((uint64_t *)dst, v, __ATOMIC_RELEASE); }
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Unsupported says why this build cannot run native code: nil, this is
// the cgo build on Linux.
func Unsupported() error { return nil }

// callStub returns the address of the register-preserving call stub of
// the host's target (jitlink.Target.PreservingCallStub), mapped once:
// every call into linked code goes through it, so that code which returns
// with a callee-saved register changed (a global register variable in rbx
// or x19 is legal C) cannot corrupt the Go side. 0 (call directly) if it
// could not be mapped, or the host's target has no such stub.
var callStub = sync.OnceValue(func() C.uintptr_t {
	tgt, err := target.For(triple.Host())
	if err != nil {
		return 0
	}
	code := tgt.PreservingCallStub()
	if code == nil {
		return 0
	}
	mem, err := unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0
	}
	copy(mem, code)
	if unix.Mprotect(mem, unix.PROT_READ|unix.PROT_EXEC) != nil {
		unix.Munmap(mem)
		return 0
	}
	addr := uint64(uintptr(unsafe.Pointer(&mem[0])))
	tgt.FlushInstructionCache(addr, uint64(len(code))) // aarch64 needs it
	return C.uintptr_t(addr)
})

// CallMain calls fn as int main(int argc, char **argv, char **envp) with the
// given arguments (argv[0] included) and the process environment.
func CallMain(fn uint64, args []string) int {
	argv := C.malloc(C.size_t(len(args)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(argv)
	ptrs := unsafe.Slice((**C.char)(argv), len(args)+1)
	for i, a := range args {
		ptrs[i] = C.CString(a)
	}
	ptrs[len(args)] = nil
	defer func() {
		for _, p := range ptrs[:len(args)] {
			C.free(unsafe.Pointer(p))
		}
	}()
	r, _ := CallInt(fn, uint64(len(args)), uint64(uintptr(argv)), uint64(C.gorc_environ()))
	return int(int32(r))
}

// CallVoid calls fn as void fn(void).
func CallVoid(fn uint64) { CallInt(fn) }

// CallInt calls fn with up to six integer (or pointer) arguments and returns
// its integer result (rax).
func CallInt(fn uint64, args ...uint64) (uint64, error) {
	if len(args) > 6 {
		return 0, fmt.Errorf("native: %d arguments, at most 6 are supported", len(args))
	}
	var a [6]uint64
	copy(a[:], args)
	r := C.gorc_call6(callStub(), C.uintptr_t(fn), C.uint64_t(a[0]), C.uint64_t(a[1]), C.uint64_t(a[2]),
		C.uint64_t(a[3]), C.uint64_t(a[4]), C.uint64_t(a[5]))
	return uint64(r), nil
}

// Library is a handle from dlopen.
type Library struct {
	h    unsafe.Pointer
	path string
}

// Dlopen flags.
const (
	RTLDLazy   = C.RTLD_LAZY
	RTLDNow    = C.RTLD_NOW
	RTLDGlobal = C.RTLD_GLOBAL
	RTLDLocal  = C.RTLD_LOCAL
)

// Open loads a shared library (dlopen). An empty path opens this process.
func Open(path string, flags int) (*Library, error) {
	var cpath *C.char
	if path != "" {
		cpath = C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
	}
	h := C.dlopen(cpath, C.int(flags))
	if h == nil {
		return nil, errors.New(C.GoString(C.dlerror()))
	}
	return &Library{h: h, path: path}, nil
}

// Path returns the path the library was opened with.
func (l *Library) Path() string { return l.path }

// Lookup returns the address of a symbol in the library, or false.
func (l *Library) Lookup(name string) (uint64, bool) { return dlsym(l.h, name) }

// Close releases the library (dlclose).
func (l *Library) Close() error {
	if C.dlclose(l.h) != 0 {
		return errors.New(C.GoString(C.dlerror()))
	}
	return nil
}

// LookupDefault looks a symbol up in the process's global scope (dlsym with
// RTLD_DEFAULT): the executable and every library loaded globally.
func LookupDefault(name string) (uint64, bool) { return dlsym(C.gorc_rtld_default(), name) }

func dlsym(h unsafe.Pointer, name string) (uint64, bool) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	a := uint64(C.gorc_dlsym(h, cname))
	return a, a != 0
}

// CallWrapper calls an ORC wrapper function (the C signature
// result fn(const char *args, size_t size)) and returns its result bytes, or
// the out-of-band error it reported.
func CallWrapper(fn uint64, args []byte) ([]byte, error) {
	// The Go bytes themselves: a wrapper reads its arguments only during
	// the call (the convention of LLVM's wrapper functions), and cgo pins
	// them until it returns. Copying them to C memory cost two more cgo
	// calls (malloc and free) per allocation action.
	var p *C.char
	if len(args) > 0 {
		p = (*C.char)(unsafe.Pointer(unsafe.SliceData(args)))
	}
	r := C.gorc_call_wrapper(callStub(), C.uintptr_t(fn), p, C.size_t(len(args)))
	size := int(r.Size)
	if size <= int(unsafe.Sizeof(uintptr(0))) {
		inline := unsafe.Slice((*byte)(unsafe.Pointer(&r.Data)), size)
		if size == 0 {
			if ptr := *(**C.char)(unsafe.Pointer(&r.Data)); ptr != nil {
				defer C.free(unsafe.Pointer(ptr))
				return nil, errors.New(C.GoString(ptr))
			}
		}
		return append([]byte(nil), inline...), nil
	}
	ptr := *(**C.char)(unsafe.Pointer(&r.Data))
	defer C.free(unsafe.Pointer(ptr))
	return C.GoBytes(unsafe.Pointer(ptr), C.int(size)), nil
}

// Runtime functions JIT'd code and allocation actions call, by name.
func RuntimeSymbols() map[string]uint64 {
	return map[string]uint64{
		"gorc_tls_get_addr":                        uint64(uintptr(C.gorc_tls_get_addr)),
		"gorc_tls_register_wrapper":                uint64(uintptr(C.gorc_tls_register_wrapper)),
		"gorc_tls_deregister_wrapper":              uint64(uintptr(C.gorc_tls_deregister_wrapper)),
		"gorc_register_eh_frame_wrapper":           uint64(uintptr(C.gorc_register_eh_frame_wrapper)),
		"gorc_deregister_eh_frame_wrapper":         uint64(uintptr(C.gorc_deregister_eh_frame_wrapper)),
		"gorc_empty_wrapper":                       uint64(uintptr(C.gorc_empty_wrapper)),
		"gorc_jit_dispatch":                        uint64(uintptr(C.gorc_jit_dispatch)),
		"gorc_lazy_compile_failed":                 uint64(uintptr(C.gorc_lazy_compile_failed)),
		"gorc_register_function_names_wrapper":     uint64(uintptr(C.gorc_register_function_names_wrapper)),
		"gorc_deregister_function_names_wrapper":   uint64(uintptr(C.gorc_deregister_function_names_wrapper)),
		"llvm_orc_registerEHFrameSectionWrapper":   uint64(uintptr(C.llvm_orc_registerEHFrameSectionWrapper)),
		"llvm_orc_deregisterEHFrameSectionWrapper": uint64(uintptr(C.llvm_orc_deregisterEHFrameSectionWrapper)),
		"llvm_orc_registerJITLoaderGDBWrapper":     uint64(uintptr(C.llvm_orc_registerJITLoaderGDBWrapper)),
	}
}

// Write copies data to address addr of this process (memory the caller
// knows to be mapped writable). Eight bytes at an aligned address are
// stored at once, so that a thread reading them (a stub's pointer) sees
// the old value or the new, never a mix.
func Write(addr uint64, data []byte) {
	switch {
	case len(data) == 8 && addr%8 == 0:
		C.gorc_store64(C.uintptr_t(addr), C.uint64_t(binary.LittleEndian.Uint64(data)))
	case len(data) > 0:
		C.gorc_write(C.uintptr_t(addr), unsafe.Pointer(&data[0]), C.size_t(len(data)))
	}
}

// Read copies n bytes from address addr of this process (memory the
// caller knows to be mapped readable).
func Read(addr uint64, n int) []byte {
	b := make([]byte, n)
	if n > 0 {
		C.gorc_read(C.uintptr_t(addr), unsafe.Pointer(&b[0]), C.size_t(n))
	}
	return b
}

// ReadCString reads the NUL-terminated string at addr.
func ReadCString(addr uint64) string {
	return string(Read(addr, int(C.gorc_strlen(C.uintptr_t(addr)))))
}

// ReserveTLSModule reserves a TLS module id in this process (0 if none is
// left).
func ReserveTLSModule() uint64 { return uint64(C.gorc_tls_reserve_module()) }

// InstallCrashHandler makes crashes of JIT'd code (SIGSEGV, SIGBUS, SIGILL,
// SIGFPE, SIGABRT, SIGTRAP outside this executable's own code) print one
// line starting with prefix and kill the process with the signal, as the
// program would die natively, instead of a Go stack dump.
func InstallCrashHandler(prefix string) {
	p := C.CString(prefix)
	defer C.free(unsafe.Pointer(p))
	C.gorc_install_crash_handler(p)
}

// FlushStdio flushes every C stdio stream (fflush(NULL)).
func FlushStdio() { C.gorc_fflush_all() }

// Exit ends the process through C exit: atexit handlers run and stdio is
// flushed.
func Exit(code int) { C.exit(C.int(code)) }
