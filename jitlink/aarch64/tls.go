package aarch64

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gorc-jit/gorc/jitlink"
)

// Thread-local storage edge kinds. Their targets' values are TLS keys
// (jitlink.TLSKey), assigned by a TLS platform after allocation.
// BuildTLSEntries lowers the requests to edges to entries in $__TLSGOT;
// LowerStaticTLS lowers the thread-pointer offsets (initial and local exec,
// and descriptors of modules in static TLS) before fixups.
const (
	// RequestTLSDescAndTransformToPage21 is TLSDESC_ADR_PAGE21: the ADRP
	// of the target's TLS descriptor.
	RequestTLSDescAndTransformToPage21 = FirstPlatformKind + iota
	// RequestTLSDescAndTransformToPageOffset12 is TLSDESC_LD64_LO12 and
	// TLSDESC_ADD_LO12: the low bits of the descriptor's address.
	RequestTLSDescAndTransformToPageOffset12
	// RequestGOTTPOFFAndTransformToPage21 is TLSIE_ADR_GOTTPREL_PAGE21:
	// the ADRP of a GOT entry holding the target's offset from the thread
	// pointer.
	RequestGOTTPOFFAndTransformToPage21
	// RequestGOTTPOFFAndTransformToPageOffset12 is
	// TLSIE_LD64_GOTTPREL_LO12_NC.
	RequestGOTTPOFFAndTransformToPageOffset12
	// RequestTLSGDAndTransformToPage21 is TLSGD_ADR_PAGE21 (gcc's
	// -mtls-dialect=trad): the ADRP of the target's tls_index.
	RequestTLSGDAndTransformToPage21
	// RequestTLSGDAndTransformToPageOffset12 is TLSGD_ADD_LO12_NC.
	RequestTLSGDAndTransformToPageOffset12
	// TPOffHi12 is TLSLE_ADD_TPREL_HI12: AddHi12 of the target's offset
	// from the thread pointer, + A.
	TPOffHi12
	// TPOffLo12 is TLSLE_ADD_TPREL_LO12: AddLo12 of the offset.
	TPOffLo12
	// TPOffLo12NC is TLSLE_ADD_TPREL_LO12_NC and TLSLE_LDSTn_TPREL_LO12_NC:
	// PageOffset12 of the offset.
	TPOffLo12NC
	// TPOffMoveWide16 is TLSLE_MOVW_TPREL_Gn_NC: MoveWide16 of the offset.
	TPOffMoveWide16
	// TPOffMoveWide16Signed is TLSLE_MOVW_TPREL_Gn: MoveWide16Signed of the
	// offset.
	TPOffMoveWide16Signed
	// TPOff64 is the 64-bit offset from the thread pointer (a GOT entry of
	// the initial-exec model).
	TPOff64
	// DTPOff64 is the target's 64-bit offset in its TLS module block, + A.
	DTPOff64
	// DTPMod64 is the target's TLS module id.
	DTPMod64
	// TLSDescFunc is the resolver word of a TLS descriptor.
	TLSDescFunc
	// TLSDescArg is the argument word of a TLS descriptor.
	TLSDescArg
	// RequestGOTTPOFFAndTransformToLDRLiteral19 is
	// TLSIE_LD_GOTTPREL_PREL19 (the tiny code model).
	RequestGOTTPOFFAndTransformToLDRLiteral19
	// RequestTLSDescAndTransformToLDRLiteral19 is TLSDESC_LD_PREL19.
	RequestTLSDescAndTransformToLDRLiteral19
	// RequestTLSDescAndTransformToADRLiteral21 is TLSDESC_ADR_PREL21.
	RequestTLSDescAndTransformToADRLiteral21
	// RequestTLSGDAndTransformToADRLiteral21 is TLSGD_ADR_PREL21.
	RequestTLSGDAndTransformToADRLiteral21
)

