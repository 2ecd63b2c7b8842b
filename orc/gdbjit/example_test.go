package gdbjit_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/lljit"
)

// With DebuggerSupport, LLJIT registers every linked object with the GDB
// JIT interface (this package's Plugin), so that GDB sees JIT'd code
// compiled with -g: breakpoints, source lines, variables.
func Example() {
	j, err := (&lljit.Builder{DebuggerSupport: true}).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, "../../lljit/testdata/answer.o"); err != nil {
		log.Fatal(err)
	}
	var answer func() int32
	if err := j.Bind("answer", &answer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(answer())
	// Output: 42
}
