package orc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
)

// Plugin observes and extends the links an ObjectLinkingLayer performs.
// Embed PluginBase to implement only some hooks.
type Plugin interface {
	// ModifyPassConfig is called before each link, to install passes.
	ModifyPassConfig(mr *MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error
	// NotifyLoaded is called when a link begins.
	NotifyLoaded(mr *MaterializationResponsibility)
	// NotifyEmitted is called once the graph is in executor memory, before
	// its symbols are reported emitted. An error fails the materialization.
	NotifyEmitted(mr *MaterializationResponsibility) error
	// NotifyFailed is called when a link fails.
	NotifyFailed(mr *MaterializationResponsibility) error
	// NotifyRemovingResources releases what the plugin holds for rt.
	NotifyRemovingResources(jd *JITDylib, rt *ResourceTracker) error
	// NotifyTransferringResources moves what the plugin holds for src to
	// dst.
	NotifyTransferringResources(jd *JITDylib, dst, src *ResourceTracker)
}

// ObjectPlugin is a Plugin that also sees the object file a graph was
// built from (a debugger plugin registers a copy of it, say).
type ObjectPlugin interface {
	Plugin
	// NotifyObject is called before the link of g, built from obj. obj
	// must not be modified.
	NotifyObject(mr *MaterializationResponsibility, g *jitlink.LinkGraph, obj []byte)
}

// PluginBase implements every Plugin hook as a no-op.
type PluginBase struct{}

func (PluginBase) ModifyPassConfig(*MaterializationResponsibility, *jitlink.LinkGraph, *jitlink.PassConfig) error {
	return nil
}
func (PluginBase) NotifyLoaded(*MaterializationResponsibility)                               {}
func (PluginBase) NotifyEmitted(*MaterializationResponsibility) error                        { return nil }
func (PluginBase) NotifyFailed(*MaterializationResponsibility) error                         { return nil }
func (PluginBase) NotifyRemovingResources(*JITDylib, *ResourceTracker) error                 { return nil }
func (PluginBase) NotifyTransferringResources(*JITDylib, *ResourceTracker, *ResourceTracker) {}

// ObjectLinkingLayer adds relocatable objects to JITDylibs and links them
// with JITLink when one of their symbols is looked up. It owns the linked
// memory, released when the owning resource tracker is removed.
type ObjectLinkingLayer struct {
	es *ExecutionSession
	mm jitlink.MemoryManager

	mu      sync.Mutex
	plugins []Plugin
	allocs  map[*ResourceTracker][]jitlink.FinalizedAlloc
	inits   atomic.Uint64 // numbers init symbols
	timer   func(g *jitlink.LinkGraph, phase string, d time.Duration)
}

// SetPhaseTimer makes every later link report the time it spends in each
// phase (see jitlink.PhaseTimer), and a set of objects (AddObjects) the
// time building and merging their graphs ("build graphs", "merge graphs").
func (l *ObjectLinkingLayer) SetPhaseTimer(f func(g *jitlink.LinkGraph, phase string, d time.Duration)) {
	l.mu.Lock()
	l.timer = f
	l.mu.Unlock()
}

// NewObjectLinkingLayer returns a layer that links into memory from mm and
// registers itself as a resource manager of es.
func NewObjectLinkingLayer(es *ExecutionSession, mm jitlink.MemoryManager) *ObjectLinkingLayer {
	l := &ObjectLinkingLayer{es: es, mm: mm, allocs: make(map[*ResourceTracker][]jitlink.FinalizedAlloc)}
	es.RegisterResourceManager(l)
	return l
}

// Session returns the layer's session.
func (l *ObjectLinkingLayer) Session() *ExecutionSession { return l.es }

// MemoryManager returns the layer's memory manager.
func (l *ObjectLinkingLayer) MemoryManager() jitlink.MemoryManager { return l.mm }

// AddPlugin adds a plugin; it sees links that start afterwards.
func (l *ObjectLinkingLayer) AddPlugin(p Plugin) {
	l.mu.Lock()
	l.plugins = append(l.plugins, p)
	l.mu.Unlock()
}

func (l *ObjectLinkingLayer) pluginList() []Plugin {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.plugins)
}

