package perfjit_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/perfjit"
)

// Write a jitdump file naming each linked function, for `perf inject
// --jit` (run the program under `perf record -k 1`).
func Example() {
	dir, err := os.MkdirTemp("", "jitdump")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	defer os.Setenv("JITDUMPDIR", os.Getenv("JITDUMPDIR"))
	os.Setenv("JITDUMPDIR", dir)
	p, err := perfjit.New()
	if err != nil {
		log.Fatal(err)
	}
	j, err := lljit.New()
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	j.ObjectLinkingLayer().AddPlugin(p)
	if err := j.AddObjectFile(nil, "../../lljit/testdata/answer.o"); err != nil {
		log.Fatal(err)
	}
	if _, err := j.Lookup(context.Background(), "answer"); err != nil {
		log.Fatal(err)
	}
	if err := p.Close(); err != nil {
		log.Fatal(err)
	}
	fi, err := os.Stat(p.Path())
	if err != nil {
		log.Fatal(err)
	}
	ok, _ := filepath.Match("jit-*.dump", filepath.Base(p.Path()))
	fmt.Println("dump file:", ok, "non-empty:", fi.Size() > 0)
	// Output: dump file: true non-empty: true
}
