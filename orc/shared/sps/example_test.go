package sps_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// Simple packed serialization, the encoding of ORC's wrapper-function
// arguments and results: fixed-size little-endian integers, and a uint64
// count before each sequence or string. Structs are their fields in order.
func ExampleMarshal() {
	type call struct {
		Fn   sps.Addr
		Args []uint64
		Name string
	}
	b, err := sps.Marshal(call{Fn: 0x1000, Args: []uint64{7}, Name: "f"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b)
	var back call
	if err := sps.Unmarshal(b, &back); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%#x %v %q\n", back.Fn, back.Args, back.Name)
	// Output:
	// 00 10 00 00 00 00 00 00 01 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 66
	// 0x1000 [7] "f"
}
