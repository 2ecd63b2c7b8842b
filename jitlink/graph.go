// Package jitlink is gorc's JIT linker: it turns relocatable objects into
// linked memory through a LinkGraph, a format- and architecture-neutral model of
// sections, content blocks, symbols and relocation edges.
//
// A format package (jitlink/elf) builds a graph from an object file; an
// architecture package (jitlink/x86_64) supplies edge kinds, fixups and the
// GOT/PLT passes; Link runs the generic link algorithm over the graph with a
// Context that resolves external symbols and receives the result.
//
// A LinkGraph is not safe for concurrent use: one goroutine at a time owns it
// (Link hands it from phase to phase).
package jitlink

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math/bits"
	"slices"
	"strings"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Linkage says whether a definition may be overridden by another one.
type Linkage uint8

const (
	Strong Linkage = iota
	Weak
)

func (l Linkage) String() string {
	if l == Weak {
		return "weak"
	}
	return "strong"
}

// Scope says who can see a symbol.
type Scope uint8

const (
	// ScopeDefault symbols are visible everywhere (exported).
	ScopeDefault Scope = iota
	// ScopeHidden symbols are visible within the same simulated dylib only.
	ScopeHidden
	// ScopeLocal symbols are visible within the same graph only.
	ScopeLocal
)

func (s Scope) String() string {
	switch s {
	case ScopeHidden:
		return "hidden"
	case ScopeLocal:
		return "local"
	}
	return "default"
}

// MemProt is a set of memory protections.
type MemProt uint8

const (
	ProtRead MemProt = 1 << iota
	ProtWrite
	ProtExec
)

func (p MemProt) String() string {
	b := []byte("---")
	if p&ProtRead != 0 {
		b[0] = 'R'
	}
	if p&ProtWrite != 0 {
		b[1] = 'W'
	}
	if p&ProtExec != 0 {
		b[2] = 'X'
	}
	return string(b)
}

// Lifetime says how long a section's memory is needed.
type Lifetime uint8

const (
	// LifetimeStandard memory lives until the allocation is deallocated.
	LifetimeStandard Lifetime = iota
	// LifetimeFinalize memory is needed only until finalization completes
	// (e.g. data read by finalize actions). It is allocated and fixed up, then
	// released once the allocation is finalized.
	LifetimeFinalize
	// LifetimeNoAlloc sections are not allocated at all (metadata kept only in
	// the graph, such as debug info a pass wants to read).
	LifetimeNoAlloc
)

// Addressable is a node of the graph that can be given an address in the
// executor: a Block, or the target of an external or absolute symbol.
type Addressable struct {
	addr    uint64
	block   *Block // non-nil when this Addressable is a block's
	defined bool   // false for external symbols' targets
}

// Address returns the node's address in the executor (for blocks: the
// original object address until memory is allocated).
func (a *Addressable) Address() uint64 { return a.addr }

// SetAddress sets the node's address.
func (a *Addressable) SetAddress(addr uint64) { a.addr = addr }

// IsDefined reports whether the node is defined in the graph (a block or an
// absolute value) rather than external.
func (a *Addressable) IsDefined() bool { return a.defined }

// EdgeKind describes how an edge patches content. Kinds below FirstArchKind
// are generic; architectures define their own from FirstArchKind up.
type EdgeKind uint8

const (
	// InvalidEdge is the zero kind; a graph must never contain it.
	InvalidEdge EdgeKind = iota
	// KeepAlive keeps its target live while the source block is live; it
	// patches nothing (e.g. function -> its eh-frame FDE).
	KeepAlive
	// FirstArchKind is the first architecture-specific kind.
	FirstArchKind
)

// Edge is a relocation: patch the containing block at Offset according to
// Kind, using the address of Target and Addend.
type Edge struct {
	Target *Symbol
	Addend int64
	Offset uint32
	Kind   EdgeKind
}

// IsRelocation reports whether the edge patches content.
func (e *Edge) IsRelocation() bool { return e.Kind >= FirstArchKind }

// Block is a contiguous chunk of content (or zero-fill) that is laid out as a
// unit.
//
// A graph holds one per section of each object and one per .eh_frame
// record, tens of thousands in a large link: the small fields share the
// last word (the alignment as its log2), 104 bytes in all.
type Block struct {
	Addressable
	section     *Section
	content     []byte // nil for zero-fill blocks
	size        uint64
	alignOffset uint64
	edges       []Edge
	index       int32 // position in section.blocks
	alignLog    uint8 // log2 of the alignment
	mutable     bool  // content is owned by the graph (or working memory)
	visited     bool  // scratch flag for the pruner
}

