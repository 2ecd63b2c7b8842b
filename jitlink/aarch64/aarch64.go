// Package aarch64 holds gorc's AArch64 (arm64) support shared by every
// object format: edge kinds and their fixups, GOT and PLT stub construction
// (the stubs double as branch-range veneers) and GOT-load relaxation,
// thread-local storage lowering with its descriptor resolvers, and the
// jitlink.Target: the machine code ORC writes (lazy stubs and reentry,
// init and tail-call thunks) and the instruction-cache flush.
package aarch64

import (
	"encoding/binary"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
)

// Edge kinds. S is the target's address, A the addend, P the fixup address,
// Page(x) is x with its low 12 bits cleared, GOT the address of the graph's
// GOT base symbol. Instruction kinds patch one 32-bit little-endian
// instruction word and keep its other bits.
const (
	// Pointer64: 64-bit S + A.
	Pointer64 = jitlink.FirstArchKind + iota
	// Pointer32: 32-bit S + A, which must fit signed or unsigned 32 bits.
	Pointer32
	// Pointer16: 16-bit S + A, which must fit signed or unsigned 16 bits.
	Pointer16
	// Delta64: 64-bit S + A - P.
	Delta64
	// Delta32: 32-bit S + A - P, which must fit signed or unsigned 32
	// bits (as R_AARCH64_PREL32 allows).
	Delta32
	// Delta16: 16-bit S + A - P (signed or unsigned range).
	Delta16
	// NegDelta32: 32-bit signed P - S + A (an FDE's CIE pointer).
	NegDelta32
	// Delta64FromGOT: 64-bit S + A - GOT.
	Delta64FromGOT
	// Branch26PCRel: the imm26 of B or BL: (S + A - P) >> 2, within
	// +-128 MiB.
	Branch26PCRel
	// Branch26PCRelToStub: a Branch26PCRel to a PLT stub (a veneer); the
	// pre-fixup pass points it at the stub's final target when that is in
	// range.
	Branch26PCRelToStub
	// CondBranch19PCRel: the imm19 of B.cond, CBZ or CBNZ: (S + A - P) >> 2,
	// within +-1 MiB.
	CondBranch19PCRel
	// TestAndBranch14PCRel: the imm14 of TBZ or TBNZ: (S + A - P) >> 2,
	// within +-32 KiB.
	TestAndBranch14PCRel
	// Page21: the immediate of ADRP: Page(S + A) - Page(P), within +-4 GiB.
	Page21
	// Page21NC: the same without the range check (ADR_PREL_PG_HI21_NC).
	Page21NC
	// ADRLiteral21: the immediate of ADR: S + A - P, within +-1 MiB.
	ADRLiteral21
	// PageOffset12: the imm12 of ADD (immediate) or of an unsigned-offset
	// load or store: the low 12 bits of S + A, scaled down by the access
	// size the instruction encodes (which they must be aligned to).
	PageOffset12
	// LDRLiteral19: the imm19 of a literal LDR: (S + A - P) >> 2, within
	// +-1 MiB.
	LDRLiteral19
	// MoveWide16: the imm16 of MOVZ/MOVK/MOVN: the 16 bits of S + A that the
	// instruction's shift selects, unchecked (MOVW_UABS_Gn_NC and G3).
	MoveWide16
	// MoveWide16Unsigned: MoveWide16 where S + A must fit the bits up to
	// the selected group (MOVW_UABS_G0..G2).
	MoveWide16Unsigned
	// MoveWide16Signed: a MOVZ or MOVN of S + A: MOVZ of the group if the
	// value is not negative, else MOVN of the inverted group; the value
	// must fit the groups up to the selected one, signed (MOVW_SABS_Gn,
	// and lowered MOVW_TPREL_Gn).
	MoveWide16Signed
	// MoveWidePCRel16: MoveWide16 of S + A - P (MOVW_PREL_Gn_NC, G3).
	MoveWidePCRel16
	// MoveWidePCRel16Signed: MoveWide16Signed of S + A - P (MOVW_PREL_Gn).
	MoveWidePCRel16Signed
	// AddHi12: the imm12 of ADD with LSL #12: bits 12..23 of S + A, which
	// must fit 24 bits unsigned (lowered TLSLE_ADD_TPREL_HI12).
	AddHi12
	// AddLo12: the imm12 of ADD: S + A, which must fit 12 bits unsigned
	// (lowered TLSLE_ADD_TPREL_LO12).
	AddLo12
	// GOTPageOffset15: the imm12 of a 64-bit LDR: (S + A - Page(GOT)) >> 3,
	// which must fit 15 bits and be 8-aligned (LD64_GOTPAGE_LO15 once its
	// target is the GOT entry).
	GOTPageOffset15
	// RequestGOTAndTransformToPage21: a Page21 to the target's GOT entry
	// (ADR_GOT_PAGE). The GOT builder rewrites these requests.
	RequestGOTAndTransformToPage21
	// RequestGOTAndTransformToPageOffset12: a PageOffset12 to the GOT entry
	// (LD64_GOT_LO12_NC).
	RequestGOTAndTransformToPageOffset12
	// RequestGOTAndTransformToGOTPageOffset15: a GOTPageOffset15 to the GOT
	// entry (LD64_GOTPAGE_LO15).
	RequestGOTAndTransformToGOTPageOffset15
	// RequestGOTAndTransformToLDRLiteral19: an LDRLiteral19 to the GOT entry
	// (GOT_LD_PREL19, the tiny code model).
	RequestGOTAndTransformToLDRLiteral19
	// RequestGOTAndTransformToDelta32: a Delta32 to the GOT entry
	// (GOTPCREL32).
	RequestGOTAndTransformToDelta32
	// FirstPlatformKind is the first kind left for platform support (TLS).
	FirstPlatformKind
)

