// Package x86_64 holds gorc's x86-64 support shared by every object format:
// edge kinds and their fixups, GOT and PLT stub construction, and relaxation
// of GOT loads and stub calls.
package x86_64

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gorc-jit/gorc/jitlink"
)

// Edge kinds. S is the target's address, A the addend, P the fixup address,
// GOT the address of the graph's GOT base symbol, Z the target's size.
const (
	// Pointer64: 64-bit S + A.
	Pointer64 = jitlink.FirstArchKind + iota
	// Pointer32: 32-bit S + A, which must fit unsigned 32 bits.
	Pointer32
	// Pointer32Signed: 32-bit S + A, which must fit signed 32 bits.
	Pointer32Signed
	// Pointer16: 16-bit S + A (signed or unsigned range).
	Pointer16
	// Pointer8: 8-bit S + A (signed or unsigned range).
	Pointer8
	// Delta64: 64-bit S + A - P.
	Delta64
	// Delta32: 32-bit signed S + A - P.
	Delta32
	// Delta16: 16-bit signed S + A - P.
	Delta16
	// Delta8: 8-bit signed S + A - P.
	Delta8
	// NegDelta64: 64-bit P - S + A.
	NegDelta64
	// NegDelta32: 32-bit signed P - S + A (e.g. an FDE's CIE pointer).
	NegDelta32
	// Delta64FromGOT: 64-bit S + A - GOT.
	Delta64FromGOT
	// BranchPCRel32: the rel32 of a call or jmp: S + A - P.
	BranchPCRel32
	// BranchPCRel32ToPtrJumpStubBypassable: a BranchPCRel32 to a PLT stub;
	// relaxation may point it at the stub's final target instead.
	BranchPCRel32ToPtrJumpStubBypassable
	// RequestGOTAndTransformToDelta32: a Delta32 to the target's GOT entry
	// (R_X86_64_GOTPCREL). The GOT builder rewrites it.
	RequestGOTAndTransformToDelta32
	// RequestGOTAndTransformToDelta64: Delta64 to the GOT entry
	// (R_X86_64_GOTPCREL64).
	RequestGOTAndTransformToDelta64
	// RequestGOTAndTransformToDelta64FromGOT: the GOT entry's offset from
	// the GOT base (R_X86_64_GOT64).
	RequestGOTAndTransformToDelta64FromGOT
	// RequestGOTAndTransformToPCRel32GOTLoadRelaxable: R_X86_64_GOTPCRELX.
	RequestGOTAndTransformToPCRel32GOTLoadRelaxable
	// RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable:
	// R_X86_64_REX_GOTPCRELX.
	RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable
	// PCRel32GOTLoadRelaxable: a Delta32 to a GOT entry from an instruction
	// relaxation may rewrite to address the target directly.
	PCRel32GOTLoadRelaxable
	// PCRel32GOTLoadREXRelaxable: the same with a REX prefix.
	PCRel32GOTLoadREXRelaxable
	// Size32: 32-bit Z + A.
	Size32
	// Size64: 64-bit Z + A.
	Size64
	// FirstPlatformKind is the first kind left for platform support (TLS).
	FirstPlatformKind
)

var kindNames = [...]string{
	Pointer64:                              "Pointer64",
	Pointer32:                              "Pointer32",
	Pointer32Signed:                        "Pointer32Signed",
	Pointer16:                              "Pointer16",
	Pointer8:                               "Pointer8",
	Delta64:                                "Delta64",
	Delta32:                                "Delta32",
	Delta16:                                "Delta16",
	Delta8:                                 "Delta8",
	NegDelta64:                             "NegDelta64",
	NegDelta32:                             "NegDelta32",
	Delta64FromGOT:                         "Delta64FromGOT",
	BranchPCRel32:                          "BranchPCRel32",
	BranchPCRel32ToPtrJumpStubBypassable:   "BranchPCRel32ToPtrJumpStubBypassable",
	RequestGOTAndTransformToDelta32:        "RequestGOTAndTransformToDelta32",
	RequestGOTAndTransformToDelta64:        "RequestGOTAndTransformToDelta64",
	RequestGOTAndTransformToDelta64FromGOT: "RequestGOTAndTransformToDelta64FromGOT",
	RequestGOTAndTransformToPCRel32GOTLoadRelaxable:    "RequestGOTAndTransformToPCRel32GOTLoadRelaxable",
	RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable: "RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable",
	PCRel32GOTLoadRelaxable:                            "PCRel32GOTLoadRelaxable",
	PCRel32GOTLoadREXRelaxable:                         "PCRel32GOTLoadREXRelaxable",
	Size32:                                             "Size32",
	Size64:                                             "Size64",
}

// KindName names an x86-64 edge kind.
func KindName(k jitlink.EdgeKind) string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	if i := int(k) - int(FirstPlatformKind); i >= 0 && i < len(tlsKindNames) {
		return tlsKindNames[i]
	}
	return fmt.Sprintf("x86_64 kind %d", k)
}