// log2Align returns the log2 of the smallest power of two >= align.
func log2Align(align uint64) uint8 {
	if align <= 1 {
		return 0
	}
	return uint8(bits.Len64(align - 1))
}

// Section returns the block's section.
func (b *Block) Section() *Section { return b.section }

// Size returns the block's size in bytes.
func (b *Block) Size() uint64 { return b.size }

// Alignment returns the block's required alignment (a power of two).
func (b *Block) Alignment() uint64 { return 1 << b.alignLog }

// AlignmentOffset returns the required offset from the alignment:
// Address() % Alignment() == AlignmentOffset().
func (b *Block) AlignmentOffset() uint64 { return b.alignOffset }

// SetAlignment sets the alignment (rounded up to a power of two) and
// alignment offset.
func (b *Block) SetAlignment(align, offset uint64) {
	b.alignLog = log2Align(align)
	b.alignOffset = offset % b.Alignment()
}

// IsZeroFill reports whether the block has no content (all zeroes).
func (b *Block) IsZeroFill() bool { return b.content == nil }

// Content returns the block's content. It must not be modified: it may alias
// the input object. Use MutableContent to change it.
func (b *Block) Content() []byte { return b.content }

// MutableContent returns content owned by the graph, copying the original
// content on first use. For a zero-fill block it returns nil.
func (b *Block) MutableContent() []byte {
	if b.content != nil && !b.mutable {
		b.content = append([]byte(nil), b.content...)
		b.mutable = true
	}
	return b.content
}

// SetContent replaces the block's content (and size). The slice is not copied
// and is treated as read-only until MutableContent is called.
func (b *Block) SetContent(c []byte) {
	b.content, b.size, b.mutable = c, uint64(len(c)), false
}

// SetMutableContent replaces the block's content with a slice the caller
// hands over to the graph.
func (b *Block) SetMutableContent(c []byte) {
	b.content, b.size, b.mutable = c, uint64(len(c)), true
}

// SetZeroFill makes the block a zero-fill block of the given size.
func (b *Block) SetZeroFill(size uint64) {
	b.content, b.size, b.mutable = nil, size, false
}

// Edges returns the block's edges. Elements may be modified in place.
func (b *Block) Edges() []Edge { return b.edges }

// AddEdge appends an edge.
func (b *Block) AddEdge(kind EdgeKind, offset uint32, target *Symbol, addend int64) {
	b.edges = append(b.edges, Edge{Target: target, Addend: addend, Offset: offset, Kind: kind})
}

// RemoveEdge removes the edge at index i (order is not preserved).
func (b *Block) RemoveEdge(i int) {
	last := len(b.edges) - 1
	b.edges[i] = b.edges[last]
	b.edges[last] = Edge{}
	b.edges = b.edges[:last]
}

// SetEdges replaces the block's edge list.
func (b *Block) SetEdges(e []Edge) { b.edges = e }

// FixupAddress returns the executor address an edge patches.
func (b *Block) FixupAddress(e *Edge) uint64 { return b.addr + uint64(e.Offset) }

func (b *Block) String() string {
	return fmt.Sprintf("block %#x size %#x in %s", b.addr, b.size, b.section.name)
}

// symKind caches what a symbol's Addressable is, so that the common checks
// do not have to load it.
type symKind uint8

const (
	inBlock symKind = iota
	external
	absolute
)

// Symbol names a location: an offset into a block, an external definition, or
// an absolute value.
//
// A large link holds tens of thousands: the yes/no properties and the
// linkage share one byte (bits), 48 bytes in all.
type Symbol struct {
	name      string
	base      *Addressable
	offset    uint64
	size      uint64
	index     int32 // position in the list that holds the symbol
	kind      symKind
	scope     Scope
	bits      symBits
	userFlags uint8
}

// symBits are a symbol's yes/no properties.
type symBits uint8

const (
	symWeak     symBits = 1 << iota // linkage Weak
	symCallable                     // names code
	symLive                         // survives dead-stripping
	symAutoHide                     // may be hidden once linked
	symWeakRef                      // an external that may stay unresolved
	symRemoved                      // no longer in its graph
	symCommon                       // a common (tentative) definition
)

