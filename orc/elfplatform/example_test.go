package elfplatform_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/lljit"
)

// The ELF platform runs an object's static constructors (.init_array,
// .ctors) when its JITDylib is initialized; LLJIT installs it.
func Example() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	// init.c: __attribute__((constructor)) static void setup(void) { ready = 42; } ...
	if err := j.AddObjectFile(nil, "../../lljit/testdata/init.o"); err != nil {
		log.Fatal(err)
	}
	var getReady func() int32
	if err := j.Bind("get_ready", &getReady); err != nil {
		log.Fatal(err)
	}
	fmt.Println("before initializing:", getReady())
	if err := j.Initialize(context.Background(), j.MainJITDylib(), nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after:", getReady(), "platform:", j.Platform() != nil)
	// Output:
	// before initializing: 0
	// after: 42 platform: true
}
