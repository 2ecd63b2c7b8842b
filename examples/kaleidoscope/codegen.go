package main

import (
	"fmt"
	"math"
	"strings"
)

// codegen turns Kaleidoscope functions into LLVM IR text.
type codegen struct {
	protos map[string]*prototype // every function declared or defined so far

	// per function
	b       strings.Builder
	tmp     int
	label   int
	cur     string            // the current basic block
	vars    map[string]string // variable -> SSA value
	callees map[string]bool
}

func newCodegen() *codegen { return &codegen{protos: map[string]*prototype{}} }

// function returns a module defining proto with body, declaring what it
// calls.
func (g *codegen) function(proto *prototype, body expr, ret string) (string, error) {
	g.b.Reset()
	g.tmp, g.label, g.cur = 0, 0, "entry"
	g.vars, g.callees = map[string]string{}, map[string]bool{}
	params := make([]string, len(proto.params))
	for i, p := range proto.params {
		params[i] = "double %" + p
		g.vars[p] = "%" + p
	}
	fmt.Fprintf(&g.b, "entry:\n")
	v, err := g.expr(body)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if ret == "void" {
		// A top-level expression shows its value and returns nothing.
		fmt.Fprintf(&g.b, "  call void @kal_show(double %s)\n  ret void\n", v)
		g.callees["kal_show"] = true
		fmt.Fprintf(&out, "define void @%s() {\n%s}\n", proto.name, g.b.String())
	} else {
		fmt.Fprintf(&g.b, "  ret double %s\n", v)
		fmt.Fprintf(&out, "define double @%s(%s) {\n%s}\n", proto.name, strings.Join(params, ", "), g.b.String())
	}
	for callee := range g.callees {
		if callee == proto.name {
			continue
		}
		if callee == "kal_show" {
			out.WriteString("declare void @kal_show(double)\n")
			continue
		}
		types := strings.TrimSuffix(strings.Repeat("double, ", len(g.protos[callee].params)), ", ")
		fmt.Fprintf(&out, "declare double @%s(%s)\n", callee, types)
	}
	return out.String(), nil
}

func (g *codegen) temp() string {
	g.tmp++
	return fmt.Sprintf("%%t%d", g.tmp)
}

func (g *codegen) newLabel(what string) string {
	g.label++
	return fmt.Sprintf("%s%d", what, g.label)
}

func (g *codegen) startBlock(l string) {
	fmt.Fprintf(&g.b, "%s:\n", l)
	g.cur = l
}

func (g *codegen) emit(format string, args ...any) string {
	t := g.temp()
	fmt.Fprintf(&g.b, "  %s = "+format+"\n", append([]any{t}, args...)...)
	return t
}

// constant writes a double exactly (LLVM's hexadecimal form).
func constant(v float64) string { return fmt.Sprintf("0x%016X", math.Float64bits(v)) }

func (g *codegen) expr(e expr) (string, error) {
	switch e := e.(type) {
	case *number:
		return constant(e.v), nil
	case *variable:
		v, ok := g.vars[e.name]
		if !ok {
			return "", fmt.Errorf("unknown variable %s", e.name)
		}
		return v, nil
	case *binary:
		l, err := g.expr(e.l)
		if err != nil {
			return "", err
		}
		r, err := g.expr(e.r)
		if err != nil {
			return "", err
		}
		switch e.op {
		case '+':
			return g.emit("fadd double %s, %s", l, r), nil
		case '-':
			return g.emit("fsub double %s, %s", l, r), nil
		case '*':
			return g.emit("fmul double %s, %s", l, r), nil
		case '<':
			c := g.emit("fcmp ult double %s, %s", l, r)
			return g.emit("uitofp i1 %s to double", c), nil
		}
		return "", fmt.Errorf("unknown operator %c", e.op)
	case *call:
		p, ok := g.protos[e.callee]
		if !ok {
			return "", fmt.Errorf("unknown function %s", e.callee)
		}
		if len(p.params) != len(e.args) {
			return "", fmt.Errorf("%s takes %d arguments, not %d", e.callee, len(p.params), len(e.args))
		}
		args := make([]string, len(e.args))
		for i, a := range e.args {
			v, err := g.expr(a)
			if err != nil {
				return "", err
			}
			args[i] = "double " + v
		}
		g.callees[e.callee] = true
		return g.emit("call double @%s(%s)", e.callee, strings.Join(args, ", ")), nil
	case *ifExpr:
		c, err := g.expr(e.cond)
		if err != nil {
			return "", err
		}
		cond := g.emit("fcmp one double %s, 0.0", c)
		then, els, end := g.newLabel("then"), g.newLabel("else"), g.newLabel("ifend")
		fmt.Fprintf(&g.b, "  br i1 %s, label %%%s, label %%%s\n", cond, then, els)
		g.startBlock(then)
		tv, err := g.expr(e.then)
		if err != nil {
			return "", err
		}
		thenEnd := g.cur
		fmt.Fprintf(&g.b, "  br label %%%s\n", end)
		g.startBlock(els)
		ev, err := g.expr(e.els)
		if err != nil {
			return "", err
		}
		elseEnd := g.cur
		fmt.Fprintf(&g.b, "  br label %%%s\n", end)
		g.startBlock(end)
		return g.emit("phi double [%s, %%%s], [%s, %%%s]", tv, thenEnd, ev, elseEnd), nil
	case *forExpr:
		start, err := g.expr(e.start)
		if err != nil {
			return "", err
		}
		pre, loop, after := g.cur, g.newLabel("loop"), g.newLabel("after")
		fmt.Fprintf(&g.b, "  br label %%%s\n", loop)
		g.startBlock(loop)
		i := g.temp()
		next := g.temp()
		// The phi's second input comes from the end of the loop body,
		// known only once it is generated: fill it in below.
		phiAt := g.b.Len()
		fmt.Fprintf(&g.b, "  %s = phi double [%s, %%%s], [%s, %%@LOOPEND@]\n", i, start, pre, next)
		old, shadowed := g.vars[e.v]
		g.vars[e.v] = i
		if _, err := g.expr(e.body); err != nil {
			return "", err
		}
		step := constant(1)
		if e.step != nil {
			if step, err = g.expr(e.step); err != nil {
				return "", err
			}
		}
		fmt.Fprintf(&g.b, "  %s = fadd double %s, %s\n", next, i, step)
		endv, err := g.expr(e.end)
		if err != nil {
			return "", err
		}
		cond := g.emit("fcmp one double %s, 0.0", endv)
		fmt.Fprintf(&g.b, "  br i1 %s, label %%%s, label %%%s\n", cond, loop, after)
		body := g.b.String()
		g.b.Reset()
		g.b.WriteString(body[:phiAt] + strings.Replace(body[phiAt:], "@LOOPEND@", g.cur, 1))
		g.startBlock(after)
		if shadowed {
			g.vars[e.v] = old
		} else {
			delete(g.vars, e.v)
		}
		return constant(0), nil
	}
	return "", fmt.Errorf("unknown expression %T", e)
}
