package aarch64

//go:noescape
func flushICache(addr, size uint64)