func (s *Symbol) is(b symBits) bool { return s.bits&b != 0 }

func (s *Symbol) set(b symBits, on bool) {
	if on {
		s.bits |= b
	} else {
		s.bits &^= b
	}
}

// Name returns the symbol's name ("" for anonymous symbols).
func (s *Symbol) Name() string { return s.name }

// HasName reports whether the symbol is named.
func (s *Symbol) HasName() bool { return s.name != "" }

// SetName renames the symbol.
func (s *Symbol) SetName(n string) { s.name = n }

// IsDefined reports whether the symbol is defined in the graph (in a block, or
// as an absolute value).
func (s *Symbol) IsDefined() bool { return s.kind != external }

// IsExternal reports whether the symbol must be resolved outside the graph.
func (s *Symbol) IsExternal() bool { return s.kind == external }

// IsAbsolute reports whether the symbol has a fixed address and no block.
func (s *Symbol) IsAbsolute() bool { return s.kind == absolute }

// Block returns the block the symbol points into, or nil.
func (s *Symbol) Block() *Block { return s.base.block }

// Addressable returns the node the symbol points at.
func (s *Symbol) Addressable() *Addressable { return s.base }

// Offset returns the symbol's offset from its block (or absolute base).
func (s *Symbol) Offset() uint64 { return s.offset }

// SetOffset moves the symbol within its block.
func (s *Symbol) SetOffset(o uint64) { s.offset = o }

// Address returns the symbol's address in the executor.
func (s *Symbol) Address() uint64 { return s.base.addr + s.offset }

// Size returns the symbol's size in bytes.
func (s *Symbol) Size() uint64 { return s.size }

// SetSize sets the symbol's size.
func (s *Symbol) SetSize(n uint64) { s.size = n }

// Linkage returns the symbol's linkage.
func (s *Symbol) Linkage() Linkage {
	if s.is(symWeak) {
		return Weak
	}
	return Strong
}

// SetLinkage sets the symbol's linkage.
func (s *Symbol) SetLinkage(l Linkage) { s.set(symWeak, l == Weak) }

// Scope returns the symbol's scope.
func (s *Symbol) Scope() Scope { return s.scope }

// SetScope sets the symbol's scope.
func (s *Symbol) SetScope(sc Scope) { s.scope = sc }

// IsCallable reports whether the symbol names code.
func (s *Symbol) IsCallable() bool { return s.is(symCallable) }

// SetCallable marks the symbol as code.
func (s *Symbol) SetCallable(c bool) { s.set(symCallable, c) }

// IsLive reports whether the symbol survives dead-stripping.
func (s *Symbol) IsLive() bool { return s.is(symLive) }

// SetLive marks the symbol as a live root (before pruning).
func (s *Symbol) SetLive(l bool) { s.set(symLive, l) }

// IsWeaklyReferenced reports whether an external symbol may stay unresolved
// (it then resolves to address 0).
func (s *Symbol) IsWeaklyReferenced() bool { return s.is(symWeakRef) }

// SetWeaklyReferenced marks an external symbol as a weak reference.
func (s *Symbol) SetWeaklyReferenced(w bool) { s.set(symWeakRef, w) }

// IsCommon reports whether the symbol is a common (tentative) definition:
// a weak zero-fill block of its own, which a larger common of the same
// name replaces when graphs are merged.
func (s *Symbol) IsCommon() bool { return s.is(symCommon) }

// IsAutoHide reports whether a defined symbol may be hidden from other
// dylibs once linked (e.g. Mach-O weak_def_can_be_hidden). Informational.
func (s *Symbol) IsAutoHide() bool { return s.is(symAutoHide) }

// Flags returns free-form bits a format builder or pass attached.
func (s *Symbol) Flags() uint8 { return s.userFlags }

// SetFlags sets free-form bits on the symbol.
func (s *Symbol) SetFlags(f uint8) { s.userFlags = f }

func (s *Symbol) String() string {
	name := s.name
	if name == "" {
		name = "<anon>"
	}
	switch {
	case s.IsExternal():
		return fmt.Sprintf("%s (external)", name)
	case s.IsAbsolute():
		return fmt.Sprintf("%s (absolute %#x)", name, s.Address())
	}
	return fmt.Sprintf("%s (%s+%#x)", name, s.base.block.section.name, s.offset)
}

