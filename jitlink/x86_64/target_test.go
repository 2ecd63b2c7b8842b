package x86_64_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// The machine code the target writes is checked by decoding it: each
// sequence must decode completely to the instructions meant, and every
// edge must patch the last field (rel32, disp32 or imm64) of an
// instruction.

// disasm decodes code as 64-bit x86, one instruction per line in Intel
// syntax, and returns the offsets where instructions end.
func disasm(t *testing.T, code []byte) (listing []string, ends []int) {
	t.Helper()
	for pc := 0; pc < len(code); {
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil {
			t.Fatalf("decoding at %#x of % x: %v", pc, code, err)
		}
		listing = append(listing, x86asm.IntelSyntax(inst, uint64(pc), nil))
		pc += inst.Len
		ends = append(ends, pc)
	}
	return listing, ends
}

// checkBlock compares b's instructions with want and checks that each
// edge ends an instruction: "kind@offset->target" strings in edges.
func checkBlock(t *testing.T, what string, b *jitlink.Block, want []string, edges []string) {
	t.Helper()
	listing, ends := disasm(t, b.Content())
	if !slices.Equal(listing, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(listing, "\n"), strings.Join(want, "\n"))
	}
	var got []string
	for _, e := range b.Edges() {
		size := x86_64.FieldSize(e.Kind)
		if !slices.Contains(ends, int(e.Offset)+size) {
			t.Errorf("%s: %s edge at %#x does not end an instruction", what, x86_64.KindName(e.Kind), e.Offset)
		}
		name := "<anon>"
		if e.Target.HasName() {
			name = e.Target.Name()
		}
		got = append(got, fmt.Sprintf("%s@%d->%s%+d", x86_64.KindName(e.Kind), e.Offset, name, e.Addend))
	}
	if !slices.Equal(got, edges) {
		t.Errorf("%s: edges %q, want %q", what, got, edges)
	}
}

func newTarget() x86_64.Target { return x86_64.NewTarget(x86_64.Triple) }

func TestTailCallThunk(t *testing.T) {
	tgt := newTarget()
	g := tgt.NewLinkGraph("thunks")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	dso := g.AddExternalSymbol("__dso_handle", 0, jitlink.Strong)
	callee := g.AddExternalSymbol("callee", 0, jitlink.Strong)

	// atexit(f) = __cxa_atexit(f, NULL, &__dso_handle)
	b := tgt.TailCallThunk(g, text, 1, []*jitlink.Symbol{nil, dso}, callee)
	checkBlock(t, "atexit", b, []string{"xor esi, esi", "lea rdx, ptr [rip]", "jmp 0xe"},
		[]string{"Delta32@5->__dso_handle-4", "BranchPCRel32@10->callee-4"})
	// The bytes the ELF platform wrote by hand before the target did.
	if want := []byte{0x31, 0xf6, 0x48, 0x8d, 0x15, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0}; !bytes.Equal(b.Content(), want) {
		t.Errorf("atexit: % x, want % x", b.Content(), want)
	}
	// __cxa_finalize(&__dso_handle)
	b = tgt.TailCallThunk(g, text, 0, []*jitlink.Symbol{dso}, callee)
	checkBlock(t, "finalize", b, []string{"lea rdi, ptr [rip]", "jmp 0xc"},
		[]string{"Delta32@3->__dso_handle-4", "BranchPCRel32@8->callee-4"})
	// The extended registers: r8 and r9.
	b = tgt.TailCallThunk(g, text, 3, []*jitlink.Symbol{nil, dso, nil}, callee)
	checkBlock(t, "r8, r9", b, []string{"xor ecx, ecx", "lea r8, ptr [rip]", "xor r9d, r9d", "jmp 0x11"},
		[]string{"Delta32@5->__dso_handle-4", "BranchPCRel32@13->callee-4"})
}

