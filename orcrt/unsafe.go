package orcrt

import "unsafe"

// The executor's memory services work on mappings they made themselves,
// outside the Go heap; these convert between them and addresses.

// addrOf returns the address of a mapping.
func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func pointerOf(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func sliceAt(p unsafe.Pointer, n uint64) []byte { return unsafe.Slice((*byte)(p), n) }
