package orcrt_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orcrt"
)

// TestMemoryManagerInitialize drives the memory manager as LLVM 22's
// controller does: regions initialized anywhere in a reservation (not
// overlapping), deinitialized (their dealloc actions run, the memory
// stays and is cleared when initialized again), and released with the
// reservation.
func TestMemoryManagerInitialize(t *testing.T) {
	s, action, log := sessionWithActionLog(t)
	c, _ := connect(t, s, nil)
	inst := sps.Addr(c.syms[protocol.MemoryManagerInstance])
	base, err := sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerReserve], protocol.ReserveArgs{Instance: inst, Size: 0x3000})
	if err != nil {
		t.Fatal(err)
	}
	initialize := func(addr sps.Addr, prot uint8, content, name string) (sps.Addr, error) {
		return sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerInitialize], protocol.FinalizeArgs{Instance: inst,
			Request: protocol.FinalizeRequest{
				Segments: []protocol.Segment{{Prot: prot, Addr: addr, Size: 0x1000, Content: []byte(content)}},
				Actions: []protocol.ActionPair{{Finalize: protocol.WrapperCall{Fn: sps.Addr(action), Args: []byte("init " + name)},
					Dealloc: protocol.WrapperCall{Fn: sps.Addr(action), Args: []byte("deinit " + name)}}},
			}})
	}
	if key, err := initialize(base+0x1000, protocol.ProtRead|protocol.ProtFinalizeOnly, "b", "b"); err != nil || key != base+0x1000 {
		t.Fatalf("initialize b: key %#x, %v", key, err)
	}
	if key, err := initialize(base, protocol.ProtRead|protocol.ProtWrite, "a", "a"); err != nil || key != base {
		t.Fatalf("initialize a: key %#x, %v", key, err)
	}
	if _, err := initialize(base+0x800, protocol.ProtRead, "", "c"); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("overlapping initialize: %v", err)
	}
	if _, err := initialize(base+0x2800, protocol.ProtRead, "", "d"); err == nil || !strings.Contains(err.Error(), "not within one reservation") {
		t.Fatalf("initialize across the reservation's end: %v", err)
	}
	if _, err := sps.Call[sps.Empty](c, c.syms[protocol.WriteBuffers], []protocol.WriteBuffer{{Addr: base + 8, Data: []byte("junk")}}); err != nil {
		t.Fatal(err)
	}
	if err := sps.CallError(c, c.syms[protocol.MemoryManagerDeinitialize], protocol.DeallocateArgs{Instance: inst, Bases: []sps.Addr{base}}); err != nil {
		t.Fatal(err)
	}
	// Initialized again, the region holds its content and zeroes only.
	if _, err := initialize(base, protocol.ProtRead, "x", "a2"); err != nil {
		t.Fatal(err)
	}
	if got := unsafeRead(uint64(base), 12); !bytes.Equal(got, []byte("x\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")) {
		t.Fatalf("reinitialized region holds %q", got)
	}
	if err := sps.CallError(c, c.syms[protocol.MemoryManagerRelease], protocol.DeallocateArgs{Instance: inst, Bases: []sps.Addr{base}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"init b", "init a", "deinit a", "init a2", "deinit b", "deinit a2"}
	if ran := log.ran(); !slices.Equal(ran, want) {
		t.Fatalf("actions ran %q, want %q", ran, want)
	}
}

