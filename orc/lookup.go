package orc

import "fmt"

// A lookup is a query lodged against symbols: it completes when the last of
// them reaches the wanted state, or fails as soon as one fails.
//
// The lookup runs in two steps. First the search order is walked to find
// every name; a JITDylib with definition generators gets to generate names it
// lacks (with the session unlocked, since generators may do I/O). Then, in
// one locked section, the query is lodged against every symbol found, and
// the units that define not-yet-materialized symbols are collected; they are
// dispatched after unlocking.

type query struct {
	want        SymbolState
	res         *queryResult
	outstanding int
	cb          func(*queryResult, error)
	err         error
	done        bool
	waiting     []*symbolEntry
}

// queryResult is what a finished query found.
type queryResult struct {
	m SymbolMap
	// in records the JITDylib each name was found in (for layers that
	// report dependencies); nil unless asked for.
	in map[Name]*JITDylib
}

func (r *queryResult) symbols() SymbolMap { return r.m }

func (es *ExecutionSession) lookupAsync(order SearchOrder, names LookupSet, want SymbolState, cb func(*queryResult, error)) *query {
	return es.lookupWith(order, names, want, false, cb)
}

func (es *ExecutionSession) lookupWith(order SearchOrder, names LookupSet, want SymbolState, recordJD bool, cb func(*queryResult, error)) *query {
	q := &query{want: want, cb: cb, res: &queryResult{m: make(SymbolMap, len(names))}}
	if recordJD {
		q.res.in = make(map[Name]*JITDylib, len(names))
	}
	if want < Resolved {
		es.locked(func(b *batch) {
			es.failQuery(q, fmt.Errorf("lookups wait for the resolved, emitted or ready state, not %v", want), b)
		})
		return q
	}
	var generated []*JITDylib
	for {
		var genJD *JITDylib
		var genNames LookupSet
		es.locked(func(b *batch) {
			if es.closed {
				es.failQuery(q, ErrSessionClosed, b)
				return
			}
			genJD, genNames = es.needsGeneration(order, names, generated)
			if genJD == nil {
				es.lodge(q, order, names, b)
			}
		})
		if genJD == nil {
			return q
		}
		generated = append(generated, genJD)
		if err := genJD.generate(genNames); err != nil {
			es.locked(func(b *batch) { es.failQuery(q, err, b) })
			return q
		}
	}
}

// find looks name up in o's JITDylib, as the search may see it: it returns
// the symbol's entry, or (with a nil entry) a definition from an absolute
// table.
func find(o SearchEntry, name Name) (*symbolEntry, Symbol, bool) {
	if e := o.JD.symbols[name]; e != nil {
		return e, Symbol{}, visible(e.flags, o.Flags)
	}
	if s, ok := o.JD.absolute(name); ok && visible(s.Flags, o.Flags) {
		return nil, s, true
	}
	return nil, Symbol{}, false
}

// needsGeneration walks the search order and returns the first JITDylib
// that has generators not yet run for this lookup, with the names that
// reach it unfound. Called with the session locked.
func (es *ExecutionSession) needsGeneration(order SearchOrder, names LookupSet, generated []*JITDylib) (*JITDylib, LookupSet) {
	remaining := names
	for _, o := range order {
		if len(remaining) == 0 {
			return nil, nil
		}
		var next LookupSet
		for _, n := range remaining {
			if _, _, ok := find(o, n.Name); !ok {
				next = append(next, n)
			}
		}
		remaining = next
		if len(remaining) > 0 && len(o.JD.generators) > 0 && !contains(generated, o.JD) {
			return o.JD, remaining
		}
	}
	return nil, nil
}

func contains(jds []*JITDylib, jd *JITDylib) bool {
	for _, j := range jds {
		if j == jd {
			return true
		}
	}
	return false
}

// generate runs jd's generators for names, one lookup at a time.
func (jd *JITDylib) generate(names LookupSet) error {
	jd.genMu.Lock()
	defer jd.genMu.Unlock()
	jd.es.mu.Lock()
	gens := jd.generators
	// Another lookup may have generated some names meanwhile.
	var missing LookupSet
	for _, n := range names {
		if !jd.defines(n.Name) {
			missing = append(missing, n)
		}
	}
	jd.es.mu.Unlock()
	for _, g := range gens {
		if len(missing) == 0 {
			return nil
		}
		if err := g.TryToGenerate(jd, missing); err != nil {
			return err
		}
		jd.es.mu.Lock()
		next := missing[:0:0]
		for _, n := range missing {
			if !jd.defines(n.Name) {
				next = append(next, n)
			}
		}
		jd.es.mu.Unlock()
		missing = next
	}
	return nil
}

