// Package lljit provides LLJIT, a ready-made eager JIT: objects and static
// archives added to its JITDylibs are linked when their symbols are looked
// up, and run in the executor (by default, this process).
package lljit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/elfplatform"
	"github.com/gorc-jit/gorc/orc/funcnames"
	"github.com/gorc-jit/gorc/orc/gdbjit"
	"github.com/gorc-jit/gorc/orc/inprocess"
	"github.com/gorc-jit/gorc/orc/shared/tasks"
)

// Builder configures an LLJIT. The zero Builder makes an in-process JIT that
// links on the looking-up goroutine and lets JIT'd code see the process's
// symbols.
type Builder struct {
	// EPC is the executor; default: this process (inprocess.New()).
	EPC orc.ExecutorProcessControl
	// MemoryManager overrides the executor's memory manager.
	MemoryManager jitlink.MemoryManager
	// ObjectLinkingLayerCreator makes the object linking layer, e.g. to
	// install plugins. Default: orc.NewObjectLinkingLayer.
	ObjectLinkingLayerCreator func(es *orc.ExecutionSession, mm jitlink.MemoryManager) (*orc.ObjectLinkingLayer, error)
	// NumCompileThreads > 0 materializes on a pool of that many goroutines;
	// 0 materializes in place.
	NumCompileThreads int
	// NoProcessSymbols hides the executor process's symbols from JIT'd
	// code.
	NoProcessSymbols bool
	// NoPlatform leaves out the ELF platform (initializers, exception
	// frames, TLS, __dso_handle). It is installed when the executor has
	// gorc's runtime.
	NoPlatform bool
	// PlatformRuntime overrides the executor runtime the platform uses
	// (default: the EPC, if it is one).
	PlatformRuntime elfplatform.Runtime
	// ProcessSymbolsFilter, if set, limits which process symbols are
	// visible.
	ProcessSymbolsFilter func(orc.Name) bool
	// SessionOptions are passed to the ExecutionSession.
	SessionOptions []orc.SessionOption
	// DebuggerSupport registers each linked object with debuggers (the GDB
	// JIT interface; see package gdbjit), so that code compiled with -g
	// can be debugged.
	DebuggerSupport bool
}

// LLJIT is an eager JIT. Its methods are safe for concurrent use.
type LLJIT struct {
	es       *orc.ExecutionSession
	epc      orc.ExecutorProcessControl
	main     *orc.JITDylib
	process  *orc.JITDylib // nil with NoProcessSymbols
	libs     *orc.JITDylib // shared libraries loaded with LoadDylib
	objLayer *orc.ObjectLinkingLayer
	platform *elfplatform.Platform // nil without a platform

	mu       sync.Mutex
	archives []*archive.Archive // mapped by AddArchive, closed by Close
	releases []func() error     // Go callbacks of ExportFunc, released by Close
}

// New is (&Builder{}).Create().
func New() (*LLJIT, error) { return (&Builder{}).Create() }

