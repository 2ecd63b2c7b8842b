package jitlink

import (
	"errors"
	"fmt"
	"slices"
)

// DuplicateSymbolError reports two strong definitions of one name in
// objects linked together.
type DuplicateSymbolError struct {
	Name          string
	First, Second string // the objects that define it
}

func (e *DuplicateSymbolError) Error() string {
	return fmt.Sprintf("duplicate definition of symbol %s in %s and %s", e.Name, e.First, e.Second)
}

// MergeGraphs links several graphs as one, as a static linker combines
// the objects it pulls from an archive: the result holds every section of
// every graph and resolves their non-local names among themselves.
//
//   - A name defined in one graph and external in another becomes a
//     reference to the definition; externals of the same name become one
//     (a weak reference only if every reference was weak).
//   - Of several definitions of a name, a strong one beats weak ones, the
//     first weak one wins among weak ones, and common symbols grow to the
//     largest size and alignment among them; two strong definitions are a
//     *DuplicateSymbolError naming both objects.
//   - Local symbols never merge; sections are not shared either, so that
//     each keeps its own layout order and names its object in diagnostics
//     (see SectionObject).
//
// The result reuses the first graph (its backend links the merged graph:
// the others' backends are dropped, so a backend may keep state from
// building only for the build) and is named name; the other graphs must
// not be used afterwards. All must be for the same target.
func MergeGraphs(name string, graphs []*LinkGraph) (*LinkGraph, error) {
	if len(graphs) == 0 {
		return nil, errors.New("jitlink: no graphs to merge")
	}
	g := graphs[0]
	for _, o := range graphs[1:] {
		if o.triple != g.triple {
			return nil, fmt.Errorf("%s: target %s differs from %s's (%s)", o.name, o.triple, g.name, g.triple)
		}
	}

	// Sized for the names that take part: most of a member's symbols are
	// local (sections, eh-frame records, static functions).
	n := 0
	for _, o := range graphs {
		for _, sec := range o.sections {
			for _, s := range sec.symbols {
				if isExport(s) {
					n++
				}
			}
		}
		n += len(o.absolutes)
	}
	// The map holds only the symbol (small entries: fewer cache misses);
	// a definition's object is its section's, an absolute symbol's is
	// kept aside (they are rare).
	winners := make(map[string]*Symbol, n)
	absObj := map[*Symbol]string{}
	objOf := func(s *Symbol) string {
		if s.kind == inBlock {
			return s.base.block.section.object
		}
		return absObj[s]
	}
	var losers []*Symbol
	consider := func(s *Symbol) error {
		if !isExport(s) {
			return nil
		}
		w, ok := winners[s.name]
		switch {
		case !ok:
			winners[s.name] = s
		case !w.is(symWeak) && !s.is(symWeak):
			return &DuplicateSymbolError{Name: s.name, First: objOf(w), Second: objOf(s)}
		case w.is(symWeak) && !s.is(symWeak):
			losers = append(losers, w)
			winners[s.name] = s
		default:
			if w.is(symCommon) && s.is(symCommon) {
				growCommon(w, s)
			}
			losers = append(losers, s)
		}
		return nil
	}
	for _, o := range graphs {
		for _, sec := range o.sections {
			if sec.object == "" {
				sec.object = o.name
			}
			for _, s := range sec.symbols {
				if err := consider(s); err != nil {
					return nil, err
				}
			}
		}
		for _, s := range o.absolutes {
			absObj[s] = o.name
			if err := consider(s); err != nil {
				return nil, err
			}
		}
	}

	// Every symbol that goes away is marked removed and forwarded to the
	// one that stands for it: losing definitions through lost, externals
	// through their graph's slice (by their index in its list, which is
	// left as it was).
	lost := make(map[*Symbol]*Symbol, len(losers))
	for _, s := range losers {
		lost[s] = winners[s.name]
		s.set(symRemoved, true)
	}
	kept := make(map[string]*Symbol)
	var externals, absolutes []*Symbol
	fwd := make([][]*Symbol, len(graphs))
	for i, o := range graphs {
		fwd[i] = make([]*Symbol, len(o.externals))
		for j, e := range o.externals {
			if w, ok := winners[e.name]; ok {
				fwd[i][j] = w
			} else if k := kept[e.name]; k != nil {
				fwd[i][j] = k
				if !e.is(symWeakRef) {
					k.set(symWeakRef|symWeak, false)
				}
			} else {
				kept[e.name] = e
				externals = append(externals, e)
				continue
			}
			e.set(symRemoved, true)
		}
		for _, s := range o.absolutes {
			if !s.is(symRemoved) {
				absolutes = append(absolutes, s)
			}
		}
	}
	for i, o := range graphs {
		for _, sec := range o.sections {
			for _, b := range sec.blocks {
				for k := range b.edges {
					t := b.edges[k].Target
					if !t.is(symRemoved) {
						continue
					}
					if t.kind == external && int(t.index) < len(o.externals) && o.externals[t.index] == t {
						b.edges[k].Target = fwd[i][t.index]
					} else if f := lost[t]; f != nil {
						b.edges[k].Target = f
					}
				}
			}
		}
	}
	for _, s := range losers {
		if s.kind == inBlock {
			removeFrom(&s.base.block.section.symbols, s)
		}
	}

	nsec := 0
	for _, o := range graphs {
		nsec += len(o.sections)
	}
	g.sections = slices.Grow(g.sections, nsec-len(g.sections))
	ordinal := 0
	for _, sec := range g.sections {
		ordinal = max(ordinal, sec.ordinal+1)
	}
	for _, o := range graphs[1:] {
		base := ordinal
		for _, sec := range o.sections {
			sec.index = int32(len(g.sections))
			sec.ordinal += base
			ordinal = max(ordinal, sec.ordinal+1)
			g.sections = append(g.sections, sec)
		}
		g.AllocActions = append(g.AllocActions, o.AllocActions...)
		g.symArena.absorb(&o.symArena)
		g.blockArena.absorb(&o.blockArena)
		g.addrArena.absorb(&o.addrArena)
	}
	g.externals = slices.Grow(g.externals[:0], len(externals))
	g.absolutes = slices.Grow(g.absolutes[:0], len(absolutes))
	for _, s := range externals {
		addTo(&g.externals, s)
	}
	for _, s := range absolutes {
		addTo(&g.absolutes, s)
	}
	g.name = name
	return g, nil
}

// growCommon makes common symbol w as large and as aligned as common
// symbol s, which loses to it.
func growCommon(w, s *Symbol) {
	wb, sb := w.base.block, s.base.block
	if s.size > w.size {
		w.size = s.size
		wb.size = max(wb.size, s.size)
	}
	if sb.alignLog > wb.alignLog {
		wb.alignLog = sb.alignLog
		wb.alignOffset = 0
	}
}
