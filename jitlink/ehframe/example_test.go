package ehframe_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/ehframe"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// Unwinders walk a registered .eh_frame up to a zero-length terminator;
// the pass adds one after the section's records.
func ExampleAddNullTerminator() {
	g := x86_64.NewLinkGraph("eh")
	sec := g.CreateSection(".eh_frame", jitlink.ProtRead)
	cie := g.CreateContentBlock(sec, make([]byte, 16), 0, 8, 0) // stands for a CIE
	g.AddAnonymousSymbol(cie, 0, 16, jitlink.Live)              // kept live
	err := jitlinktest.Link(g, jitlinktest.Options{Passes: func(cfg *jitlink.PassConfig) {
		cfg.PostPrune = append(cfg.PostPrune, ehframe.AddNullTerminator(".eh_frame"))
	}})
	if err != nil {
		log.Fatal(err)
	}
	start, end := sec.Range()
	fmt.Println("blocks:", len(sec.Blocks()), "bytes:", end-start)
	// Output: blocks: 2 bytes: 20
}
