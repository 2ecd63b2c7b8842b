package orc

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
)

// MaterializationUnit provides definitions for a set of symbols and knows how
// to materialize them (compile, link, or write them directly) when one of
// them is first looked up.
type MaterializationUnit interface {
	// Name describes the unit in diagnostics.
	Name() string
	// Symbols returns the symbols the unit can define, with their flags.
	// It is called once, when the unit is defined.
	Symbols() SymbolFlagsMap
	// InitSymbol names a symbol whose materialization brings in the unit's
	// initializers, or the zero Name.
	InitSymbol() Name
	// Materialize produces the definitions. It must eventually report
	// success (NotifyResolved then NotifyEmitted) or failure
	// (FailMaterialization) through mr, possibly from another goroutine.
	Materialize(mr *MaterializationResponsibility)
	// Discard tells the unit that a stronger definition of name replaced
	// its weak one: it will not be asked for name. It is called with the
	// session lock held (as LLVM's doDiscard is), so that it cannot race
	// with the unit's materialization, which may read the same symbol
	// map; it must not call into the session.
	Discard(jd *JITDylib, name Name)
}

// DependenceGroup says that Symbols depend on Dependencies: they are Ready
// only once every dependency is emitted.
type DependenceGroup struct {
	Symbols      []Name
	Dependencies map[*JITDylib][]Name
}

// MaterializationResponsibility is a unit's obligation to materialize some
// symbols of a JITDylib. Exactly one of NotifyEmitted and FailMaterialization
// must be called for every responsibility (Replace and Delegate hand symbols
// on).
type MaterializationResponsibility struct {
	es      *ExecutionSession
	jd      *JITDylib
	rt      *ResourceTracker    // guarded by es.mu
	symbols SymbolFlagsMap      // guarded by es.mu
	initSym Name                //
	unit    MaterializationUnit // to materialize, until dispatched
	done    bool                // guarded by es.mu
	// resolved are the entries resolveDefs resolved, kept for
	// emitResolved. Guarded by es.mu.
	resolved []*symbolEntry
}

// startMaterializing turns u into a responsibility and queues it for
// dispatch. Called with the session locked.
func (es *ExecutionSession) startMaterializing(jd *JITDylib, u *unitEntry, b *batch) *MaterializationResponsibility {
	mr := &MaterializationResponsibility{es: es, jd: jd, rt: u.rt, symbols: u.symbols, initSym: u.initSym, unit: u.mu}
	for name := range u.symbols {
		e := jd.symbols[name]
		m := e.mat()
		m.unit, m.mr = nil, mr
		e.state = Materializing
	}
	if jd.mrs == nil {
		jd.mrs = make(map[*MaterializationResponsibility]struct{})
	}
	jd.mrs[mr] = struct{}{}
	b.dispatch = append(b.dispatch, mr)
	return mr
}

// JITDylib returns the JITDylib the symbols are defined in.
func (mr *MaterializationResponsibility) JITDylib() *JITDylib { return mr.jd }

// Session returns the session.
func (mr *MaterializationResponsibility) Session() *ExecutionSession { return mr.es }

// InitSymbol returns the unit's init symbol (or the zero Name).
func (mr *MaterializationResponsibility) InitSymbol() Name { return mr.initSym }

// Symbols returns the symbols this responsibility covers.
func (mr *MaterializationResponsibility) Symbols() SymbolFlagsMap {
	mr.es.mu.Lock()
	defer mr.es.mu.Unlock()
	return maps.Clone(mr.symbols)
}

// withSymbols calls f with the covered symbols under the session lock,
// without copying them: the linker reads them twice per graph.
func (mr *MaterializationResponsibility) withSymbols(f func(SymbolFlagsMap)) {
	mr.es.mu.Lock()
	defer mr.es.mu.Unlock()
	f(mr.symbols)
}

// RequestedSymbols returns the covered symbols some lookup is waiting for.
func (mr *MaterializationResponsibility) RequestedSymbols() SymbolSet {
	mr.es.mu.Lock()
	defer mr.es.mu.Unlock()
	s := SymbolSet{}
	for name := range mr.symbols {
		if e := mr.jd.symbols[name]; e != nil && e.owner() == mr && e.hasQueries() {
			s[name] = struct{}{}
		}
	}
	return s
}

// check reports why the responsibility cannot be used. Called locked.
func (mr *MaterializationResponsibility) check() error {
	switch {
	case mr.done:
		return ErrMaterializationDone
	case mr.rt.defunct:
		return ErrTrackerDefunct
	}
	return nil
}

// own returns the entry of a covered symbol, or an error. While mr is live,
// an entry is owned by mr exactly when its name is in mr.symbols (every
// change of one changes the other), so one lookup decides the usual case.
func (mr *MaterializationResponsibility) own(name Name) (*symbolEntry, error) {
	if e := mr.jd.symbols[name]; e != nil && e.owner() == mr {
		return e, nil
	}
	if _, ok := mr.symbols[name]; !ok {
		return nil, fmt.Errorf("symbol %s is not part of this materialization responsibility", name)
	}
	return nil, fmt.Errorf("symbol %s was removed from JITDylib %s during materialization", name, mr.jd.name)
}

