package jitlinktest_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// Link a graph into simulated memory, resolving its external symbols from
// a map, to test a pass or a backend without running code.
func ExampleLink() {
	g := x86_64.NewLinkGraph("test")
	data := g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	b := g.CreateContentBlock(data, make([]byte, 8), 0, 8, 0)
	b.AddEdge(x86_64.Pointer64, 0, g.AddExternalSymbol("puts", 0, jitlink.Strong), 0)
	g.AddDefinedSymbol(b, 0, "ptr", 8, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	err := jitlinktest.Link(g, jitlinktest.Options{Externals: map[string]uint64{"puts": 0x4000}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ptr at %#x holds % x\n", b.Address(), b.Content())
	// Output: ptr at 0x10000 holds 00 40 00 00 00 00 00 00
}