// Create builds the JIT.
func (b *Builder) Create() (*LLJIT, error) {
	epc := b.EPC
	if epc == nil {
		if err := native.Unsupported(); err != nil {
			return nil, fmt.Errorf("lljit: no executor given (Builder.EPC), and %w", err)
		}
		epc = inprocess.New()
	}
	opts := append([]orc.SessionOption{orc.WithExecutorProcessControl(epc)}, b.SessionOptions...)
	if b.NumCompileThreads > 0 {
		opts = append(opts, orc.WithDispatcher(tasks.NewPool(b.NumCompileThreads)))
	}
	es := orc.NewExecutionSession(opts...)
	j := &LLJIT{es: es, epc: epc}
	fail := func(err error) (*LLJIT, error) {
		es.Close()
		return nil, err
	}
	mm := b.MemoryManager
	if mm == nil {
		mm = epc.MemoryManager()
	}
	if b.ObjectLinkingLayerCreator != nil {
		l, err := b.ObjectLinkingLayerCreator(es, mm)
		if err != nil {
			return fail(err)
		}
		j.objLayer = l
	} else {
		j.objLayer = orc.NewObjectLinkingLayer(es, mm)
	}
	if b.DebuggerSupport {
		register, err := debuggerRegistration(epc)
		if err != nil {
			return fail(err)
		}
		j.objLayer.AddPlugin(gdbjit.New(mm, register))
	}
	if rts, ok := epc.(orc.RuntimeSymbols); ok && b.MemoryManager == nil {
		// Crash reports name the JIT'd function (gorc's runtimes; with
		// the executor's memory manager, which runs allocation actions).
		p, ok, err := funcnames.New(rts)
		if err != nil {
			return fail(err)
		}
		if ok {
			j.objLayer.AddPlugin(p)
		}
	}
	rt, ok := epc.(elfplatform.Runtime)
	if b.PlatformRuntime != nil {
		rt, ok = b.PlatformRuntime, true
	}
	if ok && !b.NoPlatform {
		p, err := elfplatform.New(es, j.objLayer, rt)
		if err != nil {
			return fail(err)
		}
		j.platform = p
	}
	libs, err := es.CreateJITDylib("<Libraries>")
	if err != nil {
		return fail(err)
	}
	j.libs = libs
	fn, ctx, ok, err := orc.DispatchFunction(epc)
	if err != nil {
		return fail(err)
	}
	if ok {
		// How JIT'd code calls the controller (see
		// RegisterJITDispatchHandlers), under LLVM's names.
		if err := libs.Define(orc.AbsoluteSymbols(orc.SymbolMap{
			orc.Intern(DispatchFunction): {Addr: fn, Flags: orc.Exported | orc.Callable},
			orc.Intern(DispatchContext):  {Addr: ctx, Flags: orc.Exported},
		})); err != nil {
			return fail(err)
		}
	}
	if !b.NoProcessSymbols {
		ps, err := es.CreateJITDylib("<Process Symbols>")
		if err != nil {
			return fail(err)
		}
		// Opening the process is a round trip out of process that
		// nothing needs before the first lookup reaches it.
		ps.AddGenerator(orc.StartDylibGenerator(epc, "", b.ProcessSymbolsFilter))
		j.process = ps
	}
	main, err := j.CreateJITDylib("main")
	if err != nil {
		return fail(err)
	}
	j.main = main
	return j, nil
}

// debuggerRegistration finds the executor's GDB JIT registration function:
// among its runtime symbols, or else (LLVM's executor) in its process.
func debuggerRegistration(epc orc.ExecutorProcessControl) (uint64, error) {
	if rt, ok := epc.(orc.RuntimeSymbols); ok {
		if a, ok, err := orc.RuntimeFunction(rt, gdbjit.RegisterFunction); ok || err != nil {
			return a, err
		}
	}
	h, err := epc.LoadDylib("")
	if err != nil {
		return 0, err
	}
	addrs, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: gdbjit.RegisterFunction, Required: true}})
	if err != nil {
		return 0, fmt.Errorf("debugger support: %w", err)
	}
	if len(addrs) != 1 || addrs[0] == 0 {
		return 0, fmt.Errorf("debugger support: the executor's %s is at address 0", gdbjit.RegisterFunction)
	}
	return addrs[0], nil
}

// Session returns the JIT's execution session.
func (j *LLJIT) Session() *orc.ExecutionSession { return j.es }

// ExecutorProcessControl returns the executor.
func (j *LLJIT) ExecutorProcessControl() orc.ExecutorProcessControl { return j.epc }

// MainJITDylib returns the JITDylib objects are added to by default.
func (j *LLJIT) MainJITDylib() *orc.JITDylib { return j.main }

// ProcessSymbolsJITDylib returns the JITDylib that exposes the executor
// process's symbols (nil if they are hidden).
func (j *LLJIT) ProcessSymbolsJITDylib() *orc.JITDylib { return j.process }

// ObjectLinkingLayer returns the layer objects are linked by.
func (j *LLJIT) ObjectLinkingLayer() *orc.ObjectLinkingLayer { return j.objLayer }

// CreateJITDylib creates a JITDylib that links against the process symbols
// (unless they are hidden).
func (j *LLJIT) CreateJITDylib(name string) (*orc.JITDylib, error) {
	jd, err := j.es.CreateJITDylib(name)
	if err != nil {
		return nil, err
	}
	jd.AddToLinkOrder(j.libs, orc.MatchExportedOnly)
	if j.process != nil {
		jd.AddToLinkOrder(j.process, orc.MatchExportedOnly)
	}
	if j.platform != nil {
		if err := j.platform.SetupJITDylib(jd); err != nil {
			return nil, err
		}
	}
	return jd, nil
}

