package x86_64_test

import (
	"fmt"

	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// Edge kinds are the architecture's relocations after mapping; each has a
// name (for -show-graph and errors) and a field size.
func ExampleKindName() {
	fmt.Println(x86_64.KindName(x86_64.Delta32), x86_64.FieldSize(x86_64.Delta32))
	fmt.Println(x86_64.KindName(x86_64.Pointer64), x86_64.FieldSize(x86_64.Pointer64))
	// Output:
	// Delta32 4
	// Pointer64 8
}
