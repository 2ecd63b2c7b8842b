package elf

import (
	"debug/elf"

	"github.com/gorc-jit/gorc/jitlink"
)

// InterfaceSymbol is a symbol an object defines for other objects to use.
type InterfaceSymbol struct {
	Name     string
	Linkage  jitlink.Linkage
	Scope    jitlink.Scope // ScopeDefault or ScopeHidden
	Callable bool
	Common   bool
	Absolute bool
}

// ReadInterface lists the non-local symbols an object defines, with the
// linkage and scope NewLinkGraph would give them, without building the graph
// (JIT layers use it to learn what an object provides before linking it).
func ReadInterface(name string, data []byte) ([]InterfaceSymbol, error) {
	f, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	b := &builder{f: f, inGroup: make([]bool, len(f.sections)), discard: make([]bool, len(f.sections))}
	if err := b.readGroups(); err != nil {
		return nil, err
	}
	if f.symtab < 0 {
		return nil, nil
	}
	var out []InterfaceSymbol
	for i := 1; i < f.nsyms; i++ {
		shndx, info := f.symSection(i)
		if elf.ST_BIND(info) == elf.STB_LOCAL || shndx == uint32(elf.SHN_UNDEF) {
			continue
		}
		s, err := f.sym(i)
		if err != nil {
			return nil, err
		}
		if s.isUndefined() || s.typ() == elf.STT_SECTION || s.typ() == elf.STT_FILE {
			continue
		}
		linkage, scope, err := b.classify(&s, i)
		if err != nil {
			return nil, err
		}
		is := InterfaceSymbol{Name: s.name, Linkage: linkage, Scope: scope, Callable: s.typ() == elf.STT_FUNC}
		switch {
		case s.reserved == uint16(elf.SHN_ABS):
			is.Absolute = true
		case s.reserved == uint16(elf.SHN_COMMON) || s.reserved == shnX86_64LCommon:
			is.Common, is.Linkage = true, jitlink.Weak
		case s.reserved != 0:
			continue
		default:
			if int(s.shndx) >= len(f.sections) {
				return nil, b.malformed(f.sections[f.symtab].name, int64(i)*symSize, "symbol %q has section index %d out of range", s.name, s.shndx)
			}
			if ok, err := b.loadable(int(s.shndx)); !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		out = append(out, is)
	}
	return out, nil
}
