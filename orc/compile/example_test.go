package compile_test

import (
	"fmt"
	"log"
	"os"

	"github.com/gorc-jit/gorc/orc/compile"
)

// The object cache keys compiled objects by a hash of everything that
// determines them (compiler identity, options, input), so that a later run
// or another process skips the compile. LazyBuilder.Cache uses it (see
// lljit's ExampleLLLazyJIT).
func ExampleCache() {
	dir, err := os.MkdirTemp("", "gorc-cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cache, err := compile.NewCache(dir)
	if err != nil {
		log.Fatal(err)
	}
	key := compile.Key([]byte("llc-19 -O2"), []byte("define i32 @f() { ret i32 1 }"))
	_, ok := cache.Get(key)
	fmt.Println("cached before:", ok)
	if err := cache.Put(key, []byte("\x7fELF...object bytes")); err != nil {
		log.Fatal(err)
	}
	obj, ok := cache.Get(key)
	fmt.Println("cached after:", ok, len(obj), "bytes")
	// Output:
	// cached before: false
	// cached after: true 19 bytes
}
