package orc

import "fmt"

// Dependency tracking.
//
// Each DependenceGroup passed to NotifyEmitted becomes an emitUnit: symbols
// that become Ready together. A unit's deps are the not-yet-emitted symbols
// it still waits for, directly or through emitted-but-not-ready symbols it
// depends on (whose own waits it inherits). Invariant: deps holds only
// symbols that are not emitted, and every symbol in a unit's deps lists the
// unit among its dependants. When a symbol is emitted, each dependant swaps
// it for the deps of the symbol's own unit; a unit whose deps drain is Ready.
// Cycles need nothing special: a cycle's last emission drains them all.

type emitUnit struct {
	jd       *JITDylib
	syms     []*symbolEntry
	direct   []*symbolEntry // dependencies as reported
	deps     map[*symbolEntry]struct{}
	siblings []*emitUnit // units of the same emission it depends on
	failed   bool
	cause    error
}

// add makes u wait for x, unless x is already emitted: then there is
// nothing to wait for in x itself (its own waits are inherited instead).
func (u *emitUnit) add(x *symbolEntry) {
	if x.state >= Emitted {
		return
	}
	if _, ok := u.deps[x]; ok {
		return
	}
	if u.deps == nil {
		u.deps = make(map[*symbolEntry]struct{})
	}
	u.deps[x] = struct{}{}
	m := x.mat()
	m.dependants = append(m.dependants, u)
}

// emit records the emission of mr's symbols. Called locked.
func (es *ExecutionSession) emit(mr *MaterializationResponsibility, groups []DependenceGroup, b *batch) {
	jd := mr.jd
	units := make([]*emitUnit, 0, len(groups)+1)
	grouped := make(map[Name]bool)
	for _, g := range groups {
		u := &emitUnit{jd: jd}
		for _, name := range g.Symbols {
			if !grouped[name] {
				grouped[name] = true
				u.syms = append(u.syms, jd.symbols[name])
			}
		}
		for depJD, names := range g.Dependencies {
			for _, n := range names {
				if de := depJD.symbols[n]; de != nil {
					u.direct = append(u.direct, de)
				} else if _, ok := depJD.absolute(n); ok {
					// Ready from the start.
				} else if u.cause == nil {
					u.cause = fmt.Errorf("dependency %s in %s is not defined", n, depJD.name)
				}
			}
		}
		units = append(units, u)
	}
	if len(grouped) < len(mr.symbols) {
		rest := &emitUnit{jd: jd}
		for name := range mr.symbols {
			if !grouped[name] {
				rest.syms = append(rest.syms, jd.symbols[name])
			}
		}
		units = append(units, rest)
	}
	for _, u := range units {
		for _, e := range u.syms {
			m := e.mat()
			e.state, m.mr, m.emitted = Emitted, nil, u
		}
	}
	inBatch := make(map[*emitUnit]bool, len(units))
	for _, u := range units {
		inBatch[u] = true
	}
	for _, u := range units {
		for _, d := range u.direct {
			switch {
			case d.failure() != nil:
				if u.cause == nil {
					u.cause = fmt.Errorf("dependency %s failed: %w", d.name, d.failure())
				}
			case d.state == Ready:
			case d.state == Emitted:
				var v *emitUnit
				if d.m != nil {
					v = d.m.emitted
				}
				if v == u || v == nil {
					continue
				}
				if inBatch[v] {
					u.siblings = append(u.siblings, v)
					continue
				}
				for x := range v.deps {
					u.add(x)
				}
			default:
				u.add(d)
			}
		}
		u.direct = nil
	}
	// Units of one emission inherit each other's waits.
	for changed := true; changed; {
		changed = false
		for _, u := range units {
			for _, v := range u.siblings {
				for x := range v.deps {
					if _, ok := u.deps[x]; !ok {
						u.add(x)
						changed = true
					}
				}
			}
		}
	}
	for _, u := range units {
		if u.cause != nil {
			es.failUnit(u, u.cause, b)
		}
	}
	// Units that waited for these symbols now wait for what they wait for.
	for _, u := range units {
		if u.failed {
			continue
		}
		for _, e := range u.syms {
			waiting := e.m.dependants
			e.m.dependants = nil
			for _, t := range waiting {
				if t.failed {
					continue
				}
				delete(t.deps, e)
				for x := range u.deps {
					t.add(x)
				}
				if len(t.deps) == 0 {
					es.ready(t, b)
				}
			}
		}
	}
	for _, u := range units {
		if !u.failed && len(u.deps) == 0 {
			es.ready(u, b)
		}
	}
}

// ready marks a unit's symbols Ready. Called locked.
func (es *ExecutionSession) ready(u *emitUnit, b *batch) {
	for _, e := range u.syms {
		if e.failure() != nil || e.state == Ready {
			continue
		}
		e.state = Ready
		es.notifyQueries(e, b)
		// Nothing waits on a Ready symbol: drop its materialization state.
		e.m = nil
	}
}

// failUnit fails every symbol of u. Called locked.
func (es *ExecutionSession) failUnit(u *emitUnit, cause error, b *batch) {
	if u.failed {
		return
	}
	u.failed = true
	u.deps = nil
	for _, e := range u.syms {
		e.mat().emitted = nil
		es.failSymbol(u.jd, e, cause, b)
	}
}
