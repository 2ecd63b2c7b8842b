// Package mcjit is an execution engine in the shape of LLVM's MCJIT: a
// Builder makes an Engine from LLVM IR modules, objects and archives; code
// is generated (with llc, or taken from an ObjectCache) only when
// FinalizeObject runs or an address is asked for, then loaded by the
// RuntimeDyld-style loader (package rtdyld), whose memory manager places it
// in this process or in an executor process.
//
// An Engine's methods are safe for concurrent use: they are serialized.
// Code it runs may call back into it only from other goroutines.
package mcjit

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/compile"
	"github.com/gorc-jit/gorc/orc/inprocess"
	"github.com/gorc-jit/gorc/rtdyld"
)

// ObjectCache lets a client keep generated objects (LLVM's ObjectCache).
// key identifies the module's content and the code generation options.
type ObjectCache interface {
	// NotifyObjectCompiled is told of each object code generation made.
	NotifyObjectCompiled(m compile.Module, key string, obj []byte)
	// GetObject returns a previously compiled object, skipping code
	// generation.
	GetObject(m compile.Module, key string) ([]byte, bool)
}

// DiskCache is an ObjectCache in a directory (orc/compile's cache).
type DiskCache struct{ c *compile.Cache }

// NewDiskCache caches objects in dir ("" for the user cache directory).
func NewDiskCache(dir string) (*DiskCache, error) {
	c, err := compile.NewCache(dir)
	if err != nil {
		return nil, err
	}
	return &DiskCache{c}, nil
}

// NotifyObjectCompiled stores the object; a failure to store is ignored
// (the cache is an optimization).
func (d *DiskCache) NotifyObjectCompiled(_ compile.Module, key string, obj []byte) {
	_ = d.c.Put(key, obj)
}

// GetObject implements ObjectCache.
func (d *DiskCache) GetObject(_ compile.Module, key string) ([]byte, bool) { return d.c.Get(key) }

// Builder holds an engine's options (LLVM's EngineBuilder).
type Builder struct {
	// EPC is where code runs; default: this process.
	EPC orc.ExecutorProcessControl
	// MemoryManager places sections; default: an ExecutorMemoryManager on
	// the EPC. A custom one must place them where EPC runs them.
	MemoryManager rtdyld.MemoryManager
	// ObjectCache, if set, is consulted before generating code.
	ObjectCache ObjectCache
	// OptLevel is llc's -O level, 0 to 3 (default 2, as MCJIT's default).
	OptLevel *int
	// CodeModel is llc's -code-model (small, medium, large; "" default).
	CodeModel string
	// RelocationModel is llc's -relocation-model (default pic).
	RelocationModel string
	// Triple is the target triple ("" for the module's or the host's).
	Triple string
	// LLVM is the toolchain (default: compile.FindLLVM, the newest).
	LLVM *compile.LLVM
}

// Engine is an MCJIT-style execution engine.
type Engine struct {
	mu       sync.Mutex
	epc      orc.ExecutorProcessControl
	mm       rtdyld.MemoryManager
	dyld     *rtdyld.Dyld
	llvm     *compile.LLVM
	compiler compile.Compiler
	cache    ObjectCache
	pending  []compile.Module // added, code not generated yet
	objects  []namedObject    // added objects not loaded yet
	archives []*archive.Archive
	loaded   map[string]bool // archive members loaded
	ctorsRun int             // init sections already run
	dso      uint64

	// CodeGenerations counts llc runs (not cache hits).
	CodeGenerations int
}

type namedObject struct {
	name string
	data []byte
}

// Create makes an engine holding modules (more can be added later).
func (b *Builder) Create(modules ...compile.Module) (*Engine, error) {
	e := &Engine{epc: b.EPC, mm: b.MemoryManager, cache: b.ObjectCache, llvm: b.LLVM, loaded: make(map[string]bool)}
	if e.epc == nil {
		e.epc = inprocess.New()
	}
	if e.mm == nil {
		e.mm = rtdyld.NewExecutorMemoryManager(e.epc)
	}
	if e.llvm == nil {
		l, err := compile.FindLLVM()
		if err != nil {
			return nil, err
		}
		e.llvm = l
	}
	opt := 2
	if b.OptLevel != nil {
		opt = *b.OptLevel
	}
	if opt < 0 || opt > 3 {
		return nil, fmt.Errorf("optimization level %d is not 0 to 3", opt)
	}
	reloc := cmp.Or(b.RelocationModel, "pic")
	flags := []string{"-O" + strconv.Itoa(opt), "-relocation-model=" + reloc}
	if b.CodeModel != "" {
		flags = append(flags, "-code-model="+b.CodeModel)
	}
	if b.Triple != "" {
		flags = append(flags, "-mtriple="+b.Triple)
	}
	// llc's defaults come first; the later flags override them.
	e.compiler = e.llvm.Compiler(flags...)
	e.dyld = rtdyld.New(e.mm)
	e.dyld.SetResolver(e.resolve)
	e.pending = modules
	return e, nil
}

// AddModule adds an IR module; its code is generated on demand.
func (e *Engine) AddModule(m compile.Module) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pending = append(e.pending, m)
}

// AddObject adds a relocatable object.
func (e *Engine) AddObject(name string, data []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.objects = append(e.objects, namedObject{name, data})
}

// AddArchive adds a static archive: its members are loaded when they
// define a symbol that loaded code needs.
func (e *Engine) AddArchive(path string) error {
	a, err := archive.Open(path)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.archives = append(e.archives, a)
	return nil
}

// resolve finds external symbols the loaded objects do not define: the
// executor process's, and __dso_handle for C++ static destructors.
func (e *Engine) resolve(name string) (uint64, bool) {
	if name == "__dso_handle" && e.dso != 0 {
		return e.dso, true
	}
	return e.mm.FindSymbol(name)
}

