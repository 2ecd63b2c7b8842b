package orcrt

import "sync"

// TaskDispatcher runs tasks, such as the calls that arrive from the
// controller. Shutdown returns once every dispatched task has finished;
// tasks dispatched after Shutdown began are run too. Dispatch must not
// wait for the task: it is called on the goroutine that reads the
// controller's messages, and a task may wait for one of them.
type TaskDispatcher interface {
	Dispatch(task func())
	Shutdown()
}

// goroutineDispatcher runs each task on its own goroutine.
type goroutineDispatcher struct {
	wg sync.WaitGroup
}

// NewGoroutineDispatcher returns a dispatcher that runs each task on a
// goroutine of its own: a task that runs JIT'd code for a long time (main)
// blocks nothing else.
func NewGoroutineDispatcher() TaskDispatcher { return &goroutineDispatcher{} }

func (d *goroutineDispatcher) Dispatch(task func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		task()
	}()
}

func (d *goroutineDispatcher) Shutdown() { d.wg.Wait() }
