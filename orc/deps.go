package orc

import "fmt"

// Dependency tracking.
//
// Each DependenceGroup passed to NotifyEmitted becomes an emitUnit: symbols
// that become Ready together. A unit waits for two kinds of things:
//
//   - pending: symbols it depends on that are not emitted yet, and
//   - waitsOn: other units that are emitted but not Ready.
//
// It is Ready when it waits for nothing. When a pending symbol is emitted,
// waiting for the symbol becomes waiting for the symbol's unit. Units that
// wait on each other in a cycle become Ready together: a wait that would
// close a cycle merges the cycle into one unit (a union-find set whose root
// holds the merged state), so the wait graph between roots stays acyclic and
// readiness can be propagated along it. Each operation touches only the
// units it concerns; nothing is copied per dependant.

type emitUnit struct {
	jd      *JITDylib
	syms    []*symbolEntry
	parent  *emitUnit // set once merged into another unit
	pending map[*symbolEntry]struct{}
	waitsOn map[*emitUnit]struct{}
	waiters map[*emitUnit]struct{}
	ready   bool
	failed  bool
	cause   error
	// search and reaches are addWait's marks: reaches is valid in the
	// search numbered search (it reaches the unit that would wait).
	search  uint64
	reaches bool
}

// root returns the unit's representative, compressing the path.
func (u *emitUnit) root() *emitUnit {
	r := u
	for r.parent != nil {
		r = r.parent
	}
	for u.parent != nil {
		next := u.parent
		u.parent = r
		u = next
	}
	return r
}

func (u *emitUnit) waiting() bool { return len(u.pending) > 0 || len(u.waitsOn) > 0 }

// addPending makes root u wait for the unemitted symbol x.
func (u *emitUnit) addPending(x *symbolEntry) {
	if _, ok := u.pending[x]; ok {
		return
	}
	if u.pending == nil {
		u.pending = make(map[*symbolEntry]struct{})
	}
	u.pending[x] = struct{}{}
	m := x.mat()
	m.dependants = append(m.dependants, u)
}

// addEdge records that u waits for w.
func addEdge(u, w *emitUnit) {
	if u.waitsOn == nil {
		u.waitsOn = make(map[*emitUnit]struct{})
	}
	if w.waiters == nil {
		w.waiters = make(map[*emitUnit]struct{})
	}
	u.waitsOn[w] = struct{}{}
	w.waiters[u] = struct{}{}
}

// addWait makes root u wait for root w (emitted, not Ready), merging the
// units of the cycle this closes, if any.
func (es *ExecutionSession) addWait(u, w *emitUnit) {
	if u == w {
		return
	}
	if _, ok := u.waitsOn[w]; ok {
		return
	}
	if len(w.waitsOn) == 0 {
		// w reaches nothing, so not u: no cycle to look for.
		addEdge(u, w)
		return
	}
	// Units on a path from w back to u form a cycle with u.
	es.searches++
	u.search, u.reaches = es.searches, true
	cycle := []*emitUnit{u}
	if !reachesMarked(w, es.searches, &cycle) {
		addEdge(u, w)
		return
	}
	es.merge(cycle)
}

// reachesMarked reports whether n reaches the unit marked reaching in
// search, appending each unit on the way that does to cycle. Marks stand
// in for maps of visited units.
func reachesMarked(n *emitUnit, search uint64, cycle *[]*emitUnit) bool {
	if n.search == search {
		return n.reaches
	}
	n.search, n.reaches = search, false
	found := false
	for m := range n.waitsOn {
		if reachesMarked(m, search, cycle) {
			found = true
		}
	}
	if found {
		n.reaches = true
		*cycle = append(*cycle, n)
	}
	return found
}

// merge joins units into one, the one with the most state becoming the
// root.
func (es *ExecutionSession) merge(units []*emitUnit) *emitUnit {
	r := units[0]
	for _, n := range units[1:] {
		if len(n.pending)+len(n.waitsOn)+len(n.waiters) > len(r.pending)+len(r.waitsOn)+len(r.waiters) {
			r = n
		}
	}
	in := make(map[*emitUnit]bool, len(units))
	for _, n := range units {
		in[n] = true
	}
	// Work in proportion to the merged units, not to the root: cycles
	// merge into one unit again and again, which grows large.
	moved := len(r.syms)
	for _, n := range units {
		if n == r {
			continue
		}
		n.parent = r
		r.syms = append(r.syms, n.syms...)
		n.syms = nil
		for x := range n.pending {
			r.addPending(x)
		}
		for w := range n.waitsOn {
			delete(w.waiters, n)
			if !in[w] {
				addEdge(r, w)
			}
		}
		for x := range n.waiters {
			delete(x.waitsOn, n)
			if !in[x] {
				addEdge(x, r)
			}
		}
		n.pending, n.waitsOn, n.waiters = nil, nil, nil
		if n.failed && !r.failed {
			r.failed, r.cause = true, n.cause
		}
	}
	for _, n := range units {
		delete(r.waitsOn, n)
		delete(r.waiters, n)
	}
	// The root's own symbols point at it already; readers take root()
	// of the rest anyway, this only shortens their way.
	for _, e := range r.syms[moved:] {
		e.mat().emitted = r
	}
	return r
}

