package lljit_test

import (
	"math"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/remote"
)

const callsSrc = `
#include <stdint.h>
#include <stdbool.h>
int add3(int a, int b, int c) { return a + b + c; }
double hyp2(double x, double y) { return x * x + y * y; }
float half(float x) { return x / 2; }
long mixed(int a, double b, signed char c, float d, long e) { return a + (long)b + c + (long)d + e; }
long many(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j) {
	return a + 2*b + 3*c + 4*d + 5*e + 6*f + 7*g + 8*h + 9*i + 10*j;
}
double manyf(double a, double b, double c, double d, double e, double f, double g, double h,
             double i, double k, int n) { return a+b+c+d+e+f+g+h+i*10+k*100+n*1000; }
static char buf[32] = "hello";
char *greeting(void) { return buf; }
bool is_neg(int8_t x) { return x < 0; }
unsigned char low(unsigned x) { return x; }
int16_t neg16(int16_t x) { return -x; }

extern long go_scale(long x, double f);
extern void go_note(const char *s);
long use_go(long x) { go_note("from C"); return go_scale(x, 2.5) + 1; }

extern double go_half(double x);
extern float go_quarter(float x);
extern bool go_odd(int8_t x);
double use_fp(double x) { return go_half(x) + go_quarter((float)x) + (go_odd(-3) ? 1000 : 0); }

extern int shared_counter;   /* defined by Go, in JIT memory; non-PIC access */
int bump(void) { return ++shared_counter; }
`

func TestTypedCallsInProcess(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "calls.c", callsSrc, "-O1")
	j, err := lljit.New()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	testTypedCalls(t, j, obj, true)
}

// TestTypedCallsOutOfProcess: the same calls in gorc-executor, the Go
// callbacks forwarded over the connection.
func TestTypedCallsOutOfProcess(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "calls.c", callsSrc, "-O1")
	epc, err := remote.Launch(buildExecutor(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&lljit.Builder{EPC: epc}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := j.Close(); err != nil {
			t.Error(err)
		}
	}()
	testTypedCalls(t, j, obj, false)
}

