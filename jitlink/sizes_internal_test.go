package jitlink

import (
	"testing"
	"unsafe"
)

// A large link holds tens of thousands of symbols and blocks and
// thousands of sections (see their declarations): their sizes are part of
// its peak memory.
func TestNodeSizes(t *testing.T) {
	if n := unsafe.Sizeof(Symbol{}); n > 48 {
		t.Errorf("Symbol is %d bytes, want at most 48", n)
	}
	if n := unsafe.Sizeof(Block{}); n > 104 {
		t.Errorf("Block is %d bytes, want at most 104", n)
	}
	if n := unsafe.Sizeof(Section{}); n > 96 {
		t.Errorf("Section is %d bytes, want at most 96", n)
	}
}

func TestLog2Align(t *testing.T) {
	for _, c := range []struct {
		align uint64
		log   uint8
	}{{0, 0}, {1, 0}, {2, 1}, {3, 2}, {4, 2}, {16, 4}, {1 << 40, 40}, {1<<40 + 1, 41}} {
		if got := log2Align(c.align); got != c.log {
			t.Errorf("log2Align(%d) = %d, want %d", c.align, got, c.log)
		}
	}
}
