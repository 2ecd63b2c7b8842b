package lljit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/compile"
	"github.com/gorc-jit/gorc/orc/remote"
)

// countingCompiler records what it compiles: the names of the functions
// each input defines.
type countingCompiler struct {
	compile.Compiler
	delay time.Duration
	mu    sync.Mutex
	funcs []string
}

func (c *countingCompiler) Compile(ctx context.Context, src []byte) ([]byte, error) {
	syms, _ := compile.Interface(src)
	c.mu.Lock()
	for _, s := range syms {
		if s.Function {
			c.funcs = append(c.funcs, s.Name)
		}
	}
	c.mu.Unlock()
	time.Sleep(c.delay)
	return c.Compiler.Compile(ctx, src)
}

func (c *countingCompiler) compiled() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.funcs)
	slices.Sort(out)
	return out
}

// irCompiler is llc compiling for the machine the tests run on (llc's
// default target is the host's, another one under emulation).
func irCompiler(t testing.TB) *compile.Tool {
	return llvmTools(t).Compiler("-mtriple=" + testutil.TargetTriple())
}

func llvmTools(t testing.TB) *compile.LLVM {
	testutil.NeedTool(t, "llc-19", "llc")
	l, err := compile.FindLLVM()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// hundredFunctions is a module of f0..f99 (fN(x) = x + N) and a main that
// calls f3, f10 and f42 (and f7 only when argc > 100).
func hundredFunctions() compile.Module {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "define i32 @f%d(i32 %%x) {\n  %%r = add i32 %%x, %d\n  ret i32 %%r\n}\n", i, i)
	}
	b.WriteString(`define i32 @main(i32 %argc, ptr %argv) {
  %big = icmp sgt i32 %argc, 100
  br i1 %big, label %rare, label %usual
rare:
  %r7 = call i32 @f7(i32 0)
  ret i32 %r7
usual:
  %a = call i32 @f3(i32 %argc)
  %b = call i32 @f10(i32 %a)
  %c = call i32 @f42(i32 %b)
  ret i32 %c
}
`)
	return compile.Module{Name: "hundred.ll", IR: []byte(b.String())}
}