var kindNames = [...]string{
	Pointer64:                               "Pointer64",
	Pointer32:                               "Pointer32",
	Pointer16:                               "Pointer16",
	Delta64:                                 "Delta64",
	Delta32:                                 "Delta32",
	Delta16:                                 "Delta16",
	NegDelta32:                              "NegDelta32",
	Delta64FromGOT:                          "Delta64FromGOT",
	Branch26PCRel:                           "Branch26PCRel",
	Branch26PCRelToStub:                     "Branch26PCRelToStub",
	CondBranch19PCRel:                       "CondBranch19PCRel",
	TestAndBranch14PCRel:                    "TestAndBranch14PCRel",
	Page21:                                  "Page21",
	Page21NC:                                "Page21NC",
	ADRLiteral21:                            "ADRLiteral21",
	PageOffset12:                            "PageOffset12",
	LDRLiteral19:                            "LDRLiteral19",
	MoveWide16:                              "MoveWide16",
	MoveWide16Unsigned:                      "MoveWide16Unsigned",
	MoveWide16Signed:                        "MoveWide16Signed",
	MoveWidePCRel16:                         "MoveWidePCRel16",
	MoveWidePCRel16Signed:                   "MoveWidePCRel16Signed",
	AddHi12:                                 "AddHi12",
	AddLo12:                                 "AddLo12",
	GOTPageOffset15:                         "GOTPageOffset15",
	RequestGOTAndTransformToPage21:          "RequestGOTAndTransformToPage21",
	RequestGOTAndTransformToPageOffset12:    "RequestGOTAndTransformToPageOffset12",
	RequestGOTAndTransformToGOTPageOffset15: "RequestGOTAndTransformToGOTPageOffset15",
	RequestGOTAndTransformToLDRLiteral19:    "RequestGOTAndTransformToLDRLiteral19",
	RequestGOTAndTransformToDelta32:         "RequestGOTAndTransformToDelta32",
}

// KindName names an AArch64 edge kind.
func KindName(k jitlink.EdgeKind) string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	if i := int(k) - int(FirstPlatformKind); i >= 0 && i < len(tlsKindNames) {
		return tlsKindNames[i]
	}
	return fmt.Sprintf("aarch64 kind %d", k)
}

// FieldSize returns the number of bytes an edge of kind k patches, or 0 for
// kinds this package does not know. Every instruction kind patches 4.
func FieldSize(k jitlink.EdgeKind) int {
	switch k {
	case Pointer64, Delta64, Delta64FromGOT, TPOff64, DTPOff64, DTPMod64, TLSDescFunc, TLSDescArg:
		return 8
	case Pointer16, Delta16:
		return 2
	}
	if k >= Pointer64 && k < FirstPlatformKind+jitlink.EdgeKind(len(tlsKindNames)) {
		return 4
	}
	return 0
}

func fitsInt(v int64, bits uint) bool {
	return v >= -1<<(bits-1) && v < 1<<(bits-1)
}

// fitsIntOrUint accepts values that fit either the signed or the unsigned
// range, as the ELF absolute and PC-relative data relocations do.
func fitsIntOrUint(v int64, bits uint) bool {
	return v >= -1<<(bits-1) && v < 1<<bits
}

func page(x uint64) uint64 { return x &^ 0xfff }

