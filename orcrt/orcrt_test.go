package orcrt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orc/shared/wire"
	"github.com/gorc-jit/gorc/orcrt"
)

// recordingRM records the order of Detach and Shutdown calls.
type recordingRM struct {
	name string
	log  *[]string
	mu   *sync.Mutex
}

func (r recordingRM) Detach() error { r.add("detach " + r.name); return nil }
func (r recordingRM) Shutdown() error {
	r.add("shutdown " + r.name)
	return nil
}
func (r recordingRM) add(s string) {
	r.mu.Lock()
	*r.log = append(*r.log, s)
	r.mu.Unlock()
}

// TestSessionShutdown: Shutdown waits for running tasks, then shuts the
// resource managers down in reverse order of addition, once.
func TestSessionShutdown(t *testing.T) {
	var log []string
	var mu sync.Mutex
	s := orcrt.NewSession()
	for _, n := range []string{"memory", "dylibs", "eh-frames"} {
		s.AddResourceManager(recordingRM{n, &log, &mu})
	}
	release := make(chan struct{})
	s.Dispatcher().Dispatch(func() {
		<-release
		mu.Lock()
		log = append(log, "task done")
		mu.Unlock()
	})
	done := make(chan error)
	go func() { done <- s.Shutdown() }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	want := []string{"task done", "shutdown eh-frames", "shutdown dylibs", "shutdown memory"}
	if !slices.Equal(log, want) {
		t.Fatalf("order %q, want %q", log, want)
	}
}