func TestInitThunkGraph(t *testing.T) {
	g := newTarget().InitThunkGraph("init", []uint64{0x1000, 0x2000}, []uint64{0x3000, 0x4000})
	var fn, fini *jitlink.Block
	for s := range g.DefinedSymbols() {
		if s.HasName() && s.Name() == "init" {
			fn = s.Block()
		} else if s.IsCallable() {
			fini = s.Block()
		}
	}
	if fn == nil || fini == nil {
		t.Fatal("no init or fini function")
	}
	checkBlock(t, "fini", fini, []string{"push rbx", "call qword ptr [rip]", "call qword ptr [rip]", "pop rbx", "ret"},
		[]string{"Delta32@3-><anon>+4", "Delta32@9-><anon>-4"})
	checkBlock(t, "init", fn, []string{
		"push rbx", "push r12", "push r13", "mov ebx, edi", "mov r12, rsi", "mov r13, rdx",
		"lea rdi, ptr [rip]", "xor esi, esi", "lea rdx, ptr [rip]", "call 0x22",
		"mov edi, ebx", "mov rsi, r12", "mov rdx, r13", "call qword ptr [rip]",
		"mov edi, ebx", "mov rsi, r12", "mov rdx, r13", "call qword ptr [rip]",
		"pop r13", "pop r12", "pop rbx", "xor eax, eax", "ret"},
		[]string{"Delta32@16-><anon>-4", "Delta32@25->__dso_handle-4", "BranchPCRel32@30->__cxa_atexit-4",
			"Delta32@44-><anon>-4", "Delta32@58-><anon>+4"})

	// Without finalizers nothing is registered.
	g = newTarget().InitThunkGraph("init", []uint64{0x1000}, nil)
	for s := range g.DefinedSymbols() {
		if s.HasName() && s.Name() == "init" {
			checkBlock(t, "init without finis", s.Block(), []string{
				"push rbx", "push r12", "push r13", "mov ebx, edi", "mov r12, rsi", "mov r13, rdx",
				"mov edi, ebx", "mov rsi, r12", "mov rdx, r13", "call qword ptr [rip]",
				"pop r13", "pop r12", "pop rbx", "xor eax, eax", "ret"},
				[]string{"Delta32@23-><anon>-4"})
		}
	}
}

// reentryPrologue and reentryRestore are the parts of the reentry code
// that both failure modes share.
var reentryPrologue = []string{
	"push rbp", "mov rbp, rsp",
	"push rax", "push rdi", "push rsi", "push rdx", "push rcx", "push r8", "push r9", "push r11",
	"sub rsp, 0x80",
	"movdqu xmmword ptr [rsp], xmm0", "movdqu xmmword ptr [rsp+0x10], xmm1",
	"movdqu xmmword ptr [rsp+0x20], xmm2", "movdqu xmmword ptr [rsp+0x30], xmm3",
	"movdqu xmmword ptr [rsp+0x40], xmm4", "movdqu xmmword ptr [rsp+0x50], xmm5",
	"movdqu xmmword ptr [rsp+0x60], xmm6", "movdqu xmmword ptr [rsp+0x70], xmm7",
	"mov rdi, 0x2222", "mov rsi, 0x0", "lea rdx, ptr [rbp-0x40]", "mov ecx, 0x8",
	"mov rax, 0x1111", "call rax", "cmp rdx, 0x8", "jnz 0xc3",
	"mov qword ptr [rbp-0x40], rax",
}

var reentryRestore = []string{
	"movdqu xmm0, xmmword ptr [rsp]", "movdqu xmm1, xmmword ptr [rsp+0x10]",
	"movdqu xmm2, xmmword ptr [rsp+0x20]", "movdqu xmm3, xmmword ptr [rsp+0x30]",
	"movdqu xmm4, xmmword ptr [rsp+0x40]", "movdqu xmm5, xmmword ptr [rsp+0x50]",
	"movdqu xmm6, xmmword ptr [rsp+0x60]", "movdqu xmm7, xmmword ptr [rsp+0x70]",
	"add rsp, 0x80",
	"pop r11", "pop r9", "pop r8", "pop rcx", "pop rdx", "pop rsi", "pop rdi", "pop rax", "pop rbp",
	"jmp r11",
}

