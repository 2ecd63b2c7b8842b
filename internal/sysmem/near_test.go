package sysmem

import (
	"slices"
	"strings"
	"testing"
)

// A listing with libraries between a gap below (after an anonymous
// mapping) and a gap above (before the stack); vdso pages sit right above
// the libraries, so the first gap above starts after them.
const testMaps = `00400000-00402000 r--p 00000000 fe:00 1 /usr/bin/gorc-jitlink
7f0000000000-7f0010000000 ---p 00000000 00:00 0
7f0080000000-7f00ab000000 ---p 00000000 00:00 0
7f00ab000000-7f00ab026000 r--p 00000000 fe:00 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00ab026000-7f00ab200000 r-xp 00026000 fe:00 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00ab300000-7f00ab301000 r--p 00000000 fe:00 3 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
7f00ab400000-7f00ab401000 rw-s 00000000 00:01 4 /memfd:gorc-jit (deleted)
7f00ab500000-7f00ab530000 r-xp 00000000 fe:00 5 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f00ab530000-7f00ab534000 r--p 00000000 00:00 0 [vvar]
7f00ab534000-7f00ab536000 r-xp 00000000 00:00 0 [vdso]
7ffe00000000-7ffe00021000 rw-p 00000000 00:00 0 [stack]
`

func TestPlacements(t *testing.T) {
	l := readMaps(strings.NewReader(testMaps))
	if l.lo != 0x7f00ab000000 || l.hi != 0x7f00ab530000 {
		t.Fatalf("libraries at %#x-%#x", l.lo, l.hi)
	}
	got := l.placements(1<<30, 1<<30)
	// Above: the first 2 MiB boundary after the vdso. Below: the gap
	// between the two anonymous mappings, ending at 0x7f0080000000.
	want := []uint64{0x7f00ab600000, 0x7f0040000000}
	if !slices.Equal(got, want) {
		t.Fatalf("placements %#x, want %#x", got, want)
	}
	// Only the first near bytes must reach: with a quarter of the range
	// near, the range may start lower.
	if got := l.placements(1<<31, 1<<29); len(got) != 1 || got[0] != 0x7f00ab600000 {
		t.Fatalf("placements of 2 GiB with 512 MiB near: %#x", got)
	}
	if p := readMaps(strings.NewReader("00400000-00402000 r--p 0 fe:00 1 /bin/static\n")).placements(1<<30, 1<<30); p != nil {
		t.Fatalf("a static program has no libraries to be near, got %#x", p)
	}
}