// Add adds an ELF relocatable object to jd, owned by jd's default resource
// tracker. Nothing is linked until one of its symbols is looked up. The
// object's bytes must not change afterwards.
func (l *ObjectLinkingLayer) Add(jd *JITDylib, name string, obj []byte) error {
	return l.AddWithTracker(jd.DefaultResourceTracker(), name, obj)
}

// AddWithTracker adds an object owned by rt.
func (l *ObjectLinkingLayer) AddWithTracker(rt *ResourceTracker, name string, obj []byte) error {
	iface, err := object.ReadInterface(name, obj)
	if err != nil {
		return err
	}
	return l.AddWithInterface(rt, name, obj, InterfaceFlags(iface), iface.HasInitializers)
}

// InterfaceFlags returns the symbols an object interface provides, with
// their flags.
func InterfaceFlags(iface *jitlink.Interface) SymbolFlagsMap {
	flags := make(SymbolFlagsMap, len(iface.Symbols)+1)
	for _, s := range iface.Symbols {
		flags[Intern(s.Name)] = interfaceFlags(s)
	}
	return flags
}

// AddWithInterface adds an object whose interface the caller decides (a
// tool may hide some definitions or promote local ones). The graph's named
// symbols are matched to it: definitions outside it become references to
// other definitions, and promoted symbols must be given non-local scope by a
// plugin before dead-stripping.
func (l *ObjectLinkingLayer) AddWithInterface(rt *ResourceTracker, name string, obj []byte, flags SymbolFlagsMap, hasInitializers bool) error {
	if epc := l.es.ExecutorProcessControl(); epc != nil {
		if err := object.CheckArch(name, obj, epc.TargetTriple()); err != nil {
			return err
		}
	}
	u := &objectUnit{linkedUnit: l.newLinkedUnit(name, flags, hasInitializers), obj: obj}
	return rt.jd.DefineWithTracker(u, rt)
}

// linkedUnit is what the layer's units of objects not yet linked share:
// their name, the symbols they define and the name of their initializers.
type linkedUnit struct {
	layer   *ObjectLinkingLayer
	name    string
	symbols SymbolFlagsMap
	initSym Name
}

// newLinkedUnit returns the unit state for objects named name defining
// flags; with initializers, flags gets a name for them (NewInitSymbol):
// looking it up links the objects, so a platform can make sure they exist
// and run them.
func (l *ObjectLinkingLayer) newLinkedUnit(name string, flags SymbolFlagsMap, hasInitializers bool) linkedUnit {
	u := linkedUnit{layer: l, name: name, symbols: flags}
	if hasInitializers {
		u.initSym = l.NewInitSymbol(name)
		flags[u.initSym] = 0
	}
	return u
}

func (u *linkedUnit) Name() string                 { return u.name }
func (u *linkedUnit) Symbols() SymbolFlagsMap      { return u.symbols }
func (u *linkedUnit) InitSymbol() Name             { return u.initSym }
func (u *linkedUnit) Discard(jd *JITDylib, n Name) { delete(u.symbols, n) }

// NewInitSymbol returns a fresh name for the initializers of an object
// named name, for units (of other layers) whose objects have initializers:
// a unit defines it (with no flags) and returns it as its InitSymbol, and
// EmitObject puts it on the object's initializers.
func (l *ObjectLinkingLayer) NewInitSymbol(name string) Name {
	return Intern(fmt.Sprintf("$.%s.__inits.%d", name, l.inits.Add(1)))
}

func interfaceFlags(s jitlink.InterfaceSymbol) SymbolFlags {
	var f SymbolFlags
	if s.Scope == jitlink.ScopeDefault {
		f |= Exported
	}
	if s.Linkage == jitlink.Weak {
		f |= Weak
	}
	if s.Common {
		f |= Common
	}
	if s.Callable {
		f |= Callable
	}
	if s.Absolute {
		f |= Absolute
	}
	return f
}

// objectUnit is an object added to a JITDylib and not yet linked.
type objectUnit struct {
	linkedUnit
	obj []byte
}

func (u *objectUnit) Materialize(mr *MaterializationResponsibility) {
	u.layer.EmitObject(mr, u.name, u.obj)
}