// Instruction fields.
const (
	imm26Mask = 0x03ffffff
	imm19Mask = 0x7ffff << 5
	imm14Mask = 0x3fff << 5
	imm12Mask = 0xfff << 10
	imm16Mask = 0xffff << 5
	adrMask   = 3<<29 | 0x7ffff<<5 // immlo and immhi of ADR/ADRP
)

// setADRImm puts a 21-bit immediate into an ADR or ADRP word.
func setADRImm(w uint32, imm uint64) uint32 {
	return w&^adrMask | uint32(imm&3)<<29 | uint32(imm>>2&0x7ffff)<<5
}

// isLoadStoreImm12 reports whether w is a load or store with an unsigned
// 12-bit offset (LDR/STR/LDRB/... "unsigned offset" forms, integer or SIMD).
func isLoadStoreImm12(w uint32) bool { return w&0x3b000000 == 0x39000000 }

// isAddImm reports whether w is ADD or ADDS (immediate), 32 or 64 bits.
func isAddImm(w uint32) bool { return w&0x1f000000 == 0x11000000 && w&(1<<30) == 0 }

// loadStoreShift returns log2 of the access size of an unsigned-offset load
// or store: the size field, or 4 for a 128-bit SIMD access.
func loadStoreShift(w uint32) uint {
	shift := uint(w >> 30)
	if shift == 0 && w&0x04800000 == 0x04800000 {
		return 4
	}
	return shift
}

// isMoveWide reports whether w is MOVN, MOVZ or MOVK.
func isMoveWide(w uint32) bool { return w&0x1f800000 == 0x12800000 && w>>29&3 != 1 }

// ApplyFixup patches b's content for e. got is the address of the GOT base
// symbol (used by the GOT-relative kinds; 0 if the graph has none).
func ApplyFixup(g *jitlink.LinkGraph, b *jitlink.Block, e *jitlink.Edge, got uint64) error {
	n := FieldSize(e.Kind)
	if n == 0 {
		return jitlink.NewFixupError(g, b, e, 0, "unsupported edge kind for aarch64")
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
		return nil
	case Pointer32:
		v := int64(S + uint64(A))
		if !fitsIntOrUint(v, 32) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint32(p, uint32(v))
		return nil
	case Pointer16:
		v := int64(S + uint64(A))
		if !fitsIntOrUint(v, 16) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint16(p, uint16(v))
		return nil
	case Delta64:
		le.PutUint64(p, S+uint64(A)-P)
		return nil
	case Delta32:
		v := int64(S + uint64(A) - P)
		if !fitsIntOrUint(v, 32) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint32(p, uint32(v))
		return nil
	case Delta16:
		v := int64(S + uint64(A) - P)
		if !fitsIntOrUint(v, 16) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint16(p, uint16(v))
		return nil
	case NegDelta32:
		v := int64(P - S + uint64(A))
		if !fitsInt(v, 32) {
			return jitlink.OutOfRange(g, b, e, v)
		}
		le.PutUint32(p, uint32(v))
		return nil
	case Delta64FromGOT:
		if got == 0 {
			return jitlink.NewFixupError(g, b, e, 0, "graph has no GOT base symbol")
		}
		le.PutUint64(p, S+uint64(A)-got)
		return nil
	case DTPOff64, DTPMod64:
		return applyTLSFixup(g, b, e, p)
	}
	w, err := patchInstruction(g, b, e, le.Uint32(p), S, A, P, got)
	if err != nil {
		return err
	}
	le.PutUint32(p, w)
	return nil
}

