package jitlinkcheck

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

func testEnv() *Env {
	mem := map[uint64][]byte{
		// lea 0x10(%rip), %rax ; call rel32 -0x20 ; movq $0x1234, %rcx
		0x1000: {0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00, 0xe8, 0xe0, 0xff, 0xff, 0xff, 0x48, 0xc7, 0xc1, 0x34, 0x12, 0x00, 0x00},
		0x2000: {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11},
	}
	syms := map[string]uint64{"code": 0x1000, "call_site": 0x1007, "data": 0x2000, "mov_site": 0x100c, "sym.with$odd:chars": 7}
	return &Env{
		Symbol: func(n string) (uint64, bool) { a, ok := syms[n]; return a, ok },
		Read: func(addr uint64, n int) ([]byte, bool) {
			for base, b := range mem {
				if addr >= base && addr+uint64(n) <= base+uint64(len(b)) {
					return b[addr-base : addr-base+uint64(n)], true
				}
			}
			return nil, false
		},
		StubAddr: func(file, sym string) (uint64, error) {
			if file == "ELF_x86-64_test.o" && sym == "ext" {
				return 0x3000, nil
			}
			return 0, errors.New("no stub")
		},
		GOTAddr:     func(file, sym string) (uint64, error) { return 0x4000, nil },
		SectionAddr: func(file, sec string) (uint64, error) { return 0x5000, nil },
	}
}