// fieldSize returns the number of bytes a kind patches (0 if unknown).
func fieldSize(k jitlink.EdgeKind) int {
	switch k {
	case Pointer64, Delta64, NegDelta64, Delta64FromGOT, Size64,
		RequestGOTAndTransformToDelta64, RequestGOTAndTransformToDelta64FromGOT,
		DTPOff64, DTPMod64, TPOff64:
		return 8
	case Pointer16, Delta16:
		return 2
	case Pointer8, Delta8:
		return 1
	case Pointer32, Pointer32Signed, Delta32, NegDelta32, BranchPCRel32,
		BranchPCRel32ToPtrJumpStubBypassable, PCRel32GOTLoadRelaxable,
		PCRel32GOTLoadREXRelaxable, Size32, RequestGOTAndTransformToDelta32,
		RequestGOTAndTransformToPCRel32GOTLoadRelaxable,
		RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable,
		RequestTLSGDAndTransformToDelta32, RequestTLSLDAndTransformToDelta32, DTPOff32,
		RequestGOTTPOFFAndTransformToDelta32, TPOff32:
		return 4
	}
	return 0
}

// FieldSize returns the number of bytes an edge of kind k patches, or 0 for
// kinds this package does not know.
func FieldSize(k jitlink.EdgeKind) int { return fieldSize(k) }

func fitsInt(v int64, bits uint) bool {
	return v >= -1<<(bits-1) && v < 1<<(bits-1)
}

// fitsIntOrUint accepts values that fit either the signed or the unsigned
// range, as the ELF absolute 8- and 16-bit relocations do.
func fitsIntOrUint(v int64, bits uint) bool {
	return v >= -1<<(bits-1) && v < 1<<bits
}

// ApplyFixup patches b's content for e. got is the address of the GOT base
// symbol (used by the FromGOT kinds; 0 if the graph has none).
func ApplyFixup(g *jitlink.LinkGraph, b *jitlink.Block, e *jitlink.Edge, got uint64) error {
	n := fieldSize(e.Kind)
	if n == 0 {
		return jitlink.NewFixupError(g, b, e, 0, "unsupported edge kind for x86-64")
	}
	content := b.Content()
	off := uint64(e.Offset)
	if off+uint64(n) > uint64(len(content)) {
		return jitlink.NewFixupError(g, b, e, 0, fmt.Sprintf("%d-byte field extends past the end of its %d-byte block", n, len(content)))
	}
	p := content[off : off+uint64(n)]
	S := e.Target.Address()
	A := e.Addend
	P := b.Address() + off
	le := binary.LittleEndian
	switch e.Kind {
	case Pointer64:
		le.PutUint64(p, S+uint64(A))
	case Pointer32:
		v := S + uint64(A)
		if v > math.MaxUint32 {
			return jitlink.OutOfRange(g, b, e, int64(v))
		}
		le.PutUint32(p, uint32(v))
	case Pointer32Signed:
		v := int64(S + uint64(A))
		if !fitsInt(v, 32) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint32(p, uint32(v))
	case Pointer16:
		v := int64(S + uint64(A))
		if !fitsIntOrUint(v, 16) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint16(p, uint16(v))
	case Pointer8:
		v := int64(S + uint64(A))
		if !fitsIntOrUint(v, 8) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		p[0] = uint8(v)
	case Delta64:
		le.PutUint64(p, S+uint64(A)-P)
	case Delta32, BranchPCRel32, BranchPCRel32ToPtrJumpStubBypassable,
		PCRel32GOTLoadRelaxable, PCRel32GOTLoadREXRelaxable:
		v := int64(S + uint64(A) - P)
		if !fitsInt(v, 32) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint32(p, uint32(v))
	case Delta16:
		v := int64(S + uint64(A) - P)
		if !fitsInt(v, 16) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint16(p, uint16(v))
	case Delta8:
		v := int64(S + uint64(A) - P)
		if !fitsInt(v, 8) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		p[0] = uint8(v)
	case NegDelta64:
		le.PutUint64(p, P-S+uint64(A))
	case NegDelta32:
		v := int64(P - S + uint64(A))
		if !fitsInt(v, 32) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint32(p, uint32(v))
	case Delta64FromGOT:
		if got == 0 {
			return jitlink.NewFixupError(g, b, e, 0, "graph has no GOT base symbol")
		}
		le.PutUint64(p, S+uint64(A)-got)
	case Size64:
		le.PutUint64(p, e.Target.Size()+uint64(A))
	case Size32:
		v := e.Target.Size() + uint64(A)
		if v > math.MaxUint32 {
			return jitlink.OutOfRange(g, b, e, int64(v))
		}
		le.PutUint32(p, uint32(v))
	case DTPOff32, DTPOff64, DTPMod64:
		return applyTLSFixup(g, b, e, p)
	case RequestTLSGDAndTransformToDelta32, RequestTLSLDAndTransformToDelta32, RequestGOTTPOFFAndTransformToDelta32,
		TPOff32, TPOff64:
		return jitlink.NewFixupError(g, b, e, 0, tlsNotLowered(e.Kind))
	default:
		return jitlink.NewFixupError(g, b, e, 0, "edge was not lowered before fixup (missing GOT/PLT pass?)")
	}
	return nil
}
