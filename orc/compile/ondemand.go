package compile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/lazy"
)

// OnDemand compiles IR modules one function at a time (ORC's
// compile-on-demand layer): adding a module defines each of its functions
// as a lazy stub, and a function's body is extracted from the module,
// compiled and linked when the function is first called. The module's
// global variables form one more partition, linked when first used, so
// every partition shares them.
//
// A module's partitions live in a JITDylib of their own, which looks
// symbols up in the module's JITDylib first: calls between functions go
// through the stubs there and stay lazy. Functions with internal linkage
// get their stubs in another JITDylib private to the module, so that two
// modules' static functions of the same name never meet.
type OnDemand struct {
	ir    *IRLayer
	lazy  *lazy.Manager
	cache *Cache
	// NewJITDylib makes the JITDylibs that hold a module's partitions,
	// set up as jd is (platform, libraries): LLLazyJIT passes its own.
	newJITDylib func(jd *orc.JITDylib, name string) (*orc.JITDylib, error)

	speculate atomic.Bool
	specSlots chan struct{}
	modules   atomic.Uint64

	mu    sync.Mutex
	impls map[*orc.JITDylib][]*orc.JITDylib
}

// NewOnDemand returns the layer. cache (may be nil) keeps compiled
// partitions between runs, keyed by module, function and compiler.
func NewOnDemand(ir *IRLayer, m *lazy.Manager, cache *Cache, newJITDylib func(jd *orc.JITDylib, name string) (*orc.JITDylib, error)) *OnDemand {
	return &OnDemand{ir: ir, lazy: m, cache: cache, newJITDylib: newJITDylib,
		impls: make(map[*orc.JITDylib][]*orc.JITDylib), specSlots: make(chan struct{}, 2)}
}

// Speculate makes the layer compile, on spare goroutines (workers of
// them at most), the functions a newly compiled function calls directly,
// ahead of their first call. It changes no results: a speculative compile
// is the lookup the first call would make.
func (c *OnDemand) Speculate(workers int) {
	c.specSlots = make(chan struct{}, max(workers, 1))
	c.speculate.Store(true)
}

// ImplJITDylibs returns the JITDylibs holding the partitions of modules
// added to jd (a platform initializes them with jd).
func (c *OnDemand) ImplJITDylibs(jd *orc.JITDylib) []*orc.JITDylib {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*orc.JITDylib(nil), c.impls[jd]...)
}

