package native

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// TestCABI runs testdata/abi.c, which calls functions of mixed signatures
// (stack arguments of both kinds, float and double results) through
// gorc_call_generic and calls the callback entry points, on the host and
// on AArch64 (cross-compiled, run by qemu): the C ABI trick holds on each.
func TestCABI(t *testing.T) {
	for _, arch := range []struct{ name, cc, run string }{
		{"host", "gcc", ""},
		{"aarch64", "aarch64-linux-gnu-gcc", "qemu-aarch64"},
	} {
		t.Run(arch.name, func(t *testing.T) {
			cc := testutil.NeedTool(t, arch.cc)
			exe := filepath.Join(t.TempDir(), "abi")
			build := exec.Command(cc, "-O2", "-static", "-o", exe, "testdata/abi.c", "ccall.c", "callbacks.c")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			cmd := exec.Command(exe)
			if arch.run != "" {
				cmd = exec.Command(testutil.NeedTool(t, arch.run), exe)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 7 {
				t.Fatalf("output:\n%s", out)
			}
			for _, l := range lines {
				got, want, ok := strings.Cut(l, " (want ")
				if !ok || !strings.HasSuffix(got, " "+strings.TrimSuffix(want, ")")) {
					t.Errorf("%s", l)
				}
			}
		})
	}
}
