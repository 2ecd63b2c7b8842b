// Package tasks runs a session's tasks on goroutines a Dispatcher chooses.
// The controller's ExecutionSession dispatches materializations and the
// continuations of asynchronous lookups; the executor's Session dispatches
// the calls that arrive from the controller. Both sides share the one
// interface and its implementations.
package tasks

import "sync"

// Dispatcher runs tasks.
type Dispatcher interface {
	// Dispatch runs task, now or later, on some goroutine. It never blocks
	// waiting for other tasks (the executor dispatches on the goroutine
	// that reads the controller's messages, and a task may wait for one of
	// them).
	Dispatch(task func())
	// Shutdown waits for every dispatched task to finish. Tasks dispatched
	// afterwards still run.
	Shutdown()
}

// InPlace runs each task on the goroutine that dispatches it: the
// controller's default, where lookups then materialize what they need
// before returning.
type InPlace struct{}

// Dispatch runs task.
func (InPlace) Dispatch(task func()) { task() }

// Shutdown does nothing: no task outlives its Dispatch call.
func (InPlace) Shutdown() {}

// Pool runs tasks on a bounded number of goroutines. Its queue is
// unbounded, so dispatching never blocks (a task may dispatch more tasks).
type Pool struct {
	mu      sync.Mutex
	cond    sync.Cond
	queue   []func()
	workers int
	max     int
	idle    int
	closed  bool
	running sync.WaitGroup
}

// NewPool returns a dispatcher with at most n worker goroutines
// (n < 1 means 1). Workers start on demand and exit when the pool shuts down.
func NewPool(n int) *Pool {
	p := &Pool{max: max(n, 1)}
	p.cond.L = &p.mu
	return p
}

// Dispatch queues task for a worker; after Shutdown it runs task on the
// calling goroutine.
func (p *Pool) Dispatch(task func()) {
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

func (p *Pool) work() {
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
func (p *Pool) Shutdown() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.running.Wait()
}

// Goroutines runs each task on a goroutine of its own: the executor's
// default, where a call that runs JIT'd code for a long time (main) blocks
// nothing else. The zero value is ready to use.
type Goroutines struct {
	wg sync.WaitGroup
}

// Dispatch starts task on a new goroutine.
func (d *Goroutines) Dispatch(task func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		task()
	}()
}

// Shutdown waits for the running tasks.
func (d *Goroutines) Shutdown() { d.wg.Wait() }
