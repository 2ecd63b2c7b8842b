// Package object reads relocatable objects of any format gorc links: it
// looks at an object's magic and hands it to the format's package, as
// LLVM's createLinkGraphFromObject does. JIT layers and tools use it and
// import no format package; a new format is one more case in format.
package object

import (
	"bytes"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// reader is what a format package provides.
type reader struct {
	// newLinkGraph builds the object's graph, reusing what reading its
	// interface (iface, nil if not read) kept.
	newLinkGraph func(name string, data []byte, iface *jitlink.Interface) (*jitlink.LinkGraph, error)
	// readInterface lists what the object defines, without a graph.
	readInterface func(name string, data []byte) (*jitlink.Interface, error)
	// needsLowAddresses reports code that must be linked into the low 2
	// GiB of the address space (32-bit absolute addresses).
	needsLowAddresses func(name string, data []byte) (bool, error)
	// checkArch refuses an object for another architecture than target's.
	checkArch func(name string, data []byte, target triple.Triple) error
	// arch returns the object's architecture.
	arch func(name string, data []byte) (triple.Arch, error)
}

var elfReader = reader{elf.NewLinkGraphWith, elf.ReadInterface, elf.NeedsLowAddresses, elf.CheckMachine, elf.Arch}

// Format returns the object format data is in, from its magic, or
// triple.UnknownFormat.
func Format(data []byte) triple.ObjectFormat {
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return triple.ELF
	case bytes.HasPrefix(data, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(data, []byte{0xce, 0xfa, 0xed, 0xfe}),
		bytes.HasPrefix(data, []byte{0xfe, 0xed, 0xfa, 0xcf}), bytes.HasPrefix(data, []byte{0xfe, 0xed, 0xfa, 0xce}):
		return triple.MachO
	case len(data) >= 2 && isCOFFMachine(uint16(data[0])|uint16(data[1])<<8):
		return triple.COFF
	}
	return triple.UnknownFormat
}

// isCOFFMachine reports the machine types a COFF object starts with that
// gorc could one day link (x86-64, arm64, i386).
func isCOFFMachine(m uint16) bool { return m == 0x8664 || m == 0xaa64 || m == 0x14c }

// format returns the reader for data, or an error naming the file and,
// for formats nobody reads, the magic.
func format(name string, data []byte) (*reader, error) {
	switch f := Format(data); f {
	case triple.ELF:
		return &elfReader, nil
	case triple.UnknownFormat:
		return nil, &jitlink.UnsupportedError{File: name, Offset: -1, What: fmt.Sprintf("object format with magic % x", data[:min(len(data), 4)])}
	default:
		return nil, &jitlink.UnsupportedError{File: name, Offset: -1, What: fmt.Sprintf("%s objects", formatName(f))}
	}
}

func formatName(f triple.ObjectFormat) string {
	switch f {
	case triple.MachO:
		return "Mach-O"
	case triple.COFF:
		return "COFF"
	}
	return string(f)
}

// NewLinkGraph builds the LinkGraph of a relocatable object. name
// identifies it in diagnostics (e.g. "libfoo.a(bar.o)"); the graph refers
// to data, which must not change while the graph is in use.
func NewLinkGraph(name string, data []byte) (*jitlink.LinkGraph, error) {
	r, err := format(name, data)
	if err != nil {
		return nil, err
	}
	return r.newLinkGraph(name, data, nil)
}

// NewLinkGraphWith is NewLinkGraph for an object whose interface
// ReadInterface has read (iface): the format's reader reuses what it
// decoded then (Interface.Parsed) instead of decoding it again.
func NewLinkGraphWith(name string, data []byte, iface *jitlink.Interface) (*jitlink.LinkGraph, error) {
	r, err := format(name, data)
	if err != nil {
		return nil, err
	}
	return r.newLinkGraph(name, data, iface)
}

// ReadInterface lists the symbols an object defines for other objects,
// with the linkage and scope its graph would give them, and whether it has
// initializers, without building the graph.
func ReadInterface(name string, data []byte) (*jitlink.Interface, error) {
	r, err := format(name, data)
	if err != nil {
		return nil, err
	}
	return r.readInterface(name, data)
}

// NeedsLowAddresses reports whether an object's loaded code or data holds
// 32-bit absolute addresses (x86-64 code built with -fno-pic in the small
// code model): it links only into the low 2 GiB of the address space.
func NeedsLowAddresses(name string, data []byte) (bool, error) {
	r, err := format(name, data)
	if err != nil {
		return false, err
	}
	return r.needsLowAddresses(name, data)
}

// CheckArch returns an error naming the file and its machine unless the
// object is for target's architecture, so that a foreign object is refused
// when it is added rather than when it is first linked. Data in no format
// gorc reads passes: reading it reports that.
func CheckArch(name string, data []byte, target triple.Triple) error {
	r, err := format(name, data)
	if err != nil {
		return nil
	}
	return r.checkArch(name, data, target)
}

// Arch returns the architecture an object is for, or an error naming the
// file if gorc cannot read it or does not link for its machine.
func Arch(name string, data []byte) (triple.Arch, error) {
	r, err := format(name, data)
	if err != nil {
		return triple.UnknownArch, err
	}
	return r.arch(name, data)
}
