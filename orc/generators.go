package orc

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// DefinitionGenerator adds definitions to a JITDylib on demand: a lookup
// that does not find names in the JITDylib offers them to its generators,
// which may define some of them (with JITDylib.Define). Generators run
// without the session locked, one at a time per JITDylib.
type DefinitionGenerator interface {
	TryToGenerate(jd *JITDylib, names LookupSet) error
}

// GeneratorFunc adapts a function to DefinitionGenerator.
type GeneratorFunc func(jd *JITDylib, names LookupSet) error

// TryToGenerate calls f.
func (f GeneratorFunc) TryToGenerate(jd *JITDylib, names LookupSet) error { return f(jd, names) }

// DylibSearchGenerator defines, as absolute symbols, the names a library in
// the executor exports: the executor process itself (NewProcessSymbolsGenerator)
// or a shared library it loads (NewDylibGenerator).
type DylibSearchGenerator struct {
	epc    ExecutorProcessControl
	allow  func(Name) bool
	prefix string
	loaded chan struct{} // closed once handle or err is set
	handle DylibHandle
	err    error
}

// NewProcessSymbolsGenerator returns a generator for the symbols of the
// executor process (e.g. libc). allow, if not nil, limits which names may be
// generated.
func NewProcessSymbolsGenerator(epc ExecutorProcessControl, allow func(Name) bool) (*DylibSearchGenerator, error) {
	return NewDylibGenerator(epc, "", allow)
}

// NewDylibGenerator loads a shared library in the executor and returns a
// generator for its symbols.
func NewDylibGenerator(epc ExecutorProcessControl, path string, allow func(Name) bool) (*DylibSearchGenerator, error) {
	g := newDylibGenerator(epc, allow)
	g.load(path)
	if g.err != nil {
		return nil, g.err
	}
	return g, nil
}

// StartDylibGenerator is NewDylibGenerator without the wait: the library
// is loaded on a goroutine of its own, and the generator's first lookup
// (or Loaded) waits for it. Out of process a load is a round trip; loads
// started together go out together, and overlap the work that follows
// (adding inputs, linking the first graphs) rather than delaying it.
func StartDylibGenerator(epc ExecutorProcessControl, path string, allow func(Name) bool) *DylibSearchGenerator {
	g := newDylibGenerator(epc, allow)
	go g.load(path)
	return g
}

func newDylibGenerator(epc ExecutorProcessControl, allow func(Name) bool) *DylibSearchGenerator {
	g := &DylibSearchGenerator{epc: epc, allow: allow, loaded: make(chan struct{})}
	if epc.TargetTriple().Format == triple.MachO {
		g.prefix = "_"
	}
	return g
}

func (g *DylibSearchGenerator) load(path string) {
	defer close(g.loaded)
	h, err := g.epc.LoadDylib(path)
	if err != nil {
		if path == "" {
			path = "<process>"
		}
		g.err = fmt.Errorf("loading %s: %w", path, err)
		return
	}
	g.handle = h
}

// Loaded waits for the library to be loaded and returns why it could not
// be, if it could not.
func (g *DylibSearchGenerator) Loaded() error {
	<-g.loaded
	return g.err
}

// TryToGenerate looks the names up in the library and defines those found.
func (g *DylibSearchGenerator) TryToGenerate(jd *JITDylib, names LookupSet) error {
	var want []Name
	var reqs []SymbolRequest
	for _, n := range names {
		if g.allow != nil && !g.allow(n.Name) {
			continue
		}
		s, ok := strings.CutPrefix(n.Name.String(), g.prefix)
		if !ok {
			continue
		}
		want = append(want, n.Name)
		reqs = append(reqs, SymbolRequest{Name: s})
	}
	if len(reqs) == 0 {
		return nil
	}
	if err := g.Loaded(); err != nil {
		return err
	}
	addrs, err := g.epc.LookupSymbols(g.handle, reqs)
	if err != nil {
		return err
	}
	syms := SymbolMap{}
	for i, a := range addrs {
		if a != 0 {
			syms[want[i]] = Symbol{Addr: a, Flags: Exported}
		}
	}
	if len(syms) == 0 {
		return nil
	}
	return jd.Define(AbsoluteSymbols(syms))
}

