package bench

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/remote"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
)

// executors returns gorc-executor (built here) and LLVM's executor.
func executors(b *testing.B) map[string]string {
	exe := filepath.Join(b.TempDir(), "gorc-executor")
	if out, err := exec.Command("go", "build", "-o", exe, "github.com/gorc-jit/gorc/cmd/gorc-executor").CombinedOutput(); err != nil {
		b.Fatalf("building gorc-executor: %v\n%s", err, out)
	}
	return map[string]string{
		"gorc-executor":            exe,
		"llvm-jitlink-executor-14": testutil.NeedTool(b, "llvm-jitlink-executor-14"),
	}
}

// BenchmarkWrapperRoundTrip calls a wrapper function that does nothing (a
// memory write of no bytes) in an executor process: the cost of one call
// over the pipes, gorc-executor against LLVM's.
func BenchmarkWrapperRoundTrip(b *testing.B) {
	for name, path := range executors(b) {
		b.Run(name, func(b *testing.B) {
			epc, err := remote.Launch(path)
			if err != nil {
				b.Fatal(err)
			}
			defer epc.Close()
			fn, _ := epc.Symbol(protocol.WriteUint8s)
			noWrites := make([]byte, 8) // an empty sequence
			b.ResetTimer()
			for range b.N {
				if _, err := epc.CallWrapper(fn, noWrites); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRemoteLinkSqlite links main + libsqlite3.a into a new
// gorc-executor, copying segments over the connection or writing them into
// shared memory, and (for comparison) in process; each iteration includes
// starting and ending the JIT (and executor).
func BenchmarkRemoteLinkSqlite(b *testing.B) {
	exe := executors(b)["gorc-executor"]
	obj := sqliteMainObject(b)
	for _, tc := range []struct {
		name string
		opts []remote.Option
	}{{"copy", nil}, {"shared-memory", []remote.Option{remote.SharedMemory()}}, {"in-process", nil}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				bld := &lljit.Builder{}
				if tc.name != "in-process" {
					epc, err := remote.Launch(exe, tc.opts...)
					if err != nil {
						b.Fatal(err)
					}
					bld.EPC = epc
				}
				if err := linkSqliteMain(b, bld, obj).Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
