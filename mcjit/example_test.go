package mcjit_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/mcjit"
	"github.com/gorc-jit/gorc/orc/cfunc"
	"github.com/gorc-jit/gorc/orc/compile"
)

// An MCJIT-style engine: code for the module is generated when an address
// is first asked for; a typed Go function then calls it.
func Example() {
	m := compile.Module{Name: "cube.ll", IR: []byte(`
define double @cube(double %x) {
  %s = fmul double %x, %x
  %c = fmul double %s, %x
  ret double %c
}`)}
	e, err := (&mcjit.Builder{}).Create(m)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	addr, err := e.GetSymbolAddress("cube")
	if err != nil {
		log.Fatal(err)
	}
	var cube func(float64) float64
	if err := cfunc.Bind(e.ExecutorProcessControl(), addr, &cube); err != nil {
		log.Fatal(err)
	}
	fmt.Println(cube(1.5))
	// Output: 3.375
}
