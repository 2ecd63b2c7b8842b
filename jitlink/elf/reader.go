package elf

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gorc-jit/gorc/jitlink"
)

// Sizes of ELF64 records.
const (
	ehdrSize = 64
	shdrSize = 64
	symSize  = 24
	relaSize = 24
	relSize  = 16
)

// Special section indices and flags not (or not usefully) in debug/elf.
const (
	shnXIndex        = 0xffff
	shnX86_64LCommon = 0xff02
	shfGNURetain     = 0x200000
	shfExclude       = 0x80000000
	stbGNUUnique     = 10
	shtX86_64Unwind  = 0x70000001
	grpComdat        = 1
)

// section is a parsed ELF64 section header (without sh_addr, always 0 in
// relocatable objects and not used).
type section struct {
	name      string
	typ       elf.SectionType
	flags     elf.SectionFlag
	offset    uint64
	size      uint64
	link      uint32
	info      uint32
	addralign uint64
	entsize   uint64
}

// file is a validated view of an ELF64 little-endian relocatable object. It
// does not copy section contents.
type file struct {
	name     string
	data     []byte
	machine  elf.Machine
	sections []section
	symtab   int    // index of SHT_SYMTAB, -1 if none
	strtab   string // symbol names
	shndx    []byte // SHT_SYMTAB_SHNDX contents, if any
	nsyms    int
}

var le = binary.LittleEndian

