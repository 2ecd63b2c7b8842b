package orcrt

import (
	"fmt"
	"os"
	"sync"

	"github.com/gorc-jit/gorc/internal/ccall"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// forwardingCallbacks are C functions whose calls go to the controller
// (its Go callbacks, out of process).
type forwardingCallbacks struct {
	mu       sync.Mutex
	releases map[uint64]func()
}

// add makes the C function of a.
func (c *forwardingCallbacks) add(a protocol.NewCallbackArgs) (uint64, error) {
	sig := orc.CSignatureFromBytes(a.Result, a.Params)
	ctx, tag := uint64(a.Ctx), uint64(a.Tag)
	addr, release, err := ccall.NewCallback(a.Name, sig, func(args []uint64) uint64 {
		enc, err := sps.Marshal(args)
		if err == nil {
			var res []byte
			if res, err = native.CallDispatch(ctx, tag, enc); err == nil {
				var r uint64
				if err = sps.Unmarshal(res, &r); err == nil {
					return r
				}
			}
		}
		// C cannot be told: end the process, naming the callback.
		fmt.Fprintf(os.Stderr, "gorc-executor: Go callback %s failed: %v\n", a.Name, err)
		native.Exit(2)
		return 0
	})
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.releases[addr] = release
	c.mu.Unlock()
	return addr, nil
}

func (c *forwardingCallbacks) release(addr uint64) {
	c.mu.Lock()
	r := c.releases[addr]
	delete(c.releases, addr)
	c.mu.Unlock()
	if r != nil {
		r()
	}
}
