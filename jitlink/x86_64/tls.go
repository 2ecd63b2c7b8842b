package x86_64

import (
	"encoding/binary"
	"fmt"
	"iter"

	"github.com/gorc-jit/gorc/jitlink"
)

// Thread-local storage edge kinds. Their targets' values are TLS keys
// (jitlink.TLSKey), assigned by a TLS platform after allocation. The
// general- and local-dynamic kinds need only the key; the initial- and
// local-exec kinds need the offset of the target's module from the thread
// pointer, which a platform with static TLS lowers (LowerStaticTLS) before
// fixups.
const (
	// RequestTLSGDAndTransformToDelta32 is R_X86_64_TLSGD: the rel32 of a
	// lea of the target's tls_index {module, offset}, passed to
	// __tls_get_addr. BuildTLSIndexes lowers it.
	RequestTLSGDAndTransformToDelta32 = FirstPlatformKind + iota
	// RequestTLSLDAndTransformToDelta32 is R_X86_64_TLSLD: the same for the
	// tls_index {module, 0} of the target's module.
	RequestTLSLDAndTransformToDelta32
	// DTPOff32 is the target's 32-bit offset in its TLS module block, + A.
	DTPOff32
	// DTPOff64 is the same in 64 bits.
	DTPOff64
	// DTPMod64 is the target's TLS module id.
	DTPMod64
	// RequestGOTTPOFFAndTransformToDelta32 is R_X86_64_GOTTPOFF (initial
	// exec): the rel32 of a load of a GOT entry holding the target's
	// TPOff64. BuildTLSIndexes lowers it.
	RequestGOTTPOFFAndTransformToDelta32
	// TPOff32 is R_X86_64_TPOFF32 (local exec): the target's 32-bit offset
	// from the thread pointer, + A.
	TPOff32
	// TPOff64 is the same in 64 bits (R_X86_64_TPOFF64).
	TPOff64
)

var tlsKindNames = [...]string{
	RequestTLSGDAndTransformToDelta32 - FirstPlatformKind:    "RequestTLSGDAndTransformToDelta32",
	RequestTLSLDAndTransformToDelta32 - FirstPlatformKind:    "RequestTLSLDAndTransformToDelta32",
	DTPOff32 - FirstPlatformKind:                             "DTPOff32",
	DTPOff64 - FirstPlatformKind:                             "DTPOff64",
	DTPMod64 - FirstPlatformKind:                             "DTPMod64",
	RequestGOTTPOFFAndTransformToDelta32 - FirstPlatformKind: "RequestGOTTPOFFAndTransformToDelta32",
	TPOff32 - FirstPlatformKind:                              "TPOff32",
	TPOff64 - FirstPlatformKind:                              "TPOff64",
}

// TLSIndexSectionName holds the tls_index pairs and thread-pointer offsets
// lowered TLS requests use.
const TLSIndexSectionName = "$__TLSGOT"

// applyTLSFixup applies the TLS kinds. The target must carry a TLS key.
func applyTLSFixup(g *jitlink.LinkGraph, b *jitlink.Block, e *jitlink.Edge, p []byte) error {
	mod, off, ok := jitlink.DecodeTLSKey(e.Target.Address())
	if !ok {
		return jitlink.NewFixupError(g, b, e, 0, "target is not a thread-local symbol with a TLS module (linking thread-local data needs a TLS platform)")
	}
	le := binary.LittleEndian
	switch e.Kind {
	case DTPOff32:
		v := int64(off) + e.Addend
		if !fitsInt(v, 32) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint32(p, uint32(v))
	case DTPOff64:
		le.PutUint64(p, uint64(int64(off)+e.Addend))
	case DTPMod64:
		le.PutUint64(p, uint64(mod))
	}
	return nil
}

// BuildTLSIndexes is a post-prune pass that lowers TLS requests: each
// becomes a PC-relative reference to an entry in $__TLSGOT: a tls_index
// pair fixed up from the target's TLS key (module and offset for the
// general-dynamic model, module and 0 for local-dynamic), or (initial
// exec) a word holding the target's offset from the thread pointer.
func BuildTLSIndexes(g *jitlink.LinkGraph) error {
	buildTLSIndexes(g)
	return nil
}

