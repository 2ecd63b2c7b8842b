// Command gorc-rtdyld loads ELF relocatable objects with gorc's
// RuntimeDyld-style loader (package rtdyld), in the manner of llvm-rtdyld:
//
//	gorc-rtdyld [-execute] [-entry=_main] objects... [-args arg...]
//	gorc-rtdyld -verify [-check=FILE]... [-map-section FILE,SECTION=ADDR]...
//	            [-dummy-extern NAME=ADDR]... [-target-addr-start=A] [-target-addr-end=B] objects...
//	gorc-rtdyld -printline objects...
//
// -execute loads the objects into this process, resolves them and runs the
// entry point as main, exiting with its result. -verify loads them into
// local memory, gives every section a target address (from -map-section, or
// one after another from -target-addr-start), applies relocations for those
// addresses and evaluates the "# rtdyld-check:" expressions of each -check
// file (the jitlink-check language, with stub_addr(file, section, symbol)).
// -printline lists the loaded functions.
package main

import (
	"os"
	"runtime/debug"

	"github.com/gorc-jit/gorc/internal/native"
)

func main() {
	debug.SetGCPercent(400)
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	// Exit through C so that the program's exit handlers run and its stdio
	// is flushed.
	native.Exit(code)
}
