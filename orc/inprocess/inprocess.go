// Package inprocess runs JIT'd code in the controller's own process: it is
// the ExecutorProcessControl for in-process JITs (LLVM's
// SelfExecutorProcessControl).
package inprocess

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorc-jit/gorc/internal/ccall"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/memory"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// SlabSize is the address range the default memory manager reserves for
// JIT'd code and data, next to the process's shared libraries: all graphs
// stay within 32-bit PC-relative range of each other and of the libraries'
// data.
const SlabSize = 1 << 30

// LowSlabSize is the slab's size with Low2GB.
const LowSlabSize = 256 << 20

// EPC is the in-process ExecutorProcessControl. It is safe for concurrent
// use.
type EPC struct {
	mm   jitlink.MemoryManager
	mu   sync.Mutex
	libs []*native.Library // by handle

	dispatchCtx     uint64
	releaseDispatch func()
	dispatch        atomic.Pointer[func(tag uint64, args []byte) ([]byte, error)]
}

// Option configures an EPC.
type Option func(*options)

type options struct {
	mm         jitlink.MemoryManager
	low        bool
	debuggable bool
}

// WithMemoryManager sets the memory manager (default: dual-mapped memory per
// JITDylib, or an mprotect-based slab where memfd is unavailable, falling
// back to plain mappings for allocations that do not fit).
func WithMemoryManager(mm jitlink.MemoryManager) Option { return func(o *options) { o.mm = mm } }

// Low2GB places JIT'd memory below 2 GiB, for code built with -fno-pic.
func Low2GB() Option { return func(o *options) { o.low = true } }

// Debuggable makes JIT'd code memory that a debugger can set breakpoints
// in: private mappings rather than the dual-mapped memfd, whose shared
// read-only views ptrace cannot write.
func Debuggable() Option { return func(o *options) { o.debuggable = true } }

// New returns an in-process executor.
func New(opts ...Option) *EPC {
	var o options
	for _, f := range opts {
		f(&o)
	}
	e := &EPC{mm: o.mm}
	e.dispatchCtx, e.releaseDispatch = native.NewDispatchContext(func(tag uint64, args []byte) ([]byte, error) {
		h := e.dispatch.Load()
		if h == nil {
			return nil, errors.New("JIT'd code called the controller, but no session handles such calls")
		}
		return (*h)(tag, args)
	})
	if e.mm == nil {
		run := memory.ActionRunner(RunAction)
		slabOpts := []memory.SlabOption{memory.SlabActionRunner(run)}
		mmOpts := []memory.Option{memory.WithActionRunner(run)}
		if tgt, err := target.For(triple.Host()); err == nil {
			slabOpts = append(slabOpts, memory.SlabICacheFlush(tgt.FlushInstructionCache))
			mmOpts = append(mmOpts, memory.WithICacheFlush(tgt.FlushInstructionCache))
		}
		if o.low {
			slabOpts = append(slabOpts, memory.SlabLow2GB())
			mmOpts = append(mmOpts, memory.Low2GB())
		}
		size := uint64(SlabSize)
		if o.low {
			// Linux gives MAP_32BIT mappings a 1 GiB window.
			size = LowSlabSize
		}
		e.mm = &slabWithFallback{
			newSlab: func() (jitlink.MemoryManager, error) {
				if !o.debuggable {
					if d, err := memory.NewDualMapped(size, slabOpts...); err == nil {
						return d, nil
					}
				}
				return memory.NewSlab(size, slabOpts...)
			},
			fallback: memory.NewInProcess(mmOpts...),
		}
	}
	return e
}

// RunAction runs an allocation action in this process: it calls the
// action's wrapper function, whose result is an SPS-encoded Error. Memory
// managers made for in-process use take it as their ActionRunner.
func RunAction(c jitlink.WrapperCall) error {
	out, err := native.CallWrapper(c.Fn, c.Args)
	if err != nil {
		return err
	}
	return sps.ActionResult(c.Fn, out)
}

// RuntimeSymbol returns the address of a function of gorc's executor
// runtime (see orc/elfplatform).
func (e *EPC) RuntimeSymbol(name string) (uint64, bool) {
	a, ok := native.RuntimeSymbols()[name]
	return a, ok
}

// ReserveTLSModule reserves a TLS module id in this process.
func (e *EPC) ReserveTLSModule() (uint32, error) {
	m := native.ReserveTLSModule()
	if m == 0 {
		return 0, errors.New("no TLS module ids left")
	}
	return uint32(m), nil
}

// ReserveStaticTLS places TLS module m in static TLS in this process.
func (e *EPC) ReserveStaticTLS(m uint32, size, align uint64, image []byte) (int64, error) {
	return native.ReserveStaticTLS(uint64(m), size, align, image)
}

// TargetTriple returns the host triple.
func (e *EPC) TargetTriple() triple.Triple { return triple.Host() }

// PageSize returns the host page size.
func (e *EPC) PageSize() uint64 { return uint64(os.Getpagesize()) }

// MemoryManager returns the memory manager.
func (e *EPC) MemoryManager() jitlink.MemoryManager { return e.mm }

// LoadDylib dlopens a library ("" is this process) with global visibility.
func (e *EPC) LoadDylib(path string) (orc.DylibHandle, error) {
	lib, err := native.Open(path, native.RTLDNow|native.RTLDGlobal)
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.libs = append(e.libs, lib)
	return orc.DylibHandle(len(e.libs) - 1), nil
}

