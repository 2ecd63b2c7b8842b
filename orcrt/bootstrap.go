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
		protocol.WriteBuffers: writes(func(w protocol.WriteBuffer) (sps.Addr, []byte) { return w.Addr, w.Data }),
		protocol.RunAsMain: SyncWrapper(sps.Handler(func(a protocol.RunAsMainArgs) int64 {
			r := native.CallMain(uint64(a.Main), a.Args)
			native.FlushStdio()
			return int64(r)
		})),
		protocol.RunAsVoid: SyncWrapper(sps.Handler(func(fn sps.Addr) sps.Empty {
			native.CallVoid(uint64(fn))
			return sps.Empty{}
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
	// LLVM's controller registers eh-frames through these; they take and
	// return what gorc's own wrappers do.
	s.DefineSymbol(protocol.RegisterEHFrame, rt["gorc_register_eh_frame_wrapper"])
	s.DefineSymbol(protocol.DeregisterEHFrame, rt["gorc_deregister_eh_frame_wrapper"])
	return nil
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
