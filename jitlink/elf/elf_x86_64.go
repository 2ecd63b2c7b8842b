package elf

import (
	"debug/elf"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/ehframe"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

var archX86_64 = &arch{
	arch:    triple.X86_64,
	machine: elf.EM_X86_64,
	tpoff64: uint32(elf.R_X86_64_TPOFF64),
	absolute32: func(rtype uint32) bool {
		return elf.R_X86_64(rtype) == elf.R_X86_64_32 || elf.R_X86_64(rtype) == elf.R_X86_64_32S
	},
	newBackend: func() backend { return &x86_64Backend{} },
	edge:       x86_64Edge,
	ehFrame:    ehframe.Kinds{NegDelta32: x86_64.NegDelta32},
}

// x86_64Edge maps an R_X86_64_* relocation to an edge kind.
func x86_64Edge(b *builder, rtype uint32, sec string, off uint64) (jitlink.EdgeKind, int, bool, error) {
	var k jitlink.EdgeKind
	switch elf.R_X86_64(rtype) {
	case elf.R_X86_64_NONE:
		return 0, 0, true, nil
	case elf.R_X86_64_64:
		k = x86_64.Pointer64
	case elf.R_X86_64_32:
		k = x86_64.Pointer32
	case elf.R_X86_64_32S:
		k = x86_64.Pointer32Signed
	case elf.R_X86_64_16:
		k = x86_64.Pointer16
	case elf.R_X86_64_8:
		k = x86_64.Pointer8
	case elf.R_X86_64_PC64:
		k = x86_64.Delta64
	case elf.R_X86_64_PC32:
		k = x86_64.Delta32
	case elf.R_X86_64_PC16:
		k = x86_64.Delta16
	case elf.R_X86_64_PC8:
		k = x86_64.Delta8
	case elf.R_X86_64_PLT32:
		k = x86_64.BranchPCRel32
	case elf.R_X86_64_GOTPCREL:
		k = x86_64.RequestGOTAndTransformToDelta32
	case elf.R_X86_64_GOTPCRELX:
		k = x86_64.RequestGOTAndTransformToPCRel32GOTLoadRelaxable
	case elf.R_X86_64_REX_GOTPCRELX:
		k = x86_64.RequestGOTAndTransformToPCRel32GOTLoadREXRelaxable
	case elf.R_X86_64_GOTPCREL64:
		k = x86_64.RequestGOTAndTransformToDelta64
	case elf.R_X86_64_GOT64:
		k = x86_64.RequestGOTAndTransformToDelta64FromGOT
	case elf.R_X86_64_GOTOFF64:
		k = x86_64.Delta64FromGOT
	case elf.R_X86_64_PLTOFF64:
		// L + A - GOT. Calls bind directly (a 64-bit offset reaches
		// anything), so the "PLT entry" is the function itself.
		k = x86_64.Delta64FromGOT
	case elf.R_X86_64_GOTPC32:
		k = x86_64.Delta32 // GOT + A - P; fixTarget points it at the GOT base
	case elf.R_X86_64_GOTPC64:
		k = x86_64.Delta64
	case elf.R_X86_64_SIZE32:
		k = x86_64.Size32
	case elf.R_X86_64_SIZE64:
		k = x86_64.Size64
	case elf.R_X86_64_TLSGD:
		k = x86_64.RequestTLSGDAndTransformToDelta32
	case elf.R_X86_64_TLSLD:
		k = x86_64.RequestTLSLDAndTransformToDelta32
	case elf.R_X86_64_DTPOFF32:
		k = x86_64.DTPOff32
	case elf.R_X86_64_DTPOFF64:
		k = x86_64.DTPOff64
	case elf.R_X86_64_DTPMOD64:
		k = x86_64.DTPMod64
	case elf.R_X86_64_GOTTPOFF:
		k = x86_64.RequestGOTTPOFFAndTransformToDelta32
	case elf.R_X86_64_TPOFF32:
		k = x86_64.TPOff32
	case elf.R_X86_64_TPOFF64:
		k = x86_64.TPOff64
	case elf.R_X86_64_GOTPC32_TLSDESC, elf.R_X86_64_TLSDESC_CALL, elf.R_X86_64_TLSDESC:
		return 0, 0, false, b.unsupported(sec, int64(off),
			"TLS descriptor relocation %v: compile without -mtls-dialect=gnu2", elf.R_X86_64(rtype))
	default:
		return 0, 0, false, b.unsupported(sec, int64(off), "relocation type %v", elf.R_X86_64(rtype))
	}
	return k, x86_64.FieldSize(k), false, nil
}

// x86_64Backend links one ELF x86-64 graph: the architecture's backend
// (the builder has split the call-frame section already).
type x86_64Backend struct {
	x86_64.Backend
	got *jitlink.Symbol // GOT base reference, made on first use
}

func (be *x86_64Backend) fixTarget(b *builder, kind jitlink.EdgeKind, rtype uint32, target *jitlink.Symbol) *jitlink.Symbol {
	switch elf.R_X86_64(rtype) {
	case elf.R_X86_64_GOTPC32, elf.R_X86_64_GOTPC64:
		// GOT + A - P: the symbol is the GOT base whatever the entry says.
		if be.got == nil {
			be.got = x86_64.GOTSymbol(b.g)
		}
		return be.got
	}
	return target
}
