// Package rtdyld is a RuntimeDyld-style loader: it loads relocatable
// objects into sections a MemoryManager allocates, records their symbols
// and relocations without applying them, lets the client move each section
// to the address it will have in the target process (MapSectionAddress),
// and only then applies the relocations for those addresses
// (ResolveRelocations), hands the .eh_frame section to the memory manager
// and has it finalize the memory.
//
// The loader has no relocation code of its own: an object is read into a
// jitlink.LinkGraph (whose ELF builder maps each relocation to an
// architecture edge kind), each input section becomes a block, and
// relocations are applied with the architecture backend's fixups. GOT
// entries are jitlink's x86-64 table, in a section of the loader's own
// (".got"); a stub for each external function a code section calls is
// placed at the end of that section, as RuntimeDyld does.
//
// A Dyld is not safe for concurrent use.
package rtdyld

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// SectionID numbers the sections of a Dyld, across all its objects.
type SectionID int

// Section is one loaded section: its bytes in this process (Local), where
// it lives in the target (Addr), and the graph blocks laid out in it.
type Section struct {
	ID       SectionID
	Name     string
	Object   *Object
	Local    []byte // working copy, relocations are applied here
	Addr     uint64 // load address in the target
	Align    uint64
	IsCode   bool
	ReadOnly bool
	pieces   []piece
}

// piece is a graph block at an offset of a section.
type piece struct {
	b   *jitlink.Block
	off uint64
}

// reloc is one relocation: edge i of block b.
type reloc struct {
	sec *Section
	b   *jitlink.Block
	i   int
}

// Object is a loaded object file.
type Object struct {
	Name     string // as given to LoadObject
	Sections []*Section
	g        *jitlink.LinkGraph
	// relocations whose target is defined in this object (by section of
	// the target), and those whose target is an external symbol.
	bySection map[*Section][]reloc
	byExtern  map[string][]reloc
	locals    map[string]*jitlink.Symbol // named symbols, local or not
	blockSec  map[*jitlink.Block]*Section
	stubs     map[*jitlink.Block]map[string]*jitlink.Symbol // by callee name
}

// BaseName is the object's file name without its directory, as checks and
// -map-section name it.
func (o *Object) BaseName() string { return filepath.Base(o.Name) }

// Section returns the object's first section named name.
func (o *Object) Section(name string) *Section {
	for _, s := range o.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Dyld loads objects and links them together and against the resolver.
type Dyld struct {
	mm       MemoryManager
	resolver func(name string) (uint64, bool)
	objects  []*Object
	sections []*Section
	globals  map[string]*jitlink.Symbol
	// registered counts the sections RegisterEHFrames has looked at.
	registered int
}

// New returns a loader that allocates with mm and resolves external symbols
// with mm.FindSymbol.
func New(mm MemoryManager) *Dyld {
	return &Dyld{mm: mm, resolver: mm.FindSymbol, globals: make(map[string]*jitlink.Symbol)}
}

// SetResolver replaces the memory manager's symbol lookup for external
// symbols that no loaded object defines.
func (d *Dyld) SetResolver(r func(name string) (uint64, bool)) { d.resolver = r }

// Objects returns the loaded objects in load order.
func (d *Dyld) Objects() []*Object { return d.objects }

// Sections returns every loaded section, indexed by SectionID.
func (d *Dyld) Sections() []*Section { return d.sections }

func addrOf(b []byte) uint64 {
	if cap(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b[:1]))))
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }

// Names of the loader's own sections.
const (
	GOTSectionName    = ".got"
	CommonSectionName = "<common symbols>"
)