// patchInstruction returns the instruction word w with e's field set.
func patchInstruction(g *jitlink.LinkGraph, b *jitlink.Block, e *jitlink.Edge, w uint32, S uint64, A int64, P, got uint64) (uint32, error) {
	delta := int64(S + uint64(A) - P)
	abs := S + uint64(A)
	misaligned := func(what string, v int64) error {
		return jitlink.NewFixupError(g, b, e, v, fmt.Sprintf("%s is not a multiple of %s", signedHexValue(v), what))
	}
	wrongInstr := func(want string) error {
		return jitlink.NewFixupError(g, b, e, 0, fmt.Sprintf("instruction %#08x is not %s", w, want))
	}
	switch e.Kind {
	case Branch26PCRel, Branch26PCRelToStub:
		if w&0x7c000000 != 0x14000000 {
			return 0, wrongInstr("B or BL")
		}
		if delta&3 != 0 {
			return 0, misaligned("4", delta)
		}
		if !fitsInt(delta, 28) {
			return 0, jitlink.OutOfRange(g, b, e, delta)
		}
		return w&^imm26Mask | uint32(delta>>2)&imm26Mask, nil
	case CondBranch19PCRel, LDRLiteral19:
		if delta&3 != 0 {
			return 0, misaligned("4", delta)
		}
		if !fitsInt(delta, 21) {
			return 0, jitlink.OutOfRange(g, b, e, delta)
		}
		return w&^imm19Mask | uint32(delta>>2)<<5&imm19Mask, nil
	case TestAndBranch14PCRel:
		if delta&3 != 0 {
			return 0, misaligned("4", delta)
		}
		if !fitsInt(delta, 16) {
			return 0, jitlink.OutOfRange(g, b, e, delta)
		}
		return w&^imm14Mask | uint32(delta>>2)<<5&imm14Mask, nil
	case Page21, Page21NC:
		if w&0x9f000000 != 0x90000000 {
			return 0, wrongInstr("ADRP")
		}
		d := int64(page(abs) - page(P))
		if e.Kind == Page21 && !fitsInt(d, 33) {
			return 0, jitlink.OutOfRange(g, b, e, d)
		}
		return setADRImm(w, uint64(d>>12)), nil
	case ADRLiteral21:
		if w&0x9f000000 != 0x10000000 {
			return 0, wrongInstr("ADR")
		}
		if !fitsInt(delta, 21) {
			return 0, jitlink.OutOfRange(g, b, e, delta)
		}
		return setADRImm(w, uint64(delta)), nil
	case PageOffset12:
		v := abs & 0xfff
		var shift uint
		switch {
		case isAddImm(w):
		case isLoadStoreImm12(w):
			shift = loadStoreShift(w)
		default:
			return 0, wrongInstr("ADD (immediate) or a load or store with an unsigned offset")
		}
		if v&(1<<shift-1) != 0 {
			return 0, misaligned(fmt.Sprintf("the %d-byte access size", 1<<shift), int64(v))
		}
		return w&^imm12Mask | uint32(v>>shift)<<10, nil
	case MoveWide16, MoveWide16Unsigned, MoveWide16Signed, MoveWidePCRel16, MoveWidePCRel16Signed:
		if !isMoveWide(w) {
			return 0, wrongInstr("MOVN, MOVZ or MOVK")
		}
		v := int64(abs)
		if e.Kind == MoveWidePCRel16 || e.Kind == MoveWidePCRel16Signed {
			v = delta
		}
		shift := 16 * uint(w>>21&3)
		switch e.Kind {
		case MoveWide16Unsigned:
			if shift < 48 && uint64(v)>>(shift+16) != 0 {
				return 0, jitlink.OutOfRange(g, b, e, v)
			}
		case MoveWide16Signed, MoveWidePCRel16Signed:
			if shift < 48 && !fitsInt(v, shift+17) {
				return 0, jitlink.OutOfRange(g, b, e, v)
			}
			// MOVZ of the value, or MOVN of its complement.
			w &^= 3 << 29
			if v < 0 {
				v = ^v
			} else {
				w |= 2 << 29
			}
		}
		return w&^imm16Mask | uint32(uint64(v)>>shift&0xffff)<<5, nil
	case AddHi12, AddLo12:
		if !isAddImm(w) {
			return 0, wrongInstr("ADD (immediate)")
		}
		v, limit := abs, uint64(1)<<12
		if e.Kind == AddHi12 {
			v, limit = abs>>12, 1<<24
		}
		if abs >= limit {
			return 0, jitlink.OutOfRange(g, b, e, int64(abs))
		}
		return w&^imm12Mask | uint32(v&0xfff)<<10, nil
	case GOTPageOffset15:
		if got == 0 {
			return 0, jitlink.NewFixupError(g, b, e, 0, "graph has no GOT base symbol")
		}
		if !isLoadStoreImm12(w) || loadStoreShift(w) != 3 {
			return 0, wrongInstr("a 64-bit LDR with an unsigned offset")
		}
		v := int64(abs - page(got))
		if v&7 != 0 {
			return 0, misaligned("8", v)
		}
		if v < 0 || v >= 1<<15 {
			return 0, jitlink.OutOfRange(g, b, e, v)
		}
		return w&^imm12Mask | uint32(v>>3)<<10, nil
	}
	if e.Kind >= FirstPlatformKind {
		return 0, jitlink.NewFixupError(g, b, e, 0, tlsNotLowered(e.Kind))
	}
	return 0, jitlink.NewFixupError(g, b, e, 0, "edge was not lowered before fixup (missing GOT/PLT pass?)")
}

func signedHexValue(v int64) string {
	if v < 0 {
		return fmt.Sprintf("-%#x", uint64(-v))
	}
	return fmt.Sprintf("%#x", v)
}
