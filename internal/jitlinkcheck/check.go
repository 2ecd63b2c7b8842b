// Package jitlinkcheck evaluates jitlink-check expressions (the language
// llvm-jitlink's -check option uses) against linked memory.
//
//	check    = expr '=' expr
//	expr     = simple (binop simple)*        binop: + - & | << >>, left-assoc
//	simple   = ('(' expr ')' | '*{' N '}' simple | builtin | ident | number) [slice]
//	slice    = '[' hi ':' lo ']'
//	builtins = decode_operand(sym[+off], idx)  next_pc(sym)
//	           stub_addr(file, sym)  got_addr(file, sym)  section_addr(file, sec)
//	           stub_addr(file, sec, sym) (rtdyld-check's form)
package jitlinkcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Env is the linked program the expressions are evaluated against.
type Env struct {
	// Symbol returns a symbol's address.
	Symbol func(name string) (uint64, bool)
	// Read returns n bytes of linked memory at addr.
	Read func(addr uint64, n int) ([]byte, bool)
	// StubAddr, GOTAddr and SectionAddr implement the builtins of the same
	// names; file is an object's base name.
	StubAddr    func(file, sym string) (uint64, error)
	GOTAddr     func(file, sym string) (uint64, error)
	SectionAddr func(file, section string) (uint64, error)
	// SectionStubAddr implements rtdyld-check's stub_addr(file, section,
	// sym): the stub for sym used by calls from section. Nil where only
	// the two-argument form exists.
	SectionStubAddr func(file, section, sym string) (uint64, error)
	// Arch is the machine decode_operand and next_pc decode for
	// (default x86-64).
	Arch triple.Arch
}

// Rule is one check found in a file.
type Rule struct {
	Line int
	Expr string
}

