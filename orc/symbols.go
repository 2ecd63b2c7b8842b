// Package orc is gorc's JIT framework, after LLVM's ORC: an ExecutionSession
// holds JITDylibs (simulated dynamic libraries) whose symbols are defined by
// MaterializationUnits and materialized (compiled, linked) when they are
// looked up. Lookup is also the synchronization point for concurrent work:
// any number of goroutines may look up, define and remove symbols, and each
// unit is materialized exactly once.
//
// Linking follows the rules of static and dynamic linkers: two strong
// definitions of a name in one JITDylib are an error, a weak definition
// yields to a strong one, and references bind by each JITDylib's link order.
package orc

import (
	"fmt"
	"strings"
)

// Name is a symbol name. Names are values: comparing two compares their
// lengths and then their bytes (names made from the same string compare by
// pointer), and they are garbage collected like any string. (See
// docs/orc.md for why names are not unique.Handle values.)
type Name struct{ s string }

// Intern returns the Name for s. The zero Name is the empty name.
func Intern(s string) Name { return Name{s} }

// String returns the name's text.
func (n Name) String() string { return n.s }

// IsZero reports whether n is the zero Name.
func (n Name) IsZero() bool { return n == (Name{}) }

// SymbolFlags describe a symbol definition.
type SymbolFlags uint8

const (
	// Exported symbols are visible to other JITDylibs (default scope).
	Exported SymbolFlags = 1 << iota
	// Weak definitions yield to strong ones.
	Weak
	// Common symbols are tentative definitions (also Weak).
	Common
	// Callable symbols name code.
	Callable
	// Absolute symbols have a fixed address and need no materialization.
	Absolute
)

func (f SymbolFlags) String() string {
	var parts []string
	for _, p := range []struct {
		f SymbolFlags
		s string
	}{{Exported, "exported"}, {Weak, "weak"}, {Common, "common"}, {Callable, "callable"}, {Absolute, "absolute"}} {
		if f&p.f != 0 {
			parts = append(parts, p.s)
		}
	}
	if len(parts) == 0 {
		return "hidden"
	}
	return strings.Join(parts, "|")
}

// SymbolState is how far a symbol's materialization has gone.
type SymbolState uint8

const (
	// NeverSearched: defined by a unit that has not been asked for it.
	NeverSearched SymbolState = iota
	// Materializing: its unit is being materialized.
	Materializing
	// Resolved: its address is known.
	Resolved
	// Emitted: its memory is finalized, but something it depends on is not.
	Emitted
	// Ready: it and everything it depends on are emitted; safe to use.
	Ready
)

func (s SymbolState) String() string {
	switch s {
	case NeverSearched:
		return "never-searched"
	case Materializing:
		return "materializing"
	case Resolved:
		return "resolved"
	case Emitted:
		return "emitted"
	case Ready:
		return "ready"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Symbol is a resolved definition: an address in the executor and flags.
type Symbol struct {
	Addr  uint64
	Flags SymbolFlags
}

// SymbolMap maps names to resolved definitions.
type SymbolMap map[Name]Symbol

// SymbolFlagsMap maps names to the flags of their (future) definitions.
type SymbolFlagsMap map[Name]SymbolFlags

// SymbolSet is a set of names.
type SymbolSet map[Name]struct{}

// LookupFlags say which symbols of a JITDylib a search may see.
type LookupFlags uint8

const (
	// MatchExportedOnly sees only exported symbols (how other dylibs see
	// this one).
	MatchExportedOnly LookupFlags = iota
	// MatchAll also sees hidden symbols (how a dylib sees itself).
	MatchAll
)

func (f LookupFlags) String() string {
	switch f {
	case MatchExportedOnly:
		return "exported only"
	case MatchAll:
		return "all"
	}
	return fmt.Sprintf("LookupFlags(%d)", uint8(f))
}

// SearchEntry is one element of a search order.
type SearchEntry struct {
	JD    *JITDylib
	Flags LookupFlags
}

func (e SearchEntry) String() string {
	if e.Flags == MatchAll {
		return e.JD.String() + " (all symbols)"
	}
	return e.JD.String()
}

// SearchOrder is the list of JITDylibs a lookup searches, in order.
type SearchOrder []SearchEntry

// String lists the JITDylibs, e.g. "[main (all symbols), <Libraries>, <Process Symbols>]".
func (o SearchOrder) String() string {
	s := make([]string, len(o))
	for i, e := range o {
		s[i] = e.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func (s Symbol) String() string { return fmt.Sprintf("%#x %s", s.Addr, s.Flags) }

func (e LookupEntry) String() string {
	if e.Weak {
		return e.Name.String() + " (weak)"
	}
	return e.Name.String()
}

// Search returns a search order over jds that sees all of their symbols.
func Search(jds ...*JITDylib) SearchOrder {
	o := make(SearchOrder, len(jds))
	for i, jd := range jds {
		o[i] = SearchEntry{JD: jd, Flags: MatchAll}
	}
	return o
}

// LookupEntry is one name to look up.
type LookupEntry struct {
	Name Name
	// Weak references may be missing: the lookup then succeeds without
	// them.
	Weak bool
}

// LookupSet is the set of names a lookup asks for.
type LookupSet []LookupEntry

// Names returns a lookup set requiring every name.
func Names(names ...Name) LookupSet {
	s := make(LookupSet, len(names))
	for i, n := range names {
		s[i] = LookupEntry{Name: n}
	}
	return s
}