// TestTypedCallsLLVMExecutor: LLVM's executor cannot call arbitrary
// signatures; Bind says so.
func TestTypedCallsLLVMExecutor(t *testing.T) {
	dir := t.TempDir()
	// LLVM's executor is a host program: the host's gcc compiles for it
	// whatever architecture these tests are built for.
	obj := testutil.CompileWith(t, "gcc", dir, "calls.c", `double hyp2(double x, double y) { return x * x + y * y; }`, "-O1")
	epc, err := remote.Launch(testutil.NeedTool(t, "llvm-jitlink-executor-14"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&lljit.Builder{EPC: epc}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	var hyp2 func(float64, float64) float64
	if err := j.Bind("hyp2", &hyp2); err == nil || !strings.Contains(err.Error(), "only gorc's executor") {
		t.Errorf("Bind with LLVM's executor: %v", err)
	}
	if err := j.ExportFunc(nil, "go_f", func() {}); err == nil || !strings.Contains(err.Error(), "only gorc's executor") {
		t.Errorf("ExportFunc with LLVM's executor: %v", err)
	}
}

func testTypedCalls(t *testing.T, j *lljit.LLJIT, obj string, inProcess bool) {
	var notes []string
	if err := j.ExportFunc(nil, "go_scale", func(x int64, f float64) int64 { return int64(float64(x) * f) }); err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]any{
		"go_half":    func(x float64) float64 { return x / 2 },
		"go_quarter": func(x float32) float32 { return x / 4 },
		"go_odd":     func(x int8) bool { return x%2 != 0 },
	} {
		if err := j.ExportFunc(nil, name, fn); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.ExportFunc(nil, "go_note", func(p uintptr) {
		if !inProcess { // p points into the executor
			notes = append(notes, "from C")
			return
		}
		notes = append(notes, string(unsafe.Slice((*byte)(native.Pointer(uint64(p))), 6)))
	}); err != nil {
		t.Fatal(err)
	}
	counter, err := j.DefineData(nil, "shared_counter", []byte{41, 0, 0, 0}, 0, 4, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	var (
		add3    func(int32, int32, int32) int32
		hyp2    func(float64, float64) float64
		half    func(float32) float32
		mixed   func(int32, float64, int8, float32, int64) int64
		many    func(a, b, c, d, e, f, g, h, i, j int64) (int64, error)
		manyf   func(a, b, c, d, e, f, g, h, i, k float64, n int32) float64
		greet   func() unsafe.Pointer
		isNeg   func(int8) bool
		low     func(uint32) uint8
		neg16   func(int16) int16
		useGo   func(int64) int64
		useFP   func(float64) float64
		bump    func() int32
		bad     func(string) int
		greetU  func() uintptr
		tooMany func(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, u, v, w, x, y, z, zz int64)
	)
	for name, fp := range map[string]any{"add3": &add3, "hyp2": &hyp2, "half": &half, "mixed": &mixed,
		"many": &many, "manyf": &manyf, "greeting": &greet, "is_neg": &isNeg, "low": &low,
		"neg16": &neg16, "use_go": &useGo, "use_fp": &useFP, "bump": &bump} {
		if err := j.Bind(name, fp); err != nil {
			t.Fatalf("Bind %s: %v", name, err)
		}
	}
	if got := add3(1, 2, -10); got != -7 {
		t.Errorf("add3 = %d", got)
	}
	if got := hyp2(3, 4); got != 25 {
		t.Errorf("hyp2 = %v", got)
	}
	if got := half(5); got != 2.5 {
		t.Errorf("half = %v", got)
	}
	if got := mixed(1, 20.5, -3, 400.75, 5000); got != 1+20-3+400+5000 {
		t.Errorf("mixed = %d", got)
	}
	if got, err := many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10); err != nil || got != 385 {
		t.Errorf("many = %d, %v", got, err)
	}
	if got := manyf(1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4); got != 8+20+300+4000 {
		t.Errorf("manyf = %v", got)
	}
	if inProcess {
		if got := string(unsafe.Slice((*byte)(greet()), 5)); got != "hello" {
			t.Errorf("greeting = %q", got)
		}
	} else if greet() == nil {
		t.Error("greeting = nil")
	}
	if !isNeg(-1) || isNeg(1) {
		t.Error("is_neg")
	}
	if got := low(0x1ff); got != 0xff {
		t.Errorf("low = %#x", got)
	}
	if got := neg16(math.MinInt16 + 1); got != math.MaxInt16 {
		t.Errorf("neg16 = %d", got)
	}
	if got := useGo(10); got != 26 || len(notes) != 1 || notes[0] != "from C" {
		t.Errorf("use_go = %d, notes %q", got, notes)
	}
	if got := useFP(10); got != 5+2.5+1000 {
		t.Errorf("use_fp = %v", got)
	}
	if got := bump(); got != 42 {
		t.Errorf("bump = %d", got)
	}
	if inProcess {
		mem, err := j.Bytes(counter, 4)
		if err != nil || mem[0] != 42 {
			t.Errorf("shared_counter in Go: %v %v", mem, err)
		}
		mem[0] = 99
	} else if err := j.ExecutorProcessControl().WriteMemory(counter, []byte{99}); err != nil {
		t.Fatal(err)
	}
	if got := bump(); got != 100 {
		t.Errorf("bump after Go wrote = %d", got)
	}
	if err := j.Bind("greeting", &greetU); err != nil || greetU() == 0 {
		t.Errorf("greeting as uintptr: %v", err)
	}
	if err := j.Bind("add3", &bad); err == nil || !strings.Contains(err.Error(), "no C counterpart") {
		t.Errorf("Bind with a string parameter: %v", err)
	}
	if err := j.Bind("add3", &tooMany); err == nil || !strings.Contains(err.Error(), "stack") {
		t.Errorf("Bind with 26 integer parameters: %v", err)
	}
	// RunAsIntFunction's argument is a C int: no silent truncation.
	addr, _ := j.Lookup(t.Context(), "neg16")
	if _, err := j.ExecutorProcessControl().RunAsIntFunction(addr, 1<<33+5); err == nil {
		t.Error("RunAsIntFunction(1<<33+5) did not fail")
	}
}

// TestAbsoluteDataOutOfRange: an absolute symbol for Go memory is out of
// reach of code without -fPIC (a 32-bit PC-relative displacement on x86-64,
// ADRP's ±4 GiB on AArch64, whose default PIE code reads externs through the
// GOT), and the error says what to do.
func TestAbsoluteDataOutOfRange(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "abs.c", `extern int go_value; int read_value(void) { return go_value; }`, "-O1", "-fno-pic")
	j, err := lljit.New()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	goValue := new(int32)
	if err := j.MainJITDylib().Define(orc.AbsoluteSymbols(orc.SymbolMap{
		orc.Intern("go_value"): {Addr: uint64(uintptr(unsafe.Pointer(goValue))), Flags: orc.Exported},
	})); err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	_, err = j.Lookup(t.Context(), "read_value")
	if err == nil || !strings.Contains(err.Error(), "-fPIC") || !strings.Contains(err.Error(), "DefineData") {
		t.Fatalf("lookup of non-PIC code using far absolute data: %v", err)
	}
}

// TestRetryAfterFailure: a symbol whose materialization failed stays
// failed; removing its tracker lets a corrected object define it again
// (docs/calls.md).
func TestRetryAfterFailure(t *testing.T) {
	dir := t.TempDir()
	bad := testutil.Compile(t, dir, "bad.c", `extern int missing(void); int f(void) { return missing(); }`, "-O1")
	good := testutil.Compile(t, dir, "good.c", `int f(void) { return 7; }`, "-O1")
	j, err := lljit.New()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rt := j.MainJITDylib().CreateResourceTracker()
	data, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectWithTracker(rt, bad, data); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Lookup(t.Context(), "f"); err == nil {
		t.Fatal("f linked without missing")
	}
	if _, err := j.Lookup(t.Context(), "f"); err == nil {
		t.Fatal("f linked on the second try")
	}
	if err := rt.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectFile(nil, good); err != nil {
		t.Fatal(err)
	}
	var f func() int32
	if err := j.Bind("f", &f); err != nil || f() != 7 {
		t.Fatalf("after removing the failed tracker: %v", err)
	}
}

// TestCallbackPanic: a Go callback that panics ends the process with a
// message naming it (a panic cannot unwind the C frames), as docs/calls.md
// says.
func TestCallbackPanic(t *testing.T) {
	if os.Getenv("GORC_CALLBACK_PANIC_CHILD") != "" {
		j, err := lljit.New()
		if err != nil {
			t.Fatal(err)
		}
		if err := j.ExportFunc(nil, "go_twice", func(x int64) int64 { panic("no twice today") }); err != nil {
			t.Fatal(err)
		}
		if err := j.ExportFunc(nil, "go_log", func(unsafe.Pointer) {}); err != nil {
			t.Fatal(err)
		}
		if err := j.AddObjectFile(nil, "testdata/callback.o"); err != nil {
			t.Fatal(err)
		}
		var f func(int64) int64
		if err := j.Bind("twice_plus_one", &f); err != nil {
			t.Fatal(err)
		}
		f(1)
		t.Fatal("the panic returned")
	}
	cmd := testutil.TargetCommand(os.Args[0], "-test.run=^TestCallbackPanic$")
	cmd.Env = append(os.Environ(), "GORC_CALLBACK_PANIC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 ||
		!strings.Contains(string(out), "gorc: panic in Go callback go_twice: no twice today") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestCallbackThreadsAndReentry: C threads call a Go callback, which calls
// back into C (Go → C → Go → C), as docs/calls.md says they may.
func TestCallbackThreadsAndReentry(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "threads.c", `#include <pthread.h>
		extern long go_hit(long x);
		long square(long x) { return x * x; }
		static void *run(void *a) { return (void *)go_hit((long)a); }
		long spawn(int n) {
			pthread_t t[8]; long sum = 0;
			for (long i = 0; i < n; i++) pthread_create(&t[i], 0, run, (void *)(i + 1));
			for (int i = 0; i < n; i++) { void *r; pthread_join(t[i], &r); sum += (long)r; }
			return sum;
		}`, "-O1", "-pthread")
	t.Run("in-process", func(t *testing.T) {
		j, err := lljit.New()
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		testThreadsAndReentry(t, j, obj)
	})
	t.Run("gorc-executor", func(t *testing.T) {
		epc, err := remote.Launch(buildExecutor(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		j, err := (&lljit.Builder{EPC: epc}).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		testThreadsAndReentry(t, j, obj)
	})
}

func testThreadsAndReentry(t *testing.T, j *lljit.LLJIT, obj string) {
	var square func(int64) int64
	if err := j.ExportFunc(nil, "go_hit", func(x int64) int64 { return square(x) + 1 }); err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	var spawn func(int32) int64
	if err := j.Bind("square", &square); err != nil {
		t.Fatal(err)
	}
	if err := j.Bind("spawn", &spawn); err != nil {
		t.Fatal(err)
	}
	if got := spawn(8); got != 1+4+9+16+25+36+49+64+8 {
		t.Errorf("spawn(8) = %d", got)
	}
}

// TestTypedCallCrashOutOfProcess: a bound function that crashes
// gorc-executor returns an error saying how the executor died, and the
// executor's report names the function.
func TestTypedCallCrashOutOfProcess(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "crash.c", `__attribute__((noinline)) int crash_here(volatile int *p) { return *p; }`, "-O1")
	var stderr strings.Builder
	epc, err := remote.Launch(buildExecutor(t, dir), remote.Stdio(os.Stdout, &stderr))
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&lljit.Builder{EPC: epc}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	var crash func(unsafe.Pointer) (int32, error)
	if err := j.Bind("crash_here", &crash); err != nil {
		t.Fatal(err)
	}
	if _, err := crash(nil); err == nil || !strings.Contains(err.Error(), "killed by signal 11") {
		t.Errorf("crash: %v", err)
	}
	if !strings.Contains(stderr.String(), "in crash_here+0x") {
		t.Errorf("executor's report: %q", stderr.String())
	}
}

// TestCallbackPanicOutOfProcess: a Go callback of gorc-executor's code that
// panics does not take the controller down: the executor ends, naming it,
// and the call returns how it died.
func TestCallbackPanicOutOfProcess(t *testing.T) {
	dir := t.TempDir()
	var stderr strings.Builder
	epc, err := remote.Launch(buildExecutor(t, dir), remote.Stdio(os.Stdout, &stderr))
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&lljit.Builder{EPC: epc}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.ExportFunc(nil, "go_twice", func(x int64) int64 { panic("no twice today") }); err != nil {
		t.Fatal(err)
	}
	if err := j.ExportFunc(nil, "go_log", func(unsafe.Pointer) {}); err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectFile(nil, "testdata/callback.o"); err != nil {
		t.Fatal(err)
	}
	var f func(int64) (int64, error)
	if err := j.Bind("twice_plus_one", &f); err != nil {
		t.Fatal(err)
	}
	if _, err := f(1); err == nil || !strings.Contains(err.Error(), "exited with status 2") {
		t.Errorf("call: %v", err)
	}
	if !strings.Contains(stderr.String(), "Go callback go_twice failed: panic in Go callback go_twice: no twice today") {
		t.Errorf("executor's report: %q", stderr.String())
	}
}
