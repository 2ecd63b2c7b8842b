package remote_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/remote"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
)

// TestLLVMExecutors drives LLVM's own executors of 14, 19 and 22: the EPC
// recognizes each protocol from the Setup, looks symbols up (a missing
// optional one is 0), links code (copying, or for 19 and 22 through
// LLVM's shared-memory mapper, which this process then maps), runs it,
// and releases it once.
func TestLLVMExecutors(t *testing.T) {
	for _, tc := range []struct {
		version protocol.Version
		shared  bool
	}{{protocol.LLVM14, false}, {protocol.LLVM19, false}, {protocol.LLVM19, true}, {protocol.LLVM22, false}, {protocol.LLVM22, true}} {
		name := strings.ReplaceAll(tc.version.String(), " ", "")
		if tc.shared {
			name += "/shared"
		}
		t.Run(name, func(t *testing.T) {
			exe := testutil.NeedTool(t, "llvm-jitlink-executor-"+strings.TrimPrefix(tc.version.String(), "LLVM "))
			var opts []remote.Option
			if tc.shared {
				opts = append(opts, remote.SharedMemory())
			}
			epc, err := remote.Launch(exe, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer epc.Close()
			if epc.Protocol() != tc.version {
				t.Fatalf("protocol %s, want %s", epc.Protocol(), tc.version)
			}
			h, err := epc.LoadDylib("")
			if err != nil {
				t.Fatal(err)
			}
			addrs, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: "puts", Required: true}, {Name: "no_such_symbol_here"}})
			if err != nil || len(addrs) != 2 || addrs[0] == 0 || addrs[1] != 0 {
				t.Fatalf("lookup: %#x, %v", addrs, err)
			}
			if _, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: "no_such_symbol_here", Required: true}}); err == nil {
				t.Fatal("a missing required symbol was found")
			}
			mm := epc.MemoryManager()
			a, err := mm.Allocate(&jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{
				{Prot: jitlink.ProtRead | jitlink.ProtExec, Align: 16, ContentSize: 6},
				{Prot: jitlink.ProtRead | jitlink.ProtWrite, Align: 8, ContentSize: 8, ZeroFillSize: 4096},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if maps, _ := os.ReadFile("/proc/self/maps"); tc.shared != strings.Contains(string(maps), "/dev/shm/jitlink_") {
				t.Fatalf("shared %v, but this process's mappings say otherwise", tc.shared)
			}
			segs := a.Segments()
			copy(segs[0].Working, []byte{0xb8, 42, 0, 0, 0, 0xc3}) // mov eax, 42; ret
			done := make(chan error, 1)
			var fa jitlink.FinalizedAlloc
			a.Finalize(nil, func(f jitlink.FinalizedAlloc, err error) { fa = f; done <- err })
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if r, err := epc.RunAsMain(segs[0].Addr, nil); err != nil || r != 42 {
				t.Fatalf("JIT'd code answered %d, %v", r, err)
			}
			if err := epc.RunAsVoidFunction(segs[0].Addr); err != nil {
				t.Fatal(err)
			}
			if err := mm.Deallocate([]jitlink.FinalizedAlloc{fa}); err != nil {
				t.Fatal(err)
			}
			if err := mm.Deallocate([]jitlink.FinalizedAlloc{fa}); err == nil {
				t.Fatal("double deallocation succeeded")
			}
		})
	}
}
