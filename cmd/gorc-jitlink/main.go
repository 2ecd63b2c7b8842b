// Command gorc-jitlink links ELF objects and static archives into its own
// process and runs them, in the manner of llvm-jitlink. Run it with -help.
package main

import (
	"os"
	"runtime/debug"

	"github.com/gorc-jit/gorc/internal/jitlinktool"
	"github.com/gorc-jit/gorc/internal/native"
)

func main() {
	// A short-lived process: trade some memory for less time collecting.
	debug.SetGCPercent(400)
	code := jitlinktool.Main(os.Args[1:], os.Stdout, os.Stderr)
	// Exit through C so that the JIT'd program's exit handlers run and its
	// stdio is flushed.
	native.Exit(code)
}
