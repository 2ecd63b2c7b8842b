package funcnames_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/orc/funcnames"
	"github.com/gorc-jit/gorc/orc/inprocess"
)

// gorc's executors offer the registration functions; LLJIT adds the
// plugin by itself when they do. A crash handler (gorc-jitlink's,
// gorc-executor's) then reports "pc 0x... in crash_here+0x4".
func ExampleNew() {
	p, ok, err := funcnames.New(inprocess.New())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offered:", ok, p != nil)
	// Output: offered: true true
}
