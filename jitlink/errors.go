package jitlink

import (
	"fmt"
	"strings"
)

// MalformedError reports an input object that does not follow its format.
type MalformedError struct {
	File    string // object name (e.g. "libfoo.a(bar.o)")
	Section string // section involved, if any
	Offset  int64  // file or section offset, -1 if unknown
	Msg     string
}

func (e *MalformedError) Error() string {
	return located(e.File, e.Section, e.Offset, "malformed object: "+e.Msg)
}

// UnsupportedError reports a valid input feature gorc does not handle (an
// unknown relocation type, an unsupported section kind, ...).
type UnsupportedError struct {
	File    string
	Section string
	Offset  int64
	What    string
}

func (e *UnsupportedError) Error() string {
	return located(e.File, e.Section, e.Offset, "unsupported: "+e.What)
}

// located formats "file: section S at offset 0xN: msg", leaving out what is
// unknown.
func located(file, section string, offset int64, msg string) string {
	var b strings.Builder
	b.WriteString(file)
	if section != "" {
		fmt.Fprintf(&b, ": section %s", section)
	}
	if offset >= 0 {
		fmt.Fprintf(&b, " at offset %#x", offset)
	}
	b.WriteString(": ")
	b.WriteString(msg)
	return b.String()
}

// FixupError reports an edge that cannot be applied: its value is out of
// range for the field, or the edge is malformed.
type FixupError struct {
	Graph      string
	Section    string
	Offset     uint64 // offset of the fixup from the start of its section
	FixupAddr  uint64 // address of the fixup
	Kind       string // edge kind name
	Target     string // target symbol
	TargetAddr uint64
	Addend     int64
	Value      int64  // computed value, when out of range
	Msg        string // what is wrong; empty when the value is out of range
	Hint       string // what to do, if known
}

func (e *FixupError) Error() string {
	if e.Msg == "" {
		// Worded as LLVM words it, so that tools matching LLVM's message
		// (and its regression tests) recognize ours.
		msg := fmt.Sprintf("%s: section %s: relocation target %q at address %#x with addend %s is out of range of %s fixup at %#x (offset %#x in section, value %s)",
			e.Graph, e.Section, e.Target, e.TargetAddr, signedHex(e.Addend), e.Kind, e.FixupAddr, e.Offset, signedHex(e.Value))
		if e.Hint != "" {
			msg += ": " + e.Hint
		}
		return msg
	}
	return fmt.Sprintf("%s: section %s at offset %#x: %s fixup to %s: %s",
		e.Graph, e.Section, e.Offset, e.Kind, e.Target, e.Msg)
}

func signedHex(v int64) string {
	if v < 0 {
		return fmt.Sprintf("-%#x", uint64(-v))
	}
	return fmt.Sprintf("%#x", v)
}

// NewFixupError builds a FixupError for edge e in block b.
func NewFixupError(g *LinkGraph, b *Block, e *Edge, value int64, msg string) *FixupError {
	sec := b.section
	start, _ := sec.Range()
	fe := &FixupError{
		Graph:     g.SectionObject(sec),
		Section:   sec.name,
		Offset:    b.addr + uint64(e.Offset) - start,
		FixupAddr: b.addr + uint64(e.Offset),
		Kind:      g.EdgeKindName(e.Kind),
		Target:    symbolDescription(e.Target),
		Addend:    e.Addend,
		Value:     value,
		Msg:       msg,
	}
	if e.Target != nil {
		fe.TargetAddr = e.Target.Address()
	}
	return fe
}

// OutOfRange builds the error for a fixup value that does not fit its field.
// A target outside the graph (an absolute symbol, or one defined in other
// memory) is out of reach of code compiled to reach its data with 32-bit
// offsets: the error says how to fix that.
func OutOfRange(g *LinkGraph, b *Block, e *Edge, value int64) *FixupError {
	fe := NewFixupError(g, b, e, value, "")
	if t := e.Target; t != nil && (t.IsAbsolute() || t.IsExternal()) {
		fe.Hint = fmt.Sprintf("%s is defined outside JIT'd memory, too far for this code: compile it with -fPIC (it then reaches %[1]s through the GOT), or define the data in JIT'd memory (lljit's DefineData)", fe.Target)
	}
	return fe
}

func symbolDescription(s *Symbol) string {
	if s == nil {
		return "<nil>"
	}
	if s.name != "" {
		return s.name
	}
	if b := s.Block(); b != nil {
		return fmt.Sprintf("<anon %s+%#x>", b.section.name, s.offset)
	}
	return "<anon>"
}

// UndefinedSymbolsError reports external symbols no definition was found
// for.
type UndefinedSymbolsError struct {
	Graph string
	Names []string
}

func (e *UndefinedSymbolsError) Error() string {
	what := "symbol"
	if len(e.Names) > 1 {
		what = "symbols"
	}
	if e.Graph == "" {
		return fmt.Sprintf("undefined %s: %s", what, strings.Join(e.Names, ", "))
	}
	return fmt.Sprintf("%s: undefined %s: %s", e.Graph, what, strings.Join(e.Names, ", "))
}