var tlsKindNames = [...]string{
	RequestTLSDescAndTransformToPage21 - FirstPlatformKind:        "RequestTLSDescAndTransformToPage21",
	RequestTLSDescAndTransformToPageOffset12 - FirstPlatformKind:  "RequestTLSDescAndTransformToPageOffset12",
	RequestGOTTPOFFAndTransformToPage21 - FirstPlatformKind:       "RequestGOTTPOFFAndTransformToPage21",
	RequestGOTTPOFFAndTransformToPageOffset12 - FirstPlatformKind: "RequestGOTTPOFFAndTransformToPageOffset12",
	RequestTLSGDAndTransformToPage21 - FirstPlatformKind:          "RequestTLSGDAndTransformToPage21",
	RequestTLSGDAndTransformToPageOffset12 - FirstPlatformKind:    "RequestTLSGDAndTransformToPageOffset12",
	TPOffHi12 - FirstPlatformKind:                                 "TPOffHi12",
	TPOffLo12 - FirstPlatformKind:                                 "TPOffLo12",
	TPOffLo12NC - FirstPlatformKind:                               "TPOffLo12NC",
	TPOffMoveWide16 - FirstPlatformKind:                           "TPOffMoveWide16",
	TPOffMoveWide16Signed - FirstPlatformKind:                     "TPOffMoveWide16Signed",
	TPOff64 - FirstPlatformKind:                                   "TPOff64",
	DTPOff64 - FirstPlatformKind:                                  "DTPOff64",
	DTPMod64 - FirstPlatformKind:                                  "DTPMod64",
	TLSDescFunc - FirstPlatformKind:                               "TLSDescFunc",
	TLSDescArg - FirstPlatformKind:                                "TLSDescArg",
	RequestGOTTPOFFAndTransformToLDRLiteral19 - FirstPlatformKind: "RequestGOTTPOFFAndTransformToLDRLiteral19",
	RequestTLSDescAndTransformToLDRLiteral19 - FirstPlatformKind:  "RequestTLSDescAndTransformToLDRLiteral19",
	RequestTLSDescAndTransformToADRLiteral21 - FirstPlatformKind:  "RequestTLSDescAndTransformToADRLiteral21",
	RequestTLSGDAndTransformToADRLiteral21 - FirstPlatformKind:    "RequestTLSGDAndTransformToADRLiteral21",
}

// tlsRequest returns the entry model (one of the Page21 request kinds) and
// the lowered kind of a TLS request kind; ok is false for other kinds.
func tlsRequest(k jitlink.EdgeKind) (model, lowered jitlink.EdgeKind, ok bool) {
	switch k {
	case RequestTLSDescAndTransformToPage21, RequestGOTTPOFFAndTransformToPage21, RequestTLSGDAndTransformToPage21:
		return k, Page21, true
	case RequestTLSDescAndTransformToPageOffset12:
		return RequestTLSDescAndTransformToPage21, PageOffset12, true
	case RequestGOTTPOFFAndTransformToPageOffset12:
		return RequestGOTTPOFFAndTransformToPage21, PageOffset12, true
	case RequestTLSGDAndTransformToPageOffset12:
		return RequestTLSGDAndTransformToPage21, PageOffset12, true
	case RequestGOTTPOFFAndTransformToLDRLiteral19:
		return RequestGOTTPOFFAndTransformToPage21, LDRLiteral19, true
	case RequestTLSDescAndTransformToLDRLiteral19:
		return RequestTLSDescAndTransformToPage21, LDRLiteral19, true
	case RequestTLSDescAndTransformToADRLiteral21:
		return RequestTLSDescAndTransformToPage21, ADRLiteral21, true
	case RequestTLSGDAndTransformToADRLiteral21:
		return RequestTLSGDAndTransformToPage21, ADRLiteral21, true
	}
	return 0, 0, false
}

// TLSIndexSectionName holds the TLS descriptors, tls_index pairs and
// thread-pointer offsets lowered TLS requests use.
const TLSIndexSectionName = "$__TLSGOT"

// tlsDescResolverSectionName holds the static TLS descriptor resolver.
const tlsDescResolverSectionName = "$__TLSDESC"

// staticTLSDescResolver is the resolver of descriptors of variables in
// static TLS: "ldr x0, [x0, #8]; ret". Called with x0 pointing at the
// descriptor, it returns the argument word, the variable's offset from the
// thread pointer, and preserves every other register as the TLSDESC
// convention requires.
var staticTLSDescResolver = []byte{0x00, 0x04, 0x40, 0xf9, 0xc0, 0x03, 0x5f, 0xd6}

// applyTLSFixup applies the kinds that need only the target's TLS key.
func applyTLSFixup(g *jitlink.LinkGraph, b *jitlink.Block, e *jitlink.Edge, p []byte) error {
	mod, off, ok := jitlink.DecodeTLSKey(e.Target.Address())
	if !ok {
		return jitlink.NewFixupError(g, b, e, 0, "target is not a thread-local symbol with a TLS module (linking thread-local data needs a TLS platform)")
	}
	if e.Kind == DTPMod64 {
		binary.LittleEndian.PutUint64(p, uint64(mod))
	} else {
		binary.LittleEndian.PutUint64(p, uint64(int64(off)+e.Addend))
	}
	return nil
}

func tlsNotLowered(k jitlink.EdgeKind) string {
	return fmt.Sprintf("%s was not lowered: thread-local storage needs a TLS platform", KindName(k))
}

