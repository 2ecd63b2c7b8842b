package bench

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/cfunc"
	"github.com/gorc-jit/gorc/orc/remote"
)

const callsSrc = `int add3(int a, int b, int c) { return a + b + c; }
double hyp2(double x, double y) { return x * x + y * y; }
extern long go_id(long x);
long via_go(long x) { return go_id(x); }
long sum10(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j) {
	return a + b + c + d + e + f + g + h + i + j;
}
`

func callsJIT(b *testing.B, outOfProcess bool) *lljit.LLJIT {
	dir := b.TempDir()
	obj := testutil.Compile(b, dir, "calls.c", callsSrc, "-O1")
	bld := &lljit.Builder{}
	if outOfProcess {
		exe := filepath.Join(dir, "gorc-executor")
		if out, err := exec.Command("go", "build", "-o", exe, "github.com/gorc-jit/gorc/cmd/gorc-executor").CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		epc, err := remote.Launch(exe)
		if err != nil {
			b.Fatal(err)
		}
		bld.EPC = epc
	}
	j, err := bld.Create()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { j.Close() })
	if err := j.ExportFunc(nil, "go_id", func(x int64) int64 { return x }); err != nil {
		b.Fatal(err)
	}
	if err := j.AddObjectFile(nil, obj); err != nil {
		b.Fatal(err)
	}
	return j
}

// BenchmarkCallCgo is the floor: one cgo call of int(int, int, int)
// through a fixed C prototype (native.CallInt).
func BenchmarkCallCgo(b *testing.B) {
	j := callsJIT(b, false)
	addr, err := j.Lookup(b.Context(), "add3")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		native.CallInt(addr, 1, 2, 3)
	}
}

// BenchmarkCallGeneric: the generic C call without reflection
// (native.Call, one cgo call).
func BenchmarkCallGeneric(b *testing.B) {
	j := callsJIT(b, false)
	addr, err := j.Lookup(b.Context(), "add3")
	if err != nil {
		b.Fatal(err)
	}
	args := []uint64{1, 2, 3}
	classes := []native.Class{native.ClassInt, native.ClassInt, native.ClassInt}
	for b.Loop() {
		native.Call(addr, args, classes, native.ClassInt)
	}
}

// BenchmarkCallBound: typed Go functions from LLJIT.Bind, in process and
// in gorc-executor.
func BenchmarkCallBound(b *testing.B) {
	for _, oop := range []bool{false, true} {
		name := "in-process"
		if oop {
			name = "out-of-process"
		}
		b.Run(name, func(b *testing.B) {
			j := callsJIT(b, oop)
			var add3 func(int32, int32, int32) int32
			var hyp2 func(float64, float64) float64
			var sum10 func(a, b, c, d, e, f, g, h, i, j int64) int64
			for n, f := range map[string]any{"add3": &add3, "hyp2": &hyp2, "sum10": &sum10} {
				if err := j.Bind(n, f); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("add3", func(b *testing.B) {
				for b.Loop() {
					add3(1, 2, 3)
				}
			})
			b.Run("hyp2", func(b *testing.B) {
				for b.Loop() {
					hyp2(3, 4)
				}
			})
			b.Run("sum10", func(b *testing.B) {
				for b.Loop() {
					sum10(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
				}
			})
		})
	}
}

// BenchmarkCallFunction: cfunc.Function, words without reflection.
func BenchmarkCallFunction(b *testing.B) {
	j := callsJIT(b, false)
	addr, err := j.Lookup(b.Context(), "add3")
	if err != nil {
		b.Fatal(err)
	}
	f, err := cfunc.NewFunction(j.ExecutorProcessControl(), addr,
		orc.CSignature{Result: orc.CInt32, Params: []orc.CType{orc.CInt32, orc.CInt32, orc.CInt32}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f.Call(1, 2, 3)
	}
}

// BenchmarkCallback: Go calls C (a bound function), which calls a Go
// callback, in process and in gorc-executor.
func BenchmarkCallback(b *testing.B) {
	for _, oop := range []bool{false, true} {
		name := "in-process"
		if oop {
			name = "out-of-process"
		}
		b.Run(name, func(b *testing.B) {
			j := callsJIT(b, oop)
			var viaGo func(int64) int64
			if err := j.Bind("via_go", &viaGo); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				viaGo(7)
			}
		})
	}
}