// Rules scans a check file for lines "# <prefix>: expr"; a line ending in a
// backslash continues on the next check line.
func Rules(data []byte, prefix string) []Rule {
	var rules []Rule
	marker := prefix + ":"
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pending strings.Builder
	start, line := 0, 0
	for sc.Scan() {
		line++
		text := sc.Text()
		i := strings.Index(text, marker)
		if i < 0 || !strings.Contains(text[:i], "#") && !strings.Contains(text[:i], "//") {
			continue
		}
		part := strings.TrimSpace(text[i+len(marker):])
		if pending.Len() == 0 {
			start = line
		}
		if cont, ok := strings.CutSuffix(part, `\`); ok {
			pending.WriteString(cont)
			pending.WriteByte(' ')
			continue
		}
		pending.WriteString(part)
		rules = append(rules, Rule{Line: start, Expr: pending.String()})
		pending.Reset()
	}
	return rules
}

// Eval evaluates a check "lhs = rhs" and returns both sides.
func Eval(check string, env *Env) (lhs, rhs uint64, err error) {
	p := &parser{src: check, env: env}
	lhs, err = p.expr()
	if err != nil {
		return 0, 0, err
	}
	p.space()
	if !p.eat("=") {
		return 0, 0, p.errorf("expected '='")
	}
	rhs, err = p.expr()
	if err != nil {
		return 0, 0, err
	}
	p.space()
	if p.pos != len(p.src) {
		return 0, 0, p.errorf("unexpected %q", p.src[p.pos:])
	}
	return lhs, rhs, nil
}

type parser struct {
	src string
	pos int
	env *Env
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("at column %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *parser) eat(s string) bool {
	p.space()
	if strings.HasPrefix(p.src[p.pos:], s) {
		p.pos += len(s)
		return true
	}
	return false
}

func (p *parser) expr() (uint64, error) {
	v, err := p.simple()
	if err != nil {
		return 0, err
	}
	for {
		p.space()
		var op string
		for _, o := range []string{"<<", ">>", "+", "-", "&", "|"} {
			if strings.HasPrefix(p.src[p.pos:], o) {
				op = o
				break
			}
		}
		if op == "" {
			return v, nil
		}
		p.pos += len(op)
		w, err := p.simple()
		if err != nil {
			return 0, err
		}
		switch op {
		case "+":
			v += w
		case "-":
			v -= w
		case "&":
			v &= w
		case "|":
			v |= w
		case "<<":
			v <<= w
		case ">>":
			v >>= w
		}
	}
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '.' || c == '$' || c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *parser) ident() string {
	p.space()
	start := p.pos
	for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// number scans a decimal or 0x-prefixed hexadecimal literal.
func (p *parser) number() string {
	p.space()
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == 'x' || c == 'X' {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

// simple is a primary expression with an optional bit slice.
func (p *parser) simple() (uint64, error) {
	v, err := p.primary()
	if err != nil {
		return 0, err
	}
	return p.slice(v)
}

func (p *parser) primary() (uint64, error) {
	p.space()
	if p.pos >= len(p.src) {
		return 0, p.errorf("unexpected end of expression")
	}
	var v uint64
	var err error
	switch c := p.src[p.pos]; {
	case c == '(':
		p.pos++
		if v, err = p.expr(); err != nil {
			return 0, err
		}
		if !p.eat(")") {
			return 0, p.errorf("expected ')'")
		}
	case c == '*':
		p.pos++
		if v, err = p.load(); err != nil {
			return 0, err
		}
	case c >= '0' && c <= '9':
		tok := p.number()
		if v, err = strconv.ParseUint(tok, 0, 64); err != nil {
			return 0, p.errorf("bad number %q", tok)
		}
	default:
		name := p.ident()
		if name == "" {
			return 0, p.errorf("unexpected %q", string(c))
		}
		if p.eat("(") {
			v, err = p.builtin(name)
		} else if addr, ok := p.env.Symbol(name); ok {
			v = addr
		} else {
			err = p.errorf("unknown symbol %s", name)
		}
		if err != nil {
			return 0, err
		}
	}
	return v, nil
}

func (p *parser) slice(v uint64) (uint64, error) {
	if !p.eat("[") {
		return v, nil
	}
	hi, err := strconv.ParseUint(p.number(), 0, 8)
	if err != nil || !p.eat(":") {
		return 0, p.errorf("bad slice")
	}
	lo, err := strconv.ParseUint(p.number(), 0, 8)
	if err != nil || !p.eat("]") || hi > 64 || lo > hi {
		return 0, p.errorf("bad slice")
	}
	v >>= lo
	if width := hi - lo + 1; width < 64 {
		v &= 1<<width - 1
	}
	return v, nil
}

// load parses "{N} expr" and reads N bytes (little-endian). As in LLVM's
// checker the address is the whole expression that follows, so
// "*{1}sym+1" reads the byte after sym.
func (p *parser) load() (uint64, error) {
	if !p.eat("{") {
		return 0, p.errorf("expected '{' after '*'")
	}
	n, err := strconv.Atoi(p.number())
	if err != nil || n < 1 || n > 8 || !p.eat("}") {
		return 0, p.errorf("bad load size")
	}
	addr, err := p.expr()
	if err != nil {
		return 0, err
	}
	b, ok := p.env.Read(addr, n)
	if !ok {
		return 0, p.errorf("cannot read %d bytes at %#x", n, addr)
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (p *parser) builtin(name string) (uint64, error) {
	switch name {
	case "decode_operand":
		addr, err := p.expr()
		if err != nil {
			return 0, err
		}
		if !p.eat(",") {
			return 0, p.errorf("expected ','")
		}
		idx, err := p.expr()
		if err != nil || !p.eat(")") {
			return 0, p.errorf("bad decode_operand arguments")
		}
		return p.decodeOperand(addr, int(idx))
	case "next_pc":
		addr, err := p.expr()
		if err != nil || !p.eat(")") {
			return 0, p.errorf("bad next_pc argument")
		}
		if p.env.Arch == triple.AArch64 {
			if _, _, err := p.decodeARM64(addr); err != nil {
				return 0, err
			}
			return addr + 4, nil
		}
		inst, err := p.decode(addr)
		if err != nil {
			return 0, err
		}
		return addr + uint64(inst.Len), nil
	case "stub_addr", "got_addr", "section_addr":
		// File names may hold characters identifiers do not ('-').
		p.space()
		end := strings.IndexByte(p.src[p.pos:], ',')
		if end < 0 {
			return 0, p.errorf("expected ','")
		}
		file := strings.TrimSpace(p.src[p.pos : p.pos+end])
		p.pos += end
		if !p.eat(",") {
			return 0, p.errorf("expected ','")
		}
		arg := p.ident()
		if name == "stub_addr" && p.eat(",") {
			// rtdyld-check's form names the section whose stub it is.
			sym := p.ident()
			if !p.eat(")") {
				return 0, p.errorf("expected ')'")
			}
			if p.env.SectionStubAddr == nil {
				return 0, p.errorf("stub_addr takes two arguments here")
			}
			v, err := p.env.SectionStubAddr(file, arg, sym)
			if err != nil {
				return 0, fmt.Errorf("stub_addr(%s, %s, %s): %w", file, arg, sym, err)
			}
			return v, nil
		}
		if !p.eat(")") {
			return 0, p.errorf("expected ')'")
		}
		var f func(string, string) (uint64, error)
		switch name {
		case "stub_addr":
			f = p.env.StubAddr
		case "got_addr":
			f = p.env.GOTAddr
		default:
			f = p.env.SectionAddr
		}
		v, err := f(file, arg)
		if err != nil {
			return 0, fmt.Errorf("%s(%s, %s): %w", name, file, arg, err)
		}
		return v, nil
	}
	return 0, p.errorf("unknown function %s", name)
}

func (p *parser) decode(addr uint64) (x86asm.Inst, error) {
	for n := 15; n > 0; n-- {
		if b, ok := p.env.Read(addr, n); ok {
			inst, err := x86asm.Decode(b, 64)
			if err != nil {
				return inst, fmt.Errorf("cannot decode the instruction at %#x: %v", addr, err)
			}
			return inst, nil
		}
	}
	return x86asm.Inst{}, fmt.Errorf("cannot read an instruction at %#x", addr)
}

// decodeOperand returns operand idx of the instruction at addr, numbered as
// LLVM's MCInst numbers them: operands in Intel order, a register or
// immediate taking one slot and a memory operand five (base, scale, index,
// displacement, segment). Relative branch targets are their displacement.
func (p *parser) decodeOperand(addr uint64, idx int) (uint64, error) {
	if p.env.Arch == triple.AArch64 {
		return p.decodeOperandARM64(addr, idx)
	}
	inst, err := p.decode(addr)
	if err != nil {
		return 0, err
	}
	var ops []uint64
	for _, a := range inst.Args {
		switch a := a.(type) {
		case nil:
		case x86asm.Reg:
			ops = append(ops, uint64(a))
		case x86asm.Imm:
			ops = append(ops, uint64(a))
		case x86asm.Rel:
			ops = append(ops, uint64(int64(a)))
		case x86asm.Mem:
			// x86asm leaves a 32-bit displacement zero-extended; LLVM's
			// operand is the signed value.
			disp := a.Disp
			if disp >= 0 && disp <= math.MaxUint32 {
				disp = int64(int32(disp))
			}
			ops = append(ops, uint64(a.Base), uint64(a.Scale), uint64(a.Index), uint64(disp), uint64(a.Segment))
		}
	}
	if idx < 0 || idx >= len(ops) {
		return 0, fmt.Errorf("instruction %v at %#x has no operand %d", inst, addr, idx)
	}
	return ops[idx], nil
}
