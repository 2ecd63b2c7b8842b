package orcrt

import (
	"fmt"
	"sync"

	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
)

// DefaultMaxReserved is how much address space the memory services of a
// session reserve together unless told otherwise (MaxReserved).
const DefaultMaxReserved = 64 << 30

// MemoryOption configures the executor's memory services.
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	maxReserved uint64
	flush       func(addr, size uint64)
}

// MaxReserved caps the address space the memory services reserve
// together, so that a controller asking for too much gets an error
// rather than taking the machine's memory (reserved ranges are committed
// as they are written).
func MaxReserved(n uint64) MemoryOption { return func(c *memoryConfig) { c.maxReserved = n } }

// CodeFlush sets how the memory services make the code they finalize
// visible to instruction fetch (by default the host target's
// jitlink.Target.FlushInstructionCache, which x86-64 does not need).
func CodeFlush(f func(addr, size uint64)) MemoryOption {
	return func(c *memoryConfig) { c.flush = f }
}

func newMemoryConfig(opts []MemoryOption) memoryConfig {
	c := memoryConfig{maxReserved: DefaultMaxReserved}
	if t, err := target.For(triple.Host()); err == nil {
		c.flush = t.FlushInstructionCache
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// budget returns a budget of the configured size, for the services that
// share it.
func (c *memoryConfig) budget() *budget { return &budget{limit: c.maxReserved} }

// flushCode makes the code segments among segs, just written, visible to
// instruction fetch, before any action can run them.
func (c *memoryConfig) flushCode(segs []protocol.Segment) {
	if c.flush == nil {
		return
	}
	for _, seg := range segs {
		if seg.Prot&protocol.ProtExec != 0 && seg.Size > 0 {
			c.flush(uint64(seg.Addr), seg.Size)
		}
	}
}

// budget counts the address space reserved by one session's memory
// services.
type budget struct {
	mu          sync.Mutex
	used, limit uint64
}

// take accounts for n more bytes, or says why it cannot.
func (b *budget) take(n uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.limit-b.used {
		return fmt.Errorf("reserving %d bytes would exceed the executor's limit of %d bytes of reserved address space (%d in use; gorc-executor max-reserved=SIZE raises it)",
			n, b.limit, b.used)
	}
	b.used += n
	return nil
}

func (b *budget) give(n uint64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}
