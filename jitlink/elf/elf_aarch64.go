package elf

import (
	"debug/elf"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
	"github.com/gorc-jit/gorc/jitlink/ehframe"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

var archAArch64 = &arch{
	arch:    triple.AArch64,
	machine: elf.EM_AARCH64,
	tpoff64: uint32(elf.R_AARCH64_TLS_TPREL64),
	// No absolute32: code reaches its data PC-relatively in every code
	// model.
	newBackend: func() backend { return &aarch64Backend{} },
	edge:       aarch64Edge,
	ehFrame:    ehframe.Kinds{NegDelta32: aarch64.NegDelta32},
}

// Relocation types debug/elf does not name.
const (
	rAArch64MovwPrelG0   = 287
	rAArch64MovwPrelG0NC = 288
	rAArch64MovwPrelG1   = 289
	rAArch64MovwPrelG1NC = 290
	rAArch64MovwPrelG2   = 291
	rAArch64MovwPrelG2NC = 292
	rAArch64MovwPrelG3   = 293
	rAArch64GotRel64     = 307
	rAArch64PLT32        = 314
	rAArch64GotPCRel32   = 315
	// TLSLE_LDST{8,16,32,64}_TPREL_LO12 and _NC: 552 to 559.
	rAArch64TLSLELdstFirst = 552
	rAArch64TLSLELdstLast  = 559
)

// aarch64Edge maps an R_AARCH64_* relocation to an edge kind.
func aarch64Edge(b *builder, rtype uint32, sec string, off uint64) (jitlink.EdgeKind, int, bool, error) {
	var k jitlink.EdgeKind
	switch r := elf.R_AARCH64(rtype); r {
	case elf.R_AARCH64_NONE, elf.R_AARCH64_NULL:
		return 0, 0, true, nil
	case elf.R_AARCH64_TLSDESC_CALL:
		// Marks the BLR of a descriptor call for linker relaxation, which
		// gorc does not do: the call stays as compiled.
		return 0, 0, true, nil
	case elf.R_AARCH64_ABS64:
		k = aarch64.Pointer64
	case elf.R_AARCH64_ABS32:
		k = aarch64.Pointer32
	case elf.R_AARCH64_ABS16:
		k = aarch64.Pointer16
	case elf.R_AARCH64_PREL64:
		k = aarch64.Delta64
	case elf.R_AARCH64_PREL32, rAArch64PLT32:
		// PLT32 (a 32-bit reference to a function, e.g. in relative
		// vtables) binds to the function itself.
		k = aarch64.Delta32
	case elf.R_AARCH64_PREL16:
		k = aarch64.Delta16
	case elf.R_AARCH64_CALL26, elf.R_AARCH64_JUMP26:
		k = aarch64.Branch26PCRel
	case elf.R_AARCH64_CONDBR19:
		k = aarch64.CondBranch19PCRel
	case elf.R_AARCH64_TSTBR14:
		k = aarch64.TestAndBranch14PCRel
	case elf.R_AARCH64_ADR_PREL_PG_HI21:
		k = aarch64.Page21
	case elf.R_AARCH64_ADR_PREL_PG_HI21_NC:
		k = aarch64.Page21NC
	case elf.R_AARCH64_ADR_PREL_LO21:
		k = aarch64.ADRLiteral21
	case elf.R_AARCH64_ADD_ABS_LO12_NC, elf.R_AARCH64_LDST8_ABS_LO12_NC, elf.R_AARCH64_LDST16_ABS_LO12_NC,
		elf.R_AARCH64_LDST32_ABS_LO12_NC, elf.R_AARCH64_LDST64_ABS_LO12_NC, elf.R_AARCH64_LDST128_ABS_LO12_NC:
		k = aarch64.PageOffset12
	case elf.R_AARCH64_LD_PREL_LO19:
		k = aarch64.LDRLiteral19
	case elf.R_AARCH64_MOVW_UABS_G0_NC, elf.R_AARCH64_MOVW_UABS_G1_NC, elf.R_AARCH64_MOVW_UABS_G2_NC, elf.R_AARCH64_MOVW_UABS_G3:
		k = aarch64.MoveWide16
	case elf.R_AARCH64_MOVW_UABS_G0, elf.R_AARCH64_MOVW_UABS_G1, elf.R_AARCH64_MOVW_UABS_G2:
		k = aarch64.MoveWide16Unsigned
	case elf.R_AARCH64_MOVW_SABS_G0, elf.R_AARCH64_MOVW_SABS_G1, elf.R_AARCH64_MOVW_SABS_G2:
		k = aarch64.MoveWide16Signed
	case rAArch64MovwPrelG0NC, rAArch64MovwPrelG1NC, rAArch64MovwPrelG2NC, rAArch64MovwPrelG3:
		k = aarch64.MoveWidePCRel16
	case rAArch64MovwPrelG0, rAArch64MovwPrelG1, rAArch64MovwPrelG2:
		k = aarch64.MoveWidePCRel16Signed
	case rAArch64GotRel64:
		k = aarch64.Delta64FromGOT
	case elf.R_AARCH64_ADR_GOT_PAGE:
		k = aarch64.RequestGOTAndTransformToPage21
	case elf.R_AARCH64_LD64_GOT_LO12_NC:
		k = aarch64.RequestGOTAndTransformToPageOffset12
	case elf.R_AARCH64_LD64_GOTPAGE_LO15:
		k = aarch64.RequestGOTAndTransformToGOTPageOffset15
	case elf.R_AARCH64_GOT_LD_PREL19:
		k = aarch64.RequestGOTAndTransformToLDRLiteral19
	case rAArch64GotPCRel32:
		k = aarch64.RequestGOTAndTransformToDelta32
	case elf.R_AARCH64_TLSDESC_ADR_PAGE21:
		k = aarch64.RequestTLSDescAndTransformToPage21
	case elf.R_AARCH64_TLSDESC_LD64_LO12_NC, elf.R_AARCH64_TLSDESC_ADD_LO12_NC:
		k = aarch64.RequestTLSDescAndTransformToPageOffset12
	case elf.R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21:
		k = aarch64.RequestGOTTPOFFAndTransformToPage21
	case elf.R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC:
		k = aarch64.RequestGOTTPOFFAndTransformToPageOffset12
	case elf.R_AARCH64_TLSIE_LD_GOTTPREL_PREL19:
		k = aarch64.RequestGOTTPOFFAndTransformToLDRLiteral19
	case elf.R_AARCH64_TLSDESC_LD_PREL19:
		k = aarch64.RequestTLSDescAndTransformToLDRLiteral19
	case elf.R_AARCH64_TLSDESC_ADR_PREL21:
		k = aarch64.RequestTLSDescAndTransformToADRLiteral21
	case elf.R_AARCH64_TLSGD_ADR_PREL21:
		k = aarch64.RequestTLSGDAndTransformToADRLiteral21
	case elf.R_AARCH64_TLSGD_ADR_PAGE21:
		k = aarch64.RequestTLSGDAndTransformToPage21
	case elf.R_AARCH64_TLSGD_ADD_LO12_NC:
		k = aarch64.RequestTLSGDAndTransformToPageOffset12
	case elf.R_AARCH64_TLSLE_ADD_TPREL_HI12:
		k = aarch64.TPOffHi12
	case elf.R_AARCH64_TLSLE_ADD_TPREL_LO12:
		k = aarch64.TPOffLo12
	case elf.R_AARCH64_TLSLE_ADD_TPREL_LO12_NC:
		k = aarch64.TPOffLo12NC
	case elf.R_AARCH64_TLSLE_MOVW_TPREL_G0_NC, elf.R_AARCH64_TLSLE_MOVW_TPREL_G1_NC:
		k = aarch64.TPOffMoveWide16
	case elf.R_AARCH64_TLSLE_MOVW_TPREL_G0, elf.R_AARCH64_TLSLE_MOVW_TPREL_G1, elf.R_AARCH64_TLSLE_MOVW_TPREL_G2:
		k = aarch64.TPOffMoveWide16Signed
	case elf.R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC:
		k = aarch64.TPOffLo12NC
	case elf.R_AARCH64_TLS_DTPREL64:
		k = aarch64.DTPOff64
	case elf.R_AARCH64_TLS_DTPMOD64:
		k = aarch64.DTPMod64
	default:
		if rtype >= rAArch64TLSLELdstFirst && rtype <= rAArch64TLSLELdstLast && rtype%2 == 1 {
			// TLSLE_LDSTn_TPREL_LO12_NC: the load or store's scaled
			// offset of the low bits.
			k = aarch64.TPOffLo12NC
			break
		}
		return 0, 0, false, b.unsupported(sec, int64(off), "relocation type %v", r)
	}
	return k, aarch64.FieldSize(k), false, nil
}

// aarch64Backend links one ELF AArch64 graph: the architecture's backend
// (the builder has split the call-frame section already).
type aarch64Backend struct {
	aarch64.Backend
}

func (be *aarch64Backend) fixTarget(_ *builder, _ jitlink.EdgeKind, _ uint32, target *jitlink.Symbol) *jitlink.Symbol {
	return target
}