// EmitObject links a relocatable object now, fulfilling mr with it; mr's
// init symbol, if any, names the object's initializers (the platform's
// plugin defines it on them). Layers that produce objects (compilers) call
// it from their units' Materialize.
func (l *ObjectLinkingLayer) EmitObject(mr *MaterializationResponsibility, name string, obj []byte) {
	g, err := object.NewLinkGraph(name, obj)
	if err != nil {
		mr.FailMaterialization(err)
		return
	}
	for _, p := range l.pluginList() {
		if op, ok := p.(ObjectPlugin); ok {
			op.NotifyObject(mr, g, obj)
		}
	}
	l.Emit(mr, g)
}

// ensureInitSymbol is a pre-prune pass that defines the init symbol on an
// empty block if no plugin has put it on the object's initializers (the
// platform's plugin does, before this pass): a lookup of it must find it.
func ensureInitSymbol(name string) jitlink.Pass {
	return func(g *jitlink.LinkGraph) error {
		for s := range g.DefinedSymbols() {
			if s.HasName() && s.Name() == name {
				return nil
			}
		}
		sec := g.CreateSection("$.gorc.inits", jitlink.ProtRead)
		g.AddDefinedSymbol(g.CreateContentBlock(sec, []byte{}, 0, 1, 0), 0, name, 0, jitlink.Strong, jitlink.ScopeHidden, jitlink.Live)
		return nil
	}
}

// AddLinkGraph adds a graph built by hand (for example by a unit that writes
// its definitions directly) to rt's JITDylib. Its non-local named symbols are
// its interface.
func (l *ObjectLinkingLayer) AddLinkGraph(rt *ResourceTracker, g *jitlink.LinkGraph) error {
	flags := SymbolFlagsMap{}
	add := func(s *jitlink.Symbol) {
		if !s.HasName() || s.Scope() == jitlink.ScopeLocal {
			return
		}
		flags[Intern(s.Name())] = graphSymbolFlags(s)
	}
	for s := range g.DefinedSymbols() {
		add(s)
	}
	for _, s := range g.AbsoluteSymbols() {
		add(s)
	}
	return rt.jd.DefineWithTracker(&graphUnit{layer: l, g: g, symbols: flags}, rt)
}

type graphUnit struct {
	layer   *ObjectLinkingLayer
	g       *jitlink.LinkGraph
	symbols SymbolFlagsMap
}

func (u *graphUnit) Name() string                                  { return u.g.Name() }
func (u *graphUnit) Symbols() SymbolFlagsMap                       { return u.symbols }
func (u *graphUnit) InitSymbol() Name                              { return Name{} }
func (u *graphUnit) Discard(jd *JITDylib, n Name)                  { delete(u.symbols, n) }
func (u *graphUnit) Materialize(mr *MaterializationResponsibility) { u.layer.Emit(mr, u.g) }

// Emit links g now, fulfilling mr with it. Layers that produce graphs call
// it from their units' Materialize.
func (l *ObjectLinkingLayer) Emit(mr *MaterializationResponsibility, g *jitlink.LinkGraph) {
	l.EmitWithPasses(mr, g, nil)
}

// EmitWithPasses is Emit with passes of the caller's for this graph only,
// added after the plugins' (for example to learn where the linker put
// something).
func (l *ObjectLinkingLayer) EmitWithPasses(mr *MaterializationResponsibility, g *jitlink.LinkGraph, passes func(*jitlink.PassConfig)) {
	c := &linkContext{layer: l, mr: mr, plugins: l.pluginList(), passes: passes}
	for _, p := range c.plugins {
		p.NotifyLoaded(mr)
	}
	l.mu.Lock()
	timer := l.timer
	l.mu.Unlock()
	if timer != nil {
		jitlink.Link(g, &timedContext{c, timer})
		return
	}
	jitlink.Link(g, c)
}

// timedContext is a linkContext that reports phase times.
type timedContext struct {
	*linkContext
	f func(g *jitlink.LinkGraph, phase string, d time.Duration)
}

func (c *timedContext) PhaseDone(g *jitlink.LinkGraph, phase string, d time.Duration) {
	c.f(g, phase, d)
}

