// Package target picks the jitlink.Target of a triple: the one place that
// knows every architecture package. ORC, its platforms, lljit and the
// in-process runtime ask it for machine code by the executor's triple and
// import no architecture package; a new architecture is one more case in
// For.
package target

import (
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// For returns the target of t's architecture, or an error naming the
// triple if gorc has none.
func For(t triple.Triple) (jitlink.Target, error) {
	switch t.Arch {
	case triple.X86_64:
		return x86_64.NewTarget(t), nil
	case triple.AArch64:
		return aarch64.NewTarget(t), nil
	}
	return nil, fmt.Errorf("no JIT target for architecture %s (triple %s)", t.Arch, t)
}
