package rtdyld_test

import (
	"fmt"
	"log"
	"os"

	"github.com/gorc-jit/gorc/rtdyld"
)

// Load an object section by section (RuntimeDyld's way), resolve its
// relocations and find its symbols.
func ExampleNew() {
	data, err := os.ReadFile("../lljit/testdata/answer.o")
	if err != nil {
		log.Fatal(err)
	}
	d := rtdyld.New(rtdyld.NewLocalMemoryManager())
	if _, err := d.LoadObject("answer.o", data); err != nil {
		log.Fatal(err)
	}
	if err := d.ResolveRelocations(); err != nil {
		log.Fatal(err)
	}
	_, ok := d.Symbol("add1000")
	fmt.Println("add1000 found:", ok, "undefined:", d.Undefined())
	// Output: add1000 found: true undefined: []
}
