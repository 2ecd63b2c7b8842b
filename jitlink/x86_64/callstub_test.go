package x86_64

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// TestPreservingCallStub decodes the stub and checks that it saves every
// callee-saved register before the call, restores them in reverse order
// after it, keeps the stack 16-byte aligned at the call and passes the six
// arguments from the array.
func TestPreservingCallStub(t *testing.T) {
	code := PreservingCallStub()
	var insts []string
	depth := 8 // the return address
	callDepth := -1
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		s := x86asm.IntelSyntax(in, 0, nil)
		insts = append(insts, s)
		switch {
		case in.Op == x86asm.PUSH:
			depth += 8
		case in.Op == x86asm.POP:
			depth -= 8
		case s == "sub rsp, 0x8":
			depth += 8
		case s == "add rsp, 0x8":
			depth -= 8
		case in.Op == x86asm.CALL:
			callDepth = depth
		}
		off += in.Len
	}
	if callDepth%16 != 0 {
		t.Errorf("stack is %d bytes deep at the call: not 16-byte aligned", callDepth)
	}
	if depth != 8 || insts[len(insts)-1] != "ret" {
		t.Errorf("stack not balanced (%d) or no ret at the end: %v", depth, insts)
	}
	call := slices.IndexFunc(insts, func(s string) bool { return strings.HasPrefix(s, "call ") })
	if call < 0 {
		t.Fatalf("no call: %v", insts)
	}
	before, after := strings.Join(insts[:call], "; "), strings.Join(insts[call:], "; ")
	var pushes, pops []string
	for _, s := range insts {
		if r, ok := strings.CutPrefix(s, "push "); ok {
			pushes = append(pushes, r)
		}
		if r, ok := strings.CutPrefix(s, "pop "); ok {
			pops = append(pops, r)
		}
	}
	slices.Reverse(pops)
	if want := []string{"rbp", "rbx", "r12", "r13", "r14", "r15"}; !slices.Equal(pushes, want) || !slices.Equal(pops, want) {
		t.Errorf("pushes %v, pops (reversed) %v, want %v", pushes, pops, want)
	}
	for _, want := range []string{"stmxcsr", "fnstcw", "mov rdi, qword ptr [r10]", "mov r9, qword ptr [r10+0x28]"} {
		if !strings.Contains(before, want) {
			t.Errorf("no %q before the call: %s", want, before)
		}
	}
	for _, want := range []string{"ldmxcsr", "fldcw", "cld"} {
		if !strings.Contains(after, want) {
			t.Errorf("no %q after the call: %s", want, after)
		}
	}
}
