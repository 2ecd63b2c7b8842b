package lljit_test

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/gdbjit"
	"github.com/gorc-jit/gorc/orc/inprocess"
	"github.com/gorc-jit/gorc/orc/lazy"
	"github.com/gorc-jit/gorc/orc/remote"
	"github.com/gorc-jit/gorc/orc/shared/wire"
	"github.com/gorc-jit/gorc/orcrt"
)

// zeroRuntime is an in-process executor that reports one runtime
// function (or, with name "dispatch", the JIT dispatch function) at
// address 0, as a broken executor might.
type zeroRuntime struct {
	*inprocess.EPC
	name string
}

func (z zeroRuntime) RuntimeSymbol(name string) (uint64, bool) {
	if name == z.name {
		return 0, true
	}
	return z.EPC.RuntimeSymbol(name)
}

func (z zeroRuntime) JITDispatch() (fn, ctx uint64, ok bool) {
	fn, ctx, ok = z.EPC.JITDispatch()
	if z.name == "dispatch" {
		fn = 0
	}
	return fn, ctx, ok
}

// runtimeFunctions are the runtime functions gorc's code asks an executor
// for and calls.
var runtimeFunctions = []string{"gorc_register_eh_frame_wrapper", "gorc_deregister_eh_frame_wrapper",
	"gorc_tls_register_wrapper", "gorc_tls_deregister_wrapper", "gorc_tls_get_addr", gdbjit.RegisterFunction, lazy.FailureFunction}

// gorc's executors, in process and out, offer every runtime function
// gorc's code asks for (gorc_lazy_compile_failed was once missing, so a
// failed lazy call jumped to 0).
func TestRuntimeFunctionsOffered(t *testing.T) {
	for where, epc := range map[string]orc.RuntimeSymbols{"in process": inprocess.New(), "gorc's executor runtime": executorInProcess(t)} {
		for _, name := range runtimeFunctions {
			if a, ok := epc.RuntimeSymbol(name); !ok || a == 0 {
				t.Errorf("%s: %s = %#x, %v", where, name, a, ok)
			}
		}
	}
}

// A runtime function the executor reports at address 0 fails building
// the JIT, or the first lazy definition, with an error naming it: nothing
// is linked that would call address 0.
func TestRuntimeSymbolAtZero(t *testing.T) {
	obj := testutil.Compile(t, t.TempDir(), "f.c", "int f(int x) { return x + 1; }", "-O1")
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range runtimeFunctions[:len(runtimeFunctions)-1] { // all but the lazy one
		_, err := (&lljit.Builder{EPC: zeroRuntime{inprocess.New(), name}, DebuggerSupport: true}).Create()
		if err == nil || !strings.Contains(err.Error(), name+" is at address 0") {
			t.Errorf("%s at 0: Create = %v", name, err)
		}
	}
	if _, err := (&lljit.Builder{EPC: zeroRuntime{inprocess.New(), "dispatch"}}).Create(); err == nil ||
		!strings.Contains(err.Error(), "dispatch function is at address 0") {
		t.Errorf("dispatch function at 0: Create = %v", err)
	}

	// A wrapper function the executor does not offer is never called.
	for name, epc := range map[string]orc.ExecutorProcessControl{"in process": inprocess.New(), "out of process": executorInProcess(t)} {
		if _, err := epc.CallWrapper(0, nil); !errors.Is(err, orc.ErrWrapperAtZero) {
			t.Errorf("%s: CallWrapper(0) = %v", name, err)
		}
	}

	// The lazy failure function, in process and in an executor that
	// publishes it at 0.
	lazyAdd := func(b *lljit.LazyBuilder) error {
		j, err := b.Create()
		if err != nil {
			return err
		}
		defer j.Close()
		return j.AddLazyObject(nil, "f.o", data)
	}
	want := lazy.FailureFunction + " is at address 0"
	if err := lazyAdd(&lljit.LazyBuilder{Builder: lljit.Builder{EPC: zeroRuntime{inprocess.New(), lazy.FailureFunction}}}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("in process: lazy object with %s: %v", want, err)
	}
	if err := lazyAdd(&lljit.LazyBuilder{Builder: lljit.Builder{EPC: executorInProcess(t, lazy.FailureFunction)}}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("out of process: lazy object with %s: %v", want, err)
	}
}

// executorInProcess serves gorc's executor session in this process; its
// Setup message gives the functions named by zero address 0.
func executorInProcess(t *testing.T, zero ...string) *remote.EPC {
	cr, ew := io.Pipe()
	er, cw := io.Pipe()
	s := orcrt.NewSession()
	if err := orcrt.AddServices(s); err != nil {
		t.Fatal(err)
	}
	for _, name := range zero {
		s.DefineSymbol(name, 0)
	}
	go func() {
		ca, err := orcrt.Connect(s, wire.NewConn(er, ew, wire.Closers{er, ew}))
		if err != nil {
			t.Error(err)
			return
		}
		ca.Serve()
		s.Shutdown()
	}()
	epc, err := remote.New(cr, cw, wire.Closers{cr, cw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { epc.Close() })
	return epc
}
