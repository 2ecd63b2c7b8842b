package orc

import (
	"sync"
)

// TaskDispatcher runs the session's tasks: materializations, and the
// continuations of asynchronous operations.
type TaskDispatcher interface {
	// Dispatch runs task, now or later, on some goroutine. It never blocks
	// waiting for other tasks.
	Dispatch(task func())
	// Shutdown waits for every dispatched task to finish. Tasks dispatched
	// afterwards run on the calling goroutine.
	Shutdown()
}

// InPlaceDispatcher runs each task on the goroutine that dispatches it. It
// is the default: lookups then materialize what they need before returning.
type InPlaceDispatcher struct{}

// Dispatch runs task.
func (InPlaceDispatcher) Dispatch(task func()) { task() }

// Shutdown does nothing: no task outlives its Dispatch call.
func (InPlaceDispatcher) Shutdown() {}

// PoolDispatcher runs tasks on a bounded number of goroutines. Its queue is
// unbounded, so dispatching never blocks (a task may dispatch more tasks).
type PoolDispatcher struct {
	mu      sync.Mutex
	cond    sync.Cond
	queue   []func()
	workers int
	max     int
	idle    int
	closed  bool
	running sync.WaitGroup
}

// NewPoolDispatcher returns a dispatcher with at most n worker goroutines
// (n < 1 means 1). Workers start on demand and exit when the pool shuts down.
func NewPoolDispatcher(n int) *PoolDispatcher {
	p := &PoolDispatcher{max: max(n, 1)}
	p.cond.L = &p.mu
	return p
}

// Dispatch queues task for a worker.
func (p *PoolDispatcher) Dispatch(task func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		task()
		return
	}
	p.queue = append(p.queue, task)
	if p.idle > 0 {
		p.cond.Signal()
	} else if p.workers < p.max {
		p.workers++
		p.running.Add(1)
		go p.work()
	}
	p.mu.Unlock()
}

func (p *PoolDispatcher) work() {
	defer p.running.Done()
	p.mu.Lock()
	for {
		for len(p.queue) == 0 && !p.closed {
			p.idle++
			p.cond.Wait()
			p.idle--
		}
		if len(p.queue) == 0 {
			p.workers--
			p.mu.Unlock()
			return
		}
		task := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		task()
		p.mu.Lock()
	}
}

// Shutdown lets the workers finish the queue, then waits for them.
func (p *PoolDispatcher) Shutdown() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.running.Wait()
}
