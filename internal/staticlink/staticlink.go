// Package staticlink links a set of relocatable objects as one unit, the way
// a static linker would, using JITLink alone (no ORC): definitions in any
// object satisfy references in the others, archive members are loaded when
// they define a needed symbol, and what is left goes to a fallback resolver.
//
// It exists to test and measure the JITLink layer on its own. Linking happens
// in two sweeps: every graph runs phase one (allocation, address assignment)
// and parks in LookupExternals; once all graphs have addresses, the parked
// continuations are resumed. This is the asynchronous resolution the
// jitlink.Context interface is designed for.
package staticlink

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
)

// Object is an input object.
type Object struct {
	Name string
	Data []byte
}

// Options configure a link.
type Options struct {
	// Memory allocates the graphs' memory.
	Memory jitlink.MemoryManager
	// Resolve finds symbols the objects do not define (for example, with
	// dlsym). May be nil.
	Resolve func(name string) (uint64, bool)
	// Passes, if set, is called for every graph to add passes.
	Passes func(g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error
}

// Result is a finished link.
type Result struct {
	// Symbols maps every global symbol defined by the linked objects to its
	// address.
	Symbols map[string]uint64
	// Graphs are the linked graphs, in link order.
	Graphs []*jitlink.LinkGraph
	// Allocs are the graphs' memory; release it with Memory.Deallocate.
	Allocs []jitlink.FinalizedAlloc
	// Relocations counts the relocation edges applied.
	Relocations int
}

type definition struct {
	sym *jitlink.Symbol
	g   *jitlink.LinkGraph
}

type linker struct {
	opts    Options
	graphs  []*jitlink.LinkGraph
	defs    map[string]definition
	outside map[string]uint64 // names Resolve found, cached
	parked  []func(abort error)
	failed  []error
	allocs  []jitlink.FinalizedAlloc
	relocs  int
}

// errAborted resumes links parked while another one failed.
var errAborted = errors.New("link aborted")

// Link links objs, loading members of archives as they are needed.
func Link(objs []Object, archives []*archive.Archive, opts Options) (*Result, error) {
	l := &linker{opts: opts, defs: make(map[string]definition), outside: make(map[string]uint64)}
	for _, o := range objs {
		if err := l.add(o.Name, o.Data); err != nil {
			return nil, err
		}
	}
	if err := l.loadArchiveMembers(archives); err != nil {
		return nil, err
	}
	for _, g := range l.graphs {
		jitlink.Link(g, l)
	}
	// Every graph now has addresses (or failed): resolve and finish them.
	var abort error
	if len(l.failed) > 0 {
		abort = errAborted
	}
	for _, resume := range l.parked {
		resume(abort)
	}
	if len(l.failed) > 0 {
		if len(l.allocs) > 0 {
			opts.Memory.Deallocate(l.allocs)
		}
		return nil, errors.Join(l.failed...)
	}
	res := &Result{Symbols: make(map[string]uint64, len(l.defs)), Graphs: l.graphs, Allocs: l.allocs, Relocations: l.relocs}
	for name, d := range l.defs {
		res.Symbols[name] = d.sym.Address()
	}
	return res, nil
}

// add parses an object and enters its definitions: a strong definition beats
// a weak one, the first weak definition wins among weak ones.
func (l *linker) add(name string, data []byte) error {
	g, err := object.NewLinkGraph(name, data)
	if err != nil {
		return err
	}
	for s := range g.DefinedSymbols() {
		if s.Scope() == jitlink.ScopeLocal || !s.HasName() {
			continue
		}
		old, ok := l.defs[s.Name()]
		switch {
		case !ok, old.sym.Linkage() == jitlink.Weak && s.Linkage() == jitlink.Strong:
			l.defs[s.Name()] = definition{s, g}
		case old.sym.Linkage() == jitlink.Strong && s.Linkage() == jitlink.Strong:
			return fmt.Errorf("duplicate definition of %s in %s and %s", s.Name(), old.g.Name(), g.Name())
		}
	}
	for _, s := range g.AbsoluteSymbols() {
		if s.Scope() != jitlink.ScopeLocal && s.HasName() {
			if _, ok := l.defs[s.Name()]; !ok {
				l.defs[s.Name()] = definition{s, g}
			}
		}
	}
	l.graphs = append(l.graphs, g)
	return nil
}

// loadArchiveMembers adds, until nothing changes, the archive members that
// define a symbol some loaded graph needs.
func (l *linker) loadArchiveMembers(archives []*archive.Archive) error {
	loaded := make(map[string]bool)
	for done := 0; done < len(l.graphs); done++ {
		for _, s := range l.graphs[done].ExternalSymbols() {
			if _, ok := l.defs[s.Name()]; ok {
				continue
			}
			for _, a := range archives {
				m, ok := a.Lookup(s.Name())
				if !ok {
					continue
				}
				name := a.MemberName(m)
				if !loaded[name] {
					loaded[name] = true
					if err := l.add(name, m.Data); err != nil {
						return err
					}
				}
				break
			}
		}
	}
	return nil
}

// The linker is the jitlink.Context of every graph it links.

func (l *linker) MemoryManager() jitlink.MemoryManager { return l.opts.Memory }
func (l *linker) Dylib() any                           { return l }

func (l *linker) ModifyPassConfig(g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	// Definitions that lost to another object become references to it.
	cfg.PrePrune = append(cfg.PrePrune, jitlink.ExternalizeLosers(func(s *jitlink.Symbol) bool { return l.defs[s.Name()].sym == s }))
	cfg.MarkLive = jitlink.MarkExportsLive
	if l.opts.Passes != nil {
		return l.opts.Passes(g, cfg)
	}
	return nil
}

func (l *linker) NotifyResolved(g *jitlink.LinkGraph) error { return nil }

func (l *linker) LookupExternals(g *jitlink.LinkGraph, syms []*jitlink.Symbol, done func([]uint64, error)) {
	l.parked = append(l.parked, func(abort error) {
		if abort != nil {
			done(nil, abort)
			return
		}
		addrs := make([]uint64, len(syms))
		var missing []string
		for i, s := range syms {
			if d, ok := l.defs[s.Name()]; ok {
				addrs[i] = d.sym.Address()
				continue
			}
			if a, ok := l.outside[s.Name()]; ok {
				addrs[i] = a
				continue
			}
			if l.opts.Resolve != nil {
				if a, ok := l.opts.Resolve(s.Name()); ok {
					l.outside[s.Name()] = a
					addrs[i] = a
					continue
				}
			}
			if !s.IsWeaklyReferenced() {
				missing = append(missing, s.Name())
			}
		}
		if missing != nil {
			slices.Sort(missing)
			done(nil, &jitlink.UndefinedSymbolsError{Graph: g.Name(), Names: missing})
			return
		}
		done(addrs, nil)
	})
}

func (l *linker) NotifyEmitted(g *jitlink.LinkGraph, a jitlink.FinalizedAlloc) {
	l.allocs = append(l.allocs, a)
	for b := range g.Blocks() {
		for _, e := range b.Edges() {
			if e.IsRelocation() {
				l.relocs++
			}
		}
	}
}

func (l *linker) NotifyFailed(g *jitlink.LinkGraph, err error) {
	if err != errAborted {
		l.failed = append(l.failed, err)
	}
}