// Section is a named set of blocks and symbols with one memory protection.
//
// Fields are ordered so that the small ones share the last word (96
// bytes; a large link holds thousands).
type Section struct {
	name    string
	blocks  []*Block
	symbols []*Symbol
	// object names the object the section came from when it differs from
	// the graph's name (a section of a merged graph, see MergeGraphs).
	object   string
	ordinal  int
	index    int32 // position in graph.sections
	prot     MemProt
	lifetime Lifetime
	tls      bool
}

// String names the section and its protection, e.g. ".text (R-X)".
func (s *Section) String() string { return fmt.Sprintf("%s (%s)", s.name, s.prot) }

// IsTLS reports whether the section holds thread-local data: a template
// for each thread's copy, whose symbols' values are TLS keys (see
// TLSKey) rather than addresses.
func (s *Section) IsTLS() bool { return s.tls }

// SetTLS marks the section as thread-local.
func (s *Section) SetTLS(t bool) { s.tls = t }

// TLS keys. A thread-local symbol's value is a key naming its TLS module
// and its offset in the module's per-thread block. The tag makes keys
// non-canonical x86-64 addresses, so they can never be mistaken for memory.
const tlsKeyTag = 0x7a5a << 48

// TLSKey returns the key of offset in TLS module m (m > 0, < 2^16).
func TLSKey(m uint32, offset uint32) uint64 {
	return tlsKeyTag | uint64(m&0xffff)<<32 | uint64(offset)
}

// DecodeTLSKey splits a TLS key; ok is false for anything else.
func DecodeTLSKey(k uint64) (module, offset uint32, ok bool) {
	if k&(0xffff<<48) != tlsKeyTag {
		return 0, 0, false
	}
	return uint32(k >> 32 & 0xffff), uint32(k), true
}

// Name returns the section name.
func (s *Section) Name() string { return s.name }

// Prot returns the section's memory protection.
func (s *Section) Prot() MemProt { return s.prot }

// SetProt changes the section's memory protection.
func (s *Section) SetProt(p MemProt) { s.prot = p }

// Lifetime returns the section's memory lifetime.
func (s *Section) Lifetime() Lifetime { return s.lifetime }

// SetLifetime changes the section's memory lifetime.
func (s *Section) SetLifetime(l Lifetime) { s.lifetime = l }

// Ordinal returns the section's ordinal, which orders sections within a
// segment.
func (s *Section) Ordinal() int { return s.ordinal }

// SetOrdinal sets the ordinal.
func (s *Section) SetOrdinal(o int) { s.ordinal = o }

// Blocks returns the section's blocks. Do not modify the slice; collect
// blocks first if you will remove some.
func (s *Section) Blocks() []*Block { return s.blocks }

// Symbols returns the symbols defined in the section. Do not modify the
// slice.
func (s *Section) Symbols() []*Symbol { return s.symbols }

// GrowSymbols makes room for n more symbols in the section without
// reallocating (a hint for builders that know their counts).
func (s *Section) GrowSymbols(n int) { s.symbols = slices.Grow(s.symbols, n) }

// Range returns the lowest start and highest end address of the section's
// blocks (0, 0 for an empty section).
func (s *Section) Range() (start, end uint64) {
	for i, b := range s.blocks {
		if i == 0 || b.addr < start {
			start = b.addr
		}
		if e := b.addr + b.size; e > end {
			end = e
		}
	}
	return start, end
}

// Backend supplies the format- and architecture-specific parts of linking a
// graph. Format builders attach one to every graph they create.
type Backend interface {
	// EdgeKindName names an edge kind for diagnostics.
	EdgeKindName(k EdgeKind) string
	// ApplyFixup patches b's content (already in working memory) for e.
	// It is called concurrently for different blocks of a large graph, so
	// it must change nothing but b's content.
	ApplyFixup(g *LinkGraph, b *Block, e *Edge) error
	// AddDefaultPasses installs the passes the format and architecture need
	// (eh-frame splitting, GOT and PLT building, relaxation, ...).
	AddDefaultPasses(g *LinkGraph, cfg *PassConfig) error
}

// LinkGraph is the linker's model of one relocatable object.
type LinkGraph struct {
	name      string
	triple    triple.Triple
	ptrSize   int
	order     binary.ByteOrder
	backend   Backend
	sections  []*Section
	externals []*Symbol
	absolutes []*Symbol

	// Allocation arenas: symbols and blocks are carved out of chunks so that
	// building a graph costs a few large allocations, not one per node.
	symArena   arena[Symbol]
	blockArena arena[Block]
	addrArena  arena[Addressable]

	// AllocActions are run by the memory manager when the graph's memory is
	// finalized, and undone (in reverse order) before it is released.
	AllocActions []AllocAction
}

