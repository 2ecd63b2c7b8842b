package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The Kaleidoscope language of LLVM's tutorials: every value is a double.
//
//	def name(a b) expr        a function
//	extern name(a b)          a function from the host (sin, putchard...)
//	expr                      evaluated at once
//
// with numbers, variables, calls, the operators < + - * (in increasing
// precedence), "if c then a else b" and "for i = start, end[, step] in
// body" (which yields 0).

type expr interface{}

type (
	number   struct{ v float64 }
	variable struct{ name string }
	binary   struct {
		op   byte
		l, r expr
	}
	call struct {
		callee string
		args   []expr
	}
	ifExpr  struct{ cond, then, els expr }
	forExpr struct {
		v                      string
		start, end, step, body expr // step may be nil (1.0)
	}
)

type prototype struct {
	name   string
	params []string
}

// item is one top-level form.
type item struct {
	def    *prototype // def: with body
	extern *prototype
	body   expr // for def and for a bare expression
}

type token struct {
	kind string // "num", "ident", "def", "extern", "if", ... or the char
	text string
	num  float64
}

func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := rune(src[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case unicode.IsLetter(c):
			j := i
			for j < len(src) && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			w := src[i:j]
			switch w {
			case "def", "extern", "if", "then", "else", "for", "in":
				toks = append(toks, token{kind: w})
			default:
				toks = append(toks, token{kind: "ident", text: w})
			}
			i = j
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(src) && (unicode.IsDigit(rune(src[j])) || src[j] == '.') {
				j++
			}
			v, err := strconv.ParseFloat(src[i:j], 64)
			if err != nil {
				return nil, fmt.Errorf("bad number %q", src[i:j])
			}
			toks = append(toks, token{kind: "num", num: v})
			i = j
		default:
			toks = append(toks, token{kind: string(c)})
			i++
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].kind
	}
	return ""
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	p.pos++
	return t
}

func (p *parser) expect(kind string) (token, error) {
	if p.peek() != kind {
		return token{}, fmt.Errorf("expected %q, found %q", kind, p.peek())
	}
	return p.next(), nil
}

// parse reads one top-level form per ';'-free input line.
func parse(line string) (*item, error) {
	toks, err := lex(line)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var it item
	switch p.peek() {
	case "":
		return nil, nil
	case "def":
		p.next()
		if it.def, err = p.prototype(); err == nil {
			it.body, err = p.expr()
		}
	case "extern":
		p.next()
		it.extern, err = p.prototype()
	default:
		it.body, err = p.expr()
	}
	if err == nil && p.pos != len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.peek())
	}
	if err != nil {
		return nil, err
	}
	return &it, nil
}

func (p *parser) prototype() (*prototype, error) {
	name, err := p.expect("ident")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	proto := &prototype{name: name.text}
	for p.peek() == "ident" {
		proto.params = append(proto.params, p.next().text)
	}
	_, err = p.expect(")")
	return proto, err
}

var precedence = map[string]int{"<": 10, "+": 20, "-": 20, "*": 40}

func (p *parser) expr() (expr, error) {
	lhs, err := p.primary()
	if err != nil {
		return nil, err
	}
	return p.binRHS(0, lhs)
}

func (p *parser) binRHS(minPrec int, lhs expr) (expr, error) {
	for {
		prec, ok := precedence[p.peek()]
		if !ok || prec < minPrec {
			return lhs, nil
		}
		op := p.next().kind
		rhs, err := p.primary()
		if err != nil {
			return nil, err
		}
		if next, ok := precedence[p.peek()]; ok && next > prec {
			if rhs, err = p.binRHS(prec+1, rhs); err != nil {
				return nil, err
			}
		}
		lhs = &binary{op: op[0], l: lhs, r: rhs}
	}
}

func (p *parser) primary() (expr, error) {
	switch p.peek() {
	case "num":
		return &number{v: p.next().num}, nil
	case "(":
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(")")
		return e, err
	case "ident":
		name := p.next().text
		if p.peek() != "(" {
			return &variable{name: name}, nil
		}
		p.next()
		c := &call{callee: name}
		for p.peek() != ")" {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			if p.peek() == "," {
				p.next()
			}
		}
		p.next()
		return c, nil
	case "if":
		p.next()
		var e ifExpr
		var err error
		if e.cond, err = p.expr(); err != nil {
			return nil, err
		}
		if _, err = p.expect("then"); err != nil {
			return nil, err
		}
		if e.then, err = p.expr(); err != nil {
			return nil, err
		}
		if _, err = p.expect("else"); err != nil {
			return nil, err
		}
		e.els, err = p.expr()
		return &e, err
	case "for":
		p.next()
		v, err := p.expect("ident")
		if err != nil {
			return nil, err
		}
		e := forExpr{v: v.text}
		if _, err = p.expect("="); err != nil {
			return nil, err
		}
		if e.start, err = p.expr(); err != nil {
			return nil, err
		}
		if _, err = p.expect(","); err != nil {
			return nil, err
		}
		if e.end, err = p.expr(); err != nil {
			return nil, err
		}
		if p.peek() == "," {
			p.next()
			if e.step, err = p.expr(); err != nil {
				return nil, err
			}
		}
		if _, err = p.expect("in"); err != nil {
			return nil, err
		}
		e.body, err = p.expr()
		return &e, err
	}
	return nil, fmt.Errorf("unexpected %q", strings.TrimSpace(p.peek()))
}
