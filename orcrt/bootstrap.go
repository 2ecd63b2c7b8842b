package orcrt

import (
	"encoding/binary"
	"errors"

	"github.com/gorc-jit/gorc/internal/ccall"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// AddBootstrap publishes in s what an executor offers besides its
// managers: memory writes, running functions (as main, and gorc's int(int)
// and void(void)), eh-frame registration, TLS module ids, and the native
// runtime functions JIT'd code and allocation actions call (gorc's TLS and
// registration wrappers, and the names LLVM's controller looks up).
func AddBootstrap(s *Session) error {
	le := binary.LittleEndian
	callbacks := &forwardingCallbacks{releases: make(map[uint64]func())}
	wrappers := map[string]WrapperFunction{
		protocol.WriteUint8s:  writes(func(w protocol.WriteUint8) (sps.Addr, []byte) { return w.Addr, []byte{w.Value} }),
		protocol.WriteUint16s: writes(func(w protocol.WriteUint16) (sps.Addr, []byte) { return w.Addr, le.AppendUint16(nil, w.Value) }),
		protocol.WriteUint32s: writes(func(w protocol.WriteUint32) (sps.Addr, []byte) { return w.Addr, le.AppendUint32(nil, w.Value) }),
		protocol.WriteUint64s: writes(func(w protocol.WriteUint64) (sps.Addr, []byte) { return w.Addr, le.AppendUint64(nil, w.Value) }),
		protocol.WritePointers: writes(func(w protocol.WritePointer) (sps.Addr, []byte) {
			return w.Addr, le.AppendUint64(nil, uint64(w.Value))
		}),
		protocol.WriteBuffers: writes(func(w protocol.WriteBuffer) (sps.Addr, []byte) { return w.Addr, w.Data }),
		protocol.ReadUint8s: SyncWrapper(sps.Handler(func(as []sps.Addr) []uint8 {
			return readEach(as, func(a uint64) uint8 { return native.Read(a, 1)[0] })
		})),
		protocol.ReadUint16s: SyncWrapper(sps.Handler(func(as []sps.Addr) []uint16 {
			return readEach(as, func(a uint64) uint16 { return le.Uint16(native.Read(a, 2)) })
		})),
		protocol.ReadUint32s: SyncWrapper(sps.Handler(func(as []sps.Addr) []uint32 {
			return readEach(as, func(a uint64) uint32 { return le.Uint32(native.Read(a, 4)) })
		})),
		protocol.ReadUint64s: SyncWrapper(sps.Handler(func(as []sps.Addr) []uint64 {
			return readEach(as, func(a uint64) uint64 { return le.Uint64(native.Read(a, 8)) })
		})),
		protocol.ReadPointers: SyncWrapper(sps.Handler(func(as []sps.Addr) []sps.Addr {
			return readEach(as, func(a uint64) sps.Addr { return sps.Addr(le.Uint64(native.Read(a, 8))) })
		})),
		protocol.ReadStrings: SyncWrapper(sps.Handler(func(as []sps.Addr) []string {
			return readEach(as, native.ReadCString)
		})),
		protocol.ReadBuffers: SyncWrapper(sps.Handler(func(rs []sps.AddrRange) [][]byte {
			out := make([][]byte, len(rs))
			for i, r := range rs {
				if r.End >= r.Start {
					out[i] = native.Read(uint64(r.Start), int(r.Size()))
				}
			}
			return out
		})),
		protocol.RunAsMain: SyncWrapper(sps.Handler(func(a protocol.RunAsMainArgs) int64 {
			r := native.CallMain(uint64(a.Main), a.Args)
			native.FlushStdio()
			return int64(r)
		})),
		// Answers once main returns (so the controller can tell that
		// from main calling exit) and ends the process: exit runs the
		// program's exit handlers and flushes its stdio.
		protocol.RunAsMainAndExit: func(args []byte, ret Return) {
			var a protocol.RunAsMainArgs
			if err := sps.Unmarshal(args, &a); err != nil {
				ret(nil, err)
				return
			}
			r := native.CallMain(uint64(a.Main), a.Args)
			ret(sps.Marshal(int64(r)))
			native.Exit(r)
		},
		protocol.RunAsVoid: SyncWrapper(sps.Handler(func(fn sps.Addr) sps.Empty {
			native.CallVoid(uint64(fn))
			return sps.Empty{}
		})),
		// LLVM 19's and 22's: the function's result, or 0 for void.
		protocol.RunAsVoidFunction: SyncWrapper(sps.Handler(func(fn sps.Addr) int32 {
			native.CallVoid(uint64(fn))
			return 0
		})),
		protocol.RunAsIntFunction: SyncWrapper(sps.Handler(func(a protocol.RunAsIntArgs) int32 {
			r, _ := native.CallInt(uint64(a.Fn), uint64(int64(a.Arg)))
			return int32(r)
		})),
		protocol.RunAsInt: SyncWrapper(sps.Handler(func(a protocol.RunAsIntArgs) int32 {
			r, _ := native.CallInt(uint64(a.Fn), uint64(int64(a.Arg)))
			return int32(r)
		})),
		protocol.CallFunction: SyncWrapper(sps.Handler(func(a protocol.CallFunctionArgs) sps.Expected[uint64] {
			r, err := ccall.Call(uint64(a.Fn), orc.CSignatureFromBytes(a.Result, a.Params), a.Args)
			if err != nil {
				return sps.Fail[uint64](err)
			}
			return sps.Ok(r)
		})),
		protocol.NewCallback: SyncWrapper(sps.Handler(func(a protocol.NewCallbackArgs) sps.Expected[sps.Addr] {
			addr, err := callbacks.add(a)
			if err != nil {
				return sps.Fail[sps.Addr](err)
			}
			return sps.Ok(sps.Addr(addr))
		})),
		protocol.ReleaseCallback: SyncWrapper(sps.Handler(func(addr sps.Addr) sps.Empty {
			callbacks.release(uint64(addr))
			return sps.Empty{}
		})),
		protocol.FlushStdio: SyncWrapper(sps.Handler(func(sps.Empty) sps.Empty {
			native.FlushStdio()
			return sps.Empty{}
		})),
		protocol.ReserveTLSModule: SyncWrapper(sps.Handler(func(sps.Empty) sps.Expected[uint32] {
			m := native.ReserveTLSModule()
			if m == 0 {
				return sps.Fail[uint32](errors.New("no TLS module ids left"))
			}
			return sps.Ok(uint32(m))
		})),
		protocol.ReserveStaticTLS: SyncWrapper(sps.Handler(func(a protocol.StaticTLSArgs) sps.Expected[int64] {
			// Preloaded libraries take their static TLS first.
			if err := s.waitPreload(); err != nil {
				return sps.Fail[int64](err)
			}
			tpoff, err := native.ReserveStaticTLS(uint64(a.Module), a.Size, a.Align, a.Image)
			if err != nil {
				return sps.Fail[int64](err)
			}
			return sps.Ok(tpoff)
		})),
	}
	for name, f := range wrappers {
		if _, err := s.RegisterWrapper(name, f); err != nil {
			return err
		}
	}
	rt := native.RuntimeSymbols()
	for name, addr := range rt {
		s.DefineSymbol(name, addr)
	}
	// LLVM's controllers register eh-frames and debug objects through
	// these (14: bootstrap wrappers; 19: the llvm_orc_ wrappers, already
	// among rt; 22: allocation actions); they take and return what gorc's
	// own wrappers do.
	for name, impl := range map[string]string{
		protocol.RegisterEHFrame:                 "gorc_register_eh_frame_wrapper",
		protocol.DeregisterEHFrame:               "gorc_deregister_eh_frame_wrapper",
		protocol.RegisterEHFrameAllocAction:      "gorc_register_eh_frame_wrapper",
		protocol.DeregisterEHFrameAllocAction:    "gorc_deregister_eh_frame_wrapper",
		protocol.RegisterJITLoaderGDBAllocAction: protocol.RegisterJITLoaderGDBWrapper,
	} {
		s.DefineSymbol(name, rt[impl])
	}
	return nil
}

// writes is the wrapper of one of the memory-write services: it writes the
// bytes of each request at its address.
func writes[W any](write func(W) (sps.Addr, []byte)) WrapperFunction {
	return SyncWrapper(sps.Handler(func(ws []W) sps.Empty {
		for _, w := range ws {
			addr, b := write(w)
			native.Write(uint64(addr), b)
		}
		return sps.Empty{}
	}))
}

// readEach reads a value at each address.
func readEach[T any](as []sps.Addr, read func(uint64) T) []T {
	out := make([]T, len(as))
	for i, a := range as {
		out[i] = read(uint64(a))
	}
	return out
}

// AddServices gives s everything a standalone executor offers: the memory
// manager and slab memory (sharing one address-space budget), the dylib
// manager and the bootstrap functions.
func AddServices(s *Session, opts ...MemoryOption) error {
	c := newMemoryConfig(opts)
	b := c.budget()
	if _, err := newMemoryManager(s, b, &c); err != nil {
		return err
	}
	if _, err := NewDylibManager(s); err != nil {
		return err
	}
	if _, err := newSlabMemory(s, b, &c); err != nil {
		return err
	}
	return AddBootstrap(s)
}
