//go:build amd64

package native

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// clobberAsm breaks the ABI on return: it changes every callee-saved
// register and sets the MXCSR to round toward zero.
const clobberAsm = `
	.text
	.globl clobber
	.type clobber, @function
clobber:
	mov $0x1111, %rbx
	mov $0x2222, %rbp
	mov $0x3333, %r12
	mov $0x4444, %r13
	mov $0x5555, %r14
	mov $0x6666, %r15
	movl $0x7f80, -4(%rsp)
	ldmxcsr -4(%rsp)
	movw $0x7f, -8(%rsp)
	fldcw -8(%rsp)
	lea 1(%rdi), %rax
	ret
	.section .note.GNU-stack,"",@progbits
`

// TestCallPreservesRegisters calls a function that returns with every
// callee-saved register and the rounding mode changed: the Go side must
// not notice.
func TestCallPreservesRegisters(t *testing.T) {
	gcc := testutil.NeedTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "clobber.s")
	lib := filepath.Join(dir, "libclobber.so")
	if err := os.WriteFile(src, []byte(clobberAsm), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-shared", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	l, err := Open(lib, RTLDNow|RTLDLocal)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fn, ok := l.Lookup("clobber")
	if !ok {
		t.Fatal("clobber not found")
	}
	for i := range 100 {
		r, err := CallInt(fn, uint64(i))
		if err != nil || r != uint64(i)+1 {
			t.Fatalf("clobber(%d) = %d, %v", i, r, err)
		}
		if got := CallMain(fn, []string{"x"}); got != 2 {
			t.Fatalf("clobber as main = %d", got)
		}
	}
	// Round to nearest still: 2/3 rounds up in the last bit.
	x, y := 2.0, 3.0
	if q := x / y; q != 0.6666666666666666 {
		t.Fatalf("2/3 = %.17g: the MXCSR rounding mode leaked", q)
	}
}
