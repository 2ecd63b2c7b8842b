package lazy

import "github.com/gorc-jit/gorc/orc"

// Reexports returns a unit defining each alias, in the JITDylib it is added
// to, as a lazy entry point for its target in source: the alias is a stub
// whose address can be taken, and passed around, without the target being
// materialized; the first call materializes it. Aliases are callable. A
// lookup materializes the stubs it asks for; the others stay unlinked.
func (m *Manager) Reexports(source *orc.JITDylib, aliases map[orc.Name]orc.Alias) orc.MaterializationUnit {
	return &reexportsUnit{m: m, source: source, aliases: aliases}
}

type reexportsUnit struct {
	m       *Manager
	source  *orc.JITDylib
	aliases map[orc.Name]orc.Alias
}

func (u *reexportsUnit) Name() string { return "<lazy reexports of " + u.source.Name() + ">" }

func (u *reexportsUnit) Symbols() orc.SymbolFlagsMap {
	f := make(orc.SymbolFlagsMap, len(u.aliases))
	for n, a := range u.aliases {
		f[n] = a.Flags | orc.Callable
	}
	return f
}

func (u *reexportsUnit) InitSymbol() orc.Name { return orc.Name{} }

func (u *reexportsUnit) Discard(jd *orc.JITDylib, name orc.Name) { delete(u.aliases, name) }

func (u *reexportsUnit) Materialize(mr *orc.MaterializationResponsibility) {
	covered := mr.Symbols()
	requested := mr.RequestedSymbols()
	split := len(requested) > 0 && len(requested) < len(covered)
	now := make(map[orc.Name]orc.Alias, len(covered))
	rest := make(map[orc.Name]orc.Alias)
	for n := range covered {
		if _, ok := requested[n]; ok || !split {
			now[n] = u.aliases[n]
		} else {
			rest[n] = u.aliases[n]
		}
	}
	if len(rest) > 0 {
		// Stubs nobody asked for stay a unit of their own.
		if err := mr.Replace(&reexportsUnit{m: u.m, source: u.source, aliases: rest}); err != nil {
			mr.FailMaterialization(err)
			return
		}
	}
	u.m.emitStubs(mr, u.source, now)
}