// BuildTLSEntries is a post-prune pass that lowers TLS requests: each
// becomes a Page21, PageOffset12, LDRLiteral19 or ADRLiteral21 to a 16-byte entry in $__TLSGOT, one per
// target and model: a descriptor {resolver, argument}, a tls_index {module,
// offset}, or (initial exec) a word holding the offset from the thread
// pointer. Descriptors get their resolver from LowerStaticTLS.
func BuildTLSEntries(g *jitlink.LinkGraph) error {
	type key struct {
		target *jitlink.Symbol
		model  jitlink.EdgeKind // the Page21 request kind
	}
	var sec *jitlink.Section
	entries := make(map[key]*jitlink.Symbol)
	// Entries are new blocks, which the loop must not visit.
	for _, b := range slices.Collect(g.Blocks()) {
		edges := b.Edges()
		for i := range edges {
			e := &edges[i]
			model, kind, ok := tlsRequest(e.Kind)
			if !ok {
				continue
			}
			k := key{e.Target, model}
			ent := entries[k]
			if ent == nil {
				if sec == nil {
					sec = g.CreateSection(TLSIndexSectionName, jitlink.ProtRead)
				}
				pb := g.CreateContentBlock(sec, make([]byte, 16), uint64(len(entries))*16, 16, 0)
				switch model {
				case RequestGOTTPOFFAndTransformToPage21:
					pb.AddEdge(TPOff64, 0, e.Target, 0)
				case RequestTLSGDAndTransformToPage21:
					pb.AddEdge(DTPMod64, 0, e.Target, 0)
					pb.AddEdge(DTPOff64, 8, e.Target, 0)
				default:
					pb.AddEdge(TLSDescFunc, 0, e.Target, 0)
					pb.AddEdge(TLSDescArg, 8, e.Target, 0)
					// The tls_index the dynamic resolver passes to
					// __tls_get_addr if the module is not in static TLS.
					ib := g.CreateContentBlock(sec, make([]byte, 16), uint64(len(entries))*16+8, 16, 0)
					ib.AddEdge(DTPMod64, 0, e.Target, 0)
					ib.AddEdge(DTPOff64, 8, e.Target, 0)
					pb.AddEdge(jitlink.KeepAlive, 0, g.AddAnonymousSymbol(ib, 0, 16, jitlink.NoAttrs), 0)
					ensureResolvers(g)
				}
				ent = g.AddAnonymousSymbol(pb, 0, 16, jitlink.Live)
				entries[k] = ent
			}
			// The addend is the variable's offset: it goes into the entry's
			// value, not into its address.
			if e.Addend != 0 {
				return jitlink.NewFixupError(g, b, e, 0, "TLS access with a non-zero addend")
			}
			e.Kind, e.Target = kind, ent
		}
	}
	return nil
}

// ensureResolvers adds the TLS descriptor resolvers to g: the static one,
// then the dynamic one.
func ensureResolvers(g *jitlink.LinkGraph) {
	if g.FindSection(tlsDescResolverSectionName) != nil {
		return
	}
	sec := g.CreateSection(tlsDescResolverSectionName, jitlink.ProtRead|jitlink.ProtExec)
	b := g.CreateContentBlock(sec, staticTLSDescResolver, 0, 4, 0)
	g.AddAnonymousSymbol(b, 0, uint64(len(staticTLSDescResolver)), jitlink.Callable|jitlink.Live)
	tlsGetAddr := g.FindExternalSymbol("__tls_get_addr")
	if tlsGetAddr == nil {
		tlsGetAddr = g.AddExternalSymbol("__tls_get_addr", 0, jitlink.Strong)
	}
	d := dynamicTLSDescResolver(tlsGetAddr).block(g, sec, 8)
	g.AddAnonymousSymbol(d, 0, d.Size(), jitlink.Callable|jitlink.Live)
}

// dynamicResolverFrame holds x1-x18 and q0-q31.
const dynamicResolverFrame = 18*8 + 32*16

