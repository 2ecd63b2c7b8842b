package jitlink_test

import (
	"encoding/binary"
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// Build a LinkGraph by hand — a function that loads a constant from data
// through a PC-relative edge — add a pass of our own, and link it into
// simulated memory (jitlinktest.Memory places it at 0x10000 without
// running it).
func ExampleLink() {
	g := x86_64.NewLinkGraph("hand-built")
	data := g.CreateSection(".rodata", jitlink.ProtRead)
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	d := g.CreateContentBlock(data, []byte{41, 0, 0, 0}, 0, 4, 0)
	value := g.AddDefinedSymbol(d, 0, "value", 4, jitlink.Strong, jitlink.ScopeLocal, jitlink.NoAttrs)
	// mov value(%rip), %eax; ret
	code := g.CreateContentBlock(text, []byte{0x8b, 0x05, 0, 0, 0, 0, 0xc3}, 0, 16, 0)
	code.AddEdge(x86_64.Delta32, 2, value, -4)
	g.AddDefinedSymbol(code, 0, "get_value", 7, jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)

	// A custom pass: before fixups, bump the constant to 42.
	bump := func(g *jitlink.LinkGraph) error {
		c := d.MutableContent()
		binary.LittleEndian.PutUint32(c, binary.LittleEndian.Uint32(c)+1)
		return nil
	}
	err := jitlinktest.Link(g, jitlinktest.Options{Passes: func(cfg *jitlink.PassConfig) {
		cfg.PreFixup = append(cfg.PreFixup, bump)
	}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("get_value at %#x: % x\n", code.Address(), code.Content())
	fmt.Printf("value at %#x: %d\n", d.Address(), binary.LittleEndian.Uint32(d.Content()))
	// Output:
	// get_value at 0x10000: 8b 05 fa 0f 00 00 c3
	// value at 0x11000: 42
}