// LoadObject reads a relocatable object (ELF x86-64), allocates and fills its
// sections and records its symbols and relocations. Nothing is relocated
// yet. data must not change while the Dyld is in use.
func (d *Dyld) LoadObject(name string, data []byte) (*Object, error) {
	g, err := object.NewLinkGraph(name, data)
	if err != nil {
		return nil, err
	}
	if g.Arch() != triple.X86_64 {
		// Stub placement below is x86-64's; relocation is the target's.
		return nil, fmt.Errorf("%s: %s objects are not supported (x86-64 only)", name, g.Arch())
	}
	o := &Object{Name: name, g: g, bySection: make(map[*Section][]reloc), byExtern: make(map[string][]reloc),
		locals: make(map[string]*jitlink.Symbol), blockSec: make(map[*jitlink.Block]*Section),
		stubs: make(map[*jitlink.Block]map[string]*jitlink.Symbol)}
	o.addStubs()
	// The architecture's table passes lower GOT-requesting edges to GOT
	// entries; relaxation is not run, since relocations may be applied
	// again at other addresses.
	cfg := &jitlink.PassConfig{}
	if err := g.Backend().AddDefaultPasses(g, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, p := range cfg.PostPrune {
		if err := p(g); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	var common []*jitlink.Block
	for _, gs := range g.Sections() {
		switch gs.Name() {
		case ".common", ".lcommon":
			common = append(common, gs.Blocks()...)
		case x86_64.GOTSectionName:
			if err := d.emit(o, GOTSectionName, gs.Prot(), gs.Blocks()); err != nil {
				return nil, err
			}
		default:
			for _, b := range gs.Blocks() {
				if err := d.emit(o, gs.Name(), gs.Prot(), []*jitlink.Block{b}); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(common) > 0 {
		if err := d.emit(o, CommonSectionName, jitlink.ProtRead|jitlink.ProtWrite, common); err != nil {
			return nil, err
		}
	}
	d.addSymbols(o)
	d.recordRelocations(o)
	d.objects = append(d.objects, o)
	if err := d.mm.NotifyObjectLoaded(d, o); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return o, nil
}

// emit allocates one section holding blocks and copies their content in.
func (d *Dyld) emit(o *Object, name string, prot jitlink.MemProt, blocks []*jitlink.Block) error {
	s := &Section{ID: SectionID(len(d.sections)), Name: name, Object: o, Align: 1,
		IsCode: prot&jitlink.ProtExec != 0, ReadOnly: prot&jitlink.ProtWrite == 0}
	var size uint64
	for _, b := range blocks {
		a := max(b.Alignment(), 1)
		s.Align = max(s.Align, a)
		off := alignUp(size, a) + b.AlignmentOffset()
		s.pieces = append(s.pieces, piece{b, off})
		size = off + b.Size()
	}
	if name == ".eh_frame" {
		size += 4 // a zero terminator for the unwinder, as RuntimeDyld adds
	}
	var mem []byte
	var err error
	if s.IsCode {
		mem, err = d.mm.AllocateCodeSection(max(size, 1), s.Align, s.ID, name)
	} else {
		mem, err = d.mm.AllocateDataSection(max(size, 1), s.Align, s.ID, name, s.ReadOnly)
	}
	if err != nil {
		return fmt.Errorf("%s: allocating section %s (%d bytes): %w", o.Name, name, size, err)
	}
	if uint64(len(mem)) < size {
		return fmt.Errorf("%s: memory manager gave section %s %d bytes, not %d", o.Name, name, len(mem), size)
	}
	s.Local = mem[:size]
	s.Addr = addrOf(mem)
	for _, p := range s.pieces {
		local := s.Local[p.off : p.off+p.b.Size()]
		if !p.b.IsZeroFill() {
			copy(local, p.b.Content())
			// Fixups patch the section's working memory directly.
			p.b.SetMutableContent(local)
		}
		o.blockSec[p.b] = s
	}
	o.Sections = append(o.Sections, s)
	d.sections = append(d.sections, s)
	d.place(s)
	return nil
}

// place gives the blocks of s the addresses that follow from s.Addr.
func (d *Dyld) place(s *Section) {
	for _, p := range s.pieces {
		p.b.SetAddress(s.Addr + p.off)
	}
}

// addSymbols enters the object's named symbols in its own table and its
// exported ones in the Dyld's global table (a strong definition replaces a
// weak one; the first of two strong ones wins, as RuntimeDyld keeps it). A
// weak definition that loses becomes an external reference to the winner,
// so that every object agrees on the symbol's address.
func (d *Dyld) addSymbols(o *Object) {
	var lost []*jitlink.Symbol
	for s := range o.g.DefinedSymbols() {
		if !s.HasName() {
			continue
		}
		if _, ok := d.globals[s.Name()]; ok && s.Scope() != jitlink.ScopeLocal && s.Linkage() == jitlink.Weak {
			lost = append(lost, s)
			continue
		}
		if _, ok := o.locals[s.Name()]; !ok {
			o.locals[s.Name()] = s
		}
		if s.Scope() == jitlink.ScopeLocal {
			continue
		}
		if old, ok := d.globals[s.Name()]; ok && !(old.Linkage() == jitlink.Weak && s.Linkage() == jitlink.Strong) {
			continue
		}
		d.globals[s.Name()] = s
	}
	for _, s := range lost {
		o.g.MakeExternal(s)
	}
	for _, s := range o.g.AbsoluteSymbols() {
		if s.HasName() && s.Scope() != jitlink.ScopeLocal {
			if _, ok := d.globals[s.Name()]; !ok {
				d.globals[s.Name()] = s
			}
		}
	}
}

// recordRelocations files every relocation under the section defining its
// target, or under the external symbol it refers to.
func (d *Dyld) recordRelocations(o *Object) {
	for _, s := range o.Sections {
		for _, p := range s.pieces {
			for i, e := range p.b.Edges() {
				if !e.IsRelocation() {
					continue
				}
				r := reloc{s, p.b, i}
				switch t := e.Target; {
				case t.IsExternal():
					o.byExtern[t.Name()] = append(o.byExtern[t.Name()], r)
				case t.Block() != nil:
					ts := o.blockSec[t.Block()]
					o.bySection[ts] = append(o.bySection[ts], r)
				default: // absolute
					o.bySection[nil] = append(o.bySection[nil], r)
				}
			}
		}
	}
}

// MapSectionAddress records that section id will live at addr in the
// target. Relocations are applied for that address by the next
// ResolveRelocations.
func (d *Dyld) MapSectionAddress(id SectionID, addr uint64) error {
	if id < 0 || int(id) >= len(d.sections) {
		return fmt.Errorf("no section %d", id)
	}
	s := d.sections[id]
	s.Addr = addr
	d.place(s)
	return nil
}

// Symbol returns the target address of a symbol an object exports, or, if
// none does, of the first local symbol of that name.
func (d *Dyld) Symbol(name string) (uint64, bool) {
	if s, ok := d.globals[name]; ok {
		return s.Address(), true
	}
	for _, o := range d.objects {
		if s, ok := o.locals[name]; ok {
			return s.Address(), true
		}
	}
	return 0, false
}

// SymbolSection returns the section holding a symbol (for reading its
// bytes locally) and the symbol's offset in it.
func (d *Dyld) SymbolSection(name string) (*Section, uint64, bool) {
	s, ok := d.globals[name]
	for _, o := range d.objects {
		if !ok {
			s = o.locals[name]
		}
		if s == nil || s.Block() == nil {
			continue
		}
		if sec := o.blockSec[s.Block()]; sec != nil {
			for _, p := range sec.pieces {
				if p.b == s.Block() {
					return sec, p.off + s.Offset(), true
				}
			}
		}
	}
	return nil, 0, false
}

// UnresolvedError lists external symbols that neither a loaded object nor
// the resolver defines.
type UnresolvedError struct {
	Object  string
	Symbols []string
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("%s: unresolved external symbols %q", e.Object, e.Symbols)
}

// ResolveRelocations resolves every object's external symbols (loaded
// objects first, then the resolver) and applies all relocations for the
// sections' current addresses. It may be called again after remapping.
func (d *Dyld) ResolveRelocations() error {
	var errs []error
	for _, o := range d.objects {
		var missing []string
		for _, ext := range o.g.ExternalSymbols() {
			addr, ok := d.resolve(ext.Name())
			if !ok {
				if ext.Linkage() == jitlink.Weak {
					addr = 0 // an undefined weak reference is null
				} else {
					missing = append(missing, ext.Name())
					continue
				}
			}
			ext.Addressable().SetAddress(addr)
		}
		if len(missing) > 0 {
			errs = append(errs, &UnresolvedError{o.Name, missing})
			continue
		}
		// In a fixed order, so that errors come out the same every time.
		for _, name := range slices.Sorted(maps.Keys(o.byExtern)) {
			for _, r := range o.byExtern[name] {
				if err := d.apply(o, r); err != nil {
					errs = append(errs, fmt.Errorf("relocation against external symbol %s: %w", name, err))
				}
			}
		}
		for _, target := range append(slices.Clip(o.Sections), nil) { // nil: absolute targets
			for _, r := range o.bySection[target] {
				if err := d.apply(o, r); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (d *Dyld) resolve(name string) (uint64, bool) {
	if s, ok := d.globals[name]; ok {
		return s.Address(), true
	}
	if name == "" || d.resolver == nil {
		return 0, false
	}
	return d.resolver(name)
}

// apply applies one relocation with the architecture's fixup, naming the
// object, section, offset, kind and target symbol if it fails.
func (d *Dyld) apply(o *Object, r reloc) error {
	e := &r.b.Edges()[r.i]
	err := o.g.Backend().ApplyFixup(o.g, r.b, e)
	if fe, ok := errors.AsType[*jitlink.FixupError](err); ok {
		fe.Graph, fe.Section = o.Name, r.sec.Name
		fe.Offset = r.b.Address() - r.sec.Addr + uint64(e.Offset)
	}
	return err
}

// RegisterEHFrames hands each not yet registered .eh_frame section to the
// memory manager.
func (d *Dyld) RegisterEHFrames() error {
	for _, s := range d.sections[d.registered:] {
		d.registered++
		if s.Name == ".eh_frame" {
			if err := d.mm.RegisterEHFrames(s.Addr, s.Local); err != nil {
				return fmt.Errorf("%s: registering .eh_frame: %w", s.Object.Name, err)
			}
		}
	}
	return nil
}

// Finalize does what the design's finalizeObject does: resolve and apply
// relocations, register eh-frames, then finalize the memory (copying it to
// the target, setting permissions, flushing instruction caches).
func (d *Dyld) Finalize() error {
	if err := d.ResolveRelocations(); err != nil {
		return err
	}
	if err := d.RegisterEHFrames(); err != nil {
		return err
	}
	return d.mm.FinalizeMemory()
}

// addStubs gives each code block a stub at its end for every external
// function it calls, as RuntimeDyld places stubs at the end of the calling
// section: the stub is within reach of its callers however sections are
// mapped, and jumps through a GOT entry that holds the callee's address.
func (o *Object) addStubs() {
	g := o.g
	var tables *x86_64.Tables
	for _, sec := range g.Sections() {
		if sec.Prot()&jitlink.ProtExec == 0 {
			continue
		}
		for _, b := range sec.Blocks() {
			if b.IsZeroFill() {
				continue
			}
			n := len(b.Edges())
			for i := 0; i < n; i++ {
				e := b.Edges()[i] // appending stubs may move the edge list
				if e.Kind != x86_64.BranchPCRel32 || !e.Target.IsExternal() {
					continue
				}
				stub := o.stubs[b][e.Target.Name()]
				if stub == nil {
					if tables == nil {
						tables = x86_64.NewTables(g, len(g.ExternalSymbols()))
					}
					off := x86_64.AppendStub(b, tables.GOTEntry(e.Target))
					stub = g.AddAnonymousSymbol(b, off, x86_64.StubSize, jitlink.Callable)
					if o.stubs[b] == nil {
						o.stubs[b] = make(map[string]*jitlink.Symbol)
					}
					o.stubs[b][e.Target.Name()] = stub
				}
				b.Edges()[i].Target = stub
			}
		}
	}
}

// StubAddr returns the target address of the stub through which a section
// of the object calls the external function sym; section "" means any.
func (o *Object) StubAddr(section, sym string) (uint64, bool) {
	for _, s := range o.Sections {
		if section != "" && s.Name != section {
			continue
		}
		for _, p := range s.pieces {
			if stub := o.stubs[p.b][sym]; stub != nil {
				return stub.Address(), true
			}
		}
	}
	return 0, false
}

// GOTAddr returns the target address of the object's GOT entry for the
// symbol named sym.
func (o *Object) GOTAddr(sym string) (uint64, bool) {
	sec := o.g.FindSection(x86_64.GOTSectionName)
	if sec == nil {
		return 0, false
	}
	for _, s := range sec.Symbols() {
		if t := x86_64.TableTarget(s); t != nil && t.Name() == sym {
			return s.Address(), true
		}
	}
	return 0, false
}

// Function is a function symbol of a loaded object.
type Function struct {
	Name       string
	Addr, Size uint64
}

// Functions lists the object's named functions by address.
func (o *Object) Functions() []Function {
	var fs []Function
	for s := range o.g.DefinedSymbols() {
		if s.HasName() && s.IsCallable() {
			fs = append(fs, Function{s.Name(), s.Address(), s.Size()})
		}
	}
	slices.SortFunc(fs, func(a, b Function) int { return cmp.Compare(a.Addr, b.Addr) })
	return fs
}

// Undefined lists the external symbols of loaded objects that no loaded
// object defines (the resolver may still know them), without duplicates.
func (d *Dyld) Undefined() []string {
	var names []string
	seen := make(map[string]bool)
	for _, o := range d.objects {
		for _, ext := range o.g.ExternalSymbols() {
			n := ext.Name()
			if _, ok := d.globals[n]; !ok && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}

// InitSections returns the loaded sections of one kind of initializer or
// finalizer array (".init_array", ".fini_array", ".ctors", ".dtors"), with
// or without a priority suffix, in load order.
func (d *Dyld) InitSections(kind string) []*Section {
	var out []*Section
	for _, s := range d.sections {
		if s.Name == kind || strings.HasPrefix(s.Name, kind+".") {
			out = append(out, s)
		}
	}
	return out
}
