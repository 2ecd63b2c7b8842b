package orc

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// JITDylib is a simulated dynamic library: a symbol table, a link order
// (the JITDylibs its code binds to, in order), and definition generators
// that can add definitions on demand. Create one with
// ExecutionSession.CreateJITDylib.
type JITDylib struct {
	es   *ExecutionSession
	name string

	// Guarded by es.mu.
	symbols map[Name]*symbolEntry
	// absTables are callers' maps of absolute symbols, used in place: they
	// are Ready from the start and never change, so bulk definitions need
	// not be copied (see defineAbsolute).
	absTables  []*absTable
	linkOrder  SearchOrder // starts with the JITDylib itself
	generators []DefinitionGenerator
	defaultRT  *ResourceTracker
	trackers   []*ResourceTracker
	mrs        map[*MaterializationResponsibility]struct{} // in flight
	closed     bool

	// genMu serializes definition generators, so two lookups do not both
	// generate (and then doubly define) the same symbol.
	genMu sync.Mutex
}

// symbolEntry is the state of one name in a JITDylib. What only matters
// until the symbol is Ready lives in a separate matState, dropped once the
// symbol is Ready: large JITDylibs are mostly Ready symbols.
type symbolEntry struct {
	name  Name
	addr  uint64
	flags SymbolFlags
	state SymbolState
	rt    *ResourceTracker
	m     *matState
}

type matState struct {
	err error // non-nil once materialization failed
	// unit defines the symbol while it is NeverSearched; mr materializes it
	// until it is emitted.
	unit *unitEntry
	mr   *MaterializationResponsibility
	// queries wait for the symbol to reach a later state.
	queries []*query
	// dependants are emitted units waiting for this symbol to be emitted.
	dependants []*emitUnit
	// emitted is the symbol's unit while it is Emitted but not Ready.
	emitted *emitUnit
}

// mat returns e's materialization state, making it if needed.
func (e *symbolEntry) mat() *matState {
	if e.m == nil {
		e.m = &matState{}
	}
	return e.m
}

// failure returns why e's materialization failed, or nil.
func (e *symbolEntry) failure() error {
	if e.m == nil {
		return nil
	}
	return e.m.err
}

// pending returns the unit that defines e while it is NeverSearched.
func (e *symbolEntry) pending() *unitEntry {
	if e.m == nil {
		return nil
	}
	return e.m.unit
}

// owner returns the responsibility materializing e, or nil.
func (e *symbolEntry) owner() *MaterializationResponsibility {
	if e.m == nil {
		return nil
	}
	return e.m.mr
}

// hasQueries reports whether lookups wait for e.
func (e *symbolEntry) hasQueries() bool { return e.m != nil && len(e.m.queries) > 0 }

type absTable struct {
	syms SymbolMap
	rt   *ResourceTracker
}

// absolute returns name's definition in an absolute table, if any.
func (jd *JITDylib) absolute(name Name) (Symbol, bool) {
	for _, t := range jd.absTables {
		if s, ok := t.syms[name]; ok {
			s.Flags |= Absolute
			return s, true
		}
	}
	return Symbol{}, false
}

// defines reports whether jd has a definition of name.
func (jd *JITDylib) defines(name Name) bool {
	if jd.symbols[name] != nil {
		return true
	}
	_, ok := jd.absolute(name)
	return ok
}

// unitEntry is a MaterializationUnit that has not been materialized yet,
// with the symbols it still provides.
type unitEntry struct {
	mu      MaterializationUnit
	rt      *ResourceTracker
	symbols SymbolFlagsMap
	initSym Name
}

func visible(sym SymbolFlags, f LookupFlags) bool {
	return f == MatchAll || sym&Exported != 0
}

// Name returns the JITDylib's name.
func (jd *JITDylib) Name() string { return jd.name }

// Session returns the JITDylib's session.
func (jd *JITDylib) Session() *ExecutionSession { return jd.es }

func (jd *JITDylib) String() string { return jd.name }

// DefaultResourceTracker returns the tracker that owns definitions added
// without an explicit tracker.
func (jd *JITDylib) DefaultResourceTracker() *ResourceTracker { return jd.defaultRT }

// CreateResourceTracker returns a new tracker for definitions in jd.
func (jd *JITDylib) CreateResourceTracker() *ResourceTracker {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	return jd.newTracker()
}

func (jd *JITDylib) newTracker() *ResourceTracker {
	rt := &ResourceTracker{jd: jd}
	jd.trackers = append(jd.trackers, rt)
	return rt
}