// TestDylibLookupByProtocol: lookup answers addresses to LLVM 14's
// controllers and (address, flags) pairs to 19's; 22's resolve answers a
// name not found as LLVM 22's executor does (absent if required, else
// present at address 0), and handles are never 0.
func TestDylibLookupByProtocol(t *testing.T) {
	names := []protocol.LookupRequest{{Name: "malloc"}, {Name: "no_such_symbol_here"}}
	for _, v := range []protocol.Version{protocol.LLVM14, protocol.LLVM22} {
		s := orcrt.NewSession(orcrt.WithProtocol(v))
		if err := orcrt.AddServices(s); err != nil {
			t.Fatal(err)
		}
		c, _ := connect(t, s, nil)
		inst := sps.Addr(c.syms[protocol.DylibManagerInstance])
		h, err := sps.CallExpected[uint64](c, c.syms[protocol.DylibManagerOpen], protocol.OpenArgs{Instance: inst})
		if err != nil || h == 0 {
			t.Fatalf("%s: open: handle %d, %v", v, h, err)
		}
		args := protocol.LookupArgs{Instance: inst, Handle: h, Names: names}
		if v == protocol.LLVM14 {
			addrs, err := sps.CallExpected[[]sps.Addr](c, c.syms[protocol.DylibManagerLookup], args)
			if err != nil || len(addrs) != 2 || addrs[0] == 0 || addrs[1] != 0 {
				t.Fatalf("14 lookup: %#x, %v", addrs, err)
			}
			continue
		}
		defs, err := sps.CallExpected[[]protocol.SymbolDef](c, c.syms[protocol.DylibManagerLookup], args)
		if err != nil || len(defs) != 2 || defs[0].Addr == 0 || defs[0].Flags != protocol.SymbolExported || defs[1].Addr != 0 {
			t.Fatalf("19 lookup: %+v, %v", defs, err)
		}
		maybe, err := sps.CallExpected[[]protocol.MaybeSymbolDef](c, c.syms[protocol.DylibManagerResolve],
			protocol.ResolveArgs{Handle: sps.Addr(h), Names: names})
		if err != nil || len(maybe) != 2 || !maybe[0].Found || maybe[0].Def.Addr != defs[0].Addr || !maybe[1].Found || maybe[1].Def.Addr != 0 {
			t.Fatalf("22 resolve: %+v, %v", maybe, err)
		}
		maybe, err = sps.CallExpected[[]protocol.MaybeSymbolDef](c, c.syms[protocol.DylibManagerResolve],
			protocol.ResolveArgs{Handle: sps.Addr(h), Names: []protocol.LookupRequest{{Name: "no_such_symbol_here", Required: true}}})
		if err != nil || len(maybe) != 1 || maybe[0].Found {
			t.Fatalf("22 resolve of a required missing symbol: %+v, %v", maybe, err)
		}
	}
}

// TestReleaseOrder: releasing several reservations at once runs their
// dealloc actions last base first, as LLVM's executor does (LLVM 22's ORC
// runtime deregisters a JITDylib's header last, and fails otherwise).
func TestReleaseOrder(t *testing.T) {
	s, action, log := sessionWithActionLog(t)
	c, _ := connect(t, s, nil)
	inst := sps.Addr(c.syms[protocol.MemoryManagerInstance])
	var bases []sps.Addr
	for _, name := range []string{"header", "code"} {
		base, err := sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerReserve], protocol.ReserveArgs{Instance: inst, Size: 0x1000})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerInitialize], protocol.FinalizeArgs{Instance: inst,
			Request: protocol.FinalizeRequest{
				Segments: []protocol.Segment{{Prot: protocol.ProtRead, Addr: base, Size: 0x1000}},
				Actions:  []protocol.ActionPair{{Dealloc: protocol.WrapperCall{Fn: sps.Addr(action), Args: []byte(name)}}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, base)
	}
	if err := sps.CallError(c, c.syms[protocol.MemoryManagerRelease], protocol.DeallocateArgs{Instance: inst, Bases: bases}); err != nil {
		t.Fatal(err)
	}
	if ran := log.ran(); !slices.Equal(ran, []string{"code", "header"}) {
		t.Fatalf("dealloc actions ran %q", ran)
	}
}