// buildTLSIndexes is BuildTLSIndexes; it reports whether any edge is an
// initial- or local-exec kind LowerStaticTLS lowers, so that AddTLSPasses
// can spare that pass its walk over every edge when none is.
func buildTLSIndexes(g *jitlink.LinkGraph) (staticTLS bool) {
	type key struct {
		target *jitlink.Symbol
		kind   jitlink.EdgeKind
	}
	var sec *jitlink.Section
	var pairs map[key]*jitlink.Symbol
	// Entries are new blocks in a new section, which the loop must not
	// visit: it stops at the sections there were.
	for b := range blocksOf(g.Sections()) {
		edges := b.Edges()
		for i := range edges {
			e := &edges[i]
			if e.Kind != RequestTLSGDAndTransformToDelta32 && e.Kind != RequestTLSLDAndTransformToDelta32 &&
				e.Kind != RequestGOTTPOFFAndTransformToDelta32 {
				staticTLS = staticTLS || e.Kind == TPOff32 || e.Kind == TPOff64
				continue
			}
			k := key{e.Target, e.Kind}
			entry := pairs[k]
			if entry == nil {
				if sec == nil {
					sec = g.CreateSection(TLSIndexSectionName, jitlink.ProtRead)
					pairs = make(map[key]*jitlink.Symbol)
				}
				pb := g.CreateContentBlock(sec, make([]byte, 16), uint64(len(pairs))*16, 16, 0)
				switch k.kind {
				case RequestGOTTPOFFAndTransformToDelta32:
					pb.AddEdge(TPOff64, 0, e.Target, 0)
					staticTLS = true
				case RequestTLSGDAndTransformToDelta32:
					pb.AddEdge(DTPMod64, 0, e.Target, 0)
					pb.AddEdge(DTPOff64, 8, e.Target, 0)
				default:
					pb.AddEdge(DTPMod64, 0, e.Target, 0)
				}
				entry = g.AddAnonymousSymbol(pb, 0, 16, jitlink.Live)
				pairs[k] = entry
			}
			e.Kind, e.Target = Delta32, entry
		}
	}
	return staticTLS
}

// blocksOf iterates over the blocks of sections, a snapshot: sections a
// loop body creates are not visited.
func blocksOf(sections []*jitlink.Section) iter.Seq[*jitlink.Block] {
	return func(yield func(*jitlink.Block) bool) {
		for _, s := range sections {
			for _, b := range s.Blocks() {
				if !yield(b) {
					return
				}
			}
		}
	}
}

// tlsNotLowered explains an unlowered TLS request.
func tlsNotLowered(k jitlink.EdgeKind) string {
	return fmt.Sprintf("%s was not lowered: thread-local storage needs a TLS platform", KindName(k))
}

// LowerStaticTLS is a pre-fixup pass for platforms with static TLS: it
// turns each initial- and local-exec edge into a plain pointer edge to an
// absolute symbol holding the target's offset from the thread pointer,
// which tpoff gives for a TLS key (false: the target's module is not in
// static TLS).
func LowerStaticTLS(tpoff func(key uint64) (int64, bool)) jitlink.Pass {
	return func(g *jitlink.LinkGraph) error {
		for b := range g.Blocks() {
			edges := b.Edges()
			for i := range edges {
				e := &edges[i]
				if e.Kind != TPOff32 && e.Kind != TPOff64 {
					continue
				}
				v, ok := tpoff(e.Target.Address())
				if !ok {
					return jitlink.NewFixupError(g, b, e, 0, "the thread-local variable is not in static TLS, which initial- and local-exec code needs (static TLS is small; compile with -fPIC to use dynamic TLS)")
				}
				if e.Kind == TPOff32 {
					e.Kind = Pointer32Signed
				} else {
					e.Kind = Pointer64
				}
				e.Target = g.AddAbsoluteSymbol("", uint64(v), 0, jitlink.Strong, jitlink.ScopeLocal, jitlink.NoAttrs)
			}
		}
		return nil
	}
}
