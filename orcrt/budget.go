package orcrt

import (
	"fmt"
	"sync"
)

// DefaultMaxReserved is how much address space the memory services of a
// session reserve together unless told otherwise (MaxReserved).
const DefaultMaxReserved = 64 << 30

// MemoryOption configures the executor's memory services.
type MemoryOption func(*memoryConfig)

type memoryConfig struct{ maxReserved uint64 }

// MaxReserved caps the address space the memory services reserve
// together, so that a controller asking for too much gets an error
// rather than taking the machine's memory (reserved ranges are committed
// as they are written).
func MaxReserved(n uint64) MemoryOption { return func(c *memoryConfig) { c.maxReserved = n } }

func newBudget(opts []MemoryOption) *budget {
	c := memoryConfig{maxReserved: DefaultMaxReserved}
	for _, o := range opts {
		o(&c)
	}
	return &budget{limit: c.maxReserved}
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
