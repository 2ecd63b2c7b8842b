package memory

import (
	"strings"
	"testing"
)

func TestLibrariesIn(t *testing.T) {
	maps := `00400000-00402000 r--p 00000000 fe:00 1 /usr/bin/gorc-jitlink
7f00aa000000-7f00aa100000 rw-p 00000000 00:00 0
7f00ab000000-7f00ab026000 r--p 00000000 fe:00 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00ab026000-7f00ab200000 r-xp 00026000 fe:00 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00ab300000-7f00ab301000 r--p 00000000 fe:00 3 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
7f00ab400000-7f00ab401000 rw-s 00000000 00:01 4 /memfd:gorc-jit (deleted)
7f00ab500000-7f00ab530000 r-xp 00000000 fe:00 5 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffe00000000-7ffe00021000 rw-p 00000000 00:00 0 [stack]
`
	lo, hi, ok := librariesIn(strings.NewReader(maps))
	if !ok || lo != 0x7f00ab000000 || hi != 0x7f00ab530000 {
		t.Fatalf("librariesIn = %#x, %#x, %v", lo, hi, ok)
	}
	if _, _, ok := librariesIn(strings.NewReader("00400000-00402000 r--p 0 fe:00 1 /bin/static\n")); ok {
		t.Fatal("a static program has no libraries")
	}
}
