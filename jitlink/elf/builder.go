// Package elf builds LinkGraphs from ELF relocatable objects. The builder is
// format-generic; each architecture supplies its relocation mapping and link
// backend (elf_x86_64.go).
package elf

import (
	"debug/elf"
	"fmt"
	"strings"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/ehframe"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// NewLinkGraph parses an ELF relocatable object and builds its LinkGraph.
// name identifies the object in diagnostics (e.g. "libfoo.a(bar.o)"). The
// graph refers to data without copying it: data must not change while the
// graph is in use.
func NewLinkGraph(name string, data []byte) (*jitlink.LinkGraph, error) {
	return newLinkGraph(name, data, nil)
}

// NewLinkGraphWith is NewLinkGraph for an object whose interface
// ReadInterface has read: it starts from the headers, tables and groups
// that read decoded (iface may be nil, or for other bytes: then it reads
// them again).
func NewLinkGraphWith(name string, data []byte, iface *jitlink.Interface) (*jitlink.LinkGraph, error) {
	var p *parsed
	if iface != nil {
		p, _ = iface.Parsed.(*parsed)
	}
	return newLinkGraph(name, data, p.of(data))
}

func newLinkGraph(name string, data []byte, p *parsed) (*jitlink.LinkGraph, error) {
	var f *file
	if p != nil {
		f = p.f
		if f.name != name {
			named := *f
			named.name = name
			f = &named
		}
	} else {
		var err error
		if f, err = parseFile(name, data); err != nil {
			return nil, err
		}
	}
	a := archFor(func(a *arch) bool { return a.machine == f.machine })
	if a == nil {
		return nil, &jitlink.UnsupportedError{File: name, Offset: -1, What: "ELF machine " + f.machine.String()}
	}
	b := &builder{f: f, arch: a}
	if p != nil {
		b.inGroup, b.discard = p.inGroup, p.discard
	}
	return b.build()
}

// arches are the architectures the ELF reader knows, each in its own
// file (elf_x86_64.go, elf_aarch64.go).
var arches = [...]*arch{archX86_64, archAArch64}

// archFor returns the first of arches that matches, or nil.
func archFor(match func(*arch) bool) *arch {
	for _, a := range arches {
		if match(a) {
			return a
		}
	}
	return nil
}

// arch is what the ELF reader needs from an architecture.
type arch struct {
	arch    triple.Arch
	machine elf.Machine // e_machine
	// tpoff64 is the relocation type that asks the dynamic loader for a
	// TLS symbol's 64-bit offset from the thread pointer (StaticTLSLibrary).
	tpoff64 uint32
	// absolute32 reports the relocation types that store a 32-bit
	// absolute address (NeedsLowAddresses); nil if there are none.
	absolute32 func(rtype uint32) bool
	// newBackend returns the link backend for one graph.
	newBackend func() backend
	// edge maps a relocation type to an edge kind and the size of the field
	// it patches. skip is true for relocations that patch nothing.
	edge func(b *builder, rtype uint32, sec string, off uint64) (kind jitlink.EdgeKind, size int, skip bool, err error)
	// ehFrame are the edge kinds splitting .eh_frame adds.
	ehFrame ehframe.Kinds
}

// backend is a jitlink.Backend that can also adjust edges at build time.
type backend interface {
	jitlink.Backend
	// fixTarget lets the backend replace an edge's target (e.g. relocations
	// that implicitly refer to the GOT base).
	fixTarget(b *builder, kind jitlink.EdgeKind, rtype uint32, target *jitlink.Symbol) *jitlink.Symbol
}

type builder struct {
	f    *file
	g    *jitlink.LinkGraph
	arch *arch
	be   backend

	blocks  []*jitlink.Block  // per ELF section: its block, nil if not loaded
	secSyms []*jitlink.Symbol // per ELF section: anonymous symbol at offset 0
	inGroup []bool            // per ELF section: member of a COMDAT group
	discard []bool            // per ELF section: member of a duplicate COMDAT group
	syms    []*jitlink.Symbol // per ELF symbol
	// extraEdges[i] is room to leave in section i's edge list for the edges
	// splitting .eh_frame adds (see presize).
	extraEdges []int
	absZero    *jitlink.Symbol
	byName     map[string]*jitlink.Section // see findSection
	common     map[string]*jitlink.Section
}

func (b *builder) malformed(sec string, off int64, format string, args ...any) error {
	return b.f.malformed(sec, off, format, args...)
}

func (b *builder) unsupported(sec string, off int64, format string, args ...any) error {
	return &jitlink.UnsupportedError{File: b.f.name, Section: sec, Offset: off, What: fmt.Sprintf(format, args...)}
}

// tripleFor names the OS of an object whose header says which: FreeBSD
// objects carry its OS ABI; the others (System V, GNU) are taken as Linux.
func tripleFor(arch triple.Arch, abi elf.OSABI) triple.Triple {
	if abi == elf.ELFOSABI_FREEBSD {
		return triple.New(arch, triple.UnknownVendor, triple.FreeBSD, triple.NoEnvironment)
	}
	return triple.New(arch, triple.UnknownVendor, triple.Linux, triple.GNU)
}

func (b *builder) build() (*jitlink.LinkGraph, error) {
	f := b.f
	b.be = b.arch.newBackend()
	b.g = jitlink.NewLinkGraph(f.name, tripleFor(b.arch.arch, elf.OSABI(f.data[elf.EI_OSABI])), b.be)
	n := len(f.sections)
	b.blocks = make([]*jitlink.Block, n)
	b.secSyms = make([]*jitlink.Symbol, n)
	b.syms = make([]*jitlink.Symbol, f.nsyms)
	if b.inGroup == nil { // else ReadInterface has read them
		b.inGroup = make([]bool, n)
		b.discard = make([]bool, n)
		if err := b.readGroups(); err != nil {
			return nil, err
		}
	}
	perSection := b.presize()
	if err := b.createBlocks(); err != nil {
		return nil, err
	}
	for i, n := range perSection {
		if n > 0 && b.blocks[i] != nil {
			b.blocks[i].Section().GrowSymbols(n)
		}
	}
	if err := b.createSymbols(); err != nil {
		return nil, err
	}
	if err := b.addRelocations(); err != nil {
		return nil, err
	}
	// Split .eh_frame here rather than in a pre-prune pass: a set of
	// archive members is built in parallel, one graph per goroutine, and
	// merged after (see docs/jitlink.md).
	if err := ehframe.SplitAndFix(".eh_frame", b.arch.ehFrame)(b.g); err != nil {
		return nil, err
	}
	return b.g, nil
}

// readGroups records COMDAT group membership. The first group of a signature
// in an object wins; sections of later duplicates are not loaded. Across
// objects, group members' global symbols are given weak linkage, so the first
// group a JITDylib sees wins and later copies are dead-stripped.
func (b *builder) readGroups() error {
	f := b.f
	var seen map[string]bool
	for i := range f.sections {
		s := &f.sections[i]
		if s.typ != elf.SHT_GROUP {
			continue
		}
		c := f.contents(i)
		if len(c) < 4 || len(c)%4 != 0 {
			return b.malformed(s.name, -1, "group section size %d is not a positive multiple of 4", len(c))
		}
		if le.Uint32(c)&grpComdat == 0 {
			continue
		}
		if int(s.link) != f.symtab || f.symtab < 0 || int(s.info) >= f.nsyms {
			return b.malformed(s.name, -1, "group signature symbol %d is invalid", s.info)
		}
		sig, err := f.sym(int(s.info))
		if err != nil {
			return err
		}
		dup := seen[sig.name]
		if seen == nil {
			seen = make(map[string]bool)
		}
		seen[sig.name] = true
		for j := 4; j < len(c); j += 4 {
			m := le.Uint32(c[j:])
			if m == 0 || int(m) >= len(f.sections) {
				return b.malformed(s.name, int64(j), "group member section index %d out of range", m)
			}
			b.inGroup[m] = true
			if dup {
				b.discard[m] = true
			}
		}
	}
	return nil
}

// IsInitSection reports whether a section holds initializers or finalizers
// that a platform runs (and so must survive dead-stripping): .init_array,
// .fini_array, .preinit_array, .ctors and .dtors, with or without a
// priority suffix.
func IsInitSection(name string) bool {
	for _, p := range [...]string{".init_array", ".fini_array", ".preinit_array", ".ctors", ".dtors"} {
		// No p+"." here: it allocated for every section of every graph.
		if strings.HasPrefix(name, p) && (len(name) == len(p) || name[len(p)] == '.') {
			return true
		}
	}
	return false
}

// loadable reports whether section i becomes part of the graph: allocatable,
// not excluded, not in a duplicate COMDAT group, and of a kind gorc links.
func (b *builder) loadable(i int) (bool, error) {
	s := &b.f.sections[i]
	if s.flags&elf.SHF_ALLOC == 0 || s.flags&shfExclude != 0 || b.discard[i] {
		return false, nil
	}
	switch s.typ {
	case elf.SHT_PROGBITS, elf.SHT_NOBITS, elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY,
		elf.SHT_PREINIT_ARRAY, elf.SHT_NOTE, shtX86_64Unwind:
		return true, nil
	}
	return false, b.unsupported(s.name, -1, "allocatable section of type %v", s.typ)
}

func (b *builder) createBlocks() error {
	f := b.f
	var addr uint64
	for i := range f.sections {
		s := &f.sections[i]
		if ok, err := b.loadable(i); !ok {
			if err != nil {
				return err
			}
			continue
		}
		if s.size > 1<<32-1 {
			return b.unsupported(s.name, -1, "section size %#x (4 GiB or more)", s.size)
		}
		sec := b.findSection(s.name)
		if sec == nil {
			prot := jitlink.ProtRead
			if s.flags&elf.SHF_WRITE != 0 {
				prot |= jitlink.ProtWrite
			}
			if s.flags&elf.SHF_EXECINSTR != 0 {
				prot |= jitlink.ProtExec
			}
			sec = b.g.CreateSection(s.name, prot)
			if s.flags&elf.SHF_TLS != 0 {
				// A template of per-thread data: initialized data is
				// needed (fixed up) until the TLS platform has copied
				// it; zero-fill data is never allocated.
				sec.SetTLS(true)
				if s.typ == elf.SHT_NOBITS {
					sec.SetLifetime(jitlink.LifetimeNoAlloc)
				} else {
					sec.SetLifetime(jitlink.LifetimeFinalize)
				}
			}
			if b.byName != nil {
				b.byName[s.name] = sec
			}
		}
		align := max(s.addralign, 1)
		// Give each section a distinct original address, so blocks keep their
		// input order and graph dumps read well.
		addr = (addr + align - 1) &^ (align - 1)
		var blk *jitlink.Block
		if s.typ == elf.SHT_NOBITS {
			blk = b.g.CreateZeroFillBlock(sec, s.size, addr, align, 0)
		} else {
			blk = b.g.CreateContentBlock(sec, f.contents(i), addr, align, 0)
		}
		addr += s.size
		b.blocks[i] = blk
		if IsInitSection(s.name) || s.flags&shfGNURetain != 0 {
			b.g.AddAnonymousSymbol(blk, 0, 0, jitlink.Live)
		}
	}
	return nil
}

// findSection returns the graph section named name that createBlocks has
// made, or nil. Most objects have a dozen distinct section names: they are
// searched in order, and only objects with many (-ffunction-sections) get
// a map.
func (b *builder) findSection(name string) *jitlink.Section {
	if b.byName != nil {
		return b.byName[name]
	}
	secs := b.g.Sections()
	if len(secs) < 16 {
		for _, sec := range secs {
			if sec.Name() == name {
				return sec
			}
		}
		return nil
	}
	b.byName = make(map[string]*jitlink.Section, 2*len(secs))
	for _, sec := range secs {
		b.byName[sec.Name()] = sec
	}
	return b.byName[name]
}

// presize counts what the graph is about to hold and reserves it, so that
// symbols, blocks and external addresses are allocated once at their
// final size, with room for the blocks and symbols splitting .eh_frame
// makes and the edges it adds (a keep-alive edge per FDE in the block of
// the code it describes, a CIE pointer edge per record). It returns the
// number of symbols each section will define.
func (b *builder) presize() (perSection []int) {
	f := b.f
	b.extraEdges = make([]int, len(f.sections))
	perSection = make([]int, len(f.sections))
	loaded := 0
	for i := range f.sections {
		if ok, _ := b.loadable(i); ok {
			loaded++
			perSection[i] = 1 // its section symbol
		}
	}
	external, common, frames := 1, 0, 0 // the absolute 0 of relocations without a symbol
	if f.symtab >= 0 {
		for i := 1; i < f.nsyms; i++ {
			shndx, info := f.symSection(i)
			switch {
			case elf.ST_TYPE(info) == elf.STT_SECTION || elf.ST_TYPE(info) == elf.STT_FILE:
			case shndx == uint32(elf.SHN_UNDEF) || shndx == uint32(elf.SHN_ABS):
				external++
			case shndx == uint32(elf.SHN_COMMON) || shndx == shnX86_64LCommon:
				common++
			case int(shndx) < len(perSection) && perSection[shndx] > 0:
				perSection[shndx]++
			}
		}
		for i := range f.sections {
			rs := &f.sections[i]
			if rs.typ != elf.SHT_RELA || int(rs.info) >= len(f.sections) || f.sections[rs.info].name != ".eh_frame" ||
				rs.entsize != relaSize || perSection[rs.info] == 0 {
				continue
			}
			c := f.contents(i)
			frames += len(c) / relaSize
			// Room for the CIE pointer edge of each record the split
			// makes (one per relocation, plus CIEs without any), which
			// it carves from the section's edges.
			b.extraEdges[rs.info] += len(c)/relaSize + 2
			for j := 0; j+relaSize <= len(c); j += relaSize {
				if idx := int(le.Uint64(c[j+8:]) >> 32); idx > 0 && idx < f.nsyms {
					if shndx, _ := f.symSection(idx); int(shndx) < len(b.extraEdges) {
						b.extraEdges[shndx]++
					}
				}
			}
		}
	}
	symbols := external + common
	for _, n := range perSection {
		symbols += n
	}
	// A record per relocation of .eh_frame (each FDE has one, for its
	// code), its CIE and the terminator, all with a symbol.
	if frames > 0 {
		frames += 2
	}
	b.g.Reserve(symbols+frames, loaded+common+frames, external)
	return perSection
}

func (b *builder) commonSection(name string) *jitlink.Section {
	if sec := b.common[name]; sec != nil {
		return sec
	}
	if b.common == nil {
		b.common = make(map[string]*jitlink.Section)
	}
	sec := b.g.CreateSection(name, jitlink.ProtRead|jitlink.ProtWrite)
	b.common[name] = sec
	return sec
}

func (b *builder) createSymbols() error {
	f := b.f
	if f.symtab < 0 {
		return nil
	}
	symtabName := f.sections[f.symtab].name
	for i := 1; i < f.nsyms; i++ {
		s, err := f.sym(i)
		if err != nil {
			return err
		}
		off := int64(i) * symSize
		typ := s.typ()
		if typ == elf.STT_FILE || typ == elf.STT_SECTION {
			continue
		}
		linkage, scope, err := b.classify(&s, i)
		if err != nil {
			return err
		}
		switch {
		case s.isUndefined():
			if s.name == "" {
				return b.malformed(symtabName, off, "undefined symbol %d has no name", i)
			}
			if scope == jitlink.ScopeLocal {
				return b.malformed(symtabName, off, "undefined symbol %q is local", s.name)
			}
			b.syms[i] = b.g.AddExternalSymbol(s.name, 0, linkage)
		case s.reserved == uint16(elf.SHN_ABS):
			b.syms[i] = b.g.AddAbsoluteSymbol(s.name, s.value, s.size, linkage, scope, jitlink.NoAttrs)
		case s.reserved == uint16(elf.SHN_COMMON) || s.reserved == shnX86_64LCommon:
			align := max(s.value, 1)
			if align&(align-1) != 0 {
				return b.malformed(symtabName, off, "common symbol %q has alignment %d, not a power of two", s.name, align)
			}
			secName := ".common"
			if s.reserved == shnX86_64LCommon {
				secName = ".lcommon"
			}
			b.syms[i] = b.g.AddCommonSymbol(s.name, scope, b.commonSection(secName), 0, s.size, align, jitlink.NoAttrs)
		case s.reserved != 0:
			return b.unsupported(symtabName, off, "symbol %q has reserved section index %#x", s.name, s.reserved)
		default:
			if int(s.shndx) >= len(f.sections) {
				return b.malformed(symtabName, off, "symbol %q has section index %d out of range", s.name, s.shndx)
			}
			blk := b.blocks[s.shndx]
			if blk == nil {
				continue // in a section that is not loaded (debug info, a discarded group)
			}
			if typ == elf.STT_GNU_IFUNC {
				return b.unsupported(symtabName, off, "indirect function symbol %q (STT_GNU_IFUNC)", s.name)
			}
			if s.value > blk.Size() {
				return b.malformed(symtabName, off, "symbol %q at offset %#x is past the end of section %s (size %#x)",
					s.name, s.value, f.sections[s.shndx].name, blk.Size())
			}
			attrs := jitlink.NoAttrs
			if typ == elf.STT_FUNC {
				attrs = jitlink.Callable
			}
			b.syms[i] = b.g.AddDefinedSymbol(blk, s.value, s.name, s.size, linkage, scope, attrs)
		}
	}
	return nil
}

// classify returns the linkage and scope symbol i gets in the graph. Global
// symbols defined in COMDAT group sections are weak: across objects, the
// first group wins.
func (b *builder) classify(s *symbol, i int) (jitlink.Linkage, jitlink.Scope, error) {
	linkage, scope := jitlink.Strong, jitlink.ScopeDefault
	switch s.bind() {
	case elf.STB_LOCAL:
		return linkage, jitlink.ScopeLocal, nil
	case elf.STB_GLOBAL:
	case elf.STB_WEAK, stbGNUUnique:
		linkage = jitlink.Weak
	default:
		return 0, 0, b.unsupported(b.f.sections[b.f.symtab].name, int64(i)*symSize, "symbol %q has binding %v", s.name, s.bind())
	}
	switch s.vis() {
	case elf.STV_HIDDEN, elf.STV_INTERNAL:
		scope = jitlink.ScopeHidden
	}
	if s.reserved == 0 && int(s.shndx) < len(b.inGroup) && b.inGroup[s.shndx] {
		linkage = jitlink.Weak
	}
	return linkage, scope, nil
}

// target returns the graph symbol a relocation refers to.
func (b *builder) target(idx uint32, sec string, off uint64) (*jitlink.Symbol, error) {
	f := b.f
	if idx == 0 {
		if b.absZero == nil {
			b.absZero = b.g.AddAbsoluteSymbol("", 0, 0, jitlink.Strong, jitlink.ScopeLocal, jitlink.NoAttrs)
		}
		return b.absZero, nil
	}
	if int(idx) >= f.nsyms {
		return nil, b.malformed(sec, int64(off), "relocation refers to symbol %d of %d", idx, f.nsyms)
	}
	if s := b.syms[idx]; s != nil {
		return s, nil
	}
	s, err := f.sym(int(idx))
	if err != nil {
		return nil, err
	}
	if s.typ() == elf.STT_SECTION && s.reserved == 0 && int(s.shndx) < len(f.sections) {
		if blk := b.blocks[s.shndx]; blk != nil {
			if b.secSyms[s.shndx] == nil {
				b.secSyms[s.shndx] = b.g.AddAnonymousSymbol(blk, 0, 0, jitlink.NoAttrs)
			}
			// Most relocations name a section symbol: remember it, so the
			// next ones skip decoding the entry and scanning its name.
			b.syms[idx] = b.secSyms[s.shndx]
			return b.syms[idx], nil
		}
	}
	name := s.name
	if s.typ() == elf.STT_SECTION && int(s.shndx) < len(f.sections) {
		name = "section " + f.sections[s.shndx].name
	}
	return nil, b.malformed(sec, int64(off), "relocation refers to %q, which is in a section that is not loaded", name)
}

func (b *builder) addRelocations() error {
	f := b.f
	for i := range f.sections {
		rs := &f.sections[i]
		if rs.typ != elf.SHT_RELA && rs.typ != elf.SHT_REL {
			continue
		}
		if int(rs.info) >= len(f.sections) {
			return b.malformed(rs.name, -1, "relocations apply to section %d of %d", rs.info, len(f.sections))
		}
		blk := b.blocks[rs.info]
		if blk == nil {
			continue // relocations for a section that is not loaded
		}
		if int(rs.link) != f.symtab {
			return b.malformed(rs.name, -1, "relocation section's symbol table %d is not the symbol table", rs.link)
		}
		entSize := uint64(relaSize)
		if rs.typ == elf.SHT_REL {
			entSize = relSize
		}
		if rs.entsize != entSize || rs.size%entSize != 0 {
			return b.malformed(rs.name, -1, "relocation entry size %d or section size %#x is wrong", rs.entsize, rs.size)
		}
		target := f.sections[rs.info].name
		if blk.IsZeroFill() {
			return b.malformed(rs.name, -1, "relocations apply to %s, which has no contents", target)
		}
		c := f.contents(i)
		count := len(c) / int(entSize)
		edges := blk.Edges()
		if edges == nil {
			edges = make([]jitlink.Edge, 0, count+b.extraEdges[rs.info])
		}
		content := blk.Content()
		for j := 0; j < count; j++ {
			r := c[j*int(entSize):]
			off := le.Uint64(r)
			info := le.Uint64(r[8:])
			rtype, symIdx := uint32(info), uint32(info>>32)
			kind, size, skip, err := b.arch.edge(b, rtype, target, off)
			if err != nil {
				return err
			}
			if skip {
				continue
			}
			if off > uint64(len(content)) || uint64(len(content))-off < uint64(size) {
				return b.malformed(target, int64(off), "relocation %s patches %d bytes past the end of the section (size %#x)",
					relocName(f.machine, rtype), size, len(content))
			}
			var addend int64
			if rs.typ == elf.SHT_RELA {
				addend = int64(le.Uint64(r[16:]))
			} else {
				addend = implicitAddend(content[off:], size)
			}
			sym, err := b.target(symIdx, target, off)
			if err != nil {
				return err
			}
			sym = b.be.fixTarget(b, kind, rtype, sym)
			edges = append(edges, jitlink.Edge{Target: sym, Addend: addend, Offset: uint32(off), Kind: kind})
		}
		blk.SetEdges(edges)
	}
	return nil
}

func implicitAddend(p []byte, size int) int64 {
	switch size {
	case 1:
		return int64(int8(p[0]))
	case 2:
		return int64(int16(le.Uint16(p)))
	case 4:
		return int64(int32(le.Uint32(p)))
	case 8:
		return int64(le.Uint64(p))
	}
	return 0
}

func relocName(m elf.Machine, t uint32) string {
	switch m {
	case elf.EM_X86_64:
		return elf.R_X86_64(t).String()
	case elf.EM_AARCH64:
		return elf.R_AARCH64(t).String()
	}
	return fmt.Sprintf("type %d", t)
}
