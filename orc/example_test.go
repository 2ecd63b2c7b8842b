package orc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"runtime"
	"unsafe"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
)

func mustRead(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	return data
}

// Two JITDylibs define which(); a third binds to whichever comes first in
// its link order, as a program linked with -lA -lB would.
func ExampleJITDylib_SetLinkOrder() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	libA, _ := j.CreateJITDylib("libA")
	libB, _ := j.CreateJITDylib("libB")
	j.AddObject(libA, "libA.o", mustRead("../lljit/testdata/libA.o")) // which() = 1
	j.AddObject(libB, "libB.o", mustRead("../lljit/testdata/libB.o")) // which() = 2, only_in_b() = 20

	for _, order := range [][]*orc.JITDylib{{libA, libB}, {libB, libA}} {
		user, _ := j.CreateJITDylib(fmt.Sprintf("user-%s-first", order[0].Name()))
		user.SetLinkOrder(orc.SearchOrder{
			{JD: order[0], Flags: orc.MatchExportedOnly},
			{JD: order[1], Flags: orc.MatchExportedOnly},
		})
		// user.c: int ask(int) { return which() * 100 + only_in_b(); }
		j.AddObject(user, "user.o", mustRead("../lljit/testdata/user.o"))
		addr, err := j.LookupIn(context.Background(), user, "ask")
		if err != nil {
			log.Fatal(err)
		}
		r, _ := j.ExecutorProcessControl().RunAsIntFunction(addr, 0)
		fmt.Printf("%s first: ask() = %d\n", order[0].Name(), r)
	}
	// Output:
	// libA first: ask() = 120
	// libB first: ask() = 220
}

// Absolute symbols make values of the host program visible to JIT'd code by
// name: here, a Go variable the JIT'd code updates.
func ExampleAbsoluteSymbols() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	counter := new(int32)
	var pin runtime.Pinner // JIT'd code keeps the pointer
	pin.Pin(counter)
	defer pin.Unpin()
	*counter = 10

	err = j.MainJITDylib().Define(orc.AbsoluteSymbols(orc.SymbolMap{
		orc.Intern("host_counter"): {Addr: uint64(uintptr(unsafe.Pointer(counter))), Flags: orc.Exported},
	}))
	if err != nil {
		log.Fatal(err)
	}
	// host.c: extern int host_counter; int bump(int by) { host_counter += by; ... }
	j.AddObjectFile(nil, "../lljit/testdata/host.o")
	bump, err := j.Lookup(context.Background(), "bump")
	if err != nil {
		log.Fatal(err)
	}
	j.ExecutorProcessControl().RunAsIntFunction(bump, 5)
	fmt.Println("counter is now", *counter)
	// Output: counter is now 15
}

// timesSeven is a MaterializationUnit that writes its definition directly:
// it assembles a function by hand into a LinkGraph and has the object
// linking layer link it, without any object file.
type timesSeven struct{ layer *orc.ObjectLinkingLayer }

func (timesSeven) Name() string                    { return "times_seven" }
func (timesSeven) InitSymbol() orc.Name            { return orc.Name{} }
func (timesSeven) Discard(*orc.JITDylib, orc.Name) {}
func (timesSeven) Symbols() orc.SymbolFlagsMap {
	return orc.SymbolFlagsMap{orc.Intern("times_seven"): orc.Exported | orc.Callable}
}

func (u timesSeven) Materialize(mr *orc.MaterializationResponsibility) {
	g := x86_64.NewLinkGraph("times_seven")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	code := []byte{0x6b, 0xc7, 0x07, 0xc3} // imul $7, %edi, %eax; ret
	b := g.CreateContentBlock(text, code, 0, 16, 0)
	g.AddDefinedSymbol(b, 0, "times_seven", uint64(len(code)), jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	u.layer.Emit(mr, g)
}

func ExampleMaterializationUnit() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	if err := j.MainJITDylib().Define(timesSeven{j.ObjectLinkingLayer()}); err != nil {
		log.Fatal(err)
	}
	addr, err := j.Lookup(context.Background(), "times_seven") // materializes the unit
	if err != nil {
		log.Fatal(err)
	}
	r, _ := j.ExecutorProcessControl().RunAsIntFunction(addr, 6)
	fmt.Println("times_seven(6) =", r)
	// Output: times_seven(6) = 42
}

// A ResourceTracker owns what was added with it: removing it unloads the
// code, and the symbols can be defined again.
func ExampleResourceTracker_Remove() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	obj := mustRead("../lljit/testdata/answer.o")
	rt := j.MainJITDylib().CreateResourceTracker()
	j.AddObjectWithTracker(rt, "answer.o", obj)
	addr, _ := j.Lookup(context.Background(), "answer")
	r, _ := j.ExecutorProcessControl().RunAsIntFunction(addr, 0)
	fmt.Println("answer() =", r)

	if err := rt.Remove(); err != nil { // unmaps the code
		log.Fatal(err)
	}
	_, err = j.Lookup(context.Background(), "answer")
	var nf *orc.SymbolsNotFoundError
	fmt.Println("after removal:", errors.As(err, &nf), err)

	j.AddObjectWithTracker(j.MainJITDylib().CreateResourceTracker(), "answer.o", obj)
	addr, _ = j.Lookup(context.Background(), "answer")
	r, _ = j.ExecutorProcessControl().RunAsIntFunction(addr, 0)
	fmt.Println("re-added: answer() =", r)
	// Output:
	// answer() = 42
	// after removal: true symbol not found: answer
	// re-added: answer() = 42
}

// A JITDylib's link order prints as the list of JITDylibs it searches.
func ExampleJITDylib_LinkOrder() {
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	lib, err := j.CreateJITDylib("lib")
	if err != nil {
		log.Fatal(err)
	}
	j.MainJITDylib().AddToLinkOrder(lib, orc.MatchExportedOnly)
	fmt.Println(j.MainJITDylib().LinkOrder())
	fmt.Println(orc.Symbol{Addr: 0x1000, Flags: orc.Exported | orc.Callable})
	// Output:
	// [main (all symbols), <Platform>, <Libraries>, <Process Symbols>, lib]
	// 0x1000 exported|callable
}