// TestWrappers: Go wrappers get distinct addresses and may answer later;
// other addresses are native wrapper functions; two sessions do not share
// their wrappers.
func TestWrappers(t *testing.T) {
	s1, s2 := orcrt.NewSession(), orcrt.NewSession()
	later, err := s1.RegisterWrapper("later", func(args []byte, ret orcrt.Return) {
		go func() {
			time.Sleep(time.Millisecond)
			ret(append([]byte("late:"), args...), nil)
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	now, _ := s1.RegisterWrapper("now", orcrt.SyncWrapper(func(args []byte) ([]byte, error) { return nil, errors.New("refused") }))
	if later == 0 || now == 0 || later == now {
		t.Fatalf("addresses %#x %#x", later, now)
	}
	if a, ok := s1.Symbol("later"); !ok || a != later {
		t.Fatalf("Symbol(later) = %#x, %v", a, ok)
	}
	if out, err := s1.CallWrapperSync(later, []byte("x")); err != nil || string(out) != "late:x" {
		t.Fatalf("later = %q, %v", out, err)
	}
	if _, err := s1.CallWrapperSync(now, nil); err == nil || err.Error() != "refused" {
		t.Fatalf("now = %v", err)
	}
	if _, ok := s2.Symbol("later"); ok {
		t.Fatal("sessions share wrappers")
	}
	empty := native.RuntimeSymbols()["gorc_empty_wrapper"]
	if out, err := s2.CallWrapperSync(empty, []byte{1}); err != nil || len(out) != 0 {
		t.Fatalf("native wrapper = %q, %v", out, err)
	}
	inst, _ := s1.NewAddress("instance")
	if _, err := s1.CallWrapperSync(inst, nil); err == nil || !strings.Contains(err.Error(), "not a function") {
		t.Fatalf("calling an instance address: %v", err)
	}
}

// fakeController is the controller end of a connection to a session.
type fakeController struct {
	conn  *wire.Conn
	setup protocol.Setup
	syms  map[string]uint64
}

func (c *fakeController) CallWrapper(fn uint64, args []byte) ([]byte, error) {
	return c.conn.Call(fn, args)
}

// connect serves s over a pipe pair and returns the controller end.
func connect(t *testing.T, s *orcrt.Session, handler wire.Handler) (*fakeController, *orcrt.ControllerAccess) {
	cr, ew := io.Pipe()
	er, cw := io.Pipe()
	exeConn := wire.NewConn(er, ew, wire.Closers{er, ew})
	ctlConn := wire.NewConn(cr, cw, wire.Closers{cr, cw})
	setupDone := make(chan *orcrt.ControllerAccess, 1)
	go func() {
		ca, err := orcrt.Connect(s, exeConn)
		if err != nil {
			t.Error(err)
			close(setupDone)
			return
		}
		setupDone <- ca
		ca.Serve()
	}()
	payload, err := ctlConn.ReadSetup()
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeController{conn: ctlConn, syms: map[string]uint64{}}
	if c.setup, _, err = protocol.DecodeSetup(payload); err != nil {
		t.Fatal(err)
	}
	for _, sym := range c.setup.Symbols {
		c.syms[sym.Name] = uint64(sym.Addr)
	}
	go ctlConn.Serve(handler)
	t.Cleanup(func() { ctlConn.Hangup() })
	return c, <-setupDone
}

// TestMemoryManagerOverTheWire drives the memory manager as LLVM's
// controller does: reserve, finalize with content shorter than the segment
// and a finalize/dealloc action pair, write memory, deallocate.
func TestMemoryManagerOverTheWire(t *testing.T) {
	s := orcrt.NewSession()
	if err := orcrt.AddServices(s); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var actions []string
	action := func(name string) uint64 {
		a, err := s.RegisterWrapper("", orcrt.SyncWrapper(func(args []byte) ([]byte, error) {
			mu.Lock()
			actions = append(actions, name+":"+string(args))
			mu.Unlock()
			return sps.Marshal(struct{ E error }{})
		}))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	fin, dealloc := action("finalize"), action("dealloc")
	c, _ := connect(t, s, nil)
	for _, name := range []string{protocol.MemoryManagerReserve, protocol.DylibManagerOpen, protocol.RunAsMain,
		protocol.WriteBuffers, protocol.DispatchFn, protocol.DispatchCtx, protocol.RegisterEHFrame, "gorc_tls_get_addr"} {
		if c.syms[name] == 0 {
			t.Errorf("setup lacks %s", name)
		}
	}
	if c.setup.PageSize == 0 || c.setup.Triple != triple.Host().String() {
		t.Errorf("setup: triple %q, page size %d", c.setup.Triple, c.setup.PageSize)
	}
	inst := sps.Addr(c.syms[protocol.MemoryManagerInstance])
	// Each service refuses a call that names another instance.
	for name, call := range map[string]func() error{
		"memory manager": func() error {
			_, err := sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerReserve], protocol.ReserveArgs{Instance: inst + 1, Size: 0x2000})
			return err
		},
		"slab memory": func() error {
			return sps.CallError(c, c.syms[protocol.SlabMemoryRelease], protocol.DeallocateArgs{Instance: inst})
		},
		"dylib manager": func() error {
			_, err := sps.CallExpected[uint64](c, c.syms[protocol.DylibManagerOpen], protocol.OpenArgs{Instance: inst})
			return err
		},
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), name+": unknown instance") {
			t.Errorf("%s called with another instance: %v", name, err)
		}
	}
	base, err := sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerReserve], protocol.ReserveArgs{Instance: inst, Size: 0x2000})
	if err != nil {
		t.Fatal(err)
	}
	req := protocol.FinalizeRequest{
		Segments: []protocol.Segment{
			{Prot: protocol.ProtRead | protocol.ProtWrite, Addr: base, Size: 0x1000, Content: []byte("hello")},
			{Prot: protocol.ProtRead, Addr: base + 0x1000, Size: 0x1000, Content: []byte("ro")},
		},
		Actions: []protocol.ActionPair{{
			Finalize: protocol.WrapperCall{Fn: sps.Addr(fin), Args: []byte("1")},
			Dealloc:  protocol.WrapperCall{Fn: sps.Addr(dealloc), Args: []byte("1")},
		}},
	}
	if err := sps.CallError(c, c.syms[protocol.MemoryManagerFinalize], protocol.FinalizeArgs{Instance: inst, Request: req}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 8)
	copy(got, unsafeRead(uint64(base), 8))
	if !bytes.Equal(got, []byte("hello\x00\x00\x00")) {
		t.Fatalf("segment holds %q", got)
	}
	// Writes land in writable memory.
	if _, err := sps.Call[sps.Empty](c, c.syms[protocol.WriteUint32s], []protocol.WriteUint32{{Addr: base + 4, Value: 0x11223344}}); err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(unsafeRead(uint64(base)+4, 4)); v != 0x11223344 {
		t.Fatalf("after write: %#x", v)
	}
	// Each width of write, and a buffer.
	for name, args := range map[string]any{
		protocol.WriteUint8s:  []protocol.WriteUint8{{Addr: base + 16, Value: 0xab}},
		protocol.WriteUint16s: []protocol.WriteUint16{{Addr: base + 18, Value: 0xcdef}},
		protocol.WriteUint64s: []protocol.WriteUint64{{Addr: base + 24, Value: 0x0102030405060708}},
		protocol.WriteBuffers: []protocol.WriteBuffer{{Addr: base + 32, Data: []byte("buf")}},
	} {
		if _, err := sps.Call[sps.Empty](c, c.syms[name], args); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	want := []byte{0xab, 0, 0xef, 0xcd, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 'b', 'u', 'f'}
	if got := unsafeRead(uint64(base)+16, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("after the writes: % x, want % x", got, want)
	}
	// A segment outside any reservation is refused.
	bad := protocol.FinalizeRequest{Segments: []protocol.Segment{{Prot: protocol.ProtRead, Addr: 0x1000, Size: 16}}}
	if err := sps.CallError(c, c.syms[protocol.MemoryManagerFinalize], protocol.FinalizeArgs{Instance: inst, Request: bad}); err == nil || !strings.Contains(err.Error(), "no allocation to finalize") {
		t.Fatalf("finalize outside a reservation: %v", err)
	}
	if err := sps.CallError(c, c.syms[protocol.MemoryManagerDeallocate], protocol.DeallocateArgs{Instance: inst, Bases: []sps.Addr{base}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(actions, []string{"finalize:1", "dealloc:1"}) {
		t.Fatalf("actions ran %q", actions)
	}
}

// TestControllerCallsAndDetach: JIT'd code's calls reach the controller by
// tag through the dispatch context; after Detach calls are refused both
// ways.
func TestControllerCallsAndDetach(t *testing.T) {
	s := orcrt.NewSession()
	echo, _ := s.RegisterWrapper("echo", orcrt.SyncWrapper(func(args []byte) ([]byte, error) { return args, nil }))
	c, ca := connect(t, s, func(tag uint64, args []byte, reply func([]byte, error)) {
		reply(append([]byte{byte(tag)}, args...), nil)
	})
	out, err := ca.CallController(7, []byte("hi"))
	if err != nil || string(out) != "\x07hi" {
		t.Fatalf("CallController = %q, %v", out, err)
	}
	if out, err := c.CallWrapper(echo, []byte("x")); err != nil || string(out) != "x" {
		t.Fatalf("controller -> executor = %q, %v", out, err)
	}
	if err := ca.Detach(); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.CallController(7, nil); !errors.Is(err, orcrt.ErrDetached) {
		t.Fatalf("after detach: %v", err)
	}
	if out, err := c.CallWrapper(echo, []byte("x")); err != nil || len(out) != 0 {
		t.Fatalf("controller call after detach = %q, %v; want refused (empty)", out, err)
	}
}

// unsafeRead views n bytes of this process at addr (memory the test's
// session mapped).
func unsafeRead(addr uint64, n int) []byte {
	p := uintptr(addr)
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}
