package orcrt

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// ErrDetached is returned by calls through a detached controller access.
var ErrDetached = errors.New("the controller is detached")

// ControllerAccess is a Session's link to its controller: the controller
// calls the executor's wrapper functions by address, and JIT'd code calls
// the controller's handlers by tag (only those the controller registered,
// so JIT'd code cannot call arbitrary controller code).
type ControllerAccess struct {
	s        *Session
	conn     *wire.Conn
	detached atomic.Bool
	release  func()
}

// Connect attaches s to the controller at the other end of conn and sends
// the Setup message: the executor's triple, page size and the symbols s
// publishes, plus the dispatch function and context JIT'd code uses to
// call the controller.
func Connect(s *Session, conn *wire.Conn) (*ControllerAccess, error) {
	c := &ControllerAccess{s: s, conn: conn}
	ctx, release := native.NewDispatchContext(c.CallController)
	c.release = release
	s.DefineSymbol(protocol.DispatchCtx, ctx)
	s.DefineSymbol(protocol.DispatchFn, native.DispatchFunction())
	setup := protocol.Setup{Triple: triple.Host().String(), PageSize: uint64(os.Getpagesize())}
	for name, addr := range s.Symbols() {
		setup.Symbols = append(setup.Symbols, protocol.Symbol{Name: name, Addr: sps.Addr(addr)})
	}
	slices.SortFunc(setup.Symbols, func(a, b protocol.Symbol) int { return strings.Compare(a.Name, b.Name) })
	payload, err := protocol.EncodeSetup(setup, s.Protocol())
	if err != nil {
		release()
		return nil, err
	}
	if err := conn.SendSetup(payload); err != nil {
		release()
		return nil, err
	}
	return c, nil
}

// Serve answers the controller's calls, each as a task of the session,
// until the controller hangs up or the connection breaks. A call that runs
// JIT'd code (run as main, a void or int function) or registers its
// eh-frames waits for the finalize calls that arrived before it: LLVM 19's
// controller sends them without waiting for the finalize's answer, and the
// code must not run before its memory is in place.
func (c *ControllerAccess) Serve() error {
	defer c.release()
	finalizes, runs := c.tags(finalizeWrappers), c.tags(needFinalizedMemory)
	var mu sync.Mutex
	inflight := make(map[uint64]chan struct{}) // finalizes not yet answered
	var next uint64
	c.conn.HandleInOrder()
	return c.conn.Serve(func(tag uint64, args []byte, reply func([]byte, error)) {
		if c.detached.Load() {
			reply(nil, ErrDetached)
			return
		}
		var wait []chan struct{}
		mu.Lock()
		switch {
		case finalizes[tag]:
			id, done := next, make(chan struct{})
			next++
			inflight[id] = done
			answer := reply
			reply = func(b []byte, err error) {
				mu.Lock()
				delete(inflight, id)
				mu.Unlock()
				close(done)
				answer(b, err)
			}
		case runs[tag]:
			wait = slices.Collect(maps.Values(inflight))
		}
		mu.Unlock()
		c.s.Dispatcher().Dispatch(func() {
			for _, w := range wait {
				<-w
			}
			c.s.CallWrapper(tag, args, Return(reply))
		})
	})
}

// finalizeWrappers put JIT'd memory in place.
var finalizeWrappers = []string{protocol.MemoryManagerFinalize, protocol.MemoryManagerInitialize,
	protocol.SharedMemoryMapperInitialize, protocol.SlabMemoryFinalize, protocol.SlabMemoryFinalizeBatch}

// needFinalizedMemory are the wrappers that use JIT'd memory.
var needFinalizedMemory = []string{protocol.RunAsMain, protocol.RunAsMainAndExit, protocol.RunAsVoidFunction, protocol.RunAsIntFunction,
	protocol.RunAsVoid, protocol.RunAsInt, protocol.RegisterEHFrame, protocol.RegisterEHFrameSection}

// tags returns the addresses the session publishes under names.
func (c *ControllerAccess) tags(names []string) map[uint64]bool {
	m := make(map[uint64]bool)
	for _, n := range names {
		if a, ok := c.s.Symbol(n); ok {
			m[a] = true
		}
	}
	return m
}

// CallController calls the controller's handler for tag.
func (c *ControllerAccess) CallController(tag uint64, args []byte) ([]byte, error) {
	if c.detached.Load() {
		return nil, ErrDetached
	}
	out, err := c.conn.Call(tag, args)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Detach ends calls in both directions; JIT'd code keeps running, and the
// session's resource managers are told to stop tracking.
func (c *ControllerAccess) Detach() error {
	if c.detached.Swap(true) {
		return nil
	}
	return c.s.Detach()
}

// Close ends the connection.
func (c *ControllerAccess) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("closing the controller connection: %w", err)
	}
	return nil
}