func reentryCode(t *testing.T, r jitlink.LazyReentry) *jitlink.Block {
	g := newTarget().LazyReentryGraph(r)
	var code *jitlink.Block
	var tag bool
	for s := range g.DefinedSymbols() {
		switch {
		case s.HasName() && s.Name() == r.Symbol && s.IsCallable():
			code = s.Block()
		case s.HasName() && s.Name() == r.TagSymbol && s.Size() == 1:
			tag = true
		}
	}
	if code == nil || !tag {
		t.Fatal("reentry graph lacks its code or tag")
	}
	return code
}

func TestLazyReentryGraph(t *testing.T) {
	r := jitlink.LazyReentry{Symbol: "reenter", TagSymbol: "tag", DispatchFn: 0x1111, DispatchCtx: 0x2222}
	// Without a failure handler: report the message and trap.
	r.ReportFailure = 0x3333
	want := slices.Concat(reentryPrologue, reentryRestore, []string{"mov rdi, rax", "mov rax, 0x3333", "call rax", "ud2"})
	checkBlock(t, "reentry, reporting failures", reentryCode(t, r), want, []string{"Pointer64@82->tag+0"})

	// With one: jump back to the restore sequence with the handler as the
	// target.
	r.ReportFailure, r.FailureHandler = 0, 0x4444
	want = slices.Concat(reentryPrologue, reentryRestore, []string{"mov r10, 0x4444", "mov qword ptr [rbp-0x40], r10", "jmp 0x7d"})
	checkBlock(t, "reentry, with a failure handler", reentryCode(t, r), want, []string{"Pointer64@82->tag+0"})
	// 0x7d is the first restoring instruction, right after the store of
	// the body's address.
	listing, ends := disasm(t, reentryCode(t, r).Content())
	if i := slices.Index(listing, reentryRestore[0]); i < 1 || ends[i-1] != 0x7d {
		t.Errorf("restore sequence does not start at 0x7d")
	}
}

func TestLazyStubsGraph(t *testing.T) {
	g, ptrs := newTarget().LazyStubsGraph("stubs", 0x5555, []jitlink.LazyStub{{Name: "f", ID: 7}, {Name: "g", ID: 8, Hidden: true}})
	if len(ptrs) != 2 {
		t.Fatalf("%d pointers", len(ptrs))
	}
	for i, name := range []string{"f", "g"} {
		var stub *jitlink.Symbol
		for s := range g.DefinedSymbols() {
			if s.HasName() && s.Name() == name {
				stub = s
			}
		}
		if stub == nil || !stub.IsCallable() || (stub.Scope() == jitlink.ScopeHidden) != (name == "g") {
			t.Fatalf("stub %s: %v", name, stub)
		}
		checkBlock(t, "stub "+name, stub.Block(), []string{"jmp qword ptr [rip]", "int3", "int3"}, []string{"Delta32@2-><anon>-4"})
		if stub.Block().Edges()[0].Target != ptrs[i] {
			t.Errorf("stub %s does not jump through its pointer", name)
		}
		// The pointer first holds the trampoline.
		pe := ptrs[i].Block().Edges()
		if len(pe) != 1 || pe[0].Kind != x86_64.Pointer64 || pe[0].Offset != 0 || ptrs[i].Size() != 8 {
			t.Fatalf("pointer %d: %v", i, pe)
		}
		checkBlock(t, "trampoline "+name, pe[0].Target.Block(),
			[]string{fmt.Sprintf("mov r11, 0x%x", 7+i), "mov r10, 0x5555", "jmp r10"}, nil)
	}
}

func TestTargetFacts(t *testing.T) {
	tgt := newTarget()
	if tgt.PointerSize() != 8 || tgt.Endianness().Uint16([]byte{1, 0}) != 1 || tgt.PointerEdge() != x86_64.Pointer64 || tgt.Triple() != x86_64.Triple {
		t.Errorf("facts: %d %v %v %v", tgt.PointerSize(), tgt.Endianness(), tgt.PointerEdge(), tgt.Triple())
	}
	if g := tgt.NewLinkGraph("g"); g.TargetTriple() != x86_64.Triple || g.PointerSize() != 8 {
		t.Errorf("graph: %v", g.TargetTriple())
	}
}