// lodge finds every name and attaches q to the symbols that have not
// reached q.want, starting the materialization of those that need it.
// Called with the session locked.
func (es *ExecutionSession) lodge(q *query, order SearchOrder, names LookupSet, b *batch) {
	type hit struct {
		e  *symbolEntry // nil for a symbol of an absolute table
		jd *JITDylib
	}
	hits := make([]hit, 0, len(names))
	var missing []Name
	for _, n := range names {
		found := false
		for _, o := range order {
			e, abs, ok := find(o, n.Name)
			if !ok {
				continue
			}
			found = true
			if e == nil {
				// Ready from the start: record it now.
				q.res.m[n.Name] = abs
				if q.res.in != nil {
					q.res.in[n.Name] = o.JD
				}
			} else {
				hits = append(hits, hit{e, o.JD})
			}
			break
		}
		if !found && !n.Weak {
			missing = append(missing, n.Name)
		}
	}
	if missing != nil {
		es.failQuery(q, &SymbolsNotFoundError{Names: missing}, b)
		return
	}
	for _, h := range hits {
		if e := h.e; e.failure() != nil {
			es.failQuery(q, &FailedToMaterializeError{JITDylib: h.jd.name, Names: []Name{e.name}, Cause: e.failure()}, b)
			return
		}
	}
	for _, h := range hits {
		e := h.e
		if q.res.in != nil {
			q.res.in[e.name] = h.jd
		}
		if e.state >= Resolved {
			q.res.m[e.name] = Symbol{Addr: e.addr, Flags: e.flags}
		}
		if e.state >= q.want {
			continue
		}
		m := e.mat()
		m.queries = append(m.queries, q)
		q.waiting = append(q.waiting, e)
		q.outstanding++
		if e.state == NeverSearched && m.unit != nil {
			es.startMaterializing(h.jd, m.unit, b)
		}
	}
	if q.outstanding == 0 {
		es.completeQuery(q, b)
	}
}

func (es *ExecutionSession) completeQuery(q *query, b *batch) {
	q.done = true
	q.waiting = nil
	b.completed = append(b.completed, q)
}

// failQuery fails q unless it already finished. Symbols it still waits on
// drop it when they next change state.
func (es *ExecutionSession) failQuery(q *query, err error, b *batch) {
	if q.done {
		return
	}
	q.done, q.err, q.res, q.waiting = true, err, nil, nil
	b.completed = append(b.completed, q)
}

// cancelQuery detaches q from the symbols it waits on; its callback will not
// be called.
func (es *ExecutionSession) cancelQuery(q *query) {
	es.mu.Lock()
	defer es.mu.Unlock()
	if q.done {
		return
	}
	q.done = true
	for _, e := range q.waiting {
		if e.m == nil {
			continue
		}
		for i, o := range e.m.queries {
			if o == q {
				e.m.queries = append(e.m.queries[:i], e.m.queries[i+1:]...)
				break
			}
		}
	}
	q.waiting = nil
}

// notifyQueries tells e's queries that it reached a new state.
func (es *ExecutionSession) notifyQueries(e *symbolEntry, b *batch) {
	if e.m == nil {
		return
	}
	m := e.m
	kept := m.queries[:0]
	for _, q := range m.queries {
		if q.done {
			continue
		}
		if e.state >= Resolved {
			q.res.m[e.name] = Symbol{Addr: e.addr, Flags: e.flags}
		}
		if e.state >= q.want {
			q.outstanding--
			if q.outstanding == 0 {
				es.completeQuery(q, b)
			}
			continue
		}
		kept = append(kept, q)
	}
	clear(m.queries[len(kept):])
	m.queries = kept
}

// failQueries fails every query waiting on e.
func (es *ExecutionSession) failQueries(e *symbolEntry, jd *JITDylib, cause error, b *batch) {
	if e.m == nil {
		return
	}
	for _, q := range e.m.queries {
		es.failQuery(q, &FailedToMaterializeError{JITDylib: jd.name, Names: []Name{e.name}, Cause: cause}, b)
	}
	e.m.queries = nil
}
