package aarch64

import (
	"encoding/binary"

	"github.com/gorc-jit/gorc/jitlink"
)

// The AArch64 code of laziness.
//
// A lazy symbol is a stub, "adrp x16, ptr; ldr x16, [x16, :lo12:ptr];
// br x16". Its pointer first holds a trampoline, which loads the
// call-through's id into x16 and jumps to the reentry code. Reentry saves
// the argument registers (x0-x7, x8 for indirect results, q0-q7), asks the
// controller for the body's address through the JIT dispatch function,
// restores the registers and jumps to the body with the caller's return
// address still in x30; the controller has meanwhile pointed the stub at
// the body. If the body cannot be had, reentry goes to the failure
// handler: with the arguments restored to a handler that stands in for
// the function, or (without one) to a runtime function that reports the
// message and aborts.

// The reentry frame: the frame record, then (from sp) x0-x7, x8 and x16
// (the id, then the target), q0-q7.
const (
	reentryFrame = 208
	idOffset     = 72 // of x16's slot from sp
)

// LazyReentryGraph builds the reentry code.
func (t Target) LazyReentryGraph(r jitlink.LazyReentry) *jitlink.LinkGraph {
	g := t.NewLinkGraph("<lazy reentry>")
	data := g.CreateSection(".rodata.gorc_lazy", jitlink.ProtRead)
	tagBlock := g.CreateContentBlock(data, []byte{0}, 0, 1, 0)
	tag := g.AddDefinedSymbol(tagBlock, 0, r.TagSymbol, 1, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)

	var c code
	c.inst(stpXPre(fp, lr, sp, -16))
	c.inst(addImm(fp, sp, 0))
	c.inst(subImm(sp, sp, reentryFrame))
	for i := uint32(0); i < 8; i += 2 {
		c.inst(stpX(i, i+1, sp, int(8*i)))
	}
	c.inst(stpX(8, ip0, sp, 64))
	for i := uint32(0); i < 8; i += 2 {
		c.inst(stpQ(i, i+1, sp, int(80+16*i)))
	}
	c.movImm64(0, r.DispatchCtx)
	c.address(1, tag, 0)
	c.inst(addImm(2, sp, idOffset)) // &id
	c.movImm64(3, 8)
	c.movImm64(9, r.DispatchFn)
	c.inst(blr(9)) // x0 = data, x1 = size
	c.inst(cmpImm(1, 8))
	failAt := c.inst(bcond(condNE, 0))
	c.inst(strX(0, sp, idOffset)) // the body
	restore := len(c.b)
	for i := uint32(0); i < 8; i += 2 {
		c.inst(ldpQ(i, i+1, sp, int(80+16*i)))
	}
	c.inst(ldpX(8, ip0, sp, 64))
	for i := uint32(0); i < 8; i += 2 {
		c.inst(ldpX(i, i+1, sp, int(8*i)))
	}
	c.inst(addImm(sp, sp, reentryFrame))
	c.inst(ldpXPost(fp, lr, sp, 16))
	c.inst(br(ip0))
	binary.LittleEndian.PutUint32(c.b[failAt:], bcond(condNE, len(c.b)-failAt))
	if r.FailureHandler != 0 {
		c.movImm64(9, r.FailureHandler)
		c.inst(strX(9, sp, idOffset))
		c.inst(bOff(restore - len(c.b)))
	} else {
		// x0 holds the message, or 0.
		c.movImm64(9, r.ReportFailure)
		c.inst(blr(9))
		c.inst(brk(1)) // report does not return
	}
	text := g.CreateSection(".text.gorc_lazy", jitlink.ProtRead|jitlink.ProtExec)
	g.AddDefinedSymbol(c.block(g, text, 16), 0, r.Symbol, uint64(len(c.b)), jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	return g
}

// Trampoline layout: "ldr x16, id; ldr x17, reentry; br x17; brk", then
// the two literals.
const (
	trampIDAt      = 16
	trampReentryAt = 24
	trampSize      = 32
)

// LazyStubsGraph builds, per stub, a trampoline, a pointer to it, and the
// stub itself.
func (t Target) LazyStubsGraph(name string, reentry uint64, stubs []jitlink.LazyStub) (*jitlink.LinkGraph, []*jitlink.Symbol) {
	g := t.NewLinkGraph(name)
	text := g.CreateSection(".text.gorc_lazy_stubs", jitlink.ProtRead|jitlink.ProtExec)
	data := g.CreateSection(".data.gorc_lazy_ptrs", jitlink.ProtRead|jitlink.ProtWrite)
	ptrs := make([]*jitlink.Symbol, len(stubs))
	for i, st := range stubs {
		var tr code
		tr.inst(ldrLiteral(ip0, trampIDAt))
		tr.inst(ldrLiteral(ip1, trampReentryAt-4))
		tr.inst(br(ip1))
		tr.inst(brk(0))
		tr.quad(st.ID)
		tr.quad(reentry)
		tb := g.CreateContentBlock(text, tr.b, uint64(i)*64, 8, 0)
		tramp := g.AddAnonymousSymbol(tb, 0, trampSize, jitlink.Callable)

		pb := g.CreateContentBlock(data, make([]byte, 8), uint64(i)*8, 8, 0)
		pb.AddEdge(Pointer64, 0, tramp, 0)
		ptrs[i] = g.AddAnonymousSymbol(pb, 0, 8, jitlink.NoAttrs)

		var s code
		s.load(ip0, ptrs[i], 0)
		s.inst(br(ip0))
		sb := g.CreateContentBlock(text, s.b, uint64(i)*64+32, 4, 0)
		sb.SetEdges(s.edges)
		scope := jitlink.ScopeDefault
		if st.Hidden {
			scope = jitlink.ScopeHidden
		}
		g.AddDefinedSymbol(sb, 0, st.Name, uint64(len(s.b)), jitlink.Strong, scope, jitlink.Callable|jitlink.Live)
	}
	return g, ptrs
}