func TestEval(t *testing.T) {
	env := testEnv()
	for _, tc := range []struct {
		check    string
		lhs, rhs uint64
	}{
		{"*{8}data = 0x1122334455667788", 0x1122334455667788, 0x1122334455667788},
		{"*{4}data = 0x55667788", 0x55667788, 0x55667788},
		{"*{2}(data + 2) = 0x5566", 0x5566, 0x5566},
		{"(*{8}data)[63:56] = 0x11", 0x11, 0x11},
		{"(*{8}data)[15:0] = 0x7788", 0x7788, 0x7788},
		{"*{1}data+1 = 0x77", 0x77, 0x77}, // the address is the whole expression
		{"1 + 2 << 3 = 24", 24, 24},       // left-associative, no precedence
		{"0x10 - 0x1 & 0xff | 0x100 = 0x10f", 0x10f, 0x10f},
		{"decode_operand(code, 4) = 0x10", 0x10, 0x10},
		{"decode_operand(call_site, 0) = 0xffffffffffffffe0", 0xffffffffffffffe0, 0xffffffffffffffe0},
		{"next_pc(code) = code + 7", 0x1007, 0x1007},
		{"decode_operand(mov_site, 1) = 0x1234", 0x1234, 0x1234},
		{"stub_addr(ELF_x86-64_test.o, ext) = 0x3000", 0x3000, 0x3000},
		{"got_addr(x.o, foo) + section_addr(x.o, .data) = 0x9000", 0x9000, 0x9000},
		{"sym.with$odd:chars = 7", 7, 7},
	} {
		lhs, rhs, err := Eval(tc.check, env)
		if err != nil || lhs != tc.lhs || rhs != tc.rhs {
			t.Errorf("%s: got %#x, %#x, %v", tc.check, lhs, rhs, err)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	env := testEnv()
	for check, want := range map[string]string{
		"missing = 1":                 "unknown symbol missing",
		"1 2":                         "expected '='",
		"*{9}data = 1":                "bad load size",
		"*{8}0x999999 = 1":            "cannot read",
		"stub_addr(a.o, ext) = 1":     "no stub",
		"decode_operand(code, 9) = 1": "has no operand 9",
		"nosuch(1) = 1":               "unknown function",
		"(1 + 2 = 3":                  "expected ')'",
		"1 = 1 garbage":               "unexpected",
		"data[70:0] = 0":              "bad slice",
		"data[65:0] = 0":              "bad slice",
	} {
		if _, _, err := Eval(check, env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error containing %q, got %v", check, want, err)
		}
	}
}

func TestRules(t *testing.T) {
	src := `
# jitlink-check: a = b
        movq foo(%rip), %rax   # not a check
# jitlink-check: decode_operand(x, 4) = \
# jitlink-check:   y - z
# other-check: c = d
// jitlink-check: e = f
jitlink-check: not a comment
`
	rules := Rules([]byte(src), "jitlink-check")
	var got []string
	for _, r := range rules {
		got = append(got, r.Expr)
	}
	want := []string{"a = b", "decode_operand(x, 4) =  y - z", "e = f"}
	if strings.Join(got, "|") != strings.Join(want, "|") || rules[1].Line != 4 {
		t.Fatalf("rules %q (lines %v)", got, rules)
	}
	if r := Rules([]byte(src), "other-check"); len(r) != 1 || r[0].Expr != "c = d" {
		t.Fatalf("custom prefix: %v", r)
	}
}

// AArch64 operands are numbered as LLVM's MCInst numbers them.
func TestEvalAArch64(t *testing.T) {
	words := []uint32{
		0x97fffffe, // 0x1000 bl .-8
		0x54000041, // 0x1004 b.ne .+8
		0xb4ffffe3, // 0x1008 cbz x3, .-4
		0x37180062, // 0x100c tbnz w2, #3, .+12
		0xf0000010, // 0x1010 adrp x16, .+0x3000 (page)
		0x91004e30, // 0x1014 add x16, x17, #0x13
		0x91404e30, // 0x1018 add x16, x17, #0x13, lsl #12
		0xf2a24685, // 0x101c movk x5, #0x1234, lsl #16
		0xd2c24685, // 0x1020 movz x5, #0x1234, lsl #32
		0xf9400e30, // 0x1024 ldr x16, [x17, #24]
		0x39401e30, // 0x1028 ldrb w16, [x17, #7]
		0x58ffffe1, // 0x102c ldr x1, .-4
		0x30000000, // 0x1030 adr x0, .+1
		0xd61f0200, // 0x1034 br x16
	}
	code := make([]byte, 0, 4*len(words))
	for _, w := range words {
		code = binary.LittleEndian.AppendUint32(code, w)
	}
	env := &Env{
		Arch:   triple.AArch64,
		Symbol: func(n string) (uint64, bool) { return 0x1000, n == "code" },
		Read: func(addr uint64, n int) ([]byte, bool) {
			if addr < 0x1000 || addr+uint64(n) > 0x1000+uint64(len(code)) {
				return nil, false
			}
			return code[addr-0x1000:][:n], true
		},
	}
	for _, tc := range []struct {
		check string
		want  uint64
	}{
		{"decode_operand(code, 0)", 0xfffffffffffffffe},
		{"decode_operand(code, 0)[25:0]", 0x3fffffe},
		{"decode_operand(code + 4, 0)", 1}, // ne
		{"decode_operand(code + 4, 1)", 2},
		{"decode_operand(code + 8, 0)", 3},
		{"decode_operand(code + 8, 1)", 0xffffffffffffffff},
		{"decode_operand(code + 12, 1)", 3},
		{"decode_operand(code + 12, 2)", 3},
		{"decode_operand(code + 16, 1)", 3},
		{"decode_operand(code + 20, 1)", 17},
		{"decode_operand(code + 20, 2)", 0x13},
		{"decode_operand(code + 24, 3)", 12},
		{"decode_operand(code + 28, 1)", 5}, // movk: the tied source
		{"decode_operand(code + 28, 2)", 0x1234},
		{"decode_operand(code + 28, 3)", 16},
		{"decode_operand(code + 32, 1)", 0x1234},
		{"decode_operand(code + 32, 2)", 32},
		{"decode_operand(code + 36, 2)", 3},
		{"decode_operand(code + 40, 2)", 7},
		{"decode_operand(code + 44, 1)", 0xffffffffffffffff},
		{"decode_operand(code + 48, 1)", 1},
		{"decode_operand(code + 52, 0)", 16},
		{"next_pc(code + 8)", 0x100c},
	} {
		lhs, _, err := Eval(tc.check+" = 0", env)
		if err != nil || lhs != tc.want {
			t.Errorf("%s: got %#x, %v, want %#x", tc.check, lhs, err, tc.want)
		}
	}
	if _, _, err := Eval("decode_operand(code, 1) = 0", env); err == nil || !strings.Contains(err.Error(), "has no operand 1") {
		t.Errorf("missing operand: %v", err)
	}
	if _, _, err := Eval("decode_operand(code + 0x100, 0) = 0", env); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("unreadable: %v", err)
	}
}
