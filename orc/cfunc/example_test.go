package cfunc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/cfunc"
)

// Bind an address in any executor to a typed Go function, or call it with
// words (no reflection) through a Function.
func Example() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	// calls.c: int add3(int a, int b, int c) { return a + b + c; } ...
	if err := j.AddObjectFile(nil, "../../lljit/testdata/calls.o"); err != nil {
		log.Fatal(err)
	}
	addr, err := j.Lookup(context.Background(), "add3")
	if err != nil {
		log.Fatal(err)
	}
	epc := j.ExecutorProcessControl()

	var add3 func(a, b, c int32) (int32, error) // a trailing error reports failed calls
	if err := cfunc.Bind(epc, addr, &add3); err != nil {
		log.Fatal(err)
	}
	fmt.Println(add3(1, 2, 3))

	sig := orc.CSignature{Result: orc.CInt32, Params: []orc.CType{orc.CInt32, orc.CInt32, orc.CInt32}}
	f, err := cfunc.NewFunction(epc, addr, sig)
	if err != nil {
		log.Fatal(err)
	}
	r, err := f.Call(10, 20, uint64(0xffffffff_ffffffff)) // -1 as an int32 word, sign-extended
	fmt.Println(sig, "=", int32(r), err)
	_, err = f.Call(1<<33+5, 0, 0)
	fmt.Println(err)
	// Output:
	// 6 <nil>
	// int32_t (int32_t, int32_t, int32_t) = 29 <nil>
	// argument 1 of int32_t (int32_t, int32_t, int32_t): value 0x200000005 does not fit C type int32_t
}
