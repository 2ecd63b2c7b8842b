//go:build !arm64

package aarch64

// flushICache does nothing where this process cannot run AArch64 code.
func flushICache(addr, size uint64) {}
