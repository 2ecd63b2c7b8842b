package memory_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/jitlink/memory"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/inprocess"
)

// Give a JIT a memory manager of one's choice: here a 64 MiB slab next to
// the process's libraries, so that all JIT'd code lies within 32-bit
// reach of the libraries it calls. Allocation actions (eh-frame
// registration, say) run in this process through inprocess.RunAction.
func ExampleNewSlab() {
	slab, err := memory.NewSlab(64<<20, memory.SlabActionRunner(inprocess.RunAction))
	if err != nil {
		log.Fatal(err)
	}
	j, err := (&lljit.Builder{MemoryManager: slab}).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, "../../lljit/testdata/answer.o"); err != nil {
		log.Fatal(err)
	}
	var add1000 func(int32) int32
	if err := j.Bind("add1000", &add1000); err != nil {
		log.Fatal(err)
	}
	fmt.Println(add1000(1))
	// Output: 1001
}