// ObjectLayer adds relocatable objects to JITDylibs.
type ObjectLayer interface {
	AddWithTracker(rt *ResourceTracker, name string, obj []byte) error
}

// StaticLibraryGenerator links archive members on demand, as a static
// linker does: a member is added when it defines a name a lookup needs,
// with the members it needs in turn (linked together as one unit, when
// the layer is an ObjectSetLayer; else each is added when the one needing
// it is linked).
type StaticLibraryGenerator struct {
	layer  ObjectLayer
	ar     *archive.Archive
	mu     sync.Mutex
	index  map[string]int // symbol -> member, for archives without a symbol table
	loaded []bool         // per member: added already
	ahead  MemberInterfaces
}

// NewStaticLibraryGenerator returns a generator over ar's members. Archives
// without a symbol table are indexed with symbols(member data), which lists
// the names a member defines (nil to make such archives an error).
func NewStaticLibraryGenerator(layer ObjectLayer, ar *archive.Archive, symbols func(name string, data []byte) ([]string, error)) (*StaticLibraryGenerator, error) {
	g := &StaticLibraryGenerator{layer: layer, ar: ar, loaded: make([]bool, len(ar.Members()))}
	if !ar.HasSymbolTable() {
		if symbols == nil {
			return nil, fmt.Errorf("%s: archive has no symbol table (run ranlib)", ar.Name())
		}
		g.index = make(map[string]int)
		for i, m := range ar.Members() {
			names, err := symbols(ar.MemberName(m), m.Data)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if _, dup := g.index[n]; !dup {
					g.index[n] = i
				}
			}
		}
	}
	return g, nil
}

func (g *StaticLibraryGenerator) member(name string) (int, bool) {
	if g.index != nil {
		i, ok := g.index[name]
		return i, ok
	}
	return g.ar.LookupIndex(name)
}

// MemberInterfaces are interfaces of an archive's members read ahead, by
// member index (see ReadMemberInterfaces).
type MemberInterfaces map[int]*jitlink.Interface

// ReadMemberInterfaces reads the interfaces of the members of ar (which
// must have a symbol table) that a lookup of names pulls, with the members
// they need in turn, as a static library generator would if nothing else
// defined those names: to do it ahead, before the JIT exists (while an
// executor process starts). A member whose interface cannot be read is
// left out (the generator reads it again, and reports the error, if it
// is needed).
func ReadMemberInterfaces(ar *archive.Archive, names []string) MemberInterfaces {
	if !ar.HasSymbolTable() {
		return nil
	}
	members := ar.Members()
	out := MemberInterfaces{}
	seen := make([]bool, len(members))
	var pull []int
	want := func(names []string) {
		for _, n := range names {
			if i, ok := ar.LookupIndex(n); ok && !seen[i] {
				seen[i] = true
				pull = append(pull, i)
			}
		}
	}
	want(names)
	for len(pull) > 0 {
		round := make([]*jitlink.Interface, len(pull))
		forEach(len(pull), func(k int) {
			m := members[pull[k]]
			round[k], _ = object.ReadInterface(ar.MemberName(m), m.Data)
		})
		idx := pull
		pull = nil
		for k, iface := range round {
			if iface != nil {
				out[idx[k]] = iface
				want(StrongUndefined(iface))
			}
		}
	}
	return out
}

// StrongUndefined returns the names an object needs a definition of: its
// undefined names but the weak references.
func StrongUndefined(iface *jitlink.Interface) []string {
	if len(iface.WeakUndefined) == 0 {
		return iface.Undefined
	}
	var out []string
	for _, u := range iface.Undefined {
		if !slices.Contains(iface.WeakUndefined, u) {
			out = append(out, u)
		}
	}
	return out
}