// The symbols through which JIT'd code calls the controller:
//
//	typedef struct { union { char *ptr; char inline_[8]; } data; size_t size; } result;
//	extern result __llvm_orc_SimpleRemoteEPC_dispatch_fn(void *ctx, const void *tag,
//	                                                      const char *data, size_t size);
//	extern char __llvm_orc_SimpleRemoteEPC_dispatch_ctx, my_tag;
//	result r = __llvm_orc_SimpleRemoteEPC_dispatch_fn(&__llvm_orc_SimpleRemoteEPC_dispatch_ctx,
//	                                                  &my_tag, buf, len);
//
// The result's bytes are inline when size <= 8 and malloc'd otherwise; a
// call that failed has size 0 and a malloc'd message in data.ptr.
const (
	DispatchFunction = "__llvm_orc_SimpleRemoteEPC_dispatch_fn"
	DispatchContext  = "__llvm_orc_SimpleRemoteEPC_dispatch_ctx"
)

// RegisterJITDispatchHandlers defines each name in jd as a tag, a byte of
// JIT'd data whose address JIT'd code passes to the dispatch function, and
// makes calls to that tag run the name's handler in the controller. Only
// registered tags reach the controller.
func (j *LLJIT) RegisterJITDispatchHandlers(jd *orc.JITDylib, handlers map[string]orc.JITDispatchHandler) error {
	jd = j.orMain(jd)
	tgt, err := target.For(j.epc.TargetTriple())
	if err != nil {
		return err
	}
	g := tgt.NewLinkGraph("<JIT dispatch tags>")
	sec := g.CreateSection(".rodata.gorc_tags", jitlink.ProtRead)
	set := make(orc.LookupSet, 0, len(handlers))
	for name := range handlers {
		b := g.CreateContentBlock(sec, []byte{0}, uint64(len(set)), 1, 0)
		g.AddDefinedSymbol(b, 0, name, 1, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
		set = append(set, orc.LookupEntry{Name: orc.Intern(name)})
	}
	if err := j.objLayer.AddLinkGraph(jd.DefaultResourceTracker(), g); err != nil {
		return err
	}
	syms, err := j.es.Lookup(context.Background(), orc.Search(jd), set, orc.Ready)
	if err != nil {
		return err
	}
	for name, h := range handlers {
		if err := j.es.RegisterJITDispatchHandler(syms[orc.Intern(name)].Addr, h); err != nil {
			return err
		}
	}
	return nil
}

// Platform returns the ELF platform, or nil.
func (j *LLJIT) Platform() *elfplatform.Platform { return j.platform }

// Initialize links jd's objects that have initializers and runs the
// initializers that have not run yet (with args as argc and argv). Without a
// platform it does nothing.
func (j *LLJIT) Initialize(ctx context.Context, jd *orc.JITDylib, args []string) error {
	if j.platform == nil {
		return nil
	}
	return j.platform.Initialize(ctx, jd, args)
}

// LoadDylib loads a shared library in the executor and makes its symbols
// visible to JIT'd code, after the JITDylib's own definitions (and the
// platform's), as a program linked with -l would see them. path is a file
// or, as for dlopen, a soname found in the library path:
// LoadDylib("libstdc++.so.6") gives C++ code its runtime.
func (j *LLJIT) LoadDylib(path string) error {
	gen, err := orc.NewDylibGenerator(j.epc, path, nil)
	if err != nil {
		return err
	}
	j.libs.AddGenerator(gen)
	return nil
}

// StartLoadDylib is LoadDylib without waiting for the library to load (a
// round trip out of process): loads started one after another go out
// together and overlap what follows. A lookup that reaches the library
// waits for it and fails if it could not be loaded; loaded waits and
// returns that error, which a lookup that never reached the library
// would not report.
func (j *LLJIT) StartLoadDylib(path string) (loaded func() error) {
	gen := orc.StartDylibGenerator(j.epc, path, nil)
	j.libs.AddGenerator(gen)
	return gen.Loaded
}

// AddObject adds an ELF relocatable object to jd (nil: the main JITDylib).
// It is linked when one of its symbols is first looked up.
func (j *LLJIT) AddObject(jd *orc.JITDylib, name string, obj []byte) error {
	return j.objLayer.Add(j.orMain(jd), name, obj)
}

// AddObjectWithTracker adds an object owned by rt, so that rt.Remove()
// unloads it.
func (j *LLJIT) AddObjectWithTracker(rt *orc.ResourceTracker, name string, obj []byte) error {
	return j.objLayer.AddWithTracker(rt, name, obj)
}

// AddObjectFile reads and adds an object file.
func (j *LLJIT) AddObjectFile(jd *orc.JITDylib, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return j.AddObject(jd, path, data)
}

// AddArchive makes the members of a static archive available to jd (nil:
// the main JITDylib): a member is linked when it defines a symbol jd's code
// needs, as a static linker would.
func (j *LLJIT) AddArchive(jd *orc.JITDylib, path string) error {
	return j.addArchive(jd, path, j.objLayer)
}

// addArchive makes jd (nil: main) link an archive's members on demand
// through layer.
func (j *LLJIT) addArchive(jd *orc.JITDylib, path string, layer orc.ObjectLayer) error {
	a, err := archive.Open(path)
	if err != nil {
		return err
	}
	return j.addOpenArchive(jd, a, nil, layer)
}

// AddOpenArchive is AddArchive for an archive opened already (with
// archive.Open, e.g. while the executor starts), with the interfaces of
// members read then (orc.ReadMemberInterfaces; nil if none were). The JIT
// owns a from here: Close closes it (as does a failure here).
func (j *LLJIT) AddOpenArchive(jd *orc.JITDylib, a *archive.Archive, ahead orc.MemberInterfaces) error {
	return j.addOpenArchive(jd, a, ahead, j.objLayer)
}

func (j *LLJIT) addOpenArchive(jd *orc.JITDylib, a *archive.Archive, ahead orc.MemberInterfaces, layer orc.ObjectLayer) error {
	gen, err := orc.NewStaticLibraryGenerator(layer, a, memberSymbols)
	if err != nil {
		a.Close()
		return err
	}
	gen.UseInterfaces(ahead)
	j.mu.Lock()
	j.archives = append(j.archives, a)
	j.mu.Unlock()
	j.orMain(jd).AddGenerator(gen)
	return nil
}

// orMain returns jd, or the main JITDylib if jd is nil.
func (j *LLJIT) orMain(jd *orc.JITDylib) *orc.JITDylib {
	if jd == nil {
		return j.main
	}
	return jd
}

// memberSymbols lists what an archive member defines, for archives without
// a symbol table.
func memberSymbols(name string, data []byte) ([]string, error) {
	iface, err := object.ReadInterface(name, data)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(iface.Symbols))
	for _, s := range iface.Symbols {
		if s.Scope == jitlink.ScopeDefault {
			names = append(names, s.Name)
		}
	}
	return names, nil
}