// emit records the emission of mr's symbols. Called locked.
func (es *ExecutionSession) emit(mr *MaterializationResponsibility, groups []DependenceGroup, b *batch) {
	jd := mr.jd
	units := make([]newUnit, 0, len(groups)+1)
	grouped := make(map[Name]bool, len(mr.symbols))
	for _, g := range groups {
		nu := newUnit{u: &emitUnit{jd: jd, syms: make([]*symbolEntry, 0, len(g.Symbols))}}
		for _, name := range g.Symbols {
			if !grouped[name] {
				grouped[name] = true
				nu.u.syms = append(nu.u.syms, jd.symbols[name])
			}
		}
		nu.dependOn(g.Dependencies)
		units = append(units, nu)
	}
	if len(grouped) < len(mr.symbols) {
		rest := &emitUnit{jd: jd}
		for name := range mr.symbols {
			if !grouped[name] {
				rest.syms = append(rest.syms, jd.symbols[name])
			}
		}
		units = append(units, newUnit{u: rest})
	}
	es.emitUnits(units, b)
}

// newUnit is a unit of symbols being emitted, with the entries they
// directly depend on.
type newUnit struct {
	u      *emitUnit
	direct []*symbolEntry
}

// dependOn makes nu depend on deps. A dependency that is not defined fails
// the unit.
func (nu *newUnit) dependOn(deps map[*JITDylib][]Name) {
	n := 0
	for _, names := range deps {
		n += len(names)
	}
	nu.direct = make([]*symbolEntry, 0, n)
	for depJD, names := range deps {
		for _, n := range names {
			if de := depJD.symbols[n]; de != nil {
				nu.direct = append(nu.direct, de)
			} else if _, ok := depJD.absolute(n); ok {
				// Ready from the start.
			} else if nu.u.cause == nil {
				nu.u.cause = fmt.Errorf("dependency %s in %s is not defined", n, depJD.name)
			}
		}
	}
}

// emitUnits marks the units' symbols emitted and records what they wait
// for; units that wait for nothing, and their waiters, become Ready.
// Called locked.
func (es *ExecutionSession) emitUnits(units []newUnit, b *batch) {
	// The new symbols are emitted: their dependants now wait for their
	// units instead.
	for _, nu := range units {
		for _, e := range nu.u.syms {
			m := e.mat()
			e.state, m.mr, m.emitted = Emitted, nil, nu.u
		}
	}
	for _, nu := range units {
		u := nu.u.root()
		for _, d := range nu.direct {
			switch {
			case d.failure() != nil:
				if u.cause == nil {
					u.cause = fmt.Errorf("dependency %s failed: %w", d.name, d.failure())
				}
			case d.state == Ready:
			case d.state == Emitted:
				if w := d.m.emitted; w != nil {
					if w := w.root(); !w.failed {
						es.addWait(u, w)
						u = u.root()
					}
				}
			default:
				u.addPending(d)
			}
		}
	}
	for _, nu := range units {
		for _, e := range nu.u.syms {
			waiting := e.m.dependants
			e.m.dependants = nil
			for _, t := range waiting {
				t = t.root()
				if t.failed || t.ready {
					continue
				}
				delete(t.pending, e)
				if w := nu.u.root(); !w.failed {
					es.addWait(t, w)
				}
			}
		}
	}
	var candidates []*emitUnit
	for _, nu := range units {
		u := nu.u.root()
		if nu.u.cause != nil {
			es.failUnit(u, nu.u.cause, b)
			continue
		}
		candidates = append(candidates, u)
	}
	// Anything that waited on the new symbols may be free now too.
	for _, nu := range units {
		for x := range nu.u.root().waiters {
			candidates = append(candidates, x)
		}
	}
	es.propagateReady(candidates, b)
}

// propagateReady marks Ready every candidate root that waits for nothing,
// and then its waiters, transitively. Called locked.
func (es *ExecutionSession) propagateReady(work []*emitUnit, b *batch) {
	for len(work) > 0 {
		u := work[len(work)-1].root()
		work = work[:len(work)-1]
		if u.ready || u.failed || u.waiting() {
			continue
		}
		u.ready = true
		es.ready(u, b)
		for x := range u.waiters {
			delete(x.waitsOn, u)
			work = append(work, x)
		}
		u.waiters = nil
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

// failUnit fails every symbol of root u and the units waiting on it.
// Called locked.
func (es *ExecutionSession) failUnit(u *emitUnit, cause error, b *batch) {
	u = u.root()
	if u.failed && u.syms == nil {
		return
	}
	u.failed = true
	if u.cause == nil {
		u.cause = cause
	}
	syms := u.syms
	u.syms = nil
	waiters := u.waiters
	u.waiters, u.waitsOn, u.pending = nil, nil, nil
	for _, e := range syms {
		e.mat().emitted = nil
		es.failSymbol(u.jd, e, cause, b)
	}
	for x := range waiters {
		es.failUnit(x, fmt.Errorf("a dependency failed: %w", cause), b)
	}
}