// generate compiles (or fetches from the cache) a module.
func (e *Engine) generate(m compile.Module) ([]byte, error) {
	key := compile.Key([]byte(e.compiler.ID()), m.IR)
	if e.cache != nil {
		if obj, ok := e.cache.GetObject(m, key); ok {
			return obj, nil
		}
	}
	obj, err := e.compiler.Compile(context.Background(), m.IR)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	e.CodeGenerations++
	if e.cache != nil {
		e.cache.NotifyObjectCompiled(m, key, obj)
	}
	return obj, nil
}

// FinalizeObject generates code for the added modules, loads it with the
// added objects and the archive members they need, applies relocations,
// registers eh-frames and finalizes the memory.
func (e *Engine) FinalizeObject() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.finalize()
}

func (e *Engine) finalize() error {
	if len(e.pending) == 0 && len(e.objects) == 0 {
		return nil
	}
	for _, m := range e.pending {
		obj, err := e.generate(m)
		if err != nil {
			return err
		}
		e.objects = append(e.objects, namedObject{m.Name + ".o", obj})
	}
	e.pending = nil
	for _, o := range e.objects {
		if _, err := e.dyld.LoadObject(o.name, o.data); err != nil {
			return err
		}
	}
	e.objects = nil
	if err := e.loadArchiveMembers(); err != nil {
		return err
	}
	if e.dso == 0 {
		if s := e.dyld.Sections(); len(s) > 0 {
			e.dso = s[0].Addr // any address of ours identifies the "DSO"
		}
	}
	return e.dyld.Finalize()
}

// loadArchiveMembers loads members defining undefined symbols until none
// is left to load (members may need other members).
func (e *Engine) loadArchiveMembers() error {
	for more := true; more; {
		more = false
		for _, name := range e.dyld.Undefined() {
			for _, a := range e.archives {
				m, ok := a.Lookup(name)
				if !ok {
					continue
				}
				id := a.MemberName(m) + "@" + strconv.FormatInt(m.Offset, 10)
				if !e.loaded[id] {
					e.loaded[id] = true
					if _, err := e.dyld.LoadObject(a.MemberName(m), m.Data); err != nil {
						return err
					}
					more = true
				}
				break
			}
		}
	}
	return nil
}

// GetSymbolAddress returns the executor address of a function or global,
// generating and loading code first if needed.
func (e *Engine) GetSymbolAddress(name string) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.finalize(); err != nil {
		return 0, err
	}
	if a, ok := e.dyld.Symbol(name); ok {
		return a, nil
	}
	return 0, fmt.Errorf("symbol %s is not defined by the engine's code", name)
}

// RunStaticConstructorsDestructors runs the initializers (.init_array,
// .ctors) of the code loaded so far and not yet initialized, or, with
// destructors, the finalizers (.fini_array, .dtors) in reverse order.
func (e *Engine) RunStaticConstructorsDestructors(destructors bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.finalize(); err != nil {
		return err
	}
	var fns []uint64
	if destructors {
		fns = append(e.initFunctions(".fini_array", false), e.initFunctions(".dtors", true)...)
		slices.Reverse(fns)
	} else {
		fns = append(e.initFunctions(".ctors", true), e.initFunctions(".init_array", false)...)
		e.ctorsRun = len(e.dyld.Sections())
	}
	for _, f := range fns {
		if f == 0 || f == ^uint64(0) {
			continue // .ctors markers
		}
		if err := e.epc.RunAsVoidFunction(f); err != nil {
			return err
		}
	}
	return nil
}

// initFunctions reads the function pointers of the sections of one kind,
// by priority (lower first; .ctors run backwards within a section).
func (e *Engine) initFunctions(kind string, backwards bool) []uint64 {
	secs := e.dyld.InitSections(kind)
	if kind == ".ctors" || kind == ".init_array" {
		secs = slices.DeleteFunc(secs, func(s *rtdyld.Section) bool { return int(s.ID) < e.ctorsRun })
	}
	prio := func(s *rtdyld.Section) int {
		if p, err := strconv.Atoi(strings.TrimPrefix(s.Name, kind+".")); err == nil {
			return p
		}
		return 65536
	}
	slices.SortStableFunc(secs, func(a, b *rtdyld.Section) int { return cmp.Compare(prio(a), prio(b)) })
	var fns []uint64
	for _, s := range secs {
		var part []uint64
		for off := 0; off+8 <= len(s.Local); off += 8 {
			part = append(part, binary.LittleEndian.Uint64(s.Local[off:]))
		}
		if backwards {
			slices.Reverse(part)
		}
		fns = append(fns, part...)
	}
	return fns
}

// RunFunctionAsMain runs fn as int main(int, char**) with argv = args and
// returns its result. Output goes to the executor's standard streams.
func (e *Engine) RunFunctionAsMain(fn string, args []string) (int, error) {
	addr, err := e.GetSymbolAddress(fn)
	if err != nil {
		return 0, err
	}
	return e.epc.RunAsMain(addr, args)
}

// ExecutorProcessControl returns the engine's executor.
func (e *Engine) ExecutorProcessControl() orc.ExecutorProcessControl { return e.epc }

// Close releases the engine's archives and, if its memory manager can be
// closed, its memory.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, a := range e.archives {
		errs = append(errs, a.Close())
	}
	if c, ok := e.mm.(interface{ Close() error }); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ReadModule reads an IR module (.ll or .bc) from a file.
func ReadModule(path string) (compile.Module, error) {
	ir, err := os.ReadFile(path)
	if err != nil {
		return compile.Module{}, err
	}
	return compile.Module{Name: path, IR: ir}, nil
}