// LinkOrder returns the JITDylibs jd's code binds to, in search order; jd
// itself comes first.
func (jd *JITDylib) LinkOrder() SearchOrder {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	return slices.Clone(jd.linkOrder)
}

// SetLinkOrder sets the JITDylibs jd's code binds to after itself. jd is
// always searched first, seeing all of its own symbols.
func (jd *JITDylib) SetLinkOrder(order SearchOrder) {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	jd.linkOrder = SearchFirst([]*JITDylib{jd}, order)
}

// SearchFirst returns a search order that searches the first JITDylibs,
// each seeing all their symbols, then order's entries for any other
// JITDylib.
func SearchFirst(first []*JITDylib, order SearchOrder) SearchOrder {
	so := make(SearchOrder, 0, len(first)+len(order))
	for _, jd := range first {
		so = append(so, SearchEntry{JD: jd, Flags: MatchAll})
	}
	for _, o := range order {
		if !slices.Contains(first, o.JD) {
			so = append(so, o)
		}
	}
	return so
}

// SetLinkOrderExact sets jd's link order as given, which need not start
// with jd (LLVM's setLinkOrder with LinkAgainstThisJITDylibFirst off):
// compile-on-demand puts the JITDylib of a module's stubs before the one
// of its bodies, so that calls between bodies go through the stubs.
func (jd *JITDylib) SetLinkOrderExact(order SearchOrder) {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	jd.linkOrder = slices.Clone(order)
}

// AddToLinkOrder appends other to jd's link order.
func (jd *JITDylib) AddToLinkOrder(other *JITDylib, flags LookupFlags) {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	jd.linkOrder = append(jd.linkOrder, SearchEntry{JD: other, Flags: flags})
}

// AddGenerator adds a definition generator, tried (after earlier ones) for
// names a lookup does not find in jd.
func (jd *JITDylib) AddGenerator(g DefinitionGenerator) {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	jd.generators = append(jd.generators, g)
}

// Define adds the definitions of mu to jd, owned by jd's default resource
// tracker. It fails with a *DuplicateDefinitionError if mu strongly defines a
// name jd already defines strongly (or that is already being materialized);
// a weak definition yields to a strong one.
func (jd *JITDylib) Define(mu MaterializationUnit) error {
	return jd.DefineWithTracker(mu, nil)
}

// DefineWithTracker is Define with an explicit resource tracker of jd (nil
// means the default one).
func (jd *JITDylib) DefineWithTracker(mu MaterializationUnit, rt *ResourceTracker) error {
	var err error
	jd.es.locked(func(b *batch) { err = jd.define(mu, rt, b) })
	if err != nil {
		return err
	}
	if p := jd.es.Platform(); p != nil && !mu.InitSymbol().IsZero() {
		if rt == nil {
			rt = jd.defaultRT
		}
		return p.NotifyAdding(rt, mu)
	}
	return nil
}

func (jd *JITDylib) define(mu MaterializationUnit, rt *ResourceTracker, b *batch) error {
	if jd.closed || jd.es.closed {
		return fmt.Errorf("JITDylib %s: %w", jd.name, ErrSessionClosed)
	}
	if rt == nil {
		rt = jd.defaultRT
	}
	if rt.jd != jd {
		return fmt.Errorf("resource tracker of JITDylib %s used to define in %s", rt.jd.name, jd.name)
	}
	if rt.defunct {
		return ErrTrackerDefunct
	}
	if abs, ok := mu.(*absoluteUnit); ok && abs.eager {
		return jd.defineAbsolute(abs.symbols, rt)
	}
	syms := mu.Symbols()
	// Check everything before changing anything.
	var overridden, lost []Name
	for name, flags := range syms {
		e := jd.symbols[name]
		if e == nil {
			if _, ok := jd.absolute(name); !ok {
				continue
			}
			e = &symbolEntry{state: Ready} // an absolute table's
		}
		switch {
		case flags&Weak != 0:
			lost = append(lost, name)
		case e.flags&Weak != 0 && e.state == NeverSearched && e.pending() != nil:
			overridden = append(overridden, name)
		default:
			return &DuplicateDefinitionError{JITDylib: jd.name, Name: name}
		}
	}
	if len(lost) > 0 {
		syms = maps.Clone(syms)
		for _, name := range lost {
			delete(syms, name)
			mu.Discard(jd, name)
		}
	}
	for _, name := range overridden {
		old := jd.symbols[name].pending()
		delete(old.symbols, name)
		old.mu.Discard(jd, name)
	}
	if len(syms) == 0 {
		return nil
	}
	u := &unitEntry{mu: mu, rt: rt, symbols: syms, initSym: mu.InitSymbol()}
	rt.names = slices.Grow(rt.names, len(syms))
	if len(syms) > len(jd.symbols) {
		// Grown once to its new size, not doubling its way there (an
		// archive's unit defines thousands of names at once); copying
		// the smaller old table keeps the cost proportional to syms.
		grown := make(map[Name]*symbolEntry, len(jd.symbols)+len(syms))
		maps.Copy(grown, jd.symbols)
		jd.symbols = grown
	}
	// The new entries and their states are carved from two slices, two
	// allocations per unit rather than two per symbol. (A slice lives as
	// long as any of its entries; a unit's entries go together, when its
	// tracker is removed, and their states once they are all Ready.)
	entries := make([]symbolEntry, len(syms)-len(overridden))
	states := make([]matState, len(syms)-len(overridden))
	for name, flags := range syms {
		var e *symbolEntry
		if len(overridden) > 0 {
			e = jd.symbols[name]
		}
		if e == nil {
			e, entries = &entries[0], entries[1:]
			e.name = name
			e.m, states = &states[0], states[1:]
			jd.symbols[name] = e
		}
		e.flags, e.state, e.rt = flags, NeverSearched, rt
		e.mat().unit = u
		rt.names = append(rt.names, name)
	}
	return nil
}

