package memory_test

import "unsafe"

// bytesAt views memory this test mapped itself.
func bytesAt(addr uint64, n int) []byte {
	p := uintptr(addr)
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}
