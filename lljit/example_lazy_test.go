package lljit_test

import (
	"fmt"
	"log"
	"os"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/compile"
)

const squaresIR = `
define i64 @square(i64 %x) {
  %r = mul i64 %x, %x
  ret i64 %r
}
define i64 @sum_squares(i64 %a, i64 %b) {
  %x = call i64 @square(i64 %a)
  %y = call i64 @square(i64 %b)
  %r = add i64 %x, %y
  ret i64 %r
}
define i64 @never_called() {
  ret i64 0
}
`

// Compile an LLVM IR module lazily, one function at a time on first call
// (llc and llvm-extract of the newest LLVM installed), keeping compiled
// objects in an on-disk cache that a second JIT reuses.
func ExampleLLLazyJIT() {
	dir, err := os.MkdirTemp("", "gorc-cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cache, err := compile.NewCache(dir)
	if err != nil {
		log.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		j, err := (&lljit.LazyBuilder{Cache: cache}).Create()
		if err != nil {
			log.Fatal(err)
		}
		if err := j.AddLazyIRModule(nil, compile.Module{Name: "squares.ll", IR: []byte(squaresIR)}); err != nil {
			log.Fatal(err)
		}
		var sumSquares func(a, b int64) int64
		if err := j.Bind("sum_squares", &sumSquares); err != nil {
			log.Fatal(err)
		}
		before, _ := os.ReadDir(dir) // looking up compiled nothing yet
		fmt.Printf("run %d: sum_squares(3, 4) = %d\n", run, sumSquares(3, 4))
		after, _ := os.ReadDir(dir)
		fmt.Printf("run %d: compiled new objects: %v\n", run, len(after) > len(before))
		j.Close()
	}
	// Output:
	// run 1: sum_squares(3, 4) = 25
	// run 1: compiled new objects: true
	// run 2: sum_squares(3, 4) = 25
	// run 2: compiled new objects: false
}