// dynamicTLSDescResolver is the resolver of descriptors of variables in
// dynamic TLS: the argument word points at the variable's tls_index, and
// the resolver returns __tls_get_addr(index) minus the thread pointer,
// preserving every register but x0 (x1-x18 and q0-q31 are saved around
// the call; the callee saves the rest).
func dynamicTLSDescResolver(tlsGetAddr *jitlink.Symbol) *code {
	var c code
	c.inst(stpXPre(fp, lr, sp, -16))
	c.inst(addImm(fp, sp, 0))
	c.inst(subImm(sp, sp, dynamicResolverFrame))
	for r := uint32(1); r < 19; r += 2 {
		c.inst(stpX(r, r+1, sp, int(8*(r-1))))
	}
	for q := uint32(0); q < 32; q += 2 {
		c.inst(stpQ(q, q+1, sp, int(144+16*q)))
	}
	c.inst(ldrX(0, 0, 8)) // &tls_index
	// Through a literal: the resolver is added after the GOT and stubs
	// are built, and __tls_get_addr may be anywhere.
	litAt := c.inst(ldrLiteral(ip0, 0))
	c.inst(blr(ip0))
	c.inst(mrsTPIDR(1))
	c.inst(subReg(0, 0, 1))
	for q := uint32(0); q < 32; q += 2 {
		c.inst(ldpQ(q, q+1, sp, int(144+16*q)))
	}
	for r := uint32(1); r < 19; r += 2 {
		c.inst(ldpX(r, r+1, sp, int(8*(r-1))))
	}
	c.inst(addImm(sp, sp, dynamicResolverFrame))
	c.inst(ldpXPost(fp, lr, sp, 16))
	c.inst(ret)
	for len(c.b)%8 != 0 {
		c.inst(brk(0))
	}
	binary.LittleEndian.PutUint32(c.b[litAt:], ldrLiteral(ip0, len(c.b)-litAt))
	c.edges = append(c.edges, jitlink.Edge{Kind: Pointer64, Offset: uint32(len(c.b)), Target: tlsGetAddr})
	c.quad(0)
	return &c
}

// resolvers returns g's static and dynamic descriptor resolvers.
func resolvers(g *jitlink.LinkGraph) (static, dynamic *jitlink.Symbol) {
	sec := g.FindSection(tlsDescResolverSectionName)
	if sec == nil || len(sec.Symbols()) < 2 {
		return nil, nil
	}
	for _, s := range sec.Symbols() {
		if s.Offset() == 0 && s.Block().Size() == uint64(len(staticTLSDescResolver)) {
			static = s
		} else {
			dynamic = s
		}
	}
	return static, dynamic
}

// tlsIndexOf returns the tls_index kept alive by descriptor block b.
func tlsIndexOf(b *jitlink.Block) *jitlink.Symbol {
	for _, e := range b.Edges() {
		if e.Kind == jitlink.KeepAlive {
			return e.Target
		}
	}
	return nil
}

// LowerStaticTLS is a pre-fixup pass for platforms with static TLS: it
// turns each initial- and local-exec edge, and each TLS descriptor, into an
// edge to an absolute symbol holding the target's offset from the thread
// pointer, which tpoff gives for a TLS key (false: the target's module is
// not in static TLS). Descriptors get the static resolver.
func LowerStaticTLS(tpoff func(key uint64) (int64, bool)) jitlink.Pass {
	return func(g *jitlink.LinkGraph) error {
		for b := range g.Blocks() {
			edges := b.Edges()
			for i := range edges {
				e := &edges[i]
				var kind jitlink.EdgeKind
				switch e.Kind {
				case TPOffHi12:
					kind = AddHi12
				case TPOffLo12:
					kind = AddLo12
				case TPOffLo12NC:
					kind = PageOffset12
				case TPOffMoveWide16:
					kind = MoveWide16
				case TPOffMoveWide16Signed:
					kind = MoveWide16Signed
				case TPOff64, TLSDescArg:
					kind = Pointer64
				case TLSDescFunc:
					kind = Pointer64
				default:
					continue
				}
				v, ok := tpoff(e.Target.Address())
				if e.Kind == TLSDescFunc || e.Kind == TLSDescArg {
					// A descriptor: static (the resolver returns the
					// offset it holds) or dynamic (the resolver calls
					// __tls_get_addr with the tls_index it points at).
					static, dynamic := resolvers(g)
					index := tlsIndexOf(b)
					if static == nil || dynamic == nil || index == nil {
						return jitlink.NewFixupError(g, b, e, 0, "TLS descriptor without resolvers (BuildTLSEntries did not run)")
					}
					switch {
					case e.Kind == TLSDescFunc && ok:
						e.Kind, e.Target = Pointer64, static
						continue
					case e.Kind == TLSDescFunc:
						e.Kind, e.Target = Pointer64, dynamic
						continue
					case !ok:
						e.Kind, e.Target = Pointer64, index
						continue
					}
				}
				if !ok {
					return jitlink.NewFixupError(g, b, e, 0, "the thread-local variable is not in static TLS, which initial- and local-exec code needs (static TLS is small; compile with -fPIC to use dynamic TLS)")
				}
				e.Kind = kind
				e.Target = g.AddAbsoluteSymbol("", uint64(v), 0, jitlink.Strong, jitlink.ScopeLocal, jitlink.NoAttrs)
			}
		}
		return nil
	}
}
