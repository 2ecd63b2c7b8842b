package jitlinkcheck

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/arch/arm64/arm64asm"
)

// decodeARM64 decodes the AArch64 instruction at addr.
func (p *parser) decodeARM64(addr uint64) (arm64asm.Inst, uint32, error) {
	b, ok := p.env.Read(addr, 4)
	if !ok {
		return arm64asm.Inst{}, 0, fmt.Errorf("cannot read an instruction at %#x", addr)
	}
	inst, err := arm64asm.Decode(b)
	if err != nil {
		return inst, 0, fmt.Errorf("cannot decode the instruction at %#x: %v", addr, err)
	}
	return inst, binary.LittleEndian.Uint32(b), nil
}

// signExtend sign-extends the low bits of v.
func signExtend(v uint32, bits uint) uint64 {
	return uint64(int64(v) << (64 - bits) >> (64 - bits))
}

// arm64Operands returns the operands of the AArch64 instruction w (decoded
// as inst) numbered as LLVM's MCInst numbers them: registers by number,
// immediates as encoded (branch and ADR/ADRP offsets sign-extended, in
// their units; load and store offsets scaled by the access size), a MOVK's
// destination twice (tied), and the shift of ADD/SUB and the move-wide
// instructions as a final operand.
func arm64Operands(inst arm64asm.Inst, w uint32) ([]uint64, error) {
	rd, rn := uint64(w&31), uint64(w>>5&31)
	switch {
	case w&0x7c000000 == 0x14000000: // B, BL
		return []uint64{signExtend(w&0x3ffffff, 26)}, nil
	case w&0xff000010 == 0x54000000: // B.cond
		return []uint64{uint64(w & 15), signExtend(w>>5&0x7ffff, 19)}, nil
	case w&0x7e000000 == 0x34000000: // CBZ, CBNZ
		return []uint64{rd, signExtend(w>>5&0x7ffff, 19)}, nil
	case w&0x7e000000 == 0x36000000: // TBZ, TBNZ
		return []uint64{rd, uint64(w>>31<<5 | w>>19&31), signExtend(w>>5&0x3fff, 14)}, nil
	case w&0x1f000000 == 0x10000000: // ADR, ADRP
		return []uint64{rd, signExtend(w>>29&3|(w>>5&0x7ffff)<<2, 21)}, nil
	case w&0x1f000000 == 0x11000000: // ADD, ADDS, SUB, SUBS (immediate)
		return []uint64{rd, rn, uint64(w >> 10 & 0xfff), uint64(w>>22&1) * 12}, nil
	case w&0x1f800000 == 0x12800000 && w>>29&3 != 1: // MOVN, MOVZ, MOVK
		imm, shift := uint64(w>>5&0xffff), uint64(w>>21&3)*16
		if w>>29&3 == 3 {
			return []uint64{rd, rd, imm, shift}, nil
		}
		return []uint64{rd, imm, shift}, nil
	case w&0x3b000000 == 0x39000000: // loads and stores, unsigned offset
		return []uint64{rd, rn, uint64(w >> 10 & 0xfff)}, nil
	case w&0x3b000000 == 0x18000000: // LDR (literal)
		return []uint64{rd, signExtend(w>>5&0x7ffff, 19)}, nil
	case w&0xfe1ffc1f == 0xd61f0000: // BR, BLR, RET
		return []uint64{rn}, nil
	}
	return nil, fmt.Errorf("decode_operand does not know the operands of %v", inst)
}

func (p *parser) decodeOperandARM64(addr uint64, idx int) (uint64, error) {
	inst, w, err := p.decodeARM64(addr)
	if err != nil {
		return 0, err
	}
	ops, err := arm64Operands(inst, w)
	if err != nil {
		return 0, fmt.Errorf("at %#x: %w", addr, err)
	}
	if idx < 0 || idx >= len(ops) {
		return 0, fmt.Errorf("instruction %v at %#x has no operand %d", inst, addr, idx)
	}
	return ops[idx], nil
}
