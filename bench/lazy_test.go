package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/compile"
)

// callerSrc calls f n times through a function pointer; the callee lives
// in another object, so nothing is inlined.
const callerSrc = `long call_loop(long n, int (*f)(int)) {
	long s = 0;
	for (long i = 0; i < n; i++) s += f((int)i);
	return s;
}
`

// BenchmarkStubCall: the cost of a call through a resolved lazy stub
// (one more indirect jump) against a call straight to the body. Reported
// per call; the goal is within 2 ns of the direct call.
func BenchmarkStubCall(b *testing.B) {
	dir := b.TempDir()
	j, err := lljit.NewLazy()
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	caller := testutil.Compile(b, dir, "caller.c", callerSrc, "-O2")
	callee := testutil.Compile(b, dir, "callee.c", "int inc(int x) { return x + 1; }\n", "-O2")
	if err := j.AddObjectFile(nil, caller); err != nil {
		b.Fatal(err)
	}
	obj, err := os.ReadFile(callee)
	if err != nil {
		b.Fatal(err)
	}
	if err := j.AddLazyObject(nil, "callee.o", obj); err != nil {
		b.Fatal(err)
	}
	loop, _ := j.Lookup(b.Context(), "call_loop")
	stub, _ := j.Lookup(b.Context(), "inc")
	native.CallInt(loop, 1, stub) // the first call links inc
	impl := j.Session().JITDylibByName("main.lazy-objects")
	body, err := j.Session().LookupSymbol(context.Background(), orc.Search(impl), orc.Intern("inc"))
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000_000
	for _, tc := range []struct {
		name string
		f    uint64
	}{{"direct", body.Addr}, {"stub", stub}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				native.CallInt(loop, n, tc.f)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/call")
		})
	}
}

// BenchmarkLazyFirstCall: the latency of the first call of a lazy
// function whose object is already compiled: reentry, the lookup that
// links the object, the stub update, and the call.
func BenchmarkLazyFirstCall(b *testing.B) {
	dir := b.TempDir()
	obj0, err := os.ReadFile(testutil.Compile(b, dir, "f.c", "int lazy_fn_000000(int x) { return x + 1; }\n", "-O2"))
	if err != nil {
		b.Fatal(err)
	}
	j, err := lljit.NewLazy()
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	// One object per call, each defining its own name (the object with its
	// symbol name patched).
	names := make([]string, b.N)
	for i := range b.N {
		names[i] = fmt.Sprintf("lazy_fn_%06d", i)
		obj := bytes.ReplaceAll(obj0, []byte("lazy_fn_000000"), []byte(names[i]))
		if err := j.AddLazyObject(nil, names[i]+".o", obj); err != nil {
			b.Fatal(err)
		}
	}
	stubs := make([]uint64, b.N)
	for i, n := range names {
		if stubs[i], err = j.Lookup(b.Context(), n); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if r, _ := native.CallInt(stubs[i], 1); r != 2 {
			b.Fatalf("%s(1) = %d", names[i], r)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/first-call")
}

// BenchmarkCompileThroughput compiles a set of IR modules (16 modules of
// 20 functions) with 1 and 2 compile workers.
func BenchmarkCompileThroughput(b *testing.B) {
	testutil.NeedTool(b, "llc-19", "llc")
	var modules []compile.Module
	for m := range 16 {
		var sb strings.Builder
		for f := range 20 {
			fmt.Fprintf(&sb, "define i32 @m%d_f%d(i32 %%x) {\n  %%a = mul i32 %%x, %d\n  %%b = add i32 %%a, %d\n  ret i32 %%b\n}\n", m, f, f+1, m)
		}
		modules = append(modules, compile.Module{Name: fmt.Sprintf("m%d.ll", m), IR: []byte(sb.String())})
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				j, err := (&lljit.LazyBuilder{Builder: lljit.Builder{NumCompileThreads: workers}}).Create()
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range modules {
					if err := j.AddIRModule(nil, m); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				var wg sync.WaitGroup
				for m := range modules {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := j.Lookup(b.Context(), fmt.Sprintf("m%d_f0", m)); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(len(modules))/time.Since(start).Seconds(), "modules/s")
				j.Close()
			}
		})
	}
}