// defineAbsolute adds the caller's map of absolute symbols as a table: they
// are Ready without materialization and never change, so the map is used in
// place rather than copied (defining 100,000 of them costs only the check for
// duplicates).
func (jd *JITDylib) defineAbsolute(syms SymbolMap, rt *ResourceTracker) error {
	if err := jd.checkDuplicates(syms); err != nil {
		return err
	}
	jd.absTables = append(jd.absTables, &absTable{syms: syms, rt: rt})
	return nil
}

// checkDuplicates reports a name of syms jd already defines, walking the
// smaller side of each comparison.
func (jd *JITDylib) checkDuplicates(syms SymbolMap) error {
	dup := func(name Name) error { return &DuplicateDefinitionError{JITDylib: jd.name, Name: name} }
	if len(jd.symbols) < len(syms) {
		for name := range jd.symbols {
			if _, ok := syms[name]; ok {
				return dup(name)
			}
		}
	} else {
		for name := range syms {
			if jd.symbols[name] != nil {
				return dup(name)
			}
		}
	}
	for _, t := range jd.absTables {
		small, big := t.syms, syms
		if len(big) < len(small) {
			small, big = big, small
		}
		for name := range small {
			if _, ok := big[name]; ok {
				return dup(name)
			}
		}
	}
	return nil
}

// undefinedOf reports, for each of names, whether jd has no definition of
// it (for generators, which run without the session locked).
func (jd *JITDylib) undefinedOf(names []string) []bool {
	out := make([]bool, len(names))
	if len(names) == 0 {
		return out
	}
	interned := make([]Name, len(names))
	for i, n := range names {
		interned[i] = Intern(n)
	}
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	for i, n := range interned {
		out[i] = !jd.defines(n)
	}
	return out
}

// SymbolState returns the state of name in jd, and whether jd defines it.
func (jd *JITDylib) SymbolState(name Name) (SymbolState, bool) {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	if e := jd.symbols[name]; e != nil {
		return e.state, true
	}
	_, ok := jd.absolute(name)
	return Ready, ok
}

// SymbolFlags returns the flags of name in jd, and whether jd defines it.
func (jd *JITDylib) SymbolFlags(name Name) (SymbolFlags, bool) {
	jd.es.mu.Lock()
	defer jd.es.mu.Unlock()
	if e := jd.symbols[name]; e != nil {
		return e.flags, true
	}
	s, ok := jd.absolute(name)
	return s.Flags, ok
}

// Lookup looks names up in jd's link order and waits for them to be Ready.
func (jd *JITDylib) Lookup(ctx context.Context, names ...Name) (SymbolMap, error) {
	return jd.es.Lookup(ctx, jd.LinkOrder(), Names(names...), Ready)
}

// clear removes every definition in jd.
func (jd *JITDylib) clear() error {
	jd.es.mu.Lock()
	rts := slices.Clone(jd.trackers)
	jd.es.mu.Unlock()
	var err error
	for _, rt := range slices.Backward(rts) {
		if e := rt.Remove(); e != nil && err == nil {
			err = e
		}
	}
	return err
}