// TestLazyIRCompilesWhatIsCalled: of a module of 100 functions, the lazy
// JIT compiles main and the three it calls, and nothing else.
func TestLazyIRCompilesWhatIsCalled(t *testing.T) {
	cc := &countingCompiler{Compiler: irCompiler(t)}
	j, err := (&lljit.LazyBuilder{Compiler: cc}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddLazyIRModule(nil, hundredFunctions()); err != nil {
		t.Fatal(err)
	}
	main, err := j.Lookup(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if got := cc.compiled(); len(got) != 0 {
		t.Fatalf("looking main up compiled %v", got)
	}
	rc, err := j.ExecutorProcessControl().RunAsMain(main, []string{"prog", "a"})
	if err != nil || rc != 2+3+10+42 {
		t.Fatalf("main = %d, %v", rc, err)
	}
	if got, want := cc.compiled(), []string{"f10", "f3", "f42", "main"}; !slices.Equal(got, want) {
		t.Fatalf("compiled %v, want %v", got, want)
	}
	// A second run calls through the patched stubs: nothing more to do.
	if rc, _ := j.ExecutorProcessControl().RunAsMain(main, []string{"prog"}); rc != 1+3+10+42 || len(cc.compiled()) != 4 {
		t.Fatalf("second run = %d, compiled %v", rc, cc.compiled())
	}
}

// TestLazySpeculation: with speculation, compiling main compiles the
// functions it may call, even one it does not call this time.
func TestLazySpeculation(t *testing.T) {
	cc := &countingCompiler{Compiler: irCompiler(t)}
	j, err := (&lljit.LazyBuilder{Compiler: cc, Speculate: true, Builder: lljit.Builder{NumCompileThreads: 2}}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddLazyIRModule(nil, hundredFunctions()); err != nil {
		t.Fatal(err)
	}
	main, err := j.Lookup(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := j.ExecutorProcessControl().RunAsMain(main, []string{"prog"}); err != nil || rc != 1+3+10+42 {
		t.Fatalf("main = %d, %v", rc, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(cc.compiled(), "f7") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := cc.compiled(); !slices.Contains(got, "f7") || slices.Contains(got, "f8") {
		t.Fatalf("compiled %v: want f7 (speculated) and not f8", got)
	}
}

// threadsSrc calls lazy_twice from 32 threads at once.
const threadsSrc = `#include <pthread.h>
int lazy_twice(int);
static pthread_barrier_t barrier;
static int results[32];
static void *worker(void *arg) {
	long i = (long)arg;
	pthread_barrier_wait(&barrier);
	results[i] = lazy_twice((int)i);
	return 0;
}
int run_threads(int n) {
	pthread_t t[32];
	pthread_barrier_init(&barrier, 0, 32);
	for (long i = 0; i < 32; i++) pthread_create(&t[i], 0, worker, (void *)i);
	int ok = 0;
	for (int i = 0; i < 32; i++) { pthread_join(t[i], 0); ok += results[i] == 2 * i; }
	return ok;
}
`

// TestLazyFirstCallFromManyThreads: 32 threads call an uncompiled lazy
// function at once; it is compiled once and every call gets its answer.
func TestLazyFirstCallFromManyThreads(t *testing.T) {
	cc := &countingCompiler{Compiler: irCompiler(t), delay: 200 * time.Millisecond}
	for _, name := range []string{"in-process", "gorc-executor"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cc.funcs = nil
			b := &lljit.LazyBuilder{Compiler: cc, Builder: lljit.Builder{NumCompileThreads: 2}}
			if name != "in-process" {
				epc, err := remote.Launch(buildExecutor(t, dir))
				if err != nil {
					t.Fatal(err)
				}
				b.EPC = epc
			}
			j, err := b.Create()
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			obj := testutil.Compile(t, dir, "threads.c", threadsSrc, "-O1", "-fPIC", "-pthread")
			if err := j.AddObjectFile(nil, obj); err != nil {
				t.Fatal(err)
			}
			if err := j.LoadDylib("libc.so.6"); err != nil {
				t.Fatal(err)
			}
			lazyIR := "define i32 @lazy_twice(i32 %x) {\n  %r = mul i32 %x, 2\n  ret i32 %r\n}\n"
			if err := j.AddLazyIRModule(nil, compile.Module{Name: "twice.ll", IR: []byte(lazyIR)}); err != nil {
				t.Fatal(err)
			}
			run, err := j.Lookup(t.Context(), "run_threads")
			if err != nil {
				t.Fatal(err)
			}
			ok, err := j.ExecutorProcessControl().RunAsIntFunction(run, 32)
			if err != nil || ok != 32 {
				t.Fatalf("%d of 32 threads got the right answer (%v)", ok, err)
			}
			if got := cc.compiled(); !slices.Equal(got, []string{"lazy_twice"}) {
				t.Fatalf("compiled %v, want lazy_twice once", got)
			}
		})
	}
}

// TestLazyCompileFailure: a call whose body fails to compile goes to the
// failure handler, with its arguments.
func TestLazyCompileFailure(t *testing.T) {
	dir := t.TempDir()
	j, err := (&lljit.LazyBuilder{Compiler: irCompiler(t), Transform: func(m compile.Module) (compile.Module, error) {
		if strings.Contains(string(m.IR), "@broken") {
			return m, errors.New("refusing to compile broken")
		}
		return m, nil
	}}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	handler := testutil.Compile(t, dir, "handler.c", "int lazy_failed(int x) { return -1000 - x; }", "-O1")
	if err := j.AddObjectFile(nil, handler); err != nil {
		t.Fatal(err)
	}
	h, err := j.Lookup(t.Context(), "lazy_failed")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.SetLazyCompileFailureAddr(h); err != nil {
		t.Fatal(err)
	}
	ir := "define i32 @broken(i32 %x) {\n  ret i32 %x\n}\ndefine i32 @fine(i32 %x) {\n  ret i32 %x\n}\n"
	if err := j.AddLazyIRModule(nil, compile.Module{Name: "m.ll", IR: []byte(ir)}); err != nil {
		t.Fatal(err)
	}
	epc := j.ExecutorProcessControl()
	broken, _ := j.Lookup(t.Context(), "broken")
	if r, err := epc.RunAsIntFunction(broken, 5); err != nil || r != -1005 {
		t.Fatalf("broken(5) = %d, %v; want the handler's -1005", r, err)
	}
	fine, _ := j.Lookup(t.Context(), "fine")
	if r, _ := epc.RunAsIntFunction(fine, 5); r != 5 {
		t.Fatalf("fine(5) = %d", r)
	}
}

// TestObjectCache: a second JIT with the same cache compiles nothing.
func TestObjectCache(t *testing.T) {
	cache, err := compile.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for run, want := range [][]string{{"f10", "f3", "f42", "main"}, nil} {
		cc := &countingCompiler{Compiler: irCompiler(t)}
		j, err := (&lljit.LazyBuilder{Compiler: cc, Cache: cache}).Create()
		if err != nil {
			t.Fatal(err)
		}
		if err := j.AddLazyIRModule(nil, hundredFunctions()); err != nil {
			t.Fatal(err)
		}
		main, _ := j.Lookup(t.Context(), "main")
		if rc, err := j.ExecutorProcessControl().RunAsMain(main, []string{"prog"}); err != nil || rc != 1+3+10+42 {
			t.Fatalf("run %d: main = %d, %v", run, rc, err)
		}
		if got := cc.compiled(); !slices.Equal(got, want) {
			t.Fatalf("run %d compiled %v, want %v", run, got, want)
		}
		j.Close()
	}
}