func (f *file) malformed(sec string, off int64, format string, args ...any) error {
	return &jitlink.MalformedError{File: f.name, Section: sec, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// parsed is what ReadInterface decoded of an object: its headers, string
// tables and COMDAT groups, kept in its Interface for NewLinkGraphWith to
// build the graph from without decoding them again.
type parsed struct {
	f                *file
	inGroup, discard []bool // per section, as builder.readGroups found them
}

// of returns p if p was read from data, else nil.
func (p *parsed) of(data []byte) *parsed {
	if p == nil || len(data) == 0 || &p.f.data[0] != &data[0] || len(p.f.data) != len(data) {
		return nil
	}
	return p
}

func parseFile(name string, data []byte) (*file, error) {
	f := &file{name: name, data: data, symtab: -1}
	if len(data) < ehdrSize || string(data[:4]) != elf.ELFMAG {
		return nil, f.malformed("", -1, "not an ELF file")
	}
	if elf.Class(data[elf.EI_CLASS]) != elf.ELFCLASS64 {
		// e_machine has the same place in both classes: name it, as the
		// user may not know the object is for another machine (i386).
		return nil, &jitlink.UnsupportedError{File: name, Offset: -1, What: fmt.Sprintf("ELF class %s (only ELFCLASS64), machine %s",
			elf.Class(data[elf.EI_CLASS]), elf.Machine(le.Uint16(data[18:])))}
	}
	if elf.Data(data[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return nil, &jitlink.UnsupportedError{File: name, Offset: -1, What: "ELF data encoding " + elf.Data(data[elf.EI_DATA]).String() + " (only little-endian)"}
	}
	if t := elf.Type(le.Uint16(data[16:])); t != elf.ET_REL {
		return nil, &jitlink.UnsupportedError{File: name, Offset: -1, What: "ELF file type " + t.String() + " (only relocatable objects)"}
	}
	f.machine = elf.Machine(le.Uint16(data[18:]))
	shoff := le.Uint64(data[40:])
	shentsize := le.Uint16(data[58:])
	shnum := uint64(le.Uint16(data[60:]))
	shstrndx := uint64(le.Uint16(data[62:]))
	if shoff == 0 {
		return nil, f.malformed("", -1, "no section header table")
	}
	if shentsize != shdrSize {
		return nil, f.malformed("", -1, "section header size %d, want %d", shentsize, shdrSize)
	}
	if shoff > uint64(len(data)) || uint64(len(data))-shoff < shdrSize {
		return nil, f.malformed("", -1, "section header table at %#x is past the end of the file", shoff)
	}
	// Section 0 holds the real counts when they overflow the header fields.
	if shnum == 0 {
		shnum = le.Uint64(data[shoff+32:])
	}
	if shstrndx == shnXIndex {
		shstrndx = uint64(le.Uint32(data[shoff+40:]))
	}
	if shnum == 0 || shnum > (uint64(len(data))-shoff)/shdrSize {
		return nil, f.malformed("", -1, "section header table (%d entries at %#x) does not fit in the file", shnum, shoff)
	}
	f.sections = make([]section, shnum)
	for i := range f.sections {
		h := data[shoff+uint64(i)*shdrSize:]
		s := &f.sections[i]
		*s = section{
			typ:       elf.SectionType(le.Uint32(h[4:])),
			flags:     elf.SectionFlag(le.Uint64(h[8:])),
			offset:    le.Uint64(h[24:]),
			size:      le.Uint64(h[32:]),
			link:      le.Uint32(h[40:]),
			info:      le.Uint32(h[44:]),
			addralign: le.Uint64(h[48:]),
			entsize:   le.Uint64(h[56:]),
		}
		// Section 0 too: a forged one may claim a type and be used.
		if s.typ != elf.SHT_NOBITS && s.typ != elf.SHT_NULL {
			if s.offset > uint64(len(data)) || s.size > uint64(len(data))-s.offset {
				return nil, f.malformed(fmt.Sprintf("#%d", i), -1, "contents [%#x, +%#x) extend past the end of the file", s.offset, s.size)
			}
		}
		if s.addralign > 1 && s.addralign&(s.addralign-1) != 0 {
			return nil, f.malformed(fmt.Sprintf("#%d", i), -1, "alignment %d is not a power of two", s.addralign)
		}
	}
	if shstrndx >= shnum {
		return nil, f.malformed("", -1, "section name table index %d out of range", shstrndx)
	}
	shstr := f.sections[shstrndx]
	if shstr.typ != elf.SHT_STRTAB {
		return nil, f.malformed("", -1, "section name table #%d is not a string table", shstrndx)
	}
	names := string(f.contents(int(shstrndx)))
	for i := range f.sections {
		s := &f.sections[i]
		nameOff := le.Uint32(data[shoff+uint64(i)*shdrSize:])
		n, ok := cstring(names, nameOff)
		if !ok {
			return nil, f.malformed(fmt.Sprintf("#%d", i), -1, "section name offset %#x out of range", nameOff)
		}
		s.name = n
	}
	for i := range f.sections {
		s := &f.sections[i]
		switch s.typ {
		case elf.SHT_SYMTAB:
			if f.symtab >= 0 {
				return nil, f.malformed(s.name, -1, "more than one symbol table")
			}
			if s.entsize != symSize || s.size%symSize != 0 {
				return nil, f.malformed(s.name, -1, "symbol table entry size %d or size %#x is wrong", s.entsize, s.size)
			}
			if uint64(s.link) >= shnum || f.sections[s.link].typ != elf.SHT_STRTAB {
				return nil, f.malformed(s.name, -1, "symbol table's string table index %d is invalid", s.link)
			}
			f.symtab = i
			f.nsyms = int(s.size / symSize)
			f.strtab = string(f.contents(int(s.link)))
		}
	}
	for i := range f.sections {
		s := &f.sections[i]
		if s.typ == elf.SHT_SYMTAB_SHNDX && int(s.link) == f.symtab {
			if s.size/4 < uint64(f.nsyms) {
				return nil, f.malformed(s.name, -1, "extended section index table has %d entries for %d symbols", s.size/4, f.nsyms)
			}
			f.shndx = f.contents(i)
		}
	}
	return f, nil
}

// contents returns a section's bytes (nil for SHT_NOBITS).
func (f *file) contents(i int) []byte {
	s := &f.sections[i]
	if s.typ == elf.SHT_NOBITS {
		return nil
	}
	return f.data[s.offset : s.offset+s.size : s.offset+s.size]
}

func cstring(tab string, off uint32) (string, bool) {
	if uint64(off) >= uint64(len(tab)) {
		return "", off == 0 && len(tab) == 0
	}
	s := tab[off:]
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i], true
	}
	return "", false
}

// symbol is a parsed ELF64 symbol.
type symbol struct {
	name  string
	info  uint8
	other uint8
	shndx uint32 // section index, resolved through SHT_SYMTAB_SHNDX
	// reserved holds a reserved st_shndx (SHN_ABS, SHN_COMMON, ...), 0 if
	// shndx is a real section index (or SHN_UNDEF).
	reserved uint16
	value    uint64
	size     uint64
}

func (s *symbol) bind() elf.SymBind { return elf.ST_BIND(s.info) }
func (s *symbol) typ() elf.SymType  { return elf.ST_TYPE(s.info) }
func (s *symbol) vis() elf.SymVis   { return elf.ST_VISIBILITY(s.other) }
func (s *symbol) isUndefined() bool { return s.reserved == 0 && s.shndx == uint32(elf.SHN_UNDEF) }

// symSection returns symbol i's section index (reserved indices such as
// SHN_ABS come back as they are) and its st_info, without decoding the rest.
func (f *file) symSection(i int) (shndx uint32, info uint8) {
	e := f.data[f.sections[f.symtab].offset+uint64(i)*symSize:]
	shndx = uint32(le.Uint16(e[6:]))
	if shndx == shnXIndex && f.shndx != nil {
		shndx = le.Uint32(f.shndx[4*i:])
	}
	return shndx, e[4]
}

// sym reads symbol i. The caller checks 0 <= i < f.nsyms.
func (f *file) sym(i int) (symbol, error) {
	st := f.sections[f.symtab]
	e := f.data[st.offset+uint64(i)*symSize:]
	s := symbol{
		info:  e[4],
		other: e[5],
		shndx: uint32(le.Uint16(e[6:])),
		value: le.Uint64(e[8:]),
		size:  le.Uint64(e[16:]),
	}
	name, ok := cstring(f.strtab, le.Uint32(e))
	if !ok {
		return s, f.malformed(st.name, int64(i)*symSize, "symbol %d: name offset %#x out of range", i, le.Uint32(e))
	}
	s.name = name
	switch {
	case s.shndx == shnXIndex:
		if f.shndx == nil {
			return s, f.malformed(st.name, int64(i)*symSize, "symbol %q uses SHN_XINDEX but there is no SHT_SYMTAB_SHNDX section", name)
		}
		s.shndx = le.Uint32(f.shndx[4*i:])
	case s.shndx >= uint32(elf.SHN_LORESERVE):
		s.reserved, s.shndx = uint16(s.shndx), 0
	}
	return s, nil
}
