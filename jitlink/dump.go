package jitlink

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Dump writes a readable description of the graph: sections, blocks with
// their symbols and edges, and external and absolute symbols.
func (g *LinkGraph) Dump(w io.Writer) error {
	p := &printer{w: w}
	p.printf("LinkGraph %q (triple = %s), %d-byte pointers\n", g.name, g.triple, g.ptrSize)
	for _, sec := range g.sections {
		p.printf("section %s %s ordinal %d, %d blocks\n", sec.name, sec.prot, sec.ordinal, len(sec.blocks))
		blocks := slices.Clone(sec.blocks)
		slices.SortFunc(blocks, func(a, b *Block) int { return cmp.Compare(a.addr, b.addr) })
		syms := make(map[*Block][]*Symbol)
		for _, s := range sec.symbols {
			syms[s.base.block] = append(syms[s.base.block], s)
		}
		for _, b := range blocks {
			kind := "content"
			if b.IsZeroFill() {
				kind = "zero-fill"
			}
			p.printf("  block %#x size %#x align %d+%d %s\n", b.addr, b.size, b.Alignment(), b.alignOffset, kind)
			bs := syms[b]
			slices.SortFunc(bs, func(x, y *Symbol) int { return cmp.Compare(x.offset, y.offset) })
			for _, s := range bs {
				p.printf("    symbol %#x+%#x %s size %#x %s %s%s%s\n", b.addr, s.offset, displayName(s), s.size,
					s.Linkage(), s.scope, flag(s.IsCallable(), " callable"), flag(s.IsLive(), " live"))
			}
			edges := slices.Clone(b.edges)
			slices.SortFunc(edges, func(x, y Edge) int { return cmp.Compare(x.Offset, y.Offset) })
			for _, e := range edges {
				p.printf("    edge +%#x %s -> %s %+#x\n", e.Offset, g.EdgeKindName(e.Kind), symbolDescription(e.Target), e.Addend)
			}
		}
	}
	for _, s := range g.externals {
		p.printf("external %s%s -> %#x\n", s.name, flag(s.IsWeaklyReferenced(), " (weak)"), s.base.addr)
	}
	for _, s := range g.absolutes {
		p.printf("absolute %s = %#x %s %s\n", displayName(s), s.Address(), s.Linkage(), s.scope)
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func displayName(s *Symbol) string {
	if s.name == "" {
		return "<anon>"
	}
	return s.name
}

func flag(b bool, s string) string {
	if b {
		return s
	}
	return ""
}
