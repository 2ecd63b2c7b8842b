package target_test

import (
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

func TestFor(t *testing.T) {
	for _, s := range []string{"x86_64-unknown-linux-gnu", "x86_64-unknown-freebsd", "x86_64-pc-windows-msvc", "aarch64-unknown-linux-gnu"} {
		tr := triple.MustParse(s)
		tgt, err := target.For(tr)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		// The target keeps the whole triple: graphs it makes are for it.
		if tgt.Triple() != tr || tgt.NewLinkGraph("g").TargetTriple() != tr || tgt.PointerSize() != 8 {
			t.Errorf("%s: target for %v", s, tgt.Triple())
		}
	}
	_, err := target.For(triple.MustParse("riscv64-unknown-linux-gnu"))
	if err == nil || !strings.Contains(err.Error(), "riscv64") {
		t.Errorf("riscv64: %v, want an error naming it", err)
	}
}
