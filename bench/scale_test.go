package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/remote"
)

// BenchmarkAddNth measures what adding one more small object costs a
// session that already holds N-1 live ones: each timed operation adds an
// object and looks its function up (eager: the object is linked; lazy:
// only its stub is, through LLLazyJIT), in process and in gorc-executor.
// The cost should not grow with N. Run it with a small fixed count so the
// session stays near N:
//
//	go test ./bench -run X -bench AddNth -benchtime 200x
//
// (BENCH_MAX_N=10000 skips the 100,000 case.) setup-ns/obj is the mean
// cost of the first N-1 (added a thousand at a time), close-ns/obj that of
// closing the session.
func BenchmarkAddNth(b *testing.B) {
	tmpl := scaleTemplate(b)
	exe := filepath.Join(b.TempDir(), "gorc-executor")
	if out, err := exec.Command("go", "build", "-o", exe, "github.com/gorc-jit/gorc/cmd/gorc-executor").CombinedOutput(); err != nil {
		b.Fatalf("building gorc-executor: %v\n%s", err, out)
	}
	maxN := 100000
	if s := os.Getenv("BENCH_MAX_N"); s != "" {
		fmt.Sscan(s, &maxN)
	}
	for _, where := range []string{"inprocess", "executor"} {
		for _, mode := range []string{"eager", "lazy"} {
			for _, n := range []int{100, 1000, 10000, 100000} {
				if n > maxN {
					continue
				}
				b.Run(fmt.Sprintf("%s/%s/N=%d", where, mode, n), func(b *testing.B) {
					bld := lljit.Builder{}
					if where == "executor" {
						epc, err := remote.Launch(exe)
						if err != nil {
							b.Fatal(err)
						}
						bld.EPC = epc
					}
					lz, err := (&lljit.LazyBuilder{Builder: bld}).Create()
					if err != nil {
						b.Fatal(err)
					}
					add := func(i int) error {
						name := fmt.Sprintf("f%07d", i)
						obj := bytes.ReplaceAll(tmpl, []byte("f0000000"), []byte(name))
						if mode == "lazy" {
							return lz.AddLazyObject(nil, name+".o", obj)
						}
						return lz.AddObject(nil, name+".o", obj)
					}
					// N-1 live objects, linked (or stubbed) a thousand at a time.
					var set orc.LookupSet
					start := time.Now()
					for i := 1; i < n; i++ {
						if err := add(i); err != nil {
							b.Fatal(err)
						}
						set = append(set, orc.LookupEntry{Name: orc.Intern(fmt.Sprintf("f%07d", i))})
						if len(set) == 1000 || i == n-1 {
							if _, err := lz.Session().Lookup(context.Background(), lz.MainJITDylib().LinkOrder(), set, orc.Ready); err != nil {
								b.Fatal(err)
							}
							set = set[:0]
						}
					}
					setup := time.Since(start)
					next := n
					for b.Loop() {
						if err := add(next); err != nil {
							b.Fatal(err)
						}
						if _, err := lz.Lookup(b.Context(), fmt.Sprintf("f%07d", next)); err != nil {
							b.Fatal(err)
						}
						next++
					}
					// Also the average over the N-1 added in batches, and
					// closing the session (deregistering every object).
					b.ReportMetric(float64(setup.Nanoseconds())/float64(n-1), "setup-ns/obj")
					start = time.Now()
					if err := lz.Close(); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(next-1), "close-ns/obj")
				})
			}
		}
	}
}

// scaleTemplate is a small object defining f0000000 (a function reading
// a static variable, with unwind info); copies rename it.
func scaleTemplate(b *testing.B) []byte {
	p := testutil.Compile(b, b.TempDir(), "f.c", "static int v = 3; int f0000000(int x) { return x * v + 1; }", "-O1")
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return data
}
