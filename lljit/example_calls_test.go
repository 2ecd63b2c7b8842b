package lljit_test

import (
	"fmt"
	"log"
	"unsafe"

	"github.com/gorc-jit/gorc/lljit"
)

// Call JIT'd C functions as typed Go functions: arguments and results go by
// the C ABI (on x86-64 the seventh and eighth long go on the stack).
func ExampleLLJIT_Bind() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, "testdata/calls.o"); err != nil {
		log.Fatal(err)
	}
	var (
		hyp2     func(x, y float64) float64
		add3     func(a, b, c int32) int32
		weigh    func(a, b, c, d, e, f, g, h int64) int64
		greeting func() unsafe.Pointer
	)
	for name, fn := range map[string]any{"hyp2": &hyp2, "add3": &add3, "weigh": &weigh, "greeting": &greeting} {
		if err := j.Bind(name, fn); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(hyp2(3, 4), add3(1, 2, 3), weigh(1, 1, 1, 1, 1, 1, 1, 1))
	fmt.Println(string(unsafe.Slice((*byte)(greeting()), 12)))
	// Output:
	// 25 6 36
	// hello from C
}

// Let JIT'd C call Go: ExportFunc defines a C function that runs the Go
// function. Here Go calls C, which calls Go twice.
func ExampleLLJIT_ExportFunc() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	// C: long go_twice(long x); void go_log(const char *line);
	if err := j.ExportFunc(nil, "go_twice", func(x int64) int64 { return 2 * x }); err != nil {
		log.Fatal(err)
	}
	err = j.ExportFunc(nil, "go_log", func(line unsafe.Pointer) {
		fmt.Println("Go got:", string(unsafe.Slice((*byte)(line), 15)))
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := j.AddObjectFile(nil, "testdata/callback.o"); err != nil {
		log.Fatal(err)
	}
	var twicePlusOne func(int64) int64
	if err := j.Bind("twice_plus_one", &twicePlusOne); err != nil {
		log.Fatal(err)
	}
	fmt.Println("twice_plus_one(20) =", twicePlusOne(20))
	// Output:
	// Go got: C is calling Go
	// twice_plus_one(20) = 41
}

// Define data in JIT'd memory, where code compiled without -fPIC can reach
// it, and share it between Go and C.
func ExampleLLJIT_DefineData() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	addr, err := j.DefineData(nil, "go_counter", []byte{40, 0, 0, 0}, 0, 4, true)
	if err != nil {
		log.Fatal(err)
	}
	if err := j.AddObjectFile(nil, "testdata/data.o"); err != nil {
		log.Fatal(err)
	}
	var bump func(int32) int32
	if err := j.Bind("bump", &bump); err != nil {
		log.Fatal(err)
	}
	fmt.Println("bump(2) =", bump(2))
	counter, err := j.Bytes(addr, 4)
	if err != nil {
		log.Fatal(err)
	}
	counter[0] = 100 // Go writes, C reads
	fmt.Println("bump(1) =", bump(1))
	// Output:
	// bump(2) = 42
	// bump(1) = 101
}

// C's stdout is buffered when it is a file or a pipe: flush it before Go
// prints or exits. Close and an in-process main's return flush it too.
// (Not run: go test captures Go's os.Stdout, not C's.)
func ExampleLLJIT_FlushCStdio() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, "testdata/calls.o"); err != nil {
		log.Fatal(err)
	}
	var say func(unsafe.Pointer)
	if err := j.Bind("say", &say); err != nil {
		log.Fatal(err)
	}
	msg := []byte("hi\x00")
	say(unsafe.Pointer(&msg[0]))
	if err := j.FlushCStdio(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("Go says: bye")
}
