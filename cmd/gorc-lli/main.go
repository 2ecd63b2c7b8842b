// Command gorc-lli runs an LLVM IR program, in the manner of lli:
//
//	gorc-lli [options] file.ll|file.bc [args...]
//
// It compiles the module with llc (the newest LLVM installed), runs its
// static constructors, main (or -entry-function) with argv = [file, args...]
// and its destructors, and exits with main's result. -jit-kind selects the
// engine, as lli's does: mcjit (package mcjit, the RuntimeDyld-style
// loader), orc (the default: lljit's LLLazyJIT compiling whole modules
// eagerly) or orc-lazy (compiling function by function on first call). With -remote-mcjit the
// program runs in an executor process (gorc-executor, or the program named
// by -mcjit-remote-process), its sections mapped there.
package main

import (
	"os"
	"runtime/debug"

	"github.com/gorc-jit/gorc/internal/native"
)

func main() {
	debug.SetGCPercent(400)
	code := run(os.Args[1:], os.Stderr)
	// Exit through C so that the program's exit handlers run and its stdio
	// is flushed.
	native.Exit(code)
}
