// Package ehframe prepares DWARF call-frame sections (.eh_frame) for linking:
// it splits a section into one block per CIE and FDE record and adds the
// edges that keep each FDE alive exactly as long as the code it describes.
// It is format- and architecture-neutral; callers pass the edge kinds to use.
package ehframe

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gorc-jit/gorc/jitlink"
)

// Kinds are the architecture's edge kinds the pass creates.
type Kinds struct {
	// NegDelta32 computes P - S + A into 32 bits: an FDE's CIE pointer is
	// the distance from the pointer field back to its CIE.
	NegDelta32 jitlink.EdgeKind
}

// SplitAndFix returns a pre-prune pass that splits the named section into
// records and, for every FDE, adds an edge to its CIE (so the CIE pointer
// stays right whatever is dead-stripped) and a keep-alive edge from the
// function's block to the FDE.
//
// The pass relies on the object's relocations for the FDE's PC-begin field
// (ELF objects always have one).
func SplitAndFix(section string, k Kinds) jitlink.Pass {
	return func(g *jitlink.LinkGraph) error {
		// A merged graph has one such section per object.
		for sec := range g.SectionsNamed(section) {
			blocks := slices.Clone(sec.Blocks())
			for _, b := range blocks {
				recs, err := split(g, sec, b)
				if err != nil {
					return err
				}
				if err := fix(g, sec, recs, k); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

type record struct {
	b          *jitlink.Block
	sym        *jitlink.Symbol // anonymous symbol at the record's start, if made
	hdr        uint64          // size of the length field(s): 4, or 12 for 64-bit DWARF
	first, end int             // its edges in the section block's (sorted) edges
	isCIE      bool
	isTerm     bool
}

func malformed(g *jitlink.LinkGraph, sec *jitlink.Section, off uint64, format string, args ...any) error {
	return &jitlink.MalformedError{File: g.SectionObject(sec), Section: sec.Name(), Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

// recordHeader reads the length of the record at off and returns the sizes
// of its length field and of the whole record.
func recordHeader(g *jitlink.LinkGraph, sec *jitlink.Section, c []byte, off uint64) (hdr, size uint64, err error) {
	order := g.Endianness()
	rest := uint64(len(c)) - off
	if rest < 4 {
		return 0, 0, malformed(g, sec, off, "truncated record length")
	}
	length, hdr := uint64(order.Uint32(c[off:])), uint64(4)
	if length == 0xffffffff {
		if rest < 12 {
			return 0, 0, malformed(g, sec, off, "truncated 64-bit record length")
		}
		length, hdr = order.Uint64(c[off+4:]), 12
	}
	if length > rest-hdr {
		return 0, 0, malformed(g, sec, off, "record length %#x runs past the end of the section", length)
	}
	if length != 0 && length < 4 {
		return 0, 0, malformed(g, sec, off, "record length %#x is too small for its CIE id", length)
	}
	return hdr, hdr + length, nil
}

// split replaces b by one block per record.
func split(g *jitlink.LinkGraph, sec *jitlink.Section, b *jitlink.Block) ([]record, error) {
	c := b.Content()
	if c == nil {
		return nil, malformed(g, sec, 0, "call-frame section has no contents")
	}
	n := 0
	for off := uint64(0); off < uint64(len(c)); n++ {
		_, size, err := recordHeader(g, sec, c, off)
		if err != nil {
			return nil, err
		}
		off += size
	}
	// A block and an anonymous symbol per record.
	g.Reserve(n, n+1, 0)
	sec.GrowSymbols(n)
	order := g.Endianness()
	edges := b.Edges()
	slices.SortFunc(edges, func(x, y jitlink.Edge) int { return cmp.Compare(x.Offset, y.Offset) })
	var syms []*jitlink.Symbol
	for _, s := range sec.Symbols() {
		if s.Block() == b {
			syms = append(syms, s)
		}
	}
	recs := make([]record, 0, n)
	// Each record's edges, with room for the one fix adds to an FDE (its
	// CIE pointer), carved from one slice: the block's own when it has
	// the room (the ELF builder leaves it), else a new one. Record i's
	// edges move up by i slots, so they are placed last to first.
	var all []jitlink.Edge
	if cap(edges) >= len(edges)+n {
		all = edges[:len(edges)+n]
	} else {
		all = make([]jitlink.Edge, len(edges)+n)
	}
	ei := 0
	for off := uint64(0); off < uint64(len(c)); {
		hdr, size, _ := recordHeader(g, sec, c, off)
		rb := g.CreateContentBlock(sec, c[off:off+size:off+size], b.Address()+off, 4, 0)
		rec := record{b: rb, hdr: hdr, isTerm: size == hdr, first: ei}
		for ei < len(edges) && uint64(edges[ei].Offset) < off+size {
			edges[ei].Offset -= uint32(off)
			ei++
		}
		rec.end = ei
		if !rec.isTerm {
			rec.isCIE = order.Uint32(c[off+hdr:]) == 0
		}
		for _, s := range syms {
			if s.Offset() >= off && (s.Offset() < off+size || off+size == uint64(len(c))) {
				g.TransferSymbol(s, rb, s.Offset()-off)
				if s.Offset() == 0 {
					rec.sym = s
				}
			}
		}
		recs = append(recs, rec)
		off += size
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := &recs[i]
		start, end := r.first+i, r.end+i
		copy(all[start:end], edges[r.first:r.end])
		r.b.SetEdges(all[start : end : end+1])
	}
	if len(c) == 0 {
		// An empty section: nothing to describe, but symbols may point here.
		rb := g.CreateContentBlock(sec, c, b.Address(), 4, 0)
		for _, s := range syms {
			g.TransferSymbol(s, rb, 0)
		}
	}
	g.RemoveBlock(b)
	return recs, nil
}

func (r *record) symbol(g *jitlink.LinkGraph) *jitlink.Symbol {
	if r.sym == nil {
		r.sym = g.AddAnonymousSymbol(r.b, 0, r.b.Size(), jitlink.NoAttrs)
	}
	return r.sym
}

func fix(g *jitlink.LinkGraph, sec *jitlink.Section, recs []record, k Kinds) error {
	order := g.Endianness()
	var cies []int
	for i := range recs {
		if recs[i].isCIE {
			cies = append(cies, i)
		}
	}
	// Keep-alive edges are added to the functions' blocks in one batch per
	// block: a block can have hundreds of FDEs.
	type keep struct {
		fn  *jitlink.Block
		fde *jitlink.Symbol
	}
	keeps := make([]keep, 0, len(recs)-len(cies))
	for i := range recs {
		r := &recs[i]
		if r.isCIE || r.isTerm {
			continue
		}
		b := r.b
		ptrField := r.hdr
		cieAddr := b.Address() + ptrField - uint64(order.Uint32(b.Content()[ptrField:]))
		var cie *record
		for _, ci := range cies {
			if recs[ci].b.Address() == cieAddr {
				cie = &recs[ci]
				break
			}
		}
		if cie == nil {
			return malformed(g, sec, b.Address()-recs[0].b.Address(), "FDE's CIE pointer does not point at a CIE")
		}
		var pcBegin *jitlink.Symbol
		edges := b.Edges()
		for i := 0; i < len(edges); i++ {
			switch uint64(edges[i].Offset) {
			case ptrField:
				// A relocation on the CIE pointer would be redundant with ours.
				b.RemoveEdge(i)
				edges = b.Edges()
				i--
			case ptrField + 4:
				pcBegin = edges[i].Target
			}
		}
		b.AddEdge(k.NegDelta32, uint32(ptrField), cie.symbol(g), 0)
		if pcBegin != nil {
			if fb := pcBegin.Block(); fb != nil {
				keeps = append(keeps, keep{fb, r.symbol(g)})
			}
		}
	}
	slices.SortStableFunc(keeps, func(x, y keep) int { return cmp.Compare(x.fn.Address(), y.fn.Address()) })
	for i := 0; i < len(keeps); {
		j := i
		for j < len(keeps) && keeps[j].fn == keeps[i].fn {
			j++
		}
		fn := keeps[i].fn
		edges := slices.Grow(fn.Edges(), j-i)
		for _, kp := range keeps[i:j] {
			edges = append(edges, jitlink.Edge{Target: kp.fde, Kind: jitlink.KeepAlive})
		}
		fn.SetEdges(edges)
		i = j
	}
	return nil
}

// AddNullTerminator returns a pass that appends a zero-length record to the
// named section, so that unwinders that walk the section from its start (such
// as libgcc's __register_frame) stop at its end. A merged graph has one such
// section per object: they are laid out one after the other, after every
// other section (consecutive ordinals), and only the last is terminated,
// so that together they are one range to register (see Range).
func AddNullTerminator(section string) jitlink.Pass {
	return func(g *jitlink.LinkGraph) error {
		var secs []*jitlink.Section
		last := 0
		for _, sec := range g.Sections() {
			last = max(last, sec.Ordinal())
			if sec.Name() == section && len(sec.Blocks()) > 0 {
				secs = append(secs, sec)
			}
		}
		if len(secs) == 0 {
			return nil
		}
		if len(secs) > 1 {
			for i, sec := range secs {
				sec.SetOrdinal(last + 1 + i)
			}
		}
		sec := secs[len(secs)-1]
		_, end := sec.Range()
		g.Reserve(1, 1, 0) // not a chunk of the arenas for one block
		b := g.CreateContentBlock(sec, make([]byte, 4), end, 4, 0)
		g.AddAnonymousSymbol(b, 0, 4, jitlink.Live)
		return nil
	}
}

// Range returns the address range of the graph's sections of the given
// name once laid out (after AddNullTerminator's pass, one range), and
// whether there are any.
func Range(g *jitlink.LinkGraph, section string) (start, end uint64, ok bool) {
	for sec := range g.SectionsNamed(section) {
		if len(sec.Blocks()) == 0 {
			continue
		}
		s, e := sec.Range()
		if !ok || s < start {
			start = s
		}
		end = max(end, e)
		ok = true
	}
	return start, end, ok
}
