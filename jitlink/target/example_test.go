package target_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Pick the target that owns an architecture's machine code and make an
// empty graph for hand-built code; architectures gorc cannot link are an
// error naming them.
func ExampleFor() {
	tgt, err := target.For(triple.MustParse("x86_64-unknown-linux-gnu"))
	if err != nil {
		log.Fatal(err)
	}
	g := tgt.NewLinkGraph("hand-built")
	fmt.Println(tgt.Triple(), tgt.PointerSize(), g.Arch())
	_, err = target.For(triple.MustParse("s390x-ibm-linux"))
	fmt.Println(err)
	// Output:
	// x86_64-unknown-linux-gnu 8 x86_64
	// no JIT target for architecture s390x (triple s390x-ibm-linux)
}
