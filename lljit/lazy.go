package lljit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/compile"
	"github.com/gorc-jit/gorc/orc/lazy"
)

// LazyBuilder configures an LLLazyJIT.
type LazyBuilder struct {
	// Builder holds the settings the lazy JIT shares with the eager one
	// (executor, memory, compile threads, process symbols).
	Builder
	// LazyCompileFailureAddr is where a lazy call goes, with its
	// arguments, when its body cannot be compiled or linked (a function
	// returning an error value, say). 0: report the error and abort. It
	// can also be set later with SetLazyCompileFailureAddr.
	LazyCompileFailureAddr uint64
	// Compiler compiles IR (default: llc of the newest LLVM installed).
	Compiler compile.Compiler
	// Transform, if set, rewrites each module (or partition) before it is
	// compiled.
	Transform compile.Transform
	// Cache, if set, keeps compiled objects between runs.
	Cache *compile.Cache
	// Speculate compiles the functions a newly compiled function calls,
	// on spare goroutines, before their first call.
	Speculate bool
}

// LLLazyJIT is a JIT that compiles and links code when it is first called:
// IR modules function by function, objects one at a time. Calls go through
// stubs that look the body up (materializing it) on their first call.
type LLLazyJIT struct {
	*LLJIT
	b       LazyBuilder
	llvm    *compile.LLVM // nil if no LLVM is installed
	llvmErr error
	ir      *compile.IRLayer

	mu       sync.Mutex
	failure  uint64
	manager  *lazy.Manager
	cod      *compile.OnDemand
	lazyObjs map[*orc.JITDylib]*orc.JITDylib // objects' implementation JITDylibs
}

// NewLazy is (&LazyBuilder{}).Create().
func NewLazy() (*LLLazyJIT, error) { return (&LazyBuilder{}).Create() }

// Create builds the lazy JIT.
func (b *LazyBuilder) Create() (*LLLazyJIT, error) {
	eager, err := b.Builder.Create()
	if err != nil {
		return nil, err
	}
	j := &LLLazyJIT{LLJIT: eager, b: *b, failure: b.LazyCompileFailureAddr, lazyObjs: make(map[*orc.JITDylib]*orc.JITDylib)}
	j.llvm, j.llvmErr = compile.FindLLVM()
	if j.llvm != nil {
		compiler := b.Compiler
		if compiler == nil {
			// For the executor's machine, not llc's default target (the
			// host's), which differs for a remote executor or under emulation.
			compiler = j.llvm.Compiler("-mtriple=" + j.epc.TargetTriple().String())
		}
		if b.Cache != nil {
			compiler = compile.Cached(compiler, b.Cache)
		}
		j.ir = compile.NewIRLayer(j.objLayer, j.llvm, compiler, b.Transform)
	}
	return j, nil
}

// SetLazyCompileFailureAddr sets where failed lazy calls go; it must be
// called before the first lazy definition is added.
func (j *LLLazyJIT) SetLazyCompileFailureAddr(addr uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.manager != nil {
		return errors.New("the lazy call-through manager already exists")
	}
	j.failure = addr
	return nil
}

// lazyManager makes the call-through manager on first use.
func (j *LLLazyJIT) lazyManager() (*lazy.Manager, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.manager != nil {
		return j.manager, nil
	}
	jd, err := j.es.CreateJITDylib("<Lazy Reentry>")
	if err != nil {
		return nil, err
	}
	m, err := lazy.NewManager(j.es, j.objLayer, jd, lazy.Options{FailureHandler: j.failure})
	if err != nil {
		return nil, err
	}
	j.manager = m
	return m, nil
}

// onDemand makes the compile-on-demand layer on first use.
func (j *LLLazyJIT) onDemand() (*compile.OnDemand, error) {
	if j.ir == nil {
		return nil, j.llvmErr
	}
	m, err := j.lazyManager()
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cod == nil {
		j.cod = compile.NewOnDemand(j.ir, m, j.b.Cache, func(_ *orc.JITDylib, name string) (*orc.JITDylib, error) {
			return j.CreateJITDylib(name)
		})
		if j.b.Speculate {
			j.cod.Speculate(max(j.b.NumCompileThreads, 1))
		}
	}
	return j.cod, nil
}

// AddLazyIRModule adds an IR module to jd (nil: main) whose functions are
// compiled one by one, each when first called.
func (j *LLLazyJIT) AddLazyIRModule(jd *orc.JITDylib, m compile.Module) error {
	cod, err := j.onDemand()
	if err != nil {
		return err
	}
	return cod.Add(j.orMain(jd), m)
}

