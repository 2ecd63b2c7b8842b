package lazy_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/lazy"
)

// Lazy reexports: main's add1000 is a stub until its first call, which
// links the object defining the body (in another JITDylib).
func ExampleManager_Reexports() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	impl, err := j.CreateJITDylib("impl")
	if err != nil {
		log.Fatal(err)
	}
	if err := j.AddObjectFile(impl, "../../lljit/testdata/answer.o"); err != nil {
		log.Fatal(err)
	}
	m, err := lazy.NewManager(j.Session(), j.ObjectLinkingLayer(), j.MainJITDylib(), lazy.Options{})
	if err != nil {
		log.Fatal(err)
	}
	m.OnResolved(func(_ *orc.JITDylib, body orc.Name, _ uint64) { fmt.Println("linked", body) })
	add1000 := orc.Intern("add1000")
	err = j.MainJITDylib().Define(m.Reexports(impl, map[orc.Name]orc.Alias{
		add1000: {Target: add1000, Flags: orc.Exported | orc.Callable},
	}))
	if err != nil {
		log.Fatal(err)
	}
	var f func(int32) int32
	if err := j.Bind("add1000", &f); err != nil { // the stub
		log.Fatal(err)
	}
	fmt.Println("bound")
	fmt.Println(f(1))
	fmt.Println(f(2)) // through the patched stub
	// Output:
	// bound
	// linked add1000
	// 1001
	// 1002
}
