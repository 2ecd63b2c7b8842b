package triple_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Parse a target triple, as LLVM spells them, and ask about its parts.
func ExampleParse() {
	t, err := triple.Parse("arm64-apple-macosx14.0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Arch, t.OS, t.Format, t.Arch.PointerSize())
	fmt.Println(triple.ForGo("linux", "amd64"))
	// Output:
	// aarch64 macosx macho 8
	// x86_64-unknown-linux-gnu
}
