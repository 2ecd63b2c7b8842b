package inprocess_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/inprocess"
)

// The in-process executor runs JIT'd code in this process; LLJIT uses it
// by default. Its calls take C's signature of the function.
func ExampleNew() {
	epc := inprocess.New()
	j, err := (&lljit.Builder{EPC: epc}).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, "../../lljit/testdata/answer.o"); err != nil {
		log.Fatal(err)
	}
	addr, err := j.Lookup(context.Background(), "add1000")
	if err != nil {
		log.Fatal(err)
	}
	r, err := epc.RunAsIntFunction(addr, 1)
	fmt.Println(r, err)
	_, err = epc.RunAsIntFunction(addr, 1<<33+5) // not a C int: refused, not truncated
	fmt.Println(err)
	w, err := epc.CallFunction(addr, orc.CSignature{Result: orc.CInt32, Params: []orc.CType{orc.CInt32}}, []uint64{5})
	fmt.Println(int32(w), err)
	// Output:
	// 1001 <nil>
	// argument 8589934597 does not fit a C int
	// 1005 <nil>
}
