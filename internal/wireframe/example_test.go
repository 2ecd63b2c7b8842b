package wireframe_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/internal/wireframe"
)

// Frame a message of the executor protocol (LLVM's SimpleRemoteEPC
// framing: size, op, sequence number, tag, payload) and read it back.
func ExampleRead() {
	b := wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Seq: 1, Tag: 0x1000, Payload: []byte("args")})
	m, err := wireframe.Read(bytes.NewReader(b), 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(b), m.Op == wireframe.OpCallWrapper, m.Seq, m.Tag, string(m.Payload))
	// Output: 36 true 1 4096 args
}