// linkContext is the jitlink.Context of one link for one responsibility.
type linkContext struct {
	layer   *ObjectLinkingLayer
	mr      *MaterializationResponsibility
	plugins []Plugin
	passes  func(*jitlink.PassConfig) // the caller's, for this graph
	// foundIn records, per external name, the JITDylib that defined it.
	foundIn map[Name]*JITDylib
}

func (c *linkContext) MemoryManager() jitlink.MemoryManager { return c.layer.mm }
func (c *linkContext) Dylib() any                           { return c.mr.JITDylib() }

func (c *linkContext) ModifyPassConfig(g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	cfg.PrePrune = append(cfg.PrePrune, c.claimWeakDefinitions)
	// Definitions the responsibility does not cover lost to other
	// definitions (weak or common symbols): reference those instead. The
	// covered symbols are read in place, under the session's lock, rather
	// than copied (a merged archive unit covers thousands).
	cfg.PrePrune = append(cfg.PrePrune, func(g *jitlink.LinkGraph) error {
		var err error
		c.mr.withSymbols(func(covered SymbolFlagsMap) {
			err = jitlink.ExternalizeLosers(func(s *jitlink.Symbol) bool {
				_, ok := covered[Intern(s.Name())]
				return ok
			})(g)
		})
		return err
	})
	cfg.MarkLive = jitlink.MarkExportsLive
	for _, p := range c.plugins {
		if err := p.ModifyPassConfig(c.mr, g, cfg); err != nil {
			return err
		}
	}
	if init := c.mr.InitSymbol(); !init.IsZero() {
		cfg.PrePrune = append(cfg.PrePrune, ensureInitSymbol(init.String()))
	}
	if c.passes != nil {
		c.passes(cfg)
	}
	return nil
}

func (c *linkContext) NotifyResolved(g *jitlink.LinkGraph) error {
	missing, err := c.mr.resolveDefs(func(yield func(Name, uint64) bool) {
		for s := range g.DefinedSymbols() {
			if s.HasName() && s.Scope() != jitlink.ScopeLocal && !yield(Intern(s.Name()), s.Address()) {
				return
			}
		}
		for _, s := range g.AbsoluteSymbols() {
			if s.HasName() && s.Scope() != jitlink.ScopeLocal && !yield(Intern(s.Name()), s.Address()) {
				return
			}
		}
	})
	if missing != nil {
		return fmt.Errorf("%s: the linked object does not define %s", g.Name(), joinNames(missing))
	}
	return err
}

func (c *linkContext) LookupExternals(g *jitlink.LinkGraph, syms []*jitlink.Symbol, done func([]uint64, error)) {
	set := make(LookupSet, len(syms))
	for i, s := range syms {
		set[i] = LookupEntry{Name: Intern(s.Name()), Weak: s.IsWeaklyReferenced()}
	}
	es := c.layer.es
	jd := c.mr.JITDylib()
	es.lookupWith(jd.LinkOrder(), set, Resolved, true, func(r *queryResult, err error) {
		if err != nil {
			done(nil, fmt.Errorf("%s: %w", referrers(g, err), err))
			return
		}
		addrs := make([]uint64, len(syms))
		for i, e := range set {
			addrs[i] = r.m[e.Name].Addr
		}
		c.foundIn = r.in
		done(addrs, nil)
	})
}

func (c *linkContext) NotifyEmitted(g *jitlink.LinkGraph, alloc jitlink.FinalizedAlloc) {
	l := c.layer
	err := c.mr.WithResourceKeyDo(func(rt *ResourceTracker) {
		l.mu.Lock()
		l.allocs[rt] = append(l.allocs[rt], alloc)
		l.mu.Unlock()
	})
	if err != nil {
		// The tracker went away while linking: nobody owns the memory.
		c.fail(errors.Join(err, l.mm.Deallocate([]jitlink.FinalizedAlloc{alloc})))
		return
	}
	for _, p := range c.plugins {
		if err := p.NotifyEmitted(c.mr); err != nil {
			c.fail(err)
			return
		}
	}
	deps := make(map[*JITDylib][]Name)
	for n, jd := range c.foundIn {
		deps[jd] = append(deps[jd], n)
	}
	if err := c.mr.emitResolved(deps); err != nil {
		c.fail(err)
	}
}

func (c *linkContext) NotifyFailed(g *jitlink.LinkGraph, err error) { c.fail(err) }

