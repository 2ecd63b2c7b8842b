package elf_test

import (
	"fmt"
	"log"
	"os"

	"github.com/gorc-jit/gorc/jitlink/elf"
)

// Read what an object defines without linking it, then build its
// LinkGraph.
func ExampleNewLinkGraph() {
	// answer.c: int answer(void) { return 42; } int add1000(int a) { ... }
	data, err := os.ReadFile("../../lljit/testdata/answer.o")
	if err != nil {
		log.Fatal(err)
	}
	iface, err := elf.ReadInterface("answer.o", data)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range iface.Symbols {
		fmt.Println("defines", s.Name, "callable:", s.Callable)
	}
	g, err := elf.NewLinkGraph("answer.o", data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.Name(), g.Arch())
	// Output:
	// defines answer callable: true
	// defines add1000 callable: true
	// answer.o x86_64
}