// TestSharedMemoryMapper drives LLVM's shared-memory mapper service as
// LLVM 22's controller does: reserve (a named shared-memory object), write
// through the controller's own mapping of it, initialize with protections
// only (the key is the lowest segment address), deinitialize, release
// (which removes the object if the controller has not).
func TestSharedMemoryMapper(t *testing.T) {
	s := orcrt.NewSession()
	if err := orcrt.AddServices(s); err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s, nil)
	inst := sps.Addr(c.syms[protocol.SharedMemoryMapperInstance])
	r, err := sps.CallExpected[protocol.SharedReservation](c, c.syms[protocol.SharedMemoryMapperReserve], protocol.ReserveArgs{Instance: inst, Size: 0x4000})
	if err != nil {
		t.Fatal(err)
	}
	path := "/dev/shm/" + strings.TrimPrefix(r.Name, "/")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("controller side: %v", err)
	}
	view, err := unix.Mmap(int(f.Fd()), 0, 0x4000, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(view)
	copy(view[0x1000:], "shared")
	args := protocol.SharedInitializeArgs{Instance: inst, Reservation: r.Addr}
	args.Request.Segments = []protocol.SharedSegment{{Prot: protocol.ProtRead, Addr: r.Addr + 0x1000, Size: 0x1000}}
	key, err := sps.CallExpected[sps.Addr](c, c.syms[protocol.SharedMemoryMapperInitialize], args)
	if err != nil || key != r.Addr+0x1000 {
		t.Fatalf("initialize: key %#x (reservation %#x), %v", key, r.Addr, err)
	}
	if got := unsafeRead(uint64(key), 6); string(got) != "shared" {
		t.Fatalf("executor sees %q", got)
	}
	if err := sps.CallError(c, c.syms[protocol.SharedMemoryMapperDeinitialize], protocol.DeallocateArgs{Instance: inst, Bases: []sps.Addr{key}}); err != nil {
		t.Fatal(err)
	}
	if err := sps.CallError(c, c.syms[protocol.SharedMemoryMapperRelease], protocol.DeallocateArgs{Instance: inst, Bases: []sps.Addr{r.Addr}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("after release, %s: %v", path, err)
	}
}

// TestRunWaitsForFinalize: a call that runs JIT'd code waits for the
// finalize calls that arrived before it (LLVM 19's controller sends
// run-as-main without waiting for the finalize's answer), a reservation's
// or a batch of slab memory's.
func TestRunWaitsForFinalize(t *testing.T) {
	for _, mode := range []string{"reservation", "slab batch"} {
		t.Run(mode, func(t *testing.T) {
			s := orcrt.NewSession()
			if err := orcrt.AddServices(s); err != nil {
				t.Fatal(err)
			}
			started, release := make(chan struct{}), make(chan struct{})
			action, _ := s.RegisterWrapper("", orcrt.SyncWrapper(func([]byte) ([]byte, error) {
				close(started)
				<-release
				return sps.Marshal(struct{ E error }{})
			}))
			c, _ := connect(t, s, nil)
			req := protocol.FinalizeRequest{
				Segments: []protocol.Segment{{Prot: protocol.ProtRead | protocol.ProtExec, Size: 0x1000,
					Content: []byte{0xb8, 42, 0, 0, 0, 0xc3}}}, // mov eax, 42; ret
				Actions: []protocol.ActionPair{{Finalize: protocol.WrapperCall{Fn: sps.Addr(action)}}},
			}
			var finalize func() error
			if mode == "reservation" {
				inst := sps.Addr(c.syms[protocol.MemoryManagerInstance])
				base, err := sps.CallExpected[sps.Addr](c, c.syms[protocol.MemoryManagerReserve], protocol.ReserveArgs{Instance: inst, Size: 0x1000})
				if err != nil {
					t.Fatal(err)
				}
				req.Segments[0].Addr = base
				finalize = func() error {
					return sps.CallError(c, c.syms[protocol.MemoryManagerFinalize], protocol.FinalizeArgs{Instance: inst, Request: req})
				}
			} else {
				inst := sps.Addr(c.syms[protocol.SlabMemoryInstance])
				r, err := sps.CallExpected[protocol.SlabReservation](c, c.syms[protocol.SlabMemoryReserve], protocol.ReserveArgs{Instance: inst, Size: 2 << 20})
				if err != nil {
					t.Fatal(err)
				}
				req.Segments[0].Addr = r.Regions[0].Addr
				finalize = func() error {
					errs, err := sps.CallExpected[[]error](c, c.syms[protocol.SlabMemoryFinalizeBatch],
						protocol.FinalizeBatchArgs{Instance: inst, Requests: []protocol.FinalizeRequest{req}})
					return errors.Join(append(errs, err)...)
				}
			}
			finalized := make(chan error, 1)
			go func() { finalized <- finalize() }()
			<-started
			ran := make(chan int64, 1)
			go func() {
				r, _ := sps.Call[int64](c, c.syms[protocol.RunAsMain], protocol.RunAsMainArgs{Main: req.Segments[0].Addr, Args: []string{}})
				ran <- r
			}()
			select {
			case <-ran:
				t.Fatal("the code ran before its finalize was answered")
			case <-time.After(100 * time.Millisecond):
			}
			close(release)
			if err := <-finalized; err != nil {
				t.Fatal(err)
			}
			if r := <-ran; r != 42 {
				t.Fatalf("main answered %d", r)
			}
		})
	}
}

// TestPreload: libraries preloaded while the session starts are found by
// lookups in the process; a required one that fails to load fails, with
// its name, the opening of libraries and lookups of names the process
// lacks (the process itself opens, and its names are found), and
// optional ones are ignored.
func TestPreload(t *testing.T) {
	s := orcrt.NewSession(orcrt.Preload([]string{"libm.so.6"}, []string{"libgorc_no_such_lib.so.1"}))
	if err := orcrt.AddServices(s); err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s, nil)
	inst := sps.Addr(c.syms[protocol.DylibManagerInstance])
	h, err := sps.CallExpected[uint64](c, c.syms[protocol.DylibManagerOpen], protocol.OpenArgs{Instance: inst})
	if err != nil {
		t.Fatal(err)
	}
	defs, err := sps.CallExpected[[]protocol.SymbolDef](c, c.syms[protocol.DylibManagerLookup],
		protocol.LookupArgs{Instance: inst, Handle: h, Names: []protocol.LookupRequest{{Name: "cbrt", Required: true}}})
	if err != nil || len(defs) != 1 || defs[0].Addr == 0 {
		t.Fatalf("cbrt from the preloaded libm: %+v, %v", defs, err)
	}

	s = orcrt.NewSession(orcrt.Preload([]string{"libgorc_no_such_lib.so.1"}, nil))
	if err := orcrt.AddServices(s); err != nil {
		t.Fatal(err)
	}
	c, _ = connect(t, s, nil)
	inst = sps.Addr(c.syms[protocol.DylibManagerInstance])
	h, err = sps.CallExpected[uint64](c, c.syms[protocol.DylibManagerOpen], protocol.OpenArgs{Instance: inst})
	if err != nil {
		t.Fatalf("opening the process after a failed preload: %v", err)
	}
	lookup := func(name string) error {
		_, err := sps.CallExpected[[]protocol.SymbolDef](c, c.syms[protocol.DylibManagerLookup],
			protocol.LookupArgs{Instance: inst, Handle: h, Names: []protocol.LookupRequest{{Name: name, Required: true}}})
		return err
	}
	if err := lookup("malloc"); err != nil {
		t.Fatalf("malloc after a failed preload: %v", err)
	}
	if err := lookup("gorc_no_such_symbol"); err == nil || !strings.Contains(err.Error(), "preloading libgorc_no_such_lib.so.1") {
		t.Fatalf("a missing name after a failed required preload: %v", err)
	}
	_, err = sps.CallExpected[uint64](c, c.syms[protocol.DylibManagerOpen], protocol.OpenArgs{Instance: inst, Path: "libz.so.1"})
	if err == nil || !strings.Contains(err.Error(), "preloading libgorc_no_such_lib.so.1") {
		t.Fatalf("opening a library after a failed required preload: %v", err)
	}
}
