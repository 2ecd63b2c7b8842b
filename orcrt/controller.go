package orcrt

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
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
	payload, err := sps.Marshal(setup)
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
// until the controller hangs up or the connection breaks.
func (c *ControllerAccess) Serve() error {
	defer c.release()
	return c.conn.Serve(func(tag uint64, args []byte, reply func([]byte, error)) {
		if c.detached.Load() {
			reply(nil, ErrDetached)
			return
		}
		c.s.Dispatcher().Dispatch(func() { c.s.CallWrapper(tag, args, Return(reply)) })
	})
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
