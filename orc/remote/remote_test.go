package remote_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/remote"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orc/shared/wire"
	"github.com/gorc-jit/gorc/orcrt"
)

// executorInProcess serves an orcrt session with the given services
// (nil: orcrt.AddServices) over pipes, in this process, and returns the
// controller's EPC for it.
func executorInProcess(t *testing.T, services func(*orcrt.Session) error, opts ...remote.Option) *remote.EPC {
	return executorInProcessWriting(t, services, nil, opts...)
}

// executorInProcessWriting is executorInProcess whose controller writes
// through w (nil: straight to the pipe).
func executorInProcessWriting(t *testing.T, services func(*orcrt.Session) error, w func(io.Writer) io.Writer, opts ...remote.Option) *remote.EPC {
	cr, ew := io.Pipe()
	er, pw := io.Pipe()
	var cw io.Writer = pw
	if w != nil {
		cw = w(pw)
	}
	s := orcrt.NewSession()
	if services == nil {
		services = func(s *orcrt.Session) error { return orcrt.AddServices(s) }
	}
	if err := services(s); err != nil {
		t.Fatal(err)
	}
	go func() {
		ca, err := orcrt.Connect(s, wire.NewConn(er, ew, wire.Closers{er, ew}))
		if err != nil {
			t.Error(err)
			return
		}
		ca.Serve()
		s.Shutdown()
	}()
	epc, err := remote.New(cr, cw, wire.Closers{cr, pw}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { epc.Close() })
	return epc
}

func TestEPCServices(t *testing.T) {
	epc := executorInProcess(t, nil)
	if !epc.IsGorcExecutor() || epc.TargetTriple() != triple.Host() || epc.PageSize() == 0 {
		t.Fatalf("setup: gorc %v, triple %q, page %d", epc.IsGorcExecutor(), epc.TargetTriple(), epc.PageSize())
	}
	h, err := epc.LoadDylib("")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: "strlen", Required: true}, {Name: "no_such_symbol_x"}})
	if err != nil || addrs[0] == 0 || addrs[1] != 0 {
		t.Fatalf("lookup = %#x, %v", addrs, err)
	}
	if _, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: "no_such_symbol_x", Required: true}}); err == nil || !strings.Contains(err.Error(), "no_such_symbol_x") {
		t.Fatalf("missing required symbol: %v", err)
	}
	if _, err := epc.LoadDylib("/no/such/lib.so"); err == nil {
		t.Fatal("loading a missing library succeeded")
	}
	if m, err := epc.ReserveTLSModule(); err != nil || m == 0 {
		t.Fatalf("ReserveTLSModule = %d, %v", m, err)
	}
	if _, ok := epc.RuntimeSymbol("gorc_tls_get_addr"); !ok {
		t.Fatal("no TLS runtime published")
	}
	// abs(int) from libc, through the executor.
	abs, _ := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: "abs", Required: true}})
	if r, err := epc.RunAsIntFunction(abs[0], -42); err != nil || r != 42 {
		t.Fatalf("abs(-42) = %d, %v", r, err)
	}
}

// TestMemoryManagers links into the executor through both managers:
// content reaches the executor's memory, WriteMemory updates it, and the
// memory is released.
func TestMemoryManagers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []remote.Option
	}{{"copying", nil}, {"shared", []remote.Option{remote.SharedMemory()}}} {
		t.Run(tc.name, func(t *testing.T) {
			epc := executorInProcess(t, nil, tc.opts...)
			mm := epc.MemoryManager()
			req := &jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{
				{Prot: jitlink.ProtRead | jitlink.ProtExec, Align: 16, ContentSize: 3},
				{Prot: jitlink.ProtRead | jitlink.ProtWrite, Align: 8, ContentSize: 8, ZeroFillSize: 4096},
			}}
			a, err := mm.Allocate(req)
			if err != nil {
				t.Fatal(err)
			}
			segs := a.Segments()
			if maps, _ := os.ReadFile("/proc/self/maps"); tc.name == "shared" && !strings.Contains(string(maps), "memfd:gorc-jit") {
				t.Fatal("the shared manager mapped no shared memory")
			}
			copy(segs[0].Working, []byte{0x31, 0xc0, 0xc3}) // xor eax, eax; ret
			copy(segs[1].Working, "datadata")
			done := make(chan error, 1)
			var fa jitlink.FinalizedAlloc
			a.Finalize(nil, func(f jitlink.FinalizedAlloc, err error) { fa = f; done <- err })
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := read(segs[1].Addr, 8); string(got) != "datadata" {
				t.Fatalf("executor memory holds %q", got)
			}
			if got := read(segs[1].Addr+8, 16); !bytes.Equal(got, make([]byte, 16)) {
				t.Fatalf("zero fill holds % x", got)
			}
			if r, err := epc.RunAsIntFunction(segs[0].Addr, 7); err != nil || r != 0 {
				t.Fatalf("JIT'd function = %d, %v", r, err)
			}
			if err := epc.WriteMemory(segs[1].Addr, []byte("DATA")); err != nil {
				t.Fatal(err)
			}
			if got := read(segs[1].Addr, 8); string(got) != "DATAdata" {
				t.Fatalf("after WriteMemory: %q", got)
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

// read views memory of this process (the in-process executor's).
func read(addr uint64, n int) []byte {
	p := uintptr(addr)
	return append([]byte(nil), unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)...)
}

// TestBadSetup: an executor whose Setup lacks the memory manager, or that
// sends garbage, is refused with a clear error.
func TestBadSetup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		msg     string
	}{
		{"garbage", []byte{1, 2, 3}, "Setup message (3 bytes) is in neither known layout"},
		{"mangled", mangled(t), "is in neither known layout: (triple, page size, bootstrap map, symbols) of LLVM 19 and 22"},
		{"LLVM 22 without resolve", withoutSymbol(t, protocol.DylibManagerResolve),
			"executor's Setup message (LLVM 22 protocol) lacks __llvm_orc_SimpleExecutorDylibManager_resolve_wrapper"},
		{"no memory manager", mustMarshal(t, struct {
			Triple   string
			PageSize uint64
			Symbols  []struct {
				Name string
				Addr uint64
			}
		}{"x86_64-unknown-linux-gnu", 4096, nil}), "lacks __llvm_orc_SimpleExecutorMemoryManager_Instance"},
		{"another architecture", setupFor(t, "riscv64-unknown-linux-gnu", 4096),
			`the executor runs "riscv64-unknown-linux-gnu" code: no JIT target for architecture riscv64`},
		{"another system", setupFor(t, "x86_64-apple-darwin", 4096), `"x86_64-apple-darwin" code, but gorc links only for Linux`},
		{"unknown architecture", setupFor(t, "z80-unknown-none", 4096), `unknown architecture "z80"`},
		{"odd page size", setupFor(t, "x86_64-pc-linux-gnu", 3000), "the executor's page size is 3000"},
		{"no page size", setupFor(t, "x86_64-pc-linux-gnu", 0), "the executor's page size is 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr, ew := io.Pipe()
			er, cw := io.Pipe()
			go func() {
				c := wire.NewConn(er, ew, wire.Closers{er, ew})
				c.SendSetup(tc.payload)
				c.Serve(func(uint64, []byte, func([]byte, error)) {})
			}()
			_, err := remote.New(cr, cw, wire.Closers{cr, cw})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("New = %v, want an error with %q", err, tc.msg)
			}
		})
	}
}