// Add adds a module's functions to jd as lazy stubs and its global
// variables as reexports.
func (c *OnDemand) Add(jd *orc.JITDylib, m Module) error {
	text, err := c.ir.llvm.Text(context.Background(), m)
	if err != nil {
		return err
	}
	syms, err := Interface(text)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	n := c.modules.Add(1)
	impl, err := c.newJITDylib(jd, fmt.Sprintf("%s.impl.%d", jd.Name(), n))
	if err != nil {
		return err
	}
	first := []*orc.JITDylib{jd, impl} // impl's link order starts with these
	mod := &module{c: c, name: m.Name, ir: text, impl: impl, functions: map[string]bool{}}
	var globals, exportedGlobals, public, local = orc.SymbolFlagsMap{}, map[orc.Name]orc.Alias{}, map[orc.Name]orc.Alias{}, map[orc.Name]orc.Alias{}
	for _, s := range syms {
		name := orc.Intern(s.Name)
		// Partitions make local symbols hidden: other partitions of the
		// module see them, nothing else does.
		f := s.flags()
		if !s.Function {
			globals[name] = f
			if !s.Local {
				exportedGlobals[name] = orc.Alias{Target: name, Flags: f}
			}
			continue
		}
		mod.functions[s.Name] = true
		if err := impl.Define(&partition{mod: mod, fn: s.Name, symbols: orc.SymbolFlagsMap{name: f}}); err != nil {
			return err
		}
		if s.Local {
			local[name] = orc.Alias{Target: name, Flags: f}
		} else {
			public[name] = orc.Alias{Target: name, Flags: f}
		}
	}
	if len(local) > 0 {
		private, err := c.newJITDylib(jd, fmt.Sprintf("%s.internal.%d", jd.Name(), n))
		if err != nil {
			return err
		}
		first = slices.Insert(first, 0, private)
		if err := private.Define(c.lazy.Reexports(impl, local)); err != nil {
			return err
		}
	}
	if len(globals) > 0 || hasInitializers(text) {
		p := &partition{mod: mod, symbols: globals}
		if hasInitializers(text) {
			p.init = c.ir.objects.NewInitSymbol(m.Name + ".globals")
			globals[p.init] = 0
		}
		if err := impl.Define(p); err != nil {
			return err
		}
	}
	impl.SetLinkOrderExact(orc.SearchFirst(first, jd.LinkOrder()))
	if len(public) > 0 {
		if err := jd.Define(c.lazy.Reexports(impl, public)); err != nil {
			return err
		}
	}
	if len(exportedGlobals) > 0 {
		if err := jd.Define(orc.Reexports(impl, orc.MatchAll, exportedGlobals)); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.impls[jd] = append(c.impls[jd], impl)
	c.mu.Unlock()
	return nil
}

// module is a module being compiled on demand.
type module struct {
	c         *OnDemand
	name      string
	ir        []byte
	impl      *orc.JITDylib
	functions map[string]bool
}

// partition is one function of a module (fn set), or its global variables
// (fn empty).
type partition struct {
	mod     *module
	fn      string
	symbols orc.SymbolFlagsMap
	init    orc.Name
}

func (p *partition) Name() string {
	if p.fn == "" {
		return p.mod.name + "(globals)"
	}
	return p.mod.name + "(" + p.fn + ")"
}
func (p *partition) Symbols() orc.SymbolFlagsMap          { return p.symbols }
func (p *partition) InitSymbol() orc.Name                 { return p.init }
func (p *partition) Discard(jd *orc.JITDylib, n orc.Name) { delete(p.symbols, n) }

func (p *partition) Materialize(mr *orc.MaterializationResponsibility) {
	obj, ir, err := p.compile()
	if err != nil {
		mr.FailMaterialization(err)
		return
	}
	p.mod.c.ir.objects.EmitObject(mr, p.Name()+".o", obj)
	if p.fn != "" && p.mod.c.speculate.Load() {
		p.mod.speculate(ir)
	}
}

// compile extracts and compiles the partition, or takes it from the
// cache; ir is the partition's IR when it was extracted.
func (p *partition) compile() (obj, ir []byte, err error) {
	c := p.mod.c
	var key string
	if c.cache != nil {
		key = Key([]byte(c.ir.compiler.ID()), []byte(c.ir.llvm.Version), []byte(p.fn), p.mod.ir)
		if obj, ok := c.cache.Get(key); ok {
			return obj, nil, nil
		}
	}
	ctx := context.Background()
	if p.fn == "" {
		ir, err = c.ir.llvm.ExtractGlobals(ctx, p.mod.ir)
	} else {
		ir, err = c.ir.llvm.ExtractFunction(ctx, p.mod.ir, p.fn)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("partitioning %s: %w", p.Name(), err)
	}
	obj, err = c.ir.compile(Module{Name: p.Name(), IR: ir})
	if err != nil {
		return nil, nil, err
	}
	if c.cache != nil {
		if err := c.cache.Put(key, obj); err != nil {
			return nil, nil, err
		}
	}
	return obj, ir, nil
}

// speculate looks up, in the background, the bodies of the module's
// functions that ir calls directly.
func (m *module) speculate(ir []byte) {
	for _, callee := range Calls(ir) {
		if !m.functions[callee] {
			continue
		}
		select {
		case m.c.specSlots <- struct{}{}:
		default:
			return // no spare worker: the first call will compile it
		}
		go func() {
			defer func() { <-m.c.specSlots }()
			// Errors surface at the real call.
			m.impl.Session().LookupSymbol(context.Background(), orc.SearchOrder{{JD: m.impl, Flags: orc.MatchAll}}, orc.Intern(callee))
		}()
	}
}