// NewLinkGraph creates an empty graph. name identifies the graph in
// diagnostics (usually the object's path); t is the target, whose
// architecture gives the pointer size and byte order; b links the graph.
func NewLinkGraph(name string, t triple.Triple, b Backend) *LinkGraph {
	var order binary.ByteOrder = binary.LittleEndian
	if !t.Arch.LittleEndian() {
		order = binary.BigEndian
	}
	return &LinkGraph{name: name, triple: t, ptrSize: t.Arch.PointerSize(), order: order, backend: b}
}

// Name returns the graph's name.
func (g *LinkGraph) Name() string { return g.name }

// TargetTriple returns the target triple (x86_64-unknown-linux-gnu, ...).
func (g *LinkGraph) TargetTriple() triple.Triple { return g.triple }

// Arch returns the target's architecture.
func (g *LinkGraph) Arch() triple.Arch { return g.triple.Arch }

// PointerSize returns the executor's pointer size in bytes.
func (g *LinkGraph) PointerSize() int { return g.ptrSize }

// Endianness returns the executor's byte order.
func (g *LinkGraph) Endianness() binary.ByteOrder { return g.order }

// Backend returns the graph's format/architecture backend.
func (g *LinkGraph) Backend() Backend { return g.backend }

// EdgeKindName names an edge kind using the graph's backend.
func (g *LinkGraph) EdgeKindName(k EdgeKind) string {
	switch k {
	case InvalidEdge:
		return "Invalid"
	case KeepAlive:
		return "KeepAlive"
	}
	if g.backend != nil {
		return g.backend.EdgeKindName(k)
	}
	return fmt.Sprintf("kind%d", k)
}

// AllocateString returns a copy of s that does not share memory with the
// input object, so it can outlive the graph's input buffer.
func (g *LinkGraph) AllocateString(s string) string { return strings.Clone(s) }

// AllocateContent returns a copy of b owned by the graph.
func (g *LinkGraph) AllocateContent(b []byte) []byte { return append([]byte(nil), b...) }

// AllocateBuffer returns n zeroed bytes owned by the graph.
func (g *LinkGraph) AllocateBuffer(n int) []byte { return make([]byte, n) }

// arena hands out the nodes of one graph from a few large slices. Reserve
// adds exactly what is missing (the unused rest of the slices it holds is
// still used first), and running dry allocates a chunk that grows with
// what the graph has used, so a graph whose counts were reserved up front
// costs one allocation per kind of node and wastes nothing. Merging graphs
// pools their arenas (absorb): what one member's builder reserved for a
// later pass (.eh_frame records) serves that pass on the merged graph.
type arena[T any] struct {
	cur   []T
	spare [][]T // further chunks, handed out after cur
	free  int   // nodes in spare
	used  int
}

func (a *arena[T]) alloc() *T {
	if len(a.cur) == 0 {
		if n := len(a.spare); n > 0 {
			a.cur, a.spare[n-1], a.spare = a.spare[n-1], nil, a.spare[:n-1]
			a.free -= len(a.cur)
		} else {
			a.cur = make([]T, min(max(a.used/8, 4), 256))
		}
	}
	x := &a.cur[0]
	a.cur = a.cur[1:]
	a.used++
	return x
}

// reserve makes room for n more nodes.
func (a *arena[T]) reserve(n int) {
	if have := len(a.cur) + a.free; n > have {
		a.spare = append(a.spare, make([]T, n-have))
		a.free += n - have
	}
}

// absorb takes over o's unused nodes.
func (a *arena[T]) absorb(o *arena[T]) {
	if len(o.cur) > 0 {
		a.spare = append(a.spare, o.cur)
		a.free += len(o.cur)
	}
	a.spare = append(a.spare, o.spare...)
	a.free += o.free
	a.used += o.used
	*o = arena[T]{}
}

func (g *LinkGraph) newSymbol() *Symbol { return g.symArena.alloc() }

func (g *LinkGraph) newAddressable() *Addressable { return g.addrArena.alloc() }

