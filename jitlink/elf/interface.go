package elf

import (
	"debug/elf"

	"github.com/gorc-jit/gorc/jitlink"
)

// ReadInterface lists the non-local symbols an object defines, with the
// linkage and scope NewLinkGraph would give them, without building the graph
// (JIT layers use it to learn what an object provides before linking it).
func ReadInterface(name string, data []byte) (*jitlink.Interface, error) {
	f, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	b := &builder{f: f, inGroup: make([]bool, len(f.sections)), discard: make([]bool, len(f.sections))}
	if err := b.readGroups(); err != nil {
		return nil, err
	}
	iface := &jitlink.Interface{Parsed: &parsed{f: f, inGroup: b.inGroup, discard: b.discard}}
	for i := range f.sections {
		if ok, _ := b.loadable(i); ok {
			iface.HasInitializers = iface.HasInitializers || IsInitSection(f.sections[i].name)
			iface.HasTLS = iface.HasTLS || f.sections[i].flags&elf.SHF_TLS != 0
		}
		if s := &f.sections[i]; s.name == ".note.GNU-stack" && s.flags&elf.SHF_EXECINSTR != 0 {
			iface.ExecutableStack = true
		}
	}
	if f.symtab < 0 {
		return iface, nil
	}
	// Count first: the lists are made at their size, not grown.
	var defined, undefined, locals int
	for i := 1; i < f.nsyms; i++ {
		switch shndx, info := f.symSection(i); {
		case shndx == uint32(elf.SHN_UNDEF):
			undefined++
		case elf.ST_BIND(info) == elf.STB_LOCAL:
			if t := elf.ST_TYPE(info); t == elf.STT_FUNC || t == elf.STT_OBJECT || t == elf.STT_NOTYPE {
				locals++
			}
		default:
			defined++
		}
	}
	out := make([]jitlink.InterfaceSymbol, 0, defined)
	iface.Undefined = make([]string, 0, undefined)
	iface.Locals = make([]string, 0, locals)
	for i := 1; i < f.nsyms; i++ {
		shndx, info := f.symSection(i)
		if shndx == uint32(elf.SHN_UNDEF) {
			if s, err := f.sym(i); err == nil && s.name != "" && s.isUndefined() {
				iface.Undefined = append(iface.Undefined, s.name)
				if s.bind() == elf.STB_WEAK {
					iface.WeakUndefined = append(iface.WeakUndefined, s.name)
				}
			}
			continue
		}
		if elf.ST_BIND(info) == elf.STB_LOCAL {
			if t := elf.ST_TYPE(info); t == elf.STT_FUNC || t == elf.STT_OBJECT || t == elf.STT_NOTYPE {
				if s, err := f.sym(i); err == nil && s.name != "" && s.reserved == 0 && int(s.shndx) < len(f.sections) {
					if ok, _ := b.loadable(int(s.shndx)); ok {
						iface.Locals = append(iface.Locals, s.name)
					}
				}
			}
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
		is := jitlink.InterfaceSymbol{Name: s.name, Linkage: linkage, Scope: scope, Callable: s.typ() == elf.STT_FUNC}
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
	iface.Symbols = out
	return iface, nil
}

// NeedsLowAddresses reports whether an object holds 32-bit absolute
// relocations in memory it loads (x86-64's R_X86_64_32 and 32S, from code
// built with -fno-pic in the small code model): it links only into memory
// in the low 2 GiB of the address space.
func NeedsLowAddresses(name string, data []byte) (bool, error) {
	f, err := parseFile(name, data)
	if err != nil {
		return false, err
	}
	a := archFor(func(a *arch) bool { return a.machine == f.machine })
	if a == nil || a.absolute32 == nil {
		return false, nil
	}
	for i, s := range f.sections {
		if s.typ != elf.SHT_RELA || int(s.info) >= len(f.sections) || f.sections[s.info].flags&elf.SHF_ALLOC == 0 {
			continue // debug info uses 32-bit absolute relocations too, but is not loaded
		}
		rel := f.contents(i)
		for off := 0; off+24 <= len(rel); off += 24 {
			if a.absolute32(le.Uint32(rel[off+8:])) {
				return true, nil
			}
		}
	}
	return false, nil
}
