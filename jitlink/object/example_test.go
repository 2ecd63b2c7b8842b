package object_test

import (
	"fmt"
	"log"
	"os"

	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Read an object of any supported format: its format, whether it suits a
// target, and the symbols it defines and needs.
func ExampleReadInterface() {
	data, err := os.ReadFile("../../lljit/testdata/callback.o")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(object.Format(data), object.CheckArch("callback.o", data, triple.MustParse("x86_64-unknown-linux-gnu")))
	iface, err := object.ReadInterface("callback.o", data)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range iface.Symbols {
		fmt.Println("defines", s.Name)
	}
	fmt.Println("needs", iface.Undefined)
	// Output:
	// elf <nil>
	// defines twice_plus_one
	// needs [go_log go_twice]
}