// Reserve tells the graph how many symbols, blocks and external or absolute
// symbols are about to be created, so it can allocate them in one go.
func (g *LinkGraph) Reserve(symbols, blocks, externals int) {
	g.symArena.reserve(symbols)
	g.blockArena.reserve(blocks)
	g.addrArena.reserve(externals)
	g.externals = slices.Grow(g.externals, externals)
}

// CreateSection adds a section. Section names should be unique; use
// FindSection to reuse an existing one.
func (g *LinkGraph) CreateSection(name string, prot MemProt) *Section {
	s := &Section{name: name, prot: prot, ordinal: len(g.sections), index: int32(len(g.sections))}
	g.sections = append(g.sections, s)
	return s
}

// SectionObject returns the name of the object sec came from, for
// diagnostics: the graph's name, or in a merged graph the member's.
func (g *LinkGraph) SectionObject(sec *Section) string {
	if sec.object != "" {
		return sec.object
	}
	return g.name
}

// SectionsNamed iterates over the sections with the given name: a merged
// graph keeps one per member that had it (see MergeGraphs).
func (g *LinkGraph) SectionsNamed(name string) iter.Seq[*Section] {
	return func(yield func(*Section) bool) {
		for _, s := range g.sections {
			if s.name == name && !yield(s) {
				return
			}
		}
	}
}

// FindSection returns the (first) section with the given name, or nil.
func (g *LinkGraph) FindSection(name string) *Section {
	for _, s := range g.sections {
		if s.name == name {
			return s
		}
	}
	return nil
}

// Sections returns the graph's sections. Do not modify the slice.
func (g *LinkGraph) Sections() []*Section { return g.sections }

// RemoveSection removes a section with all its blocks and symbols. Edges that
// target its symbols must already be gone.
func (g *LinkGraph) RemoveSection(s *Section) {
	for _, sym := range s.symbols {
		sym.set(symRemoved, true)
	}
	i := int(s.index)
	last := len(g.sections) - 1
	copy(g.sections[i:], g.sections[i+1:])
	g.sections[last] = nil
	g.sections = g.sections[:last]
	for j := i; j < len(g.sections); j++ {
		g.sections[j].index = int32(j)
	}
}

func (g *LinkGraph) newBlock(sec *Section, addr, align, alignOffset uint64) *Block {
	b := g.blockArena.alloc()
	b.Addressable = Addressable{addr: addr, defined: true}
	b.block = b
	b.section = sec
	b.SetAlignment(align, alignOffset)
	b.index = int32(len(sec.blocks))
	sec.blocks = append(sec.blocks, b)
	return b
}

// CreateContentBlock adds a block with the given content to sec. The content
// is not copied and is treated as read-only (see Block.MutableContent).
func (g *LinkGraph) CreateContentBlock(sec *Section, content []byte, addr, align, alignOffset uint64) *Block {
	b := g.newBlock(sec, addr, align, alignOffset)
	if content == nil {
		content = []byte{}
	}
	b.content, b.size = content, uint64(len(content))
	return b
}

// CreateMutableContentBlock adds a block whose content the graph owns.
func (g *LinkGraph) CreateMutableContentBlock(sec *Section, content []byte, addr, align, alignOffset uint64) *Block {
	b := g.CreateContentBlock(sec, content, addr, align, alignOffset)
	b.mutable = true
	return b
}

// CreateZeroFillBlock adds a zero-fill block of the given size to sec.
func (g *LinkGraph) CreateZeroFillBlock(sec *Section, size, addr, align, alignOffset uint64) *Block {
	b := g.newBlock(sec, addr, align, alignOffset)
	b.size = size
	return b
}

// Blocks iterates over every block in the graph.
func (g *LinkGraph) Blocks() iter.Seq[*Block] {
	return func(yield func(*Block) bool) {
		for _, s := range g.sections {
			for _, b := range s.blocks {
				if !yield(b) {
					return
				}
			}
		}
	}
}

// DefinedSymbols iterates over every symbol defined in a block. Collect them
// first if the loop body removes symbols.
func (g *LinkGraph) DefinedSymbols() iter.Seq[*Symbol] {
	return func(yield func(*Symbol) bool) {
		for _, s := range g.sections {
			for _, sym := range s.symbols {
				if !yield(sym) {
					return
				}
			}
		}
	}
}

// ExternalSymbols returns the graph's external symbols. Do not modify the
// slice.
func (g *LinkGraph) ExternalSymbols() []*Symbol { return g.externals }