// UseInterfaces gives the generator member interfaces read ahead
// (ReadMemberInterfaces) for the members it pulls, instead of reading them
// then.
func (g *StaticLibraryGenerator) UseInterfaces(ifaces MemberInterfaces) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ahead = ifaces
}

// TryToGenerate adds the members that define any of the names. With a
// layer that links sets of objects (ObjectSetLayer) it adds them, and the
// members they need in turn, as one unit, as a static linker pulls members
// (see closure).
func (g *StaticLibraryGenerator) TryToGenerate(jd *JITDylib, names LookupSet) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	members := g.ar.Members()
	set, ok := g.layer.(ObjectSetLayer)
	if !ok {
		for _, n := range names {
			i, ok := g.member(n.Name.String())
			if !ok || g.loaded[i] {
				continue
			}
			g.loaded[i] = true
			m := members[i]
			if err := g.layer.AddWithTracker(jd.DefaultResourceTracker(), g.ar.MemberName(m), m.Data); err != nil {
				return err
			}
		}
		return nil
	}
	objs, err := g.closure(jd, names)
	if err != nil || len(objs) == 0 {
		return err
	}
	name := g.ar.Name()
	if len(objs) == 1 {
		name = objs[0].Name
	}
	return set.AddObjects(jd.DefaultResourceTracker(), name, objs)
}

// closure returns the members that define the names and, transitively,
// the members that define what those need and neither jd nor a member
// already pulled defines: the members a static link pulls for the names.
// Weak references pull nothing, and names the archive does not define
// are left to the link's own lookup (other JITDylibs, other generators).
func (g *StaticLibraryGenerator) closure(jd *JITDylib, names LookupSet) ([]Object, error) {
	members := g.ar.Members()
	var objs []Object
	// A name a pulled member defines pulls nothing: that is its index
	// member, loaded, or, rarely (a name several members define), a name
	// recorded here. Checking the index this way needs no set of every
	// name pulled, which would grow by thousands in a large closure.
	var elsewhere map[string]bool
	var pull []int
	for _, n := range names {
		if i, ok := g.member(n.Name.String()); ok && !g.loaded[i] {
			g.loaded[i] = true
			pull = append(pull, i)
		}
	}
	// Breadth first: each round reads the interfaces of the members the
	// last one found (in parallel, as reading is independent), then finds
	// the members their references pull.
	for len(pull) > 0 {
		round := make([]Object, len(pull))
		errs := make([]error, len(pull))
		forEach(len(pull), func(k int) {
			m := members[pull[k]]
			name := g.ar.MemberName(m)
			round[k] = Object{Name: name, Data: m.Data, Interface: g.ahead[pull[k]]}
			if round[k].Interface == nil {
				round[k].Interface, errs[k] = object.ReadInterface(name, m.Data)
			}
		})
		for _, i := range pull {
			delete(g.ahead, i) // the layer holds it from here
		}
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		for k, o := range round {
			for _, s := range o.Interface.Symbols {
				if i, ok := g.member(s.Name); ok && i != pull[k] && !g.loaded[i] {
					if elsewhere == nil {
						elsewhere = make(map[string]bool)
					}
					elsewhere[s.Name] = true
				}
			}
		}
		var cands []string
		var idx []int
		for _, o := range round {
			for _, u := range StrongUndefined(o.Interface) {
				if i, ok := g.member(u); ok && !g.loaded[i] && !elsewhere[u] {
					cands = append(cands, u)
					idx = append(idx, i)
				}
			}
		}
		objs = append(objs, round...)
		pull = pull[:0]
		missing := jd.undefinedOf(cands)
		for k, i := range idx {
			if missing[k] && !g.loaded[i] {
				g.loaded[i] = true
				pull = append(pull, i)
			}
		}
	}
	return objs, nil
}
