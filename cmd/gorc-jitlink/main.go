// Command gorc-jitlink links ELF objects and static archives into its own
// process and runs them, in the manner of llvm-jitlink. Run it with -help.
package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/gorc-jit/gorc/internal/jitlinktool"
	"github.com/gorc-jit/gorc/internal/native"
)

// The allocation profile is off unless -memprofile asks for it (which sets
// its own rate): its first sample allocates and faults in the runtime's
// 1.4 MB bucket table, about 1.5 ms of a 50 ms link and as much memory.
func init() { runtime.MemProfileRate = 0 }

func main() {
	collectLate()
	code := jitlinktool.Main(os.Args[1:], os.Stdout, os.Stderr)
	// Exit through C so that the JIT'd program's exit handlers run and its
	// stdio is flushed.
	native.Exit(code)
}

// firstCollection is how much memory the Go runtime may hold before it
// first collects (docs/jitlink.md, "The tool's garbage collector").
const firstCollection = 64 << 20

// collectLate sets the collector for a short-lived process: none until
// the Go runtime holds firstCollection bytes (a typical link allocates
// less and ends before), then, after that first collection, a collection
// whenever the heap has grown to five times what survived the last one.
// GOGC or GOMEMLIMIT in the environment overrule both.
func collectLate() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(firstCollection)
	// Collected (and its cleanup run) by the first collection. Not a
	// tiny pointer-free object: those may share a slot and never be.
	sentinel := &struct {
		p    *byte
		_, _ uint64
	}{}
	runtime.AddCleanup(sentinel, func(struct{}) {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(math.MaxInt64)
	}, struct{}{})
}
