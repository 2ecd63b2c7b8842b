package remote_test

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/remote"
)

// Run JIT'd code in another process: launch gorc-executor, give the JIT
// its ExecutorProcessControl, and call a function there as a typed Go
// function.
func ExampleLaunch() {
	dir, err := os.MkdirTemp("", "gorc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	exe := filepath.Join(dir, "gorc-executor")
	if out, err := exec.Command("go", "build", "-o", exe, "github.com/gorc-jit/gorc/cmd/gorc-executor").CombinedOutput(); err != nil {
		log.Fatalf("%v\n%s", err, out)
	}

	epc, err := remote.Launch(exe)
	if err != nil {
		log.Fatal(err)
	}
	j, err := (&lljit.Builder{EPC: epc}).Create() // j.Close closes epc
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	// calls.c: double hyp2(double x, double y) { return x * x + y * y; } ...
	if err := j.AddObjectFile(nil, "../../lljit/testdata/calls.o"); err != nil {
		log.Fatal(err)
	}
	var hyp2 func(x, y float64) float64
	if err := j.Bind("hyp2", &hyp2); err != nil {
		log.Fatal(err)
	}
	fmt.Println("executor pid differs:", epc.PID() != os.Getpid())
	fmt.Println("hyp2(5, 12) =", hyp2(5, 12))
	// Output:
	// executor pid differs: true
	// hyp2(5, 12) = 169
}
