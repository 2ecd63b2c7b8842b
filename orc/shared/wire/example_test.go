package wire_test

import (
	"fmt"
	"log"
	"net"

	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// Two ends of a connection: one serves calls (as an executor serves its
// wrapper functions, by tag), the other calls.
func ExampleConn() {
	a, b := net.Pipe()
	server := wire.NewConn(a, a, a)
	client := wire.NewConn(b, b, b)
	defer client.Close()
	go server.Serve(func(tag uint64, args []byte, reply func([]byte, error)) {
		reply([]byte(fmt.Sprintf("tag %#x got %q", tag, args)), nil)
	})
	go client.Serve(func(tag uint64, args []byte, reply func([]byte, error)) {})
	res, err := client.Call(0x1000, []byte("args"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(res))
	// Output: tag 0x1000 got "args"
}