// checkOwns reports whether the responsibility is live and covers every
// one of names.
func (mr *MaterializationResponsibility) checkOwns(names iter.Seq[Name]) error {
	if err := mr.check(); err != nil {
		return err
	}
	for name := range names {
		if _, err := mr.own(name); err != nil {
			return err
		}
	}
	return nil
}

// NotifyResolved records the addresses of covered symbols; lookups waiting
// for them to be Resolved complete.
func (mr *MaterializationResponsibility) NotifyResolved(syms SymbolMap) error {
	var err error
	mr.es.locked(func(b *batch) {
		if err = mr.check(); err != nil {
			return
		}
		type resolution struct {
			e *symbolEntry
			s Symbol
		}
		// Checked before anything changes.
		rs := make([]resolution, 0, len(syms))
		for name, s := range syms {
			e, oerr := mr.own(name)
			if oerr != nil {
				err = oerr
				return
			}
			if e.state > Materializing {
				err = fmt.Errorf("symbol %s resolved twice", name)
				return
			}
			rs = append(rs, resolution{e, s})
		}
		for _, r := range rs {
			r.e.addr, r.e.state = r.s.Addr, Resolved
			if r.s.Flags&Callable != 0 {
				r.e.flags |= Callable
			}
			mr.es.notifyQueries(r.e, b)
		}
	})
	return err
}

// resolveDefs is NotifyResolved for a linker, which knows the addresses of
// all definitions of a unit at once: defs yields the name and address of
// every definition the link made (covered or not, in any order; a name
// again is ignored). It resolves them all, one map lookup each, or, if
// some covered symbol is not among them, none, returning those missing.
func (mr *MaterializationResponsibility) resolveDefs(defs iter.Seq2[Name, uint64]) (missing []Name, err error) {
	mr.es.locked(func(b *batch) {
		if err = mr.check(); err != nil {
			return
		}
		entries := make([]*symbolEntry, 0, len(mr.symbols))
		for name, addr := range defs {
			e := mr.jd.symbols[name]
			if e == nil || e.owner() != mr || e.state != Materializing {
				continue // not covered, or a name seen already
			}
			// The address is read only once the state says Resolved.
			e.addr, e.state = addr, Resolved
			entries = append(entries, e)
		}
		if len(entries) < len(mr.symbols) {
			for name := range mr.symbols {
				if e := mr.jd.symbols[name]; e == nil || e.owner() != mr || e.state == Materializing {
					missing = append(missing, name)
				}
			}
			for _, e := range entries {
				e.state = Materializing
			}
			if missing == nil {
				err = errors.New("symbols resolved twice")
			}
			return
		}
		for _, e := range entries {
			mr.es.notifyQueries(e, b)
		}
		mr.resolved = entries
	})
	return missing, err
}

// NotifyEmitted reports that every covered symbol is in its final memory.
// Each group's symbols depend on the group's dependencies; symbols in no
// group depend on nothing. Symbols become Ready once all they depend on
// (transitively) is emitted. This ends the responsibility.
func (mr *MaterializationResponsibility) NotifyEmitted(groups ...DependenceGroup) error {
	var err error
	mr.es.locked(func(b *batch) {
		if err = mr.check(); err != nil {
			return
		}
		for name := range mr.symbols {
			e, oerr := mr.own(name)
			if oerr != nil {
				err = oerr
				return
			}
			if e.state != Resolved {
				err = fmt.Errorf("symbol %s emitted before it was resolved", name)
				return
			}
		}
		for _, g := range groups {
			for _, name := range g.Symbols {
				if _, err = mr.own(name); err != nil {
					return
				}
			}
		}
		mr.es.emit(mr, groups, b)
		mr.finish()
	})
	return err
}

// emitResolved is NotifyEmitted for a linker after resolveDefs, every
// covered symbol depending on deps: it emits the entries resolveDefs found
// without looking their names up again (when the responsibility has not
// changed since; else it takes NotifyEmitted's way).
func (mr *MaterializationResponsibility) emitResolved(deps map[*JITDylib][]Name) error {
	var err error
	done := false
	mr.es.locked(func(b *batch) {
		if err = mr.check(); err != nil {
			return
		}
		entries := mr.resolved
		mr.resolved = nil
		if len(entries) != len(mr.symbols) || slices.ContainsFunc(entries, func(e *symbolEntry) bool {
			return e.owner() != mr || e.state != Resolved
		}) {
			return
		}
		nu := newUnit{u: &emitUnit{jd: mr.jd, syms: entries}}
		nu.dependOn(deps)
		mr.es.emitUnits([]newUnit{nu}, b)
		mr.finish()
		done = true
	})
	if err != nil || done {
		return err
	}
	var group DependenceGroup
	mr.withSymbols(func(covered SymbolFlagsMap) {
		group = DependenceGroup{Symbols: keys(covered), Dependencies: deps}
	})
	return mr.NotifyEmitted(group)
}

