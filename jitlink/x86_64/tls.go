package x86_64

import (
	"encoding/binary"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
)

// Thread-local storage edge kinds (general- and local-dynamic models).
// Their targets' values are TLS keys (jitlink.TLSKey), assigned by a TLS
// platform after allocation.
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
)

var tlsKindNames = [...]string{
	RequestTLSGDAndTransformToDelta32 - FirstPlatformKind: "RequestTLSGDAndTransformToDelta32",
	RequestTLSLDAndTransformToDelta32 - FirstPlatformKind: "RequestTLSLDAndTransformToDelta32",
	DTPOff32 - FirstPlatformKind:                          "DTPOff32",
	DTPOff64 - FirstPlatformKind:                          "DTPOff64",
	DTPMod64 - FirstPlatformKind:                          "DTPMod64",
}

// TLSIndexSectionName holds the tls_index pairs lowered TLS requests use.
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
// becomes a PC-relative reference to a tls_index pair in $__TLSGOT, whose
// words are fixed up from the target's TLS key (module and offset for the
// general-dynamic model, module and 0 for local-dynamic).
func BuildTLSIndexes(g *jitlink.LinkGraph) error {
	type key struct {
		target *jitlink.Symbol
		ld     bool
	}
	var sec *jitlink.Section
	pairs := make(map[key]*jitlink.Symbol)
	var blocks []*jitlink.Block
	for b := range g.Blocks() {
		blocks = append(blocks, b)
	}
	for _, b := range blocks {
		edges := b.Edges()
		for i := range edges {
			e := &edges[i]
			if e.Kind != RequestTLSGDAndTransformToDelta32 && e.Kind != RequestTLSLDAndTransformToDelta32 {
				continue
			}
			k := key{e.Target, e.Kind == RequestTLSLDAndTransformToDelta32}
			pair := pairs[k]
			if pair == nil {
				if sec == nil {
					sec = g.CreateSection(TLSIndexSectionName, jitlink.ProtRead)
				}
				pb := g.CreateContentBlock(sec, make([]byte, 16), uint64(len(pairs))*16, 16, 0)
				pb.AddEdge(DTPMod64, 0, e.Target, 0)
				if !k.ld {
					pb.AddEdge(DTPOff64, 8, e.Target, 0)
				}
				pair = g.AddAnonymousSymbol(pb, 0, 16, false, true)
				pairs[k] = pair
			}
			e.Kind, e.Target = Delta32, pair
		}
	}
	return nil
}

// tlsNotLowered explains an unlowered TLS request.
func tlsNotLowered(k jitlink.EdgeKind) string {
	return fmt.Sprintf("%s was not lowered: thread-local storage needs a TLS platform", KindName(k))
}
