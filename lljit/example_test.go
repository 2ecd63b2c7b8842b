package lljit_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/lljit"
)

// Link an object file and call a function from it. The object is linked when
// one of its symbols is first looked up.
func Example() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	// testdata/answer.c: int answer(void) { return 42; } ...
	if err := j.AddObjectFile(nil, "testdata/answer.o"); err != nil {
		log.Fatal(err)
	}
	addr, err := j.Lookup(context.Background(), "add1000")
	if err != nil {
		log.Fatal(err)
	}
	r, err := j.ExecutorProcessControl().RunAsIntFunction(addr, 234)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("add1000(234) =", r)
	// Output: add1000(234) = 1234
}
