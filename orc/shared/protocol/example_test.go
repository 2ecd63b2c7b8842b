package protocol_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// The arguments of gorc-executor's generic call, as they travel: the
// function, its C types and the argument words.
func ExampleCallFunctionArgs() {
	a := protocol.CallFunctionArgs{Fn: 0x7000, Result: uint8(orc.CDouble),
		Params: []uint8{uint8(orc.CDouble), uint8(orc.CInt32)}, Args: []uint64{0x4000000000000000, 3}}
	b, err := sps.Marshal(a)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(protocol.CallFunction, len(b), "bytes")
	// Output: __gorc_call_function_wrapper 43 bytes
}
