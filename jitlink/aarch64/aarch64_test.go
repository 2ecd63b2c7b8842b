package aarch64_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
)

const (
	base = 0x40000000 // first segment address in these tests
	P    = base + 4   // fixup address
)

var le = binary.LittleEndian

// fixup applies one edge of kind to word, placed at offset 4 of a 16-byte
// block at base, and returns the block's bytes. The target is an absolute
// symbol, so no pass sends the edge through a stub.
func fixup(t *testing.T, kind jitlink.EdgeKind, word uint32, target uint64, addend int64) ([]byte, error) {
	t.Helper()
	g := aarch64.NewLinkGraph("test.o")
	sec := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	c := bytes.Repeat([]byte{0xaa}, 16)
	le.PutUint32(c[4:], word)
	b := g.CreateMutableContentBlock(sec, c, base, 16, 0)
	tgt := g.AddAbsoluteSymbol("target", target, 0, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	b.AddEdge(kind, 4, tgt, addend)
	err := g.Backend().ApplyFixup(g, b, &b.Edges()[0])
	return b.Content(), err
}

// syntax is the GNU syntax of an instruction, with negative PC-relative
// offsets written as such.
func syntax(inst arm64asm.Inst) string {
	s := arm64asm.GNUSyntax(inst)
	if i := strings.Index(s, ".+0x"); i >= 0 {
		if v, err := strconv.ParseUint(s[i+4:], 16, 64); err == nil && int64(v) < 0 {
			s = s[:i] + fmt.Sprintf(".-%#x", -int64(v))
		}
	}
	return s
}

// Instruction words with zero immediates.
const (
	bl     = 0x94000000 // bl .
	b      = 0x14000000 // b .
	beq    = 0x54000000 // b.eq .
	cbz    = 0xb4000000 // cbz x0, .
	tbz    = 0x36000000 // tbz w0, #0, .
	adrp   = 0x90000010 // adrp x16, .
	adr    = 0x10000000 // adr x0, .
	addX   = 0x91000000 // add x0, x0, #0
	addHi  = 0x91400000 // add x0, x0, #0, lsl #12
	ldrb   = 0x39400000 // ldrb w0, [x0]
	ldrh   = 0x79400000 // ldrh w0, [x0]
	ldrW   = 0xb9400000 // ldr w0, [x0]
	ldrX   = 0xf9400000 // ldr x0, [x0]
	strX   = 0xf9000000 // str x0, [x0]
	ldrQ   = 0x3dc00000 // ldr q0, [x0]
	ldrLit = 0x58000000 // ldr x0, .
	movz   = 0xd2800000 // movz x0, #0
	movk   = 0xf2800000 // movk x0, #0
	hw1    = 1 << 21
	hw2    = 2 << 21
	hw3    = 3 << 21
)

// TestInstructionFixups checks each instruction kind by decoding the
// patched word (PC-relative operands print relative to the instruction).
func TestInstructionFixups(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   jitlink.EdgeKind
		word   uint32
		target uint64
		addend int64
		want   string // "" means a range error
	}{
		{"Branch26PCRel/bl", aarch64.Branch26PCRel, bl, P + 0x1000, 0, "bl .+0x1000"},
		{"Branch26PCRel/b-back", aarch64.Branch26PCRel, b, P - 0x8000000, 0, "b .-0x8000000"},
		{"Branch26PCRel/max", aarch64.Branch26PCRel, bl, P + 0x7fffffc, 0, "bl .+0x7fffffc"},
		{"Branch26PCRel/overflow", aarch64.Branch26PCRel, bl, P + 0x8000000, 0, ""},
		{"Branch26PCRel/underflow", aarch64.Branch26PCRel, bl, P - 0x8000004, 0, ""},
		{"CondBranch19PCRel/beq", aarch64.CondBranch19PCRel, beq, P + 0xffffc, 0, "b.eq .+0xffffc"},
		{"CondBranch19PCRel/cbz", aarch64.CondBranch19PCRel, cbz, P - 0x100000, 0, "cbz x0, .-0x100000"},
		{"CondBranch19PCRel/overflow", aarch64.CondBranch19PCRel, beq, P + 0x100000, 0, ""},
		{"TestAndBranch14PCRel/back", aarch64.TestAndBranch14PCRel, tbz, P - 0x8000, 0, "tbz w0, #0, .-0x8000"},
		{"TestAndBranch14PCRel/fwd", aarch64.TestAndBranch14PCRel, tbz, P + 0x7ffc, 0, "tbz w0, #0, .+0x7ffc"},
		{"TestAndBranch14PCRel/overflow", aarch64.TestAndBranch14PCRel, tbz, P + 0x8000, 0, ""},
		{"Page21", aarch64.Page21, adrp, 0x12345678, 8, "adrp x16, .-0x2dcbb000"},
		{"Page21/back", aarch64.Page21, adrp, 0x1000, 0, "adrp x16, .-0x3ffff000"},
		{"Page21/overflow", aarch64.Page21, adrp, 0x140010000, 0, ""},
		{"Page21NC/wraps", aarch64.Page21NC, adrp, 0x140001000, 0, "adrp x16, .-0xfffff000"},
		{"ADRLiteral21", aarch64.ADRLiteral21, adr, P + 0xfffff, 0, "adr x0, .+0xfffff"},
		{"ADRLiteral21/back", aarch64.ADRLiteral21, adr, P - 0x100000, 0, "adr x0, .-0x100000"},
		{"ADRLiteral21/overflow", aarch64.ADRLiteral21, adr, P + 0x100000, 0, ""},
		{"PageOffset12/add", aarch64.PageOffset12, addX, 0x12345678, 1, "add x0, x0, #0x679"},
		{"PageOffset12/ldrb", aarch64.PageOffset12, ldrb, 0x12345fff, 0, "ldrb w0, [x0,#4095]"},
		{"PageOffset12/ldrh", aarch64.PageOffset12, ldrh, 0x12345ffe, 0, "ldrh w0, [x0,#4094]"},
		{"PageOffset12/ldr32", aarch64.PageOffset12, ldrW, 0x12345ffc, 0, "ldr w0, [x0,#4092]"},
		{"PageOffset12/ldr64", aarch64.PageOffset12, ldrX, 0x12345ff8, 0, "ldr x0, [x0,#4088]"},
		{"PageOffset12/str64", aarch64.PageOffset12, strX, 0x12345010, 0, "str x0, [x0,#16]"},
		{"PageOffset12/ldr128", aarch64.PageOffset12, ldrQ, 0x12345ff0, 0, "ldr q0, [x0,#4080]"},
		{"LDRLiteral19", aarch64.LDRLiteral19, ldrLit, P + 0x100, 0, "ldr x0, .+0x100"},
		{"LDRLiteral19/overflow", aarch64.LDRLiteral19, ldrLit, P - 0x100004, 0, ""},
		{"MoveWide16/g0", aarch64.MoveWide16, movz, 0x1122334455667788, 0, "mov x0, #0x7788"},
		{"MoveWide16/g1", aarch64.MoveWide16, movk | hw1, 0x1122334455667788, 0, "movk x0, #0x5566, lsl #16"},
		{"MoveWide16/g2", aarch64.MoveWide16, movk | hw2, 0x1122334455667788, 0, "movk x0, #0x3344, lsl #32"},
		{"MoveWide16/g3", aarch64.MoveWide16, movk | hw3, 0x1122334455667788, 0, "movk x0, #0x1122, lsl #48"},
		{"MoveWide16Unsigned/g1", aarch64.MoveWide16Unsigned, movz | hw1, 0xffff0000, 0, "mov x0, #0xffff0000"},
		{"MoveWide16Unsigned/g1-overflow", aarch64.MoveWide16Unsigned, movz | hw1, 0x100000000, 0, ""},
		{"MoveWide16Unsigned/g0-overflow", aarch64.MoveWide16Unsigned, movz, 0x10000, 0, ""},
		{"MoveWide16Signed/positive", aarch64.MoveWide16Signed, movz | hw1, 0x12340000, 0, "mov x0, #0x12340000"},
		{"MoveWide16Signed/negative", aarch64.MoveWide16Signed, movz, 0, -2, "mov x0, #0xfffffffffffffffe"},
		{"MoveWide16Signed/overflow", aarch64.MoveWide16Signed, movz, 0x10000, 0, ""},
		{"MoveWide16Signed/g0-max", aarch64.MoveWide16Signed, movz, 0xffff, 0, "mov x0, #0xffff"},
		{"MoveWide16Signed/g0-min", aarch64.MoveWide16Signed, movz, 0, -0x10000, "mov x0, #0xffffffffffff0000"},
		{"MoveWidePCRel16/g1", aarch64.MoveWidePCRel16, movk | hw1, P + 0x12345678, 0, "movk x0, #0x1234, lsl #16"},
		{"MoveWidePCRel16Signed/back", aarch64.MoveWidePCRel16Signed, movz | hw1, P - 0x20000, 0, "mov x0, #0xfffffffffffeffff"},
		{"AddHi12", aarch64.AddHi12, addHi, 0x123456, 0, "add x0, x0, #0x123, lsl #12"},
		{"AddHi12/overflow", aarch64.AddHi12, addHi, 0x1000000, 0, ""},
		{"AddLo12", aarch64.AddLo12, addX, 0xfff, 0, "add x0, x0, #0xfff"},
		{"AddLo12/overflow", aarch64.AddLo12, addX, 0x1000, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fixup(t, tc.kind, tc.word, tc.target, tc.addend)
			if tc.want == "" {
				checkOutOfRange(t, err, tc.name)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			inst, err := arm64asm.Decode(got[4:8])
			if err != nil {
				t.Fatalf("patched word %#08x does not decode: %v", le.Uint32(got[4:]), err)
			}
			if s := syntax(inst); s != tc.want {
				t.Errorf("patched to %q (%#08x), want %q", s, le.Uint32(got[4:]), tc.want)
			}
			if !bytes.Equal(got[:4], []byte{0xaa, 0xaa, 0xaa, 0xaa}) || !bytes.Equal(got[8:], bytes.Repeat([]byte{0xaa}, 8)) {
				t.Errorf("bytes around the field changed: % x", got)
			}
		})
	}
}

