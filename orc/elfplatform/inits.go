package elfplatform

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/orc"
)

// graphInits are the initializers and finalizers of one linked graph.
type graphInits struct {
	seq     uint64 // order in which the object was added
	rt      *orc.ResourceTracker
	preinit []uint64
	inits   []fnList
	finis   []fnList
}

// fnList is the functions of one section, in the order a static link would
// place them in .init_array or .fini_array.
type fnList struct {
	prio int // 0..65535, or noPriority
	fns  []uint64
}

const noPriority = 1 << 16

// sectionKind classifies an initializer section and its priority.
func sectionKind(name string) (kind string, prio int, reversed bool) {
	base, suffix, _ := strings.Cut(name[1:], ".")
	prio = noPriority
	if suffix != "" {
		if n, err := strconv.Atoi(suffix); err == nil && n >= 0 && n < noPriority {
			prio = n
		}
	}
	switch base {
	case "ctors", "dtors":
		// Run backwards by crtbegin in the old scheme: a static link
		// reverses them into .init_array/.fini_array, and their numeric
		// suffixes count priority down.
		if prio != noPriority {
			prio = 65535 - prio
		}
		if base == "ctors" {
			return "init", prio, true
		}
		return "fini", prio, true
	case "init_array":
		return "init", prio, false
	case "fini_array":
		return "fini", prio, false
	case "preinit_array":
		return "preinit", prio, false
	}
	return "", 0, false
}

// recordInits reads the function pointers of the graph's initializer
// sections (after fixups) and keeps them until the JITDylib is initialized.
func (p *Platform) recordInits(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph) {
	gi := &graphInits{rt: mr.Tracker()}
	for _, sec := range g.Sections() {
		if !elf.IsInitSection(sec.Name()) {
			continue
		}
		kind, prio, reversed := sectionKind(sec.Name())
		blocks := slices.Clone(sec.Blocks())
		slices.SortFunc(blocks, func(a, b *jitlink.Block) int { return cmp.Compare(a.Address(), b.Address()) })
		var fns []uint64
		for _, b := range blocks {
			c := b.Content()
			for i := 0; i+8 <= len(c); i += 8 {
				// crtbegin-style sentinels (0, -1) are not functions.
				if fn := g.Endianness().Uint64(c[i:]); fn != 0 && fn != ^uint64(0) {
					fns = append(fns, fn)
				}
			}
		}
		if reversed {
			slices.Reverse(fns)
		}
		switch kind {
		case "preinit":
			gi.preinit = append(gi.preinit, fns...)
		case "init":
			gi.inits = append(gi.inits, fnList{prio, fns})
		case "fini":
			gi.finis = append(gi.finis, fnList{prio, fns})
		}
	}
	if len(gi.preinit)+len(gi.inits)+len(gi.finis) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dylibs[mr.JITDylib()]
	if d == nil {
		return
	}
	gi.seq = p.order[mr.InitSymbol()]
	if gi.seq == 0 {
		gi.seq = p.seq.Add(1)
	}
	delete(p.order, mr.InitSymbol())
	d.graphs = append(d.graphs, gi)
}

// order returns the initializers in run order, and the finalizers in
// .fini_array order (which runs backwards).
func order(graphs []*graphInits) (inits, finis []uint64) {
	slices.SortFunc(graphs, func(a, b *graphInits) int { return cmp.Compare(a.seq, b.seq) })
	flatten := func(lists func(*graphInits) []fnList) []uint64 {
		type entry struct {
			prio int
			seq  uint64
			fns  []uint64
		}
		var es []entry
		for _, g := range graphs {
			for _, l := range lists(g) {
				es = append(es, entry{l.prio, g.seq, l.fns})
			}
		}
		// Prioritized sections by priority, then the rest, each in object
		// order (the sort is stable).
		slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(a.prio, b.prio) })
		var out []uint64
		for _, e := range es {
			out = append(out, e.fns...)
		}
		return out
	}
	for _, g := range graphs {
		inits = append(inits, g.preinit...)
	}
	inits = append(inits, flatten(func(g *graphInits) []fnList { return g.inits })...)
	finis = flatten(func(g *graphInits) []fnList { return g.finis })
	return inits, finis
}

// deinitThunk builds name(): __cxa_finalize(&__dso_handle), which runs the
// JITDylib's exit handlers and finalizers.
func (p *Platform) deinitThunk(name string) *jitlink.LinkGraph {
	g := p.target.NewLinkGraph("<" + name + ">")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	dso := g.AddExternalSymbol("__dso_handle", 0, jitlink.Strong)
	b := p.target.TailCallThunk(g, text, 0, []*jitlink.Symbol{dso}, g.AddExternalSymbol("__cxa_finalize", 0, jitlink.Strong))
	g.AddDefinedSymbol(b, 0, name, b.Size(), jitlink.Strong, jitlink.ScopeHidden, jitlink.Callable|jitlink.Live)
	return g
}