// AddIRModule adds an IR module to jd (nil: main), compiled whole when one
// of its symbols is first looked up.
func (j *LLLazyJIT) AddIRModule(jd *orc.JITDylib, m compile.Module) error {
	if j.ir == nil {
		return j.llvmErr
	}
	return j.ir.Add(j.orMain(jd).DefaultResourceTracker(), m)
}

// AddLazyObject adds an object to jd (nil: main) so that it is linked only
// when one of its functions is first called (or its data first used):
// its functions are stubs in jd, its data reexports.
func (j *LLLazyJIT) AddLazyObject(jd *orc.JITDylib, name string, obj []byte) error {
	jd = j.orMain(jd)
	iface, err := object.ReadInterface(name, obj)
	if err != nil {
		return err
	}
	m, err := j.lazyManager()
	if err != nil {
		return err
	}
	impl, err := j.objectsJITDylib(jd)
	if err != nil {
		return err
	}
	if err := j.objLayer.AddWithInterface(impl.DefaultResourceTracker(), name, obj, orc.InterfaceFlags(iface), iface.HasInitializers); err != nil {
		return err
	}
	funcs, data := map[orc.Name]orc.Alias{}, map[orc.Name]orc.Alias{}
	for n, f := range orc.InterfaceFlags(iface) {
		if f&orc.Callable != 0 {
			funcs[n] = orc.Alias{Target: n, Flags: f}
		} else {
			data[n] = orc.Alias{Target: n, Flags: f}
		}
	}
	if len(funcs) > 0 {
		if err := jd.Define(m.Reexports(impl, funcs)); err != nil {
			return err
		}
	}
	if len(data) > 0 {
		return jd.Define(orc.Reexports(impl, orc.MatchAll, data))
	}
	return nil
}

// objectsJITDylib returns the JITDylib holding jd's lazy objects, which
// looks symbols up in jd first, so that calls between objects go through
// the stubs.
func (j *LLLazyJIT) objectsJITDylib(jd *orc.JITDylib) (*orc.JITDylib, error) {
	j.mu.Lock()
	impl := j.lazyObjs[jd]
	j.mu.Unlock()
	if impl != nil {
		return impl, nil
	}
	impl, err := j.CreateJITDylib(jd.Name() + ".lazy-objects")
	if err != nil {
		return nil, err
	}
	impl.SetLinkOrderExact(orc.SearchFirst([]*orc.JITDylib{jd, impl}, jd.LinkOrder()))
	j.mu.Lock()
	defer j.mu.Unlock()
	if prev := j.lazyObjs[jd]; prev != nil {
		return prev, nil
	}
	j.lazyObjs[jd] = impl
	return impl, nil
}

// AddLazyArchive makes jd (nil: main) link the members of an archive that
// define symbols it lacks, each lazily (see AddLazyObject).
func (j *LLLazyJIT) AddLazyArchive(jd *orc.JITDylib, path string) error {
	return j.addArchive(jd, path, lazyObjectLayer{j})
}

// AddLazyOpenArchive is AddLazyArchive for an archive opened already (see
// AddOpenArchive).
func (j *LLLazyJIT) AddLazyOpenArchive(jd *orc.JITDylib, a *archive.Archive) error {
	return j.addOpenArchive(jd, a, nil, lazyObjectLayer{j})
}

// lazyObjectLayer adds archive members as lazy objects.
type lazyObjectLayer struct{ j *LLLazyJIT }

func (l lazyObjectLayer) AddWithTracker(rt *orc.ResourceTracker, name string, obj []byte) error {
	return l.j.AddLazyObject(rt.JITDylib(), name, obj)
}

// Initialize runs the initializers of jd and of the JITDylibs that hold
// its lazily compiled or linked code.
func (j *LLLazyJIT) Initialize(ctx context.Context, jd *orc.JITDylib, args []string) error {
	jds := []*orc.JITDylib{jd}
	j.mu.Lock()
	if impl := j.lazyObjs[jd]; impl != nil {
		jds = append(jds, impl)
	}
	cod := j.cod
	j.mu.Unlock()
	if cod != nil {
		jds = append(jds, cod.ImplJITDylibs(jd)...)
	}
	for _, d := range jds {
		if err := j.LLJIT.Initialize(ctx, d, args); err != nil {
			return fmt.Errorf("initializing %s: %w", d.Name(), err)
		}
	}
	return nil
}
