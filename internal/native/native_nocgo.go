//go:build !cgo || !linux

package native

import (
	"errors"
	"os"
	"runtime"
	"unsafe"
)

// This file stands in for the cgo implementation when gorc is built
// without cgo (CGO_ENABLED=0) or for a system other than Linux (the runtime
// is glibc's and ELF's): such a program can link for an executor in another
// process, but cannot run code itself. Unsupported tells callers, and the
// calls that have no error result panic.

// Unsupported says why this build cannot run native code.
func Unsupported() error { return errNoCgo }

var errNoCgo = errors.New(noNativeReason())

func noNativeReason() string {
	if runtime.GOOS != "linux" {
		return "running native code needs Linux, not " + runtime.GOOS + "; link for an executor process on Linux instead"
	}
	return "running native code needs a build with cgo (CGO_ENABLED=1); link for an executor process instead"
}

// Dlopen flags (glibc's values).
const (
	RTLDLazy   = 0x1
	RTLDNow    = 0x2
	RTLDGlobal = 0x100
	RTLDLocal  = 0
)

// Library is a handle from dlopen.
type Library struct{ path string }

func Open(path string, flags int) (*Library, error)     { return nil, errNoCgo }
func (l *Library) Path() string                         { return l.path }
func (l *Library) Lookup(name string) (uint64, bool)    { return 0, false }
func (l *Library) Close() error                         { return nil }
func LookupDefault(name string) (uint64, bool)          { return 0, false }
func CallMain(fn uint64, args []string) int             { panic(errNoCgo) }
func CallVoid(fn uint64)                                { panic(errNoCgo) }
func CallInt(fn uint64, args ...uint64) (uint64, error) { return 0, errNoCgo }
func CallWrapper(fn uint64, args []byte) ([]byte, error) {
	return nil, errNoCgo
}
func RuntimeSymbols() map[string]uint64 { return map[string]uint64{} }
func ReserveTLSModule() uint64          { return 0 }
func InstallCrashHandler(prefix string) {}
func FlushStdio()                       {}
func Exit(code int)                     { os.Exit(code) }
func Write(addr uint64, data []byte)    { panic(errNoCgo) }
func Read(addr uint64, n int) []byte    { panic(errNoCgo) }
func ReadCString(addr uint64) string    { panic(errNoCgo) }
func DispatchFunction() uint64          { return 0 }

// DispatchFunc answers a call JIT'd code makes to the controller.
type DispatchFunc func(tag uint64, args []byte) ([]byte, error)

func NewDispatchContext(f DispatchFunc) (ctx uint64, release func()) { return 0, func() {} }

func ReserveStaticTLS(m uint64, size, align uint64, image []byte) (int64, error) {
	return 0, errNoCgo
}

// Class says where the C ABI passes a value.
type Class uint8

// The classes of values.
const (
	ClassInt Class = iota
	ClassF64
	ClassF32
)

// A Callback is Go code that C calls through a C function pointer.
type Callback struct {
	Name    string
	Classes []Class
	Ret     Class
	Fn      func(args []uint64) uint64
}

func Call(fn uint64, args []uint64, classes []Class, ret Class) (uint64, error) {
	return 0, errNoCgo
}
func NewCallback(cb *Callback) (uint64, func(), error) { return 0, nil, errNoCgo }

// Pointer returns addr as a pointer (for an executor's address, which this
// process never dereferences).
func Pointer(addr uint64) unsafe.Pointer {
	a := uintptr(addr)
	return *(*unsafe.Pointer)(unsafe.Pointer(&a))
}

func CallDispatch(ctx, tag uint64, args []byte) ([]byte, error) { return nil, errNoCgo }