// checkOutOfRange checks err is the out-of-range FixupError of the kind
// named by name's first part, worded as every architecture words it.
func checkOutOfRange(t *testing.T, err error, name string) {
	t.Helper()
	var fe *jitlink.FixupError
	if !errors.As(err, &fe) {
		t.Fatalf("want an out-of-range FixupError, got %v", err)
	}
	kindName, _, _ := strings.Cut(name, "/")
	if msg := err.Error(); !strings.Contains(msg, "out of range of "+kindName+" fixup") || !strings.Contains(msg, "test.o") || !strings.Contains(msg, "target") {
		t.Errorf("error %q does not say the fixup, graph and target", msg)
	}
}

func TestDataFixups(t *testing.T) {
	u64 := func(v uint64) []byte { return le.AppendUint64(nil, v) }
	u32 := func(v uint32) []byte { return le.AppendUint32(nil, v) }
	u16 := func(v uint16) []byte { return le.AppendUint16(nil, v) }
	for _, tc := range []struct {
		name   string
		kind   jitlink.EdgeKind
		target uint64
		addend int64
		want   []byte // nil means out of range
	}{
		{"Pointer64", aarch64.Pointer64, 0x1122334455667788, 8, u64(0x1122334455667790)},
		{"Pointer32", aarch64.Pointer32, 0xfffffff0, 0xf, u32(0xffffffff)},
		{"Pointer32/negative", aarch64.Pointer32, 0, -0x80000000, u32(0x80000000)},
		{"Pointer32/overflow", aarch64.Pointer32, 0x100000000, 0, nil},
		{"Pointer16", aarch64.Pointer16, 0xffff, 0, u16(0xffff)},
		{"Pointer16/overflow", aarch64.Pointer16, 0x10000, 0, nil},
		{"Delta64", aarch64.Delta64, 0x123456789, 2, u64(0x123456789 + 2 - P)},
		{"Delta32/backward", aarch64.Delta32, P - 0x100, 0, u32(0xffffff00)},
		{"Delta32/overflow", aarch64.Delta32, P + 0x100000000, 0, nil},
		{"Delta16", aarch64.Delta16, P + 0x7fff, 0, u16(0x7fff)},
		{"Delta16/overflow", aarch64.Delta16, P + 0x10000, 0, nil},
		{"NegDelta32", aarch64.NegDelta32, P - 0x40, 0, u32(0x40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fixup(t, tc.kind, 0xaaaaaaaa, tc.target, tc.addend)
			if tc.want == nil {
				checkOutOfRange(t, err, tc.name)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[4:4+len(tc.want)], tc.want) {
				t.Errorf("got % x, want % x", got[4:4+len(tc.want)], tc.want)
			}
		})
	}
}

// A misaligned target and a field on the wrong instruction are errors that
// say so.
func TestFixupErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   jitlink.EdgeKind
		word   uint32
		target uint64
		want   string
	}{
		{"misaligned branch", aarch64.Branch26PCRel, bl, P + 2, "not a multiple of 4"},
		{"misaligned load", aarch64.PageOffset12, ldrX, 0x1004, "not a multiple of the 8-byte access size"},
		{"branch on a non-branch", aarch64.Branch26PCRel, addX, P, "is not B or BL"},
		{"adrp on a non-adrp", aarch64.Page21, adr, P, "is not ADRP"},
		{"page offset on a branch", aarch64.PageOffset12, bl, P, "is not ADD (immediate) or a load or store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fixup(t, tc.kind, tc.word, tc.target, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