// LookupSymbols looks names up in a loaded library.
func (e *EPC) LookupSymbols(h orc.DylibHandle, syms []orc.SymbolRequest) ([]uint64, error) {
	e.mu.Lock()
	if int(h) >= len(e.libs) {
		e.mu.Unlock()
		return nil, fmt.Errorf("invalid dylib handle %d", h)
	}
	lib := e.libs[h]
	e.mu.Unlock()
	addrs := make([]uint64, len(syms))
	var missing []string
	for i, s := range syms {
		a, ok := lib.Lookup(s.Name)
		if !ok && s.Required {
			missing = append(missing, s.Name)
		}
		addrs[i] = a
	}
	if missing != nil {
		return nil, fmt.Errorf("symbols not found in %s: %s", libName(lib), strings.Join(missing, ", "))
	}
	return addrs, nil
}

func libName(l *native.Library) string {
	if l.Path() == "" {
		return "the process"
	}
	return l.Path()
}

// RunAsMain calls main(argc, argv) with argv = args.
// C stdio is flushed when main returns, so that output written to a file
// or pipe is not lost when the Go program exits without C's exit.
func (e *EPC) RunAsMain(addr uint64, args []string) (int, error) {
	if err := native.Unsupported(); err != nil {
		return 0, err
	}
	r := native.CallMain(addr, args)
	native.FlushStdio()
	return r, nil
}

// RunAsVoidFunction calls void f(void).
func (e *EPC) RunAsVoidFunction(addr uint64) error {
	if err := native.Unsupported(); err != nil {
		return err
	}
	native.CallVoid(addr)
	return nil
}

// RunAsIntFunction calls int f(int); arg must fit a C int.
func (e *EPC) RunAsIntFunction(addr uint64, arg int) (int, error) {
	a, err := orc.CIntArg(arg)
	if err != nil {
		return 0, err
	}
	r, err := native.CallInt(addr, uint64(int64(a)))
	return int(int32(r)), err
}

// CanCallFunctions returns nil: this process can call any signature.
func (e *EPC) CanCallFunctions() error { return nil }

// CallFunction calls the function at addr with signature sig (see
// orc.FunctionCaller).
func (e *EPC) CallFunction(addr uint64, sig orc.CSignature, args []uint64) (uint64, error) {
	return ccall.Call(addr, sig, args)
}

// NewCallback makes fn callable by JIT'd code as a C function of type sig
// (see orc.CallbackMaker).
func (e *EPC) NewCallback(name string, sig orc.CSignature, fn func(args []uint64) uint64) (uint64, func() error, error) {
	addr, release, err := ccall.NewCallback(name, sig, fn)
	if err != nil {
		return 0, nil, err
	}
	return addr, func() error { release(); return nil }, nil
}

// FlushStdio flushes the C stdio streams of this process (fflush(NULL)):
// output a JIT'd function printed to a file or pipe is otherwise lost if
// the Go program exits without C's exit.
func (e *EPC) FlushStdio() error {
	native.FlushStdio()
	return nil
}

// WriteMemory writes data at addr in this process.
func (e *EPC) WriteMemory(addr uint64, data []byte) error {
	if err := native.Unsupported(); err != nil {
		return err
	}
	native.Write(addr, data)
	return nil
}

// JITDispatch returns the dispatch function and this EPC's context.
func (e *EPC) JITDispatch() (fn, ctx uint64, ok bool) {
	return native.DispatchFunction(), e.dispatchCtx, true
}

// SetJITDispatchHandler installs the function answering JIT'd code's calls
// to the controller.
func (e *EPC) SetJITDispatchHandler(h func(tag uint64, args []byte) ([]byte, error)) {
	e.dispatch.Store(&h)
}

// CallWrapper calls a wrapper function in this process.
func (e *EPC) CallWrapper(addr uint64, args []byte) ([]byte, error) {
	if addr == 0 {
		return nil, orc.ErrWrapperAtZero
	}
	return native.CallWrapper(addr, args)
}

// Close flushes C stdio and forgets the libraries the EPC opened.
func (e *EPC) Close() error {
	native.FlushStdio()
	e.releaseDispatch()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.libs = nil // dlclose would unload code JIT'd code may still use
	return nil
}

// slabWithFallback allocates from one slab shared by every JITDylib, made
// at the first allocation (so that it lands next to the libraries loaded
// by then), or from plain mappings when the slab cannot hold an
// allocation.
type slabWithFallback struct {
	newSlab  func() (jitlink.MemoryManager, error)
	once     sync.Once
	slab     jitlink.MemoryManager // nil if it could not be made
	fallback *memory.InProcess
}

func (m *slabWithFallback) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	m.once.Do(func() {
		if slab, err := m.newSlab(); err == nil {
			m.slab = slab
		}
	})
	if m.slab != nil {
		if a, err := m.slab.Allocate(req); err == nil {
			return a, nil
		}
	}
	return m.fallback.Allocate(req)
}

// Deallocate releases allocations of either kind (the memory package's
// managers each release any of its allocations).
func (m *slabWithFallback) Deallocate(allocs []jitlink.FinalizedAlloc) error {
	return m.fallback.Deallocate(allocs)
}

// IsCode reports whether addr lies in executable memory of this process
// (from /proc/self/maps).
func IsCode(addr uint64) bool {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(maps)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && addr >= start && addr < end {
			return len(f[1]) >= 3 && f[1][2] == 'x'
		}
	}
	return false
}
