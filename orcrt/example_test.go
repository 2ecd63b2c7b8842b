package orcrt_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orcrt"
)

// An executor's session publishes wrapper functions (bytes in, bytes out)
// by name; a controller calls them by address. Here one written in Go is
// called directly.
func ExampleSession_RegisterWrapper() {
	s := orcrt.NewSession()
	addr, err := s.RegisterWrapper("double_it", orcrt.SyncWrapper(sps.Handler(func(x int64) int64 { return 2 * x })))
	if err != nil {
		log.Fatal(err)
	}
	args, _ := sps.Marshal(int64(21))
	out, err := s.CallWrapperSync(addr, args)
	if err != nil {
		log.Fatal(err)
	}
	var r int64
	if err := sps.Unmarshal(out, &r); err != nil {
		log.Fatal(err)
	}
	fmt.Println("double_it(21) =", r)
	// Output: double_it(21) = 42
}
