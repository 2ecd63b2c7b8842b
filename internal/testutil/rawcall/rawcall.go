// Package rawcall calls machine code at an address with the C calling
// convention, without cgo, so that tests built for another architecture
// (and run under qemu-user) can run code they linked into memory. The
// code runs on the goroutine's stack: keep it small and leaf-like.
package rawcall