// finish ends the responsibility. Called locked.
func (mr *MaterializationResponsibility) finish() {
	mr.done = true
	mr.symbols, mr.resolved = nil, nil
	delete(mr.jd.mrs, mr)
}

// FailMaterialization reports that the covered symbols cannot be
// materialized: lookups waiting for them fail with cause, as do symbols that
// depend on them. The failed symbols stay defined (and failed) until their
// tracker is removed.
func (mr *MaterializationResponsibility) FailMaterialization(cause error) {
	if cause == nil {
		cause = errors.New("materialization failed")
	}
	mr.es.locked(func(b *batch) {
		if mr.done {
			return
		}
		for name := range mr.symbols {
			if e := mr.jd.symbols[name]; e != nil && e.owner() == mr {
				mr.es.failSymbol(mr.jd, e, cause, b)
			}
		}
		mr.finish()
	})
}

// DefineMaterializing adds definitions this materialization found it must
// make (e.g. symbols a compiler synthesized). They are covered by this
// responsibility.
func (mr *MaterializationResponsibility) DefineMaterializing(syms SymbolFlagsMap) error {
	var err error
	mr.es.locked(func(b *batch) {
		if err = mr.check(); err != nil {
			return
		}
		jd := mr.jd
		for name, flags := range syms {
			if jd.defines(name) && flags&Weak == 0 {
				err = &DuplicateDefinitionError{JITDylib: jd.name, Name: name}
				return
			}
		}
		for name, flags := range syms {
			if jd.defines(name) {
				continue // a weak definition loses to the existing one
			}
			jd.symbols[name] = &symbolEntry{name: name, flags: flags, state: Materializing, rt: mr.rt, m: &matState{mr: mr}}
			mr.rt.names = append(mr.rt.names, name)
			mr.symbols[name] = flags
		}
	})
	return err
}

// Replace hands some covered symbols back to the JITDylib, defined by mu,
// to be materialized later (or now, if a lookup is already waiting for
// one). mu must define a subset of the covered symbols.
func (mr *MaterializationResponsibility) Replace(mu MaterializationUnit) error {
	syms := mu.Symbols()
	var err error
	mr.es.locked(func(b *batch) {
		if err = mr.checkOwns(maps.Keys(syms)); err != nil {
			return
		}
		u := &unitEntry{mu: mu, rt: mr.rt, symbols: syms, initSym: mu.InitSymbol()}
		waited := false
		for name, flags := range syms {
			e := mr.jd.symbols[name]
			e.state, e.flags = NeverSearched, flags
			e.m.mr, e.m.unit = nil, u
			waited = waited || e.hasQueries()
			delete(mr.symbols, name)
		}
		if waited {
			mr.es.startMaterializing(mr.jd, u, b)
		}
	})
	return err
}

// Delegate moves the named symbols to a new responsibility, which the caller
// must complete or fail.
func (mr *MaterializationResponsibility) Delegate(names ...Name) (*MaterializationResponsibility, error) {
	var nmr *MaterializationResponsibility
	var err error
	mr.es.locked(func(b *batch) {
		if err = mr.checkOwns(slices.Values(names)); err != nil {
			return
		}
		nmr = &MaterializationResponsibility{es: mr.es, jd: mr.jd, rt: mr.rt, symbols: SymbolFlagsMap{}}
		for _, name := range names {
			nmr.symbols[name] = mr.symbols[name]
			delete(mr.symbols, name)
			mr.jd.symbols[name].m.mr = nmr
		}
		mr.jd.mrs[nmr] = struct{}{}
	})
	return nmr, err
}

// WithResourceKeyDo runs f with the tracker that owns this
// responsibility's definitions, under the session lock so that the tracker
// cannot be removed or merged meanwhile. f must not call into the session.
// It fails if the tracker has been removed.
func (mr *MaterializationResponsibility) WithResourceKeyDo(f func(rt *ResourceTracker)) error {
	mr.es.mu.Lock()
	defer mr.es.mu.Unlock()
	if mr.rt.defunct {
		return ErrTrackerDefunct
	}
	f(mr.rt)
	return nil
}

// Tracker returns the resource tracker that currently owns the
// responsibility's definitions.
func (mr *MaterializationResponsibility) Tracker() *ResourceTracker {
	mr.es.mu.Lock()
	defer mr.es.mu.Unlock()
	return mr.rt
}

// failSymbol marks e failed and fails its queries and, transitively, the
// symbols that depend on it. Called locked.
func (es *ExecutionSession) failSymbol(jd *JITDylib, e *symbolEntry, cause error, b *batch) {
	m := e.mat()
	if m.err != nil {
		return
	}
	m.err = cause
	m.mr = nil
	es.failQueries(e, jd, cause, b)
	deps := m.dependants
	m.dependants = nil
	for _, u := range deps {
		es.failUnit(u, fmt.Errorf("dependency %s in %s failed: %w", e.name, jd.name, cause), b)
	}
	if u := m.emitted; u != nil {
		m.emitted = nil
		es.failUnit(u, fmt.Errorf("%s in %s failed: %w", e.name, jd.name, cause), b)
	}
}