func (c *linkContext) fail(err error) {
	for _, p := range c.plugins {
		if perr := p.NotifyFailed(c.mr); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	c.mr.FailMaterialization(err)
}

// HandleRemoveResources releases the memory of everything linked for rt.
func (l *ObjectLinkingLayer) HandleRemoveResources(jd *JITDylib, rt *ResourceTracker) error {
	var errs []error
	for _, p := range slices.Backward(l.pluginList()) {
		errs = append(errs, p.NotifyRemovingResources(jd, rt))
	}
	l.mu.Lock()
	allocs := l.allocs[rt]
	delete(l.allocs, rt)
	l.mu.Unlock()
	if len(allocs) > 0 {
		errs = append(errs, l.mm.Deallocate(allocs))
	}
	return errors.Join(errs...)
}

// HandleTransferResources moves src's memory to dst.
func (l *ObjectLinkingLayer) HandleTransferResources(jd *JITDylib, dst, src *ResourceTracker) {
	l.mu.Lock()
	if a := l.allocs[src]; len(a) > 0 {
		l.allocs[dst] = append(l.allocs[dst], a...)
		delete(l.allocs, src)
	}
	l.mu.Unlock()
	for _, p := range l.pluginList() {
		p.NotifyTransferringResources(jd, dst, src)
	}
}

// graphSymbolFlags returns the ORC flags of a graph's named symbol.
func graphSymbolFlags(s *jitlink.Symbol) SymbolFlags {
	var f SymbolFlags
	if s.Scope() == jitlink.ScopeDefault {
		f |= Exported
	}
	if s.Linkage() == jitlink.Weak {
		f |= Weak
	}
	if s.IsCallable() {
		f |= Callable
	}
	if s.IsAbsolute() {
		f |= Absolute
	}
	return f
}

// claimWeakDefinitions is a pass that claims, for the responsibility, the
// graph's weak definitions it does not cover and nothing else defines: a
// compiler adds some (llc's DW.ref.__gxx_personality_v0) that an IR
// module's interface cannot list. Without it they would become references
// to nothing (address 0).
func (c *linkContext) claimWeakDefinitions(g *jitlink.LinkGraph) error {
	var claim SymbolFlagsMap
	c.mr.withSymbols(func(covered SymbolFlagsMap) {
		for s := range g.DefinedSymbols() {
			if s.HasName() && s.Scope() != jitlink.ScopeLocal && s.Linkage() == jitlink.Weak {
				if _, ok := covered[Intern(s.Name())]; !ok {
					if claim == nil {
						claim = SymbolFlagsMap{}
					}
					claim[Intern(s.Name())] = graphSymbolFlags(s)
				}
			}
		}
	})
	if len(claim) == 0 {
		return nil
	}
	return c.mr.DefineMaterializing(claim)
}

// referrers names the graph for an error looking its externals up: in a
// graph of several objects (archive members linked together), the objects
// whose code refers to the names not found, directly or through the
// graph's own GOT entries and stubs.
func referrers(g *jitlink.LinkGraph, err error) string {
	var nf *SymbolsNotFoundError
	if !errors.As(err, &nf) {
		return g.Name()
	}
	missing := make(map[string]bool, len(nf.Names))
	for _, n := range nf.Names {
		missing[n.String()] = true
	}
	refers := func(e jitlink.Edge, via map[*jitlink.Block]bool) bool {
		if t := e.Target; t.IsExternal() {
			return missing[t.Name()]
		}
		return via[e.Target.Block()]
	}
	var objs []string
	// The graph's own blocks that lead there: stub -> GOT entry -> external.
	via := map[*jitlink.Block]bool{}
	for range 3 {
		for _, sec := range g.Sections() {
			o := g.SectionObject(sec)
			for _, b := range sec.Blocks() {
				if via[b] || slices.Contains(objs, o) {
					continue
				}
				if slices.ContainsFunc(b.Edges(), func(e jitlink.Edge) bool { return refers(e, via) }) {
					if o == g.Name() {
						via[b] = true
					} else {
						objs = append(objs, o)
					}
				}
			}
		}
	}
	if len(objs) == 0 {
		return g.Name()
	}
	return strings.Join(objs, ", ")
}