// FindExternalSymbol returns the external symbol named name, or nil.
func (g *LinkGraph) FindExternalSymbol(name string) *Symbol {
	for _, s := range g.externals {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// AbsoluteSymbols returns the graph's absolute symbols. Do not modify the
// slice.
func (g *LinkGraph) AbsoluteSymbols() []*Symbol { return g.absolutes }

func addTo(list *[]*Symbol, s *Symbol) {
	s.index = int32(len(*list))
	*list = append(*list, s)
}

func removeFrom(list *[]*Symbol, s *Symbol) {
	l := *list
	i := int(s.index)
	if i >= len(l) || l[i] != s {
		panic("jitlink: symbol is not in the list it claims to be in")
	}
	last := len(l) - 1
	l[i] = l[last]
	l[i].index = int32(i)
	l[last] = nil
	*list = l[:last]
	s.set(symRemoved, true)
}

// AddExternalSymbol adds a symbol to be resolved outside the graph. Weak
// linkage makes the reference weak: it may stay unresolved.
func (g *LinkGraph) AddExternalSymbol(name string, size uint64, l Linkage) *Symbol {
	a := g.newAddressable()
	s := g.newSymbol()
	*s = Symbol{name: name, base: a, size: size, scope: ScopeDefault, kind: external}
	s.SetLinkage(l)
	s.set(symWeakRef, l == Weak)
	addTo(&g.externals, s)
	return s
}

// SymbolAttrs are a symbol's yes/no properties, or-ed together: named
// flags instead of runs of bool parameters.
type SymbolAttrs uint8

const (
	// Callable marks a function (code may call it; stubs may stand for
	// it).
	Callable SymbolAttrs = 1 << iota
	// Live makes the symbol a root of dead stripping: it and what it
	// reaches are kept.
	Live
	// NoAttrs is a symbol that is neither callable nor a root.
	NoAttrs SymbolAttrs = 0
)

// AddAbsoluteSymbol adds a symbol with a fixed address.
func (g *LinkGraph) AddAbsoluteSymbol(name string, addr, size uint64, l Linkage, sc Scope, attrs SymbolAttrs) *Symbol {
	a := g.newAddressable()
	a.addr, a.defined = addr, true
	s := g.newSymbol()
	*s = Symbol{name: name, base: a, size: size, scope: sc, kind: absolute}
	s.SetLinkage(l)
	s.setAttrs(attrs)
	addTo(&g.absolutes, s)
	return s
}

// AddDefinedSymbol adds a named symbol at offset into b.
func (g *LinkGraph) AddDefinedSymbol(b *Block, offset uint64, name string, size uint64, l Linkage, sc Scope, attrs SymbolAttrs) *Symbol {
	s := g.newSymbol()
	*s = Symbol{name: name, base: &b.Addressable, offset: offset, size: size, scope: sc}
	s.SetLinkage(l)
	s.setAttrs(attrs)
	addTo(&b.section.symbols, s)
	return s
}

// AddAnonymousSymbol adds an unnamed, local symbol at offset into b.
func (g *LinkGraph) AddAnonymousSymbol(b *Block, offset, size uint64, attrs SymbolAttrs) *Symbol {
	return g.AddDefinedSymbol(b, offset, "", size, Strong, ScopeLocal, attrs)
}

// AddCommonSymbol adds a zero-fill block in sec for a common (tentative)
// definition and a weak symbol naming it.
func (g *LinkGraph) AddCommonSymbol(name string, sc Scope, sec *Section, addr, size, align uint64, attrs SymbolAttrs) *Symbol {
	b := g.CreateZeroFillBlock(sec, size, addr, align, 0)
	s := g.AddDefinedSymbol(b, 0, name, size, Weak, sc, attrs)
	s.set(symCommon, true)
	return s
}

func (s *Symbol) setAttrs(a SymbolAttrs) {
	s.set(symCallable, a&Callable != 0)
	s.set(symLive, a&Live != 0)
}

// MakeExternal turns a defined or absolute symbol into an external one. Its
// block (if any) is kept; remove it separately if it is no longer used.
func (g *LinkGraph) MakeExternal(s *Symbol) {
	if s.IsExternal() {
		return
	}
	g.detach(s)
	s.set(symRemoved|symCommon, false)
	a := g.newAddressable()
	s.base, s.offset, s.kind = a, 0, external
	s.scope = ScopeDefault
	s.set(symWeakRef, s.is(symWeak))
	addTo(&g.externals, s)
}

// MakeDefined turns an external symbol into one defined at offset into b,
// with attrs (replacing any it had).
func (g *LinkGraph) MakeDefined(s *Symbol, b *Block, offset, size uint64, l Linkage, sc Scope, attrs SymbolAttrs) {
	g.detach(s)
	s.set(symRemoved|symCommon, false)
	s.base, s.offset, s.size, s.kind = &b.Addressable, offset, size, inBlock
	s.SetLinkage(l)
	s.scope = sc
	s.set(symWeakRef, false)
	s.setAttrs(attrs)
	addTo(&b.section.symbols, s)
}

// MakeAbsolute turns an external or defined symbol into an absolute one.
func (g *LinkGraph) MakeAbsolute(s *Symbol, addr uint64) {
	g.detach(s)
	s.set(symRemoved|symCommon, false)
	a := g.newAddressable()
	a.addr, a.defined = addr, true
	s.base, s.offset, s.kind = a, 0, absolute
	s.set(symWeakRef, false)
	addTo(&g.absolutes, s)
}

// TransferSymbol moves a defined symbol to offset in another block.
func (g *LinkGraph) TransferSymbol(s *Symbol, to *Block, offset uint64) {
	if s.base.block != nil && s.base.block.section == to.section {
		s.base, s.offset = &to.Addressable, offset
		return
	}
	g.detach(s)
	s.set(symRemoved, false)
	s.base, s.offset, s.kind = &to.Addressable, offset, inBlock
	addTo(&to.section.symbols, s)
}

func (g *LinkGraph) detach(s *Symbol) {
	switch s.kind {
	case inBlock:
		removeFrom(&s.base.block.section.symbols, s)
	case absolute:
		removeFrom(&g.absolutes, s)
	default:
		removeFrom(&g.externals, s)
	}
}

// RemoveSymbol removes a symbol from the graph. Edges must no longer target
// it. A defined symbol's block is kept.
func (g *LinkGraph) RemoveSymbol(s *Symbol) { g.detach(s) }

// IsRemoved reports whether s has been removed from its graph.
func (s *Symbol) IsRemoved() bool { return s.is(symRemoved) }

// RemoveBlock removes a block. Symbols defined in it must already be gone.
func (g *LinkGraph) RemoveBlock(b *Block) {
	sec := b.section
	i := int(b.index)
	last := len(sec.blocks) - 1
	sec.blocks[i] = sec.blocks[last]
	sec.blocks[i].index = int32(i)
	sec.blocks[last] = nil
	sec.blocks = sec.blocks[:last]
	b.edges = nil
}

// SplitBlock splits b at offset: the returned new block holds [0, offset) and
// b keeps [offset, size), moved up by offset. Edges and symbols are
// distributed accordingly (symbols exactly at offset stay with b).
func (g *LinkGraph) SplitBlock(b *Block, offset uint64) *Block {
	if offset == 0 || offset >= b.size {
		panic(fmt.Sprintf("jitlink: SplitBlock offset %#x out of range for %v", offset, b))
	}
	nb := g.newBlock(b.section, b.addr, b.Alignment(), b.alignOffset)
	if b.content != nil {
		nb.content, nb.mutable = b.content[:offset:offset], b.mutable
		b.content = b.content[offset:]
	}
	nb.size = offset
	b.size -= offset
	b.addr += offset
	b.alignOffset = (b.alignOffset + offset) % b.Alignment()
	// Move the low edges to the new block, rebase the rest.
	kept := b.edges[:0]
	for _, e := range b.edges {
		if uint64(e.Offset) < offset {
			nb.edges = append(nb.edges, e)
			continue
		}
		e.Offset -= uint32(offset)
		kept = append(kept, e)
	}
	for i := len(kept); i < len(b.edges); i++ {
		b.edges[i] = Edge{}
	}
	b.edges = kept
	for _, s := range b.section.symbols {
		if s.base != &b.Addressable {
			continue
		}
		if s.offset < offset {
			s.base = &nb.Addressable
		} else {
			s.offset -= offset
		}
	}
	return nb
}

// DefinedSymbolCount returns the number of symbols defined in blocks.
func (g *LinkGraph) DefinedSymbolCount() int {
	n := 0
	for _, s := range g.sections {
		n += len(s.symbols)
	}
	return n
}
