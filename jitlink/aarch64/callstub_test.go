package aarch64_test

import (
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

var linuxTarget = aarch64.NewTarget(triple.MustParse("aarch64-unknown-linux-gnu"))

// TestPreservingCallStub decodes the stub: it saves x19-x30, q8-q15 and
// FPCR in one frame, passes args[0..5] in x0-x5, and restores each from
// the slot it was saved to (mrs/msr s3_3_c4_c4_0 is FPCR).
func TestPreservingCallStub(t *testing.T) {
	checkCode(t, "preserving call stub", linuxTarget.PreservingCallStub(), []string{
		"stp x29, x30, [sp,#-240]!",
		"mov x29, sp",
		"stp x19, x20, [sp,#16]",
		"stp x21, x22, [sp,#32]",
		"stp x23, x24, [sp,#48]",
		"stp x25, x26, [sp,#64]",
		"stp x27, x28, [sp,#80]",
		"stp q8, q9, [sp,#96]",
		"stp q10, q11, [sp,#128]",
		"stp q12, q13, [sp,#160]",
		"stp q14, q15, [sp,#192]",
		"mrs x9, s3_3_c4_c4_0",
		"str x9, [sp,#224]",
		"mov x16, x0",
		"mov x17, x1",
		"ldp x0, x1, [x17]",
		"ldp x2, x3, [x17,#16]",
		"ldp x4, x5, [x17,#32]",
		"blr x16",
		"ldr x9, [sp,#224]",
		"msr s3_3_c4_c4_0, x9",
		"ldp q8, q9, [sp,#96]",
		"ldp q10, q11, [sp,#128]",
		"ldp q12, q13, [sp,#160]",
		"ldp q14, q15, [sp,#192]",
		"ldp x19, x20, [sp,#16]",
		"ldp x21, x22, [sp,#32]",
		"ldp x23, x24, [sp,#48]",
		"ldp x25, x26, [sp,#64]",
		"ldp x27, x28, [sp,#80]",
		"ldp x29, x30, [sp],#240",
		"ret",
	})
}

// TestBlockStubs appends stubs to two code blocks calling the same
// external function: each block gets its own stub at its (4-aligned) end,
// both load the one GOT entry that holds the callee's address.
func TestBlockStubs(t *testing.T) {
	g := linuxTarget.NewLinkGraph("calls.o")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	puts := g.AddExternalSymbol("puts", 0, jitlink.Strong)
	b1 := g.CreateMutableContentBlock(text, []byte{0, 0, 0, 0x94, 0xaa, 0xbb}, 0x1000, 4, 0)
	b1.AddEdge(aarch64.Branch26PCRel, 0, puts, 0)
	b2 := g.CreateMutableContentBlock(text, []byte{0, 0, 0, 0x94}, 0x2000, 4, 0)
	b2.AddEdge(aarch64.Branch26PCRel, 0, puts, 0)
	if !linuxTarget.IsBranch(b1.Edges()[0].Kind) || linuxTarget.IsBranch(aarch64.Pointer64) {
		t.Fatal("IsBranch: Branch26PCRel is a branch, Pointer64 is not")
	}

	appendStub := linuxTarget.BlockStubs(g)
	s1, s2 := appendStub(b1, puts), appendStub(b2, puts)
	if s1.Block() != b1 || s1.Offset() != 8 || s1.Size() != 12 || !s1.IsCallable() || s2.Block() != b2 || s2.Offset() != 4 {
		t.Fatalf("stubs at %d (size %d) and %d, want 8 (after 2 bytes of padding) and 4", s1.Offset(), s1.Size(), s2.Offset())
	}
	if c := b1.Content(); c[4] != 0xaa || c[5] != 0xbb || c[6] != 0 || c[7] != 0 {
		t.Errorf("block 1 content % x: its bytes, then zero padding", c[:8])
	}
	stub := []string{"adrp x16, .+0x0", "ldr x16, [x16]", "br x16"}
	checkCode(t, "stub of block 1", b1.Content()[8:], stub)
	checkCode(t, "stub of block 2", b2.Content()[4:], stub)
	checkEdges(t, "block 1", b1, []string{"Branch26PCRel@0->puts+0", "Page21@8-><anon>+0", "PageOffset12@12-><anon>+0"})
	checkEdges(t, "block 2", b2, []string{"Branch26PCRel@0->puts+0", "Page21@4-><anon>+0", "PageOffset12@8-><anon>+0"})
	got := b1.Edges()[1].Target
	if linuxTarget.GOTEntryTarget(got) != puts || got.Block().Section().Name() != linuxTarget.GOTSectionName() {
		t.Errorf("stub loads %v, want the GOT entry of puts", got)
	}
	for _, e := range append(b1.Edges()[1:], b2.Edges()[1:]...) {
		if e.Target != got {
			t.Errorf("stub edge to %v, want the one GOT entry %v", e.Target, got)
		}
	}
}

func TestNoFarExternalPasses(t *testing.T) {
	cfg := &jitlink.PassConfig{}
	err := linuxTarget.AddFarExternalPasses(cfg, jitlink.FarExternals{})
	if err == nil || !strings.Contains(err.Error(), "aarch64") || len(cfg.PostPrune)+len(cfg.PreFixup) != 0 {
		t.Errorf("AddFarExternalPasses: %v, %d passes; want an error and none", err, len(cfg.PostPrune)+len(cfg.PreFixup))
	}
}
