package aarch64_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// The machine code the target writes is checked by decoding it: every word
// must decode to the instruction meant, and every edge must sit on an
// instruction of the kind it patches.

// listing decodes code (instructions only) in GNU syntax, one per word.
func listing(t *testing.T, code []byte) []string {
	t.Helper()
	var out []string
	for pc := 0; pc+4 <= len(code); pc += 4 {
		inst, err := arm64asm.Decode(code[pc:])
		if err != nil {
			t.Fatalf("decoding %#08x at %#x: %v", le.Uint32(code[pc:]), pc, err)
		}
		out = append(out, syntax(inst))
	}
	return out
}

func edgeList(b *jitlink.Block) []string {
	var got []string
	for _, e := range b.Edges() {
		name := "<anon>"
		if e.Target.HasName() {
			name = e.Target.Name()
		}
		got = append(got, fmt.Sprintf("%s@%d->%s%+d", aarch64.KindName(e.Kind), e.Offset, name, e.Addend))
	}
	return got
}

func checkCode(t *testing.T, what string, code []byte, want []string) {
	t.Helper()
	if got := listing(t, code); !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func checkEdges(t *testing.T, what string, b *jitlink.Block, want []string) {
	t.Helper()
	if got := edgeList(b); !slices.Equal(got, want) {
		t.Errorf("%s: edges %q, want %q", what, got, want)
	}
}

func newTarget() aarch64.Target {
	return aarch64.NewTarget(triple.MustParse("aarch64-unknown-linux-gnu"))
}

func TestTailCallThunk(t *testing.T) {
	tgt := newTarget()
	g := tgt.NewLinkGraph("thunks")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	dso := g.AddExternalSymbol("__dso_handle", 0, jitlink.Strong)
	callee := g.AddExternalSymbol("callee", 0, jitlink.Strong)
	// atexit(f) = __cxa_atexit(f, NULL, &__dso_handle)
	b := tgt.TailCallThunk(g, text, 1, []*jitlink.Symbol{nil, dso}, callee)
	checkCode(t, "atexit", b.Content(), []string{"mov x1, #0x0", "adrp x2, .+0x0", "ldr x2, [x2]", "b .+0x0"})
	checkEdges(t, "atexit", b, []string{"RequestGOTAndTransformToPage21@4->__dso_handle+0",
		"RequestGOTAndTransformToPageOffset12@8->__dso_handle+0", "Branch26PCRel@12->callee+0"})
}

func TestInitThunkGraph(t *testing.T) {
	g := newTarget().InitThunkGraph("init", []uint64{0x1000, 0x2000}, []uint64{0x3000})
	var main, fini *jitlink.Block
	for s := range g.DefinedSymbols() {
		if s.Name() == "init" {
			main = s.Block()
			if s.Scope() != jitlink.ScopeHidden || !s.IsCallable() {
				t.Errorf("init is %v", s)
			}
		}
	}
	for _, b := range g.FindSection(".text").Blocks() {
		if b != main {
			fini = b
		}
	}
	if main == nil || fini == nil {
		t.Fatal("no init function or no finalizer thunk")
	}
	checkCode(t, "fini", fini.Content(), []string{
		"stp x29, x30, [sp,#-16]!", "mov x29, sp",
		"adrp x16, .+0x0", "ldr x16, [x16]", "blr x16",
		"ldp x29, x30, [sp],#16", "ret"})
	call := []string{"mov w0, w19", "mov x1, x20", "mov x2, x21", "adrp x16, .+0x0", "ldr x16, [x16]", "blr x16"}
	want := []string{
		"stp x29, x30, [sp,#-48]!", "mov x29, sp", "stp x19, x20, [sp,#16]", "str x21, [sp,#32]",
		"mov w19, w0", "mov x20, x1", "mov x21, x2",
		"adrp x0, .+0x0", "add x0, x0, #0x0", "mov x1, #0x0", "adrp x2, .+0x0", "ldr x2, [x2]", "bl .+0x0"}
	want = append(append(append(want, call...), call...),
		"ldr x21, [sp,#32]", "ldp x19, x20, [sp,#16]", "ldp x29, x30, [sp],#48", "mov w0, wzr", "ret")
	checkCode(t, "init", main.Content(), want)
	checkEdges(t, "init", main, []string{
		"Page21@28-><anon>+0", "PageOffset12@32-><anon>+0",
		"RequestGOTAndTransformToPage21@40->__dso_handle+0", "RequestGOTAndTransformToPageOffset12@44->__dso_handle+0",
		"Branch26PCRel@48->__cxa_atexit+0",
		"Page21@64-><anon>+0", "PageOffset12@68-><anon>+0",
		"Page21@88-><anon>+8", "PageOffset12@92-><anon>+8"})
}

func TestLazyGraphs(t *testing.T) {
	tgt := newTarget()
	g := tgt.LazyReentryGraph(jitlink.LazyReentry{Symbol: "reentry", TagSymbol: "tag",
		DispatchFn: 0x1122334455667788, DispatchCtx: 0xabcd0000, ReportFailure: 0x7000})
	var re *jitlink.Block
	for s := range g.DefinedSymbols() {
		if s.Name() == "reentry" {
			re = s.Block()
		}
	}
	save := []string{"stp x29, x30, [sp,#-16]!", "mov x29, sp", "sub sp, sp, #0xd0",
		"stp x0, x1, [sp]", "stp x2, x3, [sp,#16]", "stp x4, x5, [sp,#32]", "stp x6, x7, [sp,#48]", "stp x8, x16, [sp,#64]",
		"stp q0, q1, [sp,#80]", "stp q2, q3, [sp,#112]", "stp q4, q5, [sp,#144]", "stp q6, q7, [sp,#176]",
		"mov x0, #0x0", "movk x0, #0xabcd, lsl #16",
		"adrp x1, .+0x0", "add x1, x1, #0x0", "add x2, sp, #0x48", "mov x3, #0x8",
		"mov x9, #0x7788", "movk x9, #0x5566, lsl #16", "movk x9, #0x3344, lsl #32", "movk x9, #0x1122, lsl #48",
		"blr x9", "cmp x1, #0x8", "b.ne .+0x38", "str x0, [sp,#72]"}
	restore := []string{"ldp q0, q1, [sp,#80]", "ldp q2, q3, [sp,#112]", "ldp q4, q5, [sp,#144]", "ldp q6, q7, [sp,#176]",
		"ldp x8, x16, [sp,#64]", "ldp x0, x1, [sp]", "ldp x2, x3, [sp,#16]", "ldp x4, x5, [sp,#32]", "ldp x6, x7, [sp,#48]",
		"add sp, sp, #0xd0", "ldp x29, x30, [sp],#16", "br x16"}
	want := append(append(slices.Clone(save), restore...), "mov x9, #0x7000", "blr x9", "brk #0x1")
	checkCode(t, "reentry (report)", re.Content(), want)
	checkEdges(t, "reentry", re, []string{"Page21@56->tag+0", "PageOffset12@60->tag+0"})

	g = tgt.LazyReentryGraph(jitlink.LazyReentry{Symbol: "reentry", TagSymbol: "tag",
		DispatchFn: 0x1122334455667788, DispatchCtx: 0xabcd0000, FailureHandler: 0x8000})
	for s := range g.DefinedSymbols() {
		if s.Name() == "reentry" {
			re = s.Block()
		}
	}
	want = append(append(slices.Clone(save), restore...), "mov x9, #0x8000", "str x9, [sp,#72]", "b .-0x38")
	checkCode(t, "reentry (handler)", re.Content(), want)

	sg, ptrs := tgt.LazyStubsGraph("stubs", 0x4000, []jitlink.LazyStub{{Name: "f", ID: 7}, {Name: "g", ID: 9, Hidden: true}})
	if len(ptrs) != 2 {
		t.Fatalf("%d pointers", len(ptrs))
	}
	for s := range sg.DefinedSymbols() {
		switch s.Name() {
		case "f", "g":
			checkCode(t, s.Name(), s.Block().Content(), []string{"adrp x16, .+0x0", "ldr x16, [x16]", "br x16"})
			if s.Name() == "g" && s.Scope() != jitlink.ScopeHidden {
				t.Errorf("g is not hidden")
			}
		case "":
			if s.Block().Section().Name() != ".text.gorc_lazy_stubs" {
				continue
			}
			c := s.Block().Content()
			checkCode(t, "trampoline", c[:16], []string{"ldr x16, .+0x10", "ldr x17, .+0x14", "br x17", "brk #0x0"})
			if id, re := le.Uint64(c[16:]), le.Uint64(c[24:]); (id != 7 && id != 9) || re != 0x4000 {
				t.Errorf("trampoline literals id %d reentry %#x", id, re)
			}
		}
	}
	// The pointers start at their trampolines.
	for _, p := range ptrs {
		e := p.Block().Edges()
		if len(e) != 1 || e[0].Kind != aarch64.Pointer64 || e[0].Target.Block().Section().Name() != ".text.gorc_lazy_stubs" {
			t.Errorf("pointer edges %v", edgeList(p.Block()))
		}
	}
}

func TestFlushInstructionCache(t *testing.T) {
	// On arm64 hosts this runs the cache maintenance over a real range
	// (a fault would crash the test); elsewhere it does nothing.
	buf := make([]byte, 3<<10)
	newTarget().FlushInstructionCache(uint64(addrOf(buf)), uint64(len(buf)))
}

// The graphs the target builds link: every edge sits on an instruction its
// fixup accepts.
func TestTargetGraphsLink(t *testing.T) {
	tgt := newTarget()
	ext := map[string]uint64{"__dso_handle": 0x7f0000000000, "__cxa_atexit": 0x7f0000001000, "callee": 0x500000}
	graphs := []*jitlink.LinkGraph{
		tgt.InitThunkGraph("init", []uint64{0x1000}, []uint64{0x3000, 0x4000}),
		tgt.LazyReentryGraph(jitlink.LazyReentry{Symbol: "reentry", TagSymbol: "tag", DispatchFn: 1, DispatchCtx: 2, ReportFailure: 3}),
	}
	sg, _ := tgt.LazyStubsGraph("stubs", 0x4000, []jitlink.LazyStub{{Name: "f", ID: 7}})
	graphs = append(graphs, sg)
	tg := tgt.NewLinkGraph("thunk")
	text := tg.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	data := tg.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	local := tg.AddDefinedSymbol(tg.CreateContentBlock(data, make([]byte, 8), 0, 8, 0), 0, "local", 8, jitlink.Strong, jitlink.ScopeLocal, jitlink.Live)
	th := tgt.TailCallThunk(tg, text, 0, []*jitlink.Symbol{local, tg.AddExternalSymbol("__dso_handle", 0, jitlink.Strong)}, tg.AddExternalSymbol("callee", 0, jitlink.Strong))
	tg.AddDefinedSymbol(th, 0, "thunk", th.Size(), jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	graphs = append(graphs, tg)
	for _, g := range graphs {
		if err := jitlinktest.Link(g, jitlinktest.Options{Memory: &jitlinktest.Memory{Base: base}, Externals: ext}); err != nil {
			t.Errorf("%s: %v", g.Name(), err)
		}
	}
}

// A TLS descriptor request gets a descriptor, a tls_index and both
// resolvers; the static one returns the descriptor's argument, the dynamic
// one calls __tls_get_addr through a literal and subtracts the thread
// pointer, saving x1-x18 and q0-q31 around the call.
func TestTLSDescriptorResolvers(t *testing.T) {
	g := newTarget().NewLinkGraph("tls")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	tdata := g.CreateSection(".tdata", jitlink.ProtRead|jitlink.ProtWrite)
	tdata.SetTLS(true)
	v := g.AddDefinedSymbol(g.CreateContentBlock(tdata, make([]byte, 8), 0, 8, 0), 0, "v", 8, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	code := g.CreateContentBlock(text, le.AppendUint32(le.AppendUint32(nil, adrp), ldrX), 0, 4, 0)
	code.AddEdge(aarch64.RequestTLSDescAndTransformToPage21, 0, v, 0)
	code.AddEdge(aarch64.RequestTLSDescAndTransformToPageOffset12, 4, v, 0)
	if err := aarch64.BuildTLSEntries(g); err != nil {
		t.Fatal(err)
	}
	sec := g.FindSection("$__TLSDESC")
	if sec == nil || len(sec.Blocks()) != 2 {
		t.Fatalf("resolver section %v", sec)
	}
	checkCode(t, "static resolver", sec.Blocks()[0].Content(), []string{"ldr x0, [x0,#8]", "ret"})
	dyn := sec.Blocks()[1]
	c := dyn.Content()
	got := listing(t, c[:len(c)-8]) // the last 8 bytes are the literal
	for _, want := range []string{"stp x29, x30, [sp,#-16]!", "stp x17, x18, [sp,#128]", "stp q30, q31, [sp,#624]",
		"ldr x0, [x0,#8]", "blr x16", "mrs x1, s3_3_c13_c0_2" /* tpidr_el0 */, "sub x0, x0, x1", "ldp q0, q1, [sp,#144]", "ldp x1, x2, [sp]", "ret"} {
		if !slices.Contains(got, want) {
			t.Errorf("dynamic resolver lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if e := edgeList(dyn); len(e) != 1 || e[0] != fmt.Sprintf("Pointer64@%d->__tls_get_addr+0", len(c)-8) {
		t.Errorf("dynamic resolver edges %q", e)
	}
	// The code now loads the descriptor's address.
	if e := edgeList(code); e[0] != "Page21@0-><anon>+0" || e[1] != "PageOffset12@4-><anon>+0" {
		t.Errorf("lowered edges %q", e)
	}
}
