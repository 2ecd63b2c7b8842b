package aarch64

import (
	"encoding/binary"

	"github.com/gorc-jit/gorc/jitlink"
)

// code is a small assembler buffer: instruction words and the edges into
// them. Registers are numbers: 0-30 are x0-x30, 31 is sp or xzr as the
// instruction reads it.
type code struct {
	b     []byte
	edges []jitlink.Edge
}

const (
	sp  = 31
	xzr = 31
	fp  = 29 // x29
	lr  = 30 // x30
	ip0 = 16 // x16, the intra-procedure-call scratch registers
	ip1 = 17
)

// Condition codes.
const condNE = 1

// inst appends one instruction word and returns its offset.
func (c *code) inst(w uint32) int {
	at := len(c.b)
	c.b = binary.LittleEndian.AppendUint32(c.b, w)
	return at
}

// withEdge appends w with an edge of kind to target+addend on it.
func (c *code) withEdge(w uint32, kind jitlink.EdgeKind, target *jitlink.Symbol, addend int64) {
	c.edges = append(c.edges, jitlink.Edge{Kind: kind, Offset: uint32(len(c.b)), Target: target, Addend: addend})
	c.inst(w)
}

// quad appends a 64-bit literal.
func (c *code) quad(v uint64) { c.b = binary.LittleEndian.AppendUint64(c.b, v) }

// movImm64 sets rd to v with a MOVZ and a MOVK per further non-zero
// 16-bit group.
func (c *code) movImm64(rd uint32, v uint64) {
	c.inst(0xd2800000 | uint32(v&0xffff)<<5 | rd) // movz rd, #v[15:0]
	for hw := uint32(1); hw < 4; hw++ {
		if g := uint32(v >> (16 * hw) & 0xffff); g != 0 {
			c.inst(0xf2800000 | hw<<21 | g<<5 | rd) // movk rd, #g, lsl #16*hw
		}
	}
}

// address sets rd to the address of s+addend: ADRP and ADD for a symbol
// the graph defines (within +-4 GiB), a GOT load for an external one
// (which may be anywhere).
func (c *code) address(rd uint32, s *jitlink.Symbol, addend int64) {
	if s.IsExternal() && addend == 0 {
		c.withEdge(adrp(rd), RequestGOTAndTransformToPage21, s, 0)
		c.withEdge(ldrX(rd, rd, 0), RequestGOTAndTransformToPageOffset12, s, 0)
		return
	}
	c.withEdge(adrp(rd), Page21, s, addend)
	c.withEdge(addImm(rd, rd, 0), PageOffset12, s, addend)
}

// load sets rd to the 64-bit word at s+addend (in the graph).
func (c *code) load(rd uint32, s *jitlink.Symbol, addend int64) {
	c.withEdge(adrp(rd), Page21, s, addend)
	c.withEdge(ldrX(rd, rd, 0), PageOffset12, s, addend)
}

// block adds the code to sec as a block aligned to align, after the
// section's other blocks.
func (c *code) block(g *jitlink.LinkGraph, sec *jitlink.Section, align uint64) *jitlink.Block {
	b := g.CreateContentBlock(sec, c.b, uint64(len(sec.Blocks()))<<16, align, 0)
	b.SetEdges(c.edges)
	return b
}

// Instruction encodings (64-bit forms unless named W).
func adrp(rd uint32) uint32                { return 0x90000000 | rd }
func addImm(rd, rn, imm uint32) uint32     { return 0x91000000 | imm<<10 | rn<<5 | rd }
func subImm(rd, rn, imm uint32) uint32     { return 0xd1000000 | imm<<10 | rn<<5 | rd }
func cmpImm(rn, imm uint32) uint32         { return 0xf100001f | imm<<10 | rn<<5 }
func movReg(rd, rm uint32) uint32          { return 0xaa0003e0 | rm<<16 | rd }
func movRegW(rd, rm uint32) uint32         { return 0x2a0003e0 | rm<<16 | rd }
func ldrX(rt, rn, off uint32) uint32       { return 0xf9400000 | off/8<<10 | rn<<5 | rt }
func strX(rt, rn, off uint32) uint32       { return 0xf9000000 | off/8<<10 | rn<<5 | rt }
func ldrLiteral(rt uint32, off int) uint32 { return 0x58000000 | uint32(off/4)&0x7ffff<<5 | rt }
func blr(rn uint32) uint32                 { return 0xd63f0000 | rn<<5 }
func br(rn uint32) uint32                  { return 0xd61f0000 | rn<<5 }
func brk(imm uint32) uint32                { return 0xd4200000 | imm<<5 }
func bcond(cond uint32, off int) uint32    { return 0x54000000 | uint32(off/4)&0x7ffff<<5 | cond }
func bOff(off int) uint32                  { return 0x14000000 | uint32(off/4)&imm26Mask }
func subReg(rd, rn, rm uint32) uint32      { return 0xcb000000 | rm<<16 | rn<<5 | rd }
func mrsTPIDR(rt uint32) uint32            { return 0xd53bd040 | rt } // mrs rt, tpidr_el0

const (
	ret   = 0xd65f03c0
	blImm = 0x94000000 // bl . (the target is an edge)
	bImm  = 0x14000000 // b .
)

// Pair loads and stores: stp/ldp of x or q registers at rn+off (signed
// offset), and the pre-index store and post-index load of frame records.
func stpX(rt, rt2, rn uint32, off int) uint32 {
	return 0xa9000000 | pairImm(off, 8) | rt2<<10 | rn<<5 | rt
}
func ldpX(rt, rt2, rn uint32, off int) uint32 {
	return 0xa9400000 | pairImm(off, 8) | rt2<<10 | rn<<5 | rt
}
func stpQ(rt, rt2, rn uint32, off int) uint32 {
	return 0xad000000 | pairImm(off, 16) | rt2<<10 | rn<<5 | rt
}
func ldpQ(rt, rt2, rn uint32, off int) uint32 {
	return 0xad400000 | pairImm(off, 16) | rt2<<10 | rn<<5 | rt
}
func stpXPre(rt, rt2, rn uint32, off int) uint32 {
	return 0xa9800000 | pairImm(off, 8) | rt2<<10 | rn<<5 | rt
}
func ldpXPost(rt, rt2, rn uint32, off int) uint32 {
	return 0xa8c00000 | pairImm(off, 8) | rt2<<10 | rn<<5 | rt
}

func pairImm(off, scale int) uint32 { return uint32(off/scale) & 0x7f << 15 }
