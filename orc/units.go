package orc

import (
	"fmt"
	"maps"
)

// absoluteUnit defines symbols with fixed addresses.
type absoluteUnit struct {
	symbols SymbolMap
	// eager units are entered as Ready when defined: they have nothing to
	// materialize. Units with weak symbols stay lazy so that a strong
	// definition can still override them.
	eager bool
}

// AbsoluteSymbols returns a unit defining symbols at fixed addresses (for
// example, values of the host program that JIT'd code should see).
func AbsoluteSymbols(syms SymbolMap) MaterializationUnit {
	u := &absoluteUnit{symbols: syms, eager: true}
	for _, s := range syms {
		if s.Flags&Weak != 0 {
			u.eager = false
		}
	}
	return u
}

func (u *absoluteUnit) Name() string { return "<absolute symbols>" }

func (u *absoluteUnit) Symbols() SymbolFlagsMap {
	f := make(SymbolFlagsMap, len(u.symbols))
	for n, s := range u.symbols {
		f[n] = s.Flags | Absolute
	}
	return f
}

func (u *absoluteUnit) InitSymbol() Name { return Name{} }

func (u *absoluteUnit) Materialize(mr *MaterializationResponsibility) {
	syms := make(SymbolMap)
	for n := range mr.Symbols() {
		syms[n] = u.symbols[n]
	}
	if err := mr.NotifyResolved(syms); err != nil {
		mr.FailMaterialization(err)
		return
	}
	if err := mr.NotifyEmitted(); err != nil {
		mr.FailMaterialization(err)
	}
}

func (u *absoluteUnit) Discard(jd *JITDylib, name Name) {}

// Alias names the target of an alias or reexport.
type Alias struct {
	Target Name
	Flags  SymbolFlags
}

// reexportsUnit defines names as aliases of symbols of a source JITDylib
// (the same JITDylib for plain aliases).
type reexportsUnit struct {
	source  *JITDylib
	flags   LookupFlags
	aliases map[Name]Alias
}

// SymbolAliases returns a unit defining names as aliases of other symbols in
// the same JITDylib: each alias has its target's address.
func SymbolAliases(aliases map[Name]Alias) MaterializationUnit {
	return &reexportsUnit{aliases: aliases, flags: MatchAll}
}

// Reexports returns a unit defining names in the JITDylib it is added to as
// reexports of symbols of source: each has its target's address, and is
// Ready when its target is. flags says whether hidden symbols of source may
// be reexported.
func Reexports(source *JITDylib, flags LookupFlags, aliases map[Name]Alias) MaterializationUnit {
	return &reexportsUnit{source: source, flags: flags, aliases: aliases}
}

// ReexportsOf reexports the named symbols of source with their current flags.
// The symbols must already be defined in source.
func ReexportsOf(source *JITDylib, names ...Name) (MaterializationUnit, error) {
	aliases := make(map[Name]Alias, len(names))
	for _, n := range names {
		f, ok := source.SymbolFlags(n)
		if !ok {
			return nil, fmt.Errorf("cannot reexport %s: not defined in %s", n, source.name)
		}
		aliases[n] = Alias{Target: n, Flags: f &^ Absolute}
	}
	return Reexports(source, MatchExportedOnly, aliases), nil
}

func (u *reexportsUnit) Name() string {
	if u.source == nil {
		return "<aliases>"
	}
	return "<reexports of " + u.source.name + ">"
}

func (u *reexportsUnit) Symbols() SymbolFlagsMap {
	f := make(SymbolFlagsMap, len(u.aliases))
	for n, a := range u.aliases {
		f[n] = a.Flags
	}
	return f
}

func (u *reexportsUnit) InitSymbol() Name { return Name{} }

func (u *reexportsUnit) Discard(jd *JITDylib, name Name) { delete(u.aliases, name) }

func (u *reexportsUnit) Materialize(mr *MaterializationResponsibility) {
	source := u.source
	if source == nil {
		source = mr.JITDylib()
	}
	// Materialize only the aliases someone asked for; the rest stay lazy.
	covered := mr.Symbols()
	requested := mr.RequestedSymbols()
	if len(requested) > 0 && len(requested) < len(covered) {
		rest := make(map[Name]Alias)
		for n := range covered {
			if _, ok := requested[n]; !ok {
				rest[n] = u.aliases[n]
			}
		}
		if err := mr.Replace(&reexportsUnit{source: u.source, flags: u.flags, aliases: rest}); err != nil {
			mr.FailMaterialization(err)
			return
		}
		covered = mr.Symbols()
	}
	// An alias of an alias this unit also defines is resolved through the
	// chain (looking it up would wait on this very materialization).
	final := make(map[Name]Name, len(covered))
	for n := range covered {
		t := u.aliases[n].Target
		for hops := 0; source == mr.JITDylib(); hops++ {
			next, ok := u.aliases[t]
			if _, in := covered[t]; !ok || !in {
				break
			}
			if hops > len(covered) || t == n {
				mr.FailMaterialization(fmt.Errorf("alias %s is part of a cycle of aliases", n))
				return
			}
			t = next.Target
		}
		if t == n && source == mr.JITDylib() {
			mr.FailMaterialization(fmt.Errorf("alias %s refers to itself", n))
			return
		}
		final[n] = t
	}
	targets := make(LookupSet, 0, len(covered))
	seen := make(map[Name]bool)
	for n := range covered {
		t := final[n]
		if !seen[t] {
			seen[t] = true
			targets = append(targets, LookupEntry{Name: t})
		}
	}
	es := mr.Session()
	es.lookupWith(SearchOrder{{JD: source, Flags: u.flags}}, targets, Resolved, false, func(r *queryResult, err error) {
		if err != nil {
			mr.FailMaterialization(err)
			return
		}
		resolved := make(SymbolMap, len(covered))
		for n, f := range covered {
			resolved[n] = Symbol{Addr: r.m[final[n]].Addr, Flags: f}
		}
		if err := mr.NotifyResolved(resolved); err != nil {
			mr.FailMaterialization(err)
			return
		}
		deps := make([]Name, 0, len(targets))
		for _, t := range targets {
			deps = append(deps, t.Name)
		}
		group := DependenceGroup{Symbols: keys(covered), Dependencies: map[*JITDylib][]Name{source: deps}}
		if err := mr.NotifyEmitted(group); err != nil {
			mr.FailMaterialization(err)
		}
	})
}

func keys[V any](m map[Name]V) []Name {
	out := make([]Name, 0, len(m))
	for k := range maps.Keys(m) {
		out = append(out, k)
	}
	return out
}