// llvm22Setup is the Setup of an executor speaking LLVM 22's protocol,
// less the symbol named without.
func llvm22Setup(without string) protocol.Setup {
	s := protocol.Setup{Triple: "x86_64-pc-linux-gnu", PageSize: 4096}
	for i, name := range []string{protocol.MemoryManagerInstance, protocol.MemoryManagerReserve,
		protocol.MemoryManagerInitialize, protocol.MemoryManagerRelease, protocol.DylibManagerInstance,
		protocol.DylibManagerOpen, protocol.DylibManagerResolve, protocol.RunAsMain, protocol.WriteUint64s, protocol.WriteBuffers} {
		if name != without {
			s.Symbols = append(s.Symbols, protocol.Symbol{Name: name, Addr: sps.Addr(0x1000 + 16*i)})
		}
	}
	return s
}

func withoutSymbol(t *testing.T, name string) []byte {
	b, err := protocol.EncodeSetup(llvm22Setup(name), protocol.LLVM22)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mangled is an LLVM 22 Setup with a symbol count one too large.
func mangled(t *testing.T) []byte {
	b := withoutSymbol(t, "")
	off := 8 + len("x86_64-pc-linux-gnu") + 8 + 8 // the symbols' count
	b[off]++
	return b
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := sps.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setupFor is a Setup message of an executor of the given triple and page
// size, publishing the bootstrap symbols a controller needs.
func setupFor(t *testing.T, triple string, page uint64) []byte {
	s := protocol.Setup{Triple: triple, PageSize: page}
	for i, name := range []string{protocol.MemoryManagerInstance, protocol.MemoryManagerReserve,
		protocol.MemoryManagerFinalize, protocol.MemoryManagerDeallocate, protocol.DylibManagerInstance,
		protocol.DylibManagerOpen, protocol.DylibManagerLookup, protocol.RunAsMain} {
		s.Symbols = append(s.Symbols, protocol.Symbol{Name: name, Addr: sps.Addr(0x1000 + 16*i)})
	}
	return mustMarshal(t, s)
}

// TestConnectRetries: Connect waits briefly for an executor that is not
// listening yet (started at the same time), over a Unix socket, and gives
// up with the dial error when none comes.
func TestConnectRetries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exec.sock")
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Error(err)
			return
		}
		nc, err := l.Accept()
		l.Close()
		if err != nil {
			t.Error(err)
			return
		}
		s := orcrt.NewSession()
		if err := orcrt.AddServices(s); err != nil {
			t.Error(err)
			return
		}
		ca, err := orcrt.Connect(s, wire.NewConn(nc, nc, nc))
		if err != nil {
			t.Error(err)
			return
		}
		ca.Serve()
		s.Shutdown()
	}()
	epc, err := remote.Connect("unix:" + path)
	if err != nil {
		t.Fatalf("Connect to an executor listening 300 ms later: %v", err)
	}
	if _, err := epc.LoadDylib(""); err != nil {
		t.Fatal(err)
	}
	epc.Close()

	start := time.Now()
	_, err = remote.Connect("unix:" + filepath.Join(t.TempDir(), "nobody.sock"))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Connect to nothing = %v", err)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Fatalf("Connect gave up after %v; want about 2 s", d)
	}
}
