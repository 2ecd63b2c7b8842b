package lljit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/cfunc"
	"github.com/gorc-jit/gorc/orc/inprocess"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// Bind looks name up in the main JITDylib and sets *fnptr, a pointer to a
// variable of function type, to a Go function that calls it by the C ABI:
//
//	var hyp func(float64, float64) float64
//	err := j.Bind("hyp", &hyp)
//
// See package cfunc for the types allowed. Out of process it needs gorc's
// executor.
func (j *LLJIT) Bind(name string, fnptr any) error {
	return j.BindIn(context.Background(), j.main, name, fnptr)
}

// BindIn is Bind looking name up in jd's link order.
func (j *LLJIT) BindIn(ctx context.Context, jd *orc.JITDylib, name string, fnptr any) error {
	addr, err := j.LookupIn(ctx, j.orMain(jd), name)
	if err != nil {
		return err
	}
	if err := cfunc.Bind(j.epc, addr, fnptr); err != nil {
		return fmt.Errorf("binding %s: %w", name, err)
	}
	return nil
}

// ExportFunc defines name in jd (nil: the main JITDylib) as a C function
// that calls the Go function fn, so that JIT'd code can call it:
//
//	j.ExportFunc(nil, "log_line", func(msg unsafe.Pointer) { ... })
//	// C: void log_line(const char *msg);
//
// fn's type gives the C signature (see package cfunc). In process the C
// function calls fn directly; in gorc's executor it sends the argument
// words to this process over the connection (pointers then point into
// the executor). It stays callable until Close. docs/calls.md lists the
// limits (threads, panics, re-entrancy).
func (j *LLJIT) ExportFunc(jd *orc.JITDylib, name string, fn any) error {
	jd = j.orMain(jd)
	addr, release, err := j.newCallback(jd, name, fn)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	err = jd.Define(orc.AbsoluteSymbols(orc.SymbolMap{
		j.es.MangleAndIntern(name): {Addr: addr, Flags: orc.Exported | orc.Callable},
	}))
	if err != nil {
		return errors.Join(err, release())
	}
	j.mu.Lock()
	j.releases = append(j.releases, release)
	j.mu.Unlock()
	return nil
}

// newCallback makes fn callable from C in the executor: directly in
// process, else through a function of the executor that forwards its
// calls to a JIT dispatch handler here (tagged by a symbol in jd).
func (j *LLJIT) newCallback(jd *orc.JITDylib, name string, fn any) (uint64, func() error, error) {
	if _, ok := j.epc.(orc.CallbackMaker); ok {
		return cfunc.Export(j.epc, name, fn)
	}
	m, ok := j.epc.(orc.ForwardingCallbackMaker)
	if !ok {
		return 0, nil, errors.New("the executor cannot call Go functions")
	}
	sig, words, err := cfunc.WordFunc(fn)
	if err != nil {
		return 0, nil, err
	}
	tag := "__gorc_callback_tag_" + name
	err = j.RegisterJITDispatchHandlers(jd, map[string]orc.JITDispatchHandler{
		tag: func(args []byte) (_ []byte, err error) {
			defer func() {
				// Not this process's C frames to unwind: the executor
				// gets the panic as an error (and ends, naming it).
				if p := recover(); p != nil {
					err = fmt.Errorf("panic in Go callback %s: %v", name, p)
				}
			}()
			var in []uint64
			if err := sps.Unmarshal(args, &in); err != nil {
				return nil, err
			}
			if len(in) != len(sig.Params) {
				return nil, fmt.Errorf("Go callback %s: %d arguments, want %d", name, len(in), len(sig.Params))
			}
			return sps.Marshal(words(in))
		},
	})
	if err != nil {
		return 0, nil, err
	}
	tagAddr, err := j.LookupIn(context.Background(), jd, tag)
	if err != nil {
		return 0, nil, err
	}
	return m.NewForwardingCallback(name, sig, tagAddr)
}

// DefineData defines name in jd (nil: the main JITDylib) as data in JIT'd
// memory, initialized with data (zero-filled if data is nil and size > 0),
// and returns its address. Unlike an absolute symbol for memory elsewhere,
// it lies near JIT'd code, so that code compiled without -fPIC (which
// reaches data with 32-bit PC-relative offsets) can use it. In process,
// Bytes gives Go access to it; out of process, WriteMemory writes it.
func (j *LLJIT) DefineData(jd *orc.JITDylib, name string, data []byte, size, align uint64, writable bool) (uint64, error) {
	if data != nil {
		size = uint64(len(data))
	}
	if size == 0 {
		return 0, fmt.Errorf("data %s: size 0", name)
	}
	if align == 0 {
		align = 16
	}
	prot := jitlink.ProtRead
	if writable {
		prot |= jitlink.ProtWrite
	}
	tgt, err := target.For(j.epc.TargetTriple())
	if err != nil {
		return 0, err
	}
	g := tgt.NewLinkGraph("<data " + name + ">")
	sec := g.CreateSection(".data.gorc", prot)
	var b *jitlink.Block
	if data != nil {
		b = g.CreateContentBlock(sec, bytes.Clone(data), 0, align, 0) // the caller keeps its slice
	} else {
		b = g.CreateZeroFillBlock(sec, size, 0, align, 0)
	}
	g.AddDefinedSymbol(b, 0, name, size, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	jd = j.orMain(jd)
	if err := j.objLayer.AddLinkGraph(jd.DefaultResourceTracker(), g); err != nil {
		return 0, err
	}
	return j.LookupIn(context.Background(), jd, name)
}

// FlushCStdio flushes the executor's C stdio streams. The JIT does so when
// an in-process main returns and on Close; a program that calls JIT'd
// functions that print, and then exits, calls it first.
func (j *LLJIT) FlushCStdio() error {
	f, ok := j.epc.(interface{ FlushStdio() error })
	if !ok {
		return errors.New("the executor cannot flush its C stdio")
	}
	return f.FlushStdio()
}

// Bytes returns the size bytes at addr of JIT'd memory in this process
// (such as DefineData's), for Go to read and write. It is an error for an
// executor in another process.
func (j *LLJIT) Bytes(addr, size uint64) ([]byte, error) {
	if _, ok := j.epc.(*inprocess.EPC); !ok || addr == 0 {
		return nil, fmt.Errorf("memory at %#x is not in this process", addr)
	}
	return unsafe.Slice((*byte)(native.Pointer(addr)), size), nil
}
