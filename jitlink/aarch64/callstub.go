package aarch64

import (
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
)

// Instruction words reading and writing the floating-point control
// register through x9.
const (
	mrsX9FPCR = 0xd53b4409 // mrs x9, fpcr
	msrFPCRX9 = 0xd51b4409 // msr fpcr, x9
)

// preservingFrame is the stub's frame: the frame record, x19-x28, q8-q15
// (whose low halves, d8-d15, are callee-saved) and FPCR, 16-byte aligned.
const (
	preservingFrame = 240
	savedQ          = 96  // offset of q8
	savedFPCR       = 224 // offset of FPCR
)

// PreservingCallStub returns the machine code of a function
//
//	uint64_t stub(uint64_t fn, const uint64_t args[6])
//
// that calls fn with the six integer arguments and returns what fn returns
// in x0 and x1, and that itself saves and restores everything AAPCS64
// makes callee-saved: x19-x29, the link register, d8-d15 (as all of
// q8-q15) and FPCR. It is the aarch64 counterpart of x86-64's stub, for
// the same reason: legal C (a global register variable in x19) may return
// with a callee-saved register changed. The code is position-independent
// and needs no relocation.
func (Target) PreservingCallStub() []byte {
	var c code
	c.inst(stpXPre(fp, lr, sp, -preservingFrame))
	c.inst(addImm(fp, sp, 0)) // mov x29, sp
	for r := uint32(19); r < 29; r += 2 {
		c.inst(stpX(r, r+1, sp, int(16+(r-19)*8)))
	}
	for q := uint32(8); q < 16; q += 2 {
		c.inst(stpQ(q, q+1, sp, int(savedQ+(q-8)*16)))
	}
	c.inst(mrsX9FPCR)
	c.inst(strX(9, sp, savedFPCR))
	c.inst(movReg(ip0, 0)) // fn
	c.inst(movReg(ip1, 1)) // args
	for r := uint32(0); r < 6; r += 2 {
		c.inst(ldpX(r, r+1, ip1, int(r*8)))
	}
	c.inst(blr(ip0))
	c.inst(ldrX(9, sp, savedFPCR))
	c.inst(msrFPCRX9)
	for q := uint32(8); q < 16; q += 2 {
		c.inst(ldpQ(q, q+1, sp, int(savedQ+(q-8)*16)))
	}
	for r := uint32(19); r < 29; r += 2 {
		c.inst(ldpX(r, r+1, sp, int(16+(r-19)*8)))
	}
	c.inst(ldpXPost(fp, lr, sp, preservingFrame))
	c.inst(ret)
	return c.b
}

// AddFarExternalPasses fails: aarch64 code built without PIC reaches
// symbols with ADRP (+-4 GiB), not with 32-bit absolute addresses, so
// gorc never places it in the low 2 GiB and has no such passes.
func (t Target) AddFarExternalPasses(cfg *jitlink.PassConfig, fe jitlink.FarExternals) error {
	return fmt.Errorf("%s: no far-external passes: they are for x86-64 code placed below 2 GiB", t.triple.Arch)
}

// GOTSectionName is GOTSectionName.
func (Target) GOTSectionName() string { return GOTSectionName }

// IsBranch reports whether kind is Branch26PCRel (B and BL).
func (Target) IsBranch(kind jitlink.EdgeKind) bool { return kind == Branch26PCRel }

// BlockStubs appends PLT-shaped stubs, "adrp x16, entry; ldr x16, [x16,
// :lo12:entry]; br x16", through the GOT entries of one Tables of g. The
// block is padded to a 4-byte boundary first (with zeros: a block of code
// ends on one anyway).
func (Target) BlockStubs(g *jitlink.LinkGraph) func(b *jitlink.Block, callee *jitlink.Symbol) *jitlink.Symbol {
	var tables *Tables
	return func(b *jitlink.Block, callee *jitlink.Symbol) *jitlink.Symbol {
		if tables == nil {
			tables = NewTables(g, len(g.ExternalSymbols()))
		}
		got := tables.GOTEntry(callee)
		c := b.MutableContent()
		b.SetMutableContent(append(c, make([]byte, -len(c)&3)...))
		off := tableLayout.AppendStub(b, got)
		return g.AddAnonymousSymbol(b, off, stubSize, jitlink.Callable)
	}
}
