package x86_64

import "github.com/gorc-jit/gorc/jitlink"

// The x86-64 code of laziness.
//
// A lazy symbol is a stub, "jmp *ptr(%rip)". Its pointer first holds a
// trampoline, which loads the call-through's id into r11 and jumps to the
// reentry code. Reentry saves the argument registers (rdi, rsi, rdx, rcx,
// r8, r9, rax for varargs, xmm0-7), asks the controller for the body's
// address through the JIT dispatch function, restores the registers and
// jumps to the body; the controller has meanwhile pointed the stub at the
// body, so later calls cost one indirect jump. If the body cannot be had,
// reentry goes to the failure handler: with the arguments restored to a
// handler that stands in for the function, or (without one) to a runtime
// function that reports the message and aborts.

// The frame reentry builds below the saved rbp: eight saved registers, the
// last (r11, the id, and then the target) at rbp-64, then xmm0-7.
const idSlot = 0xc0 // disp8 of rbp-64

// LazyReentryGraph builds the reentry code.
func (t Target) LazyReentryGraph(r jitlink.LazyReentry) *jitlink.LinkGraph {
	g := t.NewLinkGraph("<lazy reentry>")
	data := g.CreateSection(".rodata.gorc_lazy", jitlink.ProtRead)
	tagBlock := g.CreateContentBlock(data, []byte{0}, 0, 1, 0)
	tag := g.AddDefinedSymbol(tagBlock, 0, r.TagSymbol, 1, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)

	var c code
	c.emit(0x55)             // push rbp
	c.emit(0x48, 0x89, 0xe5) // mov rbp, rsp
	c.emit(0x50, 0x57, 0x56, 0x52, 0x51, 0x41, 0x50, 0x41, 0x51, 0x41, 0x53)
	// push rax, rdi, rsi, rdx, rcx, r8, r9, r11: the stack is 16-aligned again
	c.emit(0x48, 0x81, 0xec, 0x80, 0, 0, 0) // sub rsp, 128
	for i := byte(0); i < 8; i++ {
		c.emit(0xf3, 0x0f, 0x7f, 0x44|i<<3, 0x24, i*16) // movdqu [rsp+16i], xmm_i
	}
	c.emit(0x48, 0xbf)
	c.imm64(r.DispatchCtx) // mov rdi, ctx
	c.emit(0x48, 0xbe)
	tagAt := c.imm64(0)              // mov rsi, tag
	c.emit(0x48, 0x8d, 0x55, idSlot) // lea rdx, [rbp-64]  (&id)
	c.emit(0xb9, 8, 0, 0, 0)         // mov ecx, 8
	c.emit(0x48, 0xb8)               // mov rax, dispatch
	c.imm64(r.DispatchFn)            //
	c.emit(0xff, 0xd0)               // call rax: rax = data, rdx = size
	c.emit(0x48, 0x83, 0xfa, 8)      // cmp rdx, 8
	failJump := c.jcc(0x85)          // jne fail
	c.emit(0x48, 0x89, 0x45, idSlot) // mov [rbp-64], rax  (the body)
	restore := len(c.b)              //
	for i := byte(0); i < 8; i++ {   //
		c.emit(0xf3, 0x0f, 0x6f, 0x44|i<<3, 0x24, i*16) // movdqu xmm_i, [rsp+16i]
	}
	c.emit(0x48, 0x81, 0xc4, 0x80, 0, 0, 0) // add rsp, 128
	c.emit(0x41, 0x5b, 0x41, 0x59, 0x41, 0x58, 0x59, 0x5a, 0x5e, 0x5f, 0x58)
	// pop r11 (the target), r9, r8, rcx, rdx, rsi, rdi, rax
	c.emit(0x5d)             // pop rbp
	c.emit(0x41, 0xff, 0xe3) // jmp r11
	c.patch(failJump)
	if r.FailureHandler != 0 {
		c.emit(0x49, 0xba)
		c.imm64(r.FailureHandler)        // mov r10, failure
		c.emit(0x4c, 0x89, 0x55, idSlot) // mov [rbp-64], r10
		c.emit(0xe9)                     // jmp restore
		c.rel32(restore)                 //
	} else {
		c.emit(0x48, 0x89, 0xc7) // mov rdi, rax (the message, or 0)
		c.emit(0x48, 0xb8)
		c.imm64(r.ReportFailure) // mov rax, report
		c.emit(0xff, 0xd0)       // call rax
		c.emit(0x0f, 0x0b)       // ud2: report does not return
	}
	c.edges = append(c.edges, jitlink.Edge{Kind: Pointer64, Offset: uint32(tagAt), Target: tag})
	text := g.CreateSection(".text.gorc_lazy", jitlink.ProtRead|jitlink.ProtExec)
	g.AddDefinedSymbol(c.block(g, text, 16), 0, r.Symbol, uint64(len(c.b)), jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	return g
}

// LazyStubsGraph builds, per stub, a trampoline ("mov $id, %r11; mov
// $reentry, %r10; jmp *%r10"), a pointer to it, and the stub itself
// ("jmp *ptr(%rip)", padded with int3 to 8 bytes).
func (t Target) LazyStubsGraph(name string, reentry uint64, stubs []jitlink.LazyStub) (*jitlink.LinkGraph, []*jitlink.Symbol) {
	g := t.NewLinkGraph(name)
	text := g.CreateSection(".text.gorc_lazy_stubs", jitlink.ProtRead|jitlink.ProtExec)
	data := g.CreateSection(".data.gorc_lazy_ptrs", jitlink.ProtRead|jitlink.ProtWrite)
	ptrs := make([]*jitlink.Symbol, len(stubs))
	for i, st := range stubs {
		var tr code
		tr.emit(0x49, 0xbb)
		tr.imm64(st.ID) // mov r11, id
		tr.emit(0x49, 0xba)
		tr.imm64(reentry)         // mov r10, reentry
		tr.emit(0x41, 0xff, 0xe2) // jmp r10
		tb := g.CreateContentBlock(text, tr.b, uint64(i)*64, 8, 0)
		tramp := g.AddAnonymousSymbol(tb, 0, uint64(len(tr.b)), jitlink.Callable)

		pb := g.CreateContentBlock(data, make([]byte, 8), uint64(i)*8, 8, 0)
		pb.AddEdge(Pointer64, 0, tramp, 0)
		ptrs[i] = g.AddAnonymousSymbol(pb, 0, 8, jitlink.NoAttrs)

		sb := g.CreateContentBlock(text, []byte{0xff, 0x25, 0, 0, 0, 0, 0xcc, 0xcc}, uint64(i)*64+32, 8, 0)
		sb.AddEdge(Delta32, 2, ptrs[i], -4)
		scope := jitlink.ScopeDefault
		if st.Hidden {
			scope = jitlink.ScopeHidden
		}
		g.AddDefinedSymbol(sb, 0, st.Name, 6, jitlink.Strong, scope, jitlink.Callable|jitlink.Live)
	}
	return g, ptrs
}