// Lookup looks a (source-level, unmangled) name up in the main JITDylib and
// returns its address once it is ready to use. A C++ function is found by
// its mangled name (_Z3addii), or declare it extern "C" to use its plain
// name.
func (j *LLJIT) Lookup(ctx context.Context, name string) (uint64, error) {
	return j.LookupIn(ctx, j.main, name)
}

// LookupIn looks a name up in jd's link order.
func (j *LLJIT) LookupIn(ctx context.Context, jd *orc.JITDylib, name string) (uint64, error) {
	s, err := j.es.LookupSymbol(ctx, jd.LinkOrder(), j.es.MangleAndIntern(name))
	if err != nil {
		return 0, err
	}
	return s.Addr, nil
}

// RunMain looks up main in the main JITDylib, runs the initializers, and
// calls main with argv = args.
func (j *LLJIT) RunMain(ctx context.Context, args ...string) (int, error) {
	addr, err := j.Lookup(ctx, "main")
	if err != nil {
		return 0, err
	}
	if err := j.Initialize(ctx, j.main, args); err != nil {
		return 0, err
	}
	return j.epc.RunAsMain(addr, args)
}

// Close ends the session: it waits for pending work, removes every JITDylib
// (releasing JIT'd memory), closes the executor and unmaps the archives
// that AddArchive opened. JIT'd code must not run anymore, and no lookup
// may run concurrently with Close.
func (j *LLJIT) Close() error {
	// Go callbacks first: out of process, releasing them needs the executor.
	j.mu.Lock()
	var err error
	for _, r := range j.releases {
		err = errors.Join(err, r())
	}
	j.releases = nil
	j.mu.Unlock()
	err = errors.Join(err, j.es.Close())
	j.mu.Lock()
	defer j.mu.Unlock()
	// The session no longer links: the archives' members are unused.
	for _, a := range j.archives {
		err = errors.Join(err, a.Close())
	}
	j.archives = nil
	if err != nil {
		return fmt.Errorf("closing JIT: %w", err)
	}
	return nil
}
