package orcrt

import (
	"sync"
	"unsafe"
)

// TaskDispatcher runs tasks, such as the calls that arrive from the
// controller. Shutdown returns once every dispatched task has finished;
// tasks dispatched after Shutdown began are run too.
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

// addrOf returns the address of a mapping.
func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func pointerOf(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func sliceAt(p unsafe.Pointer, n uint64) []byte { return unsafe.Slice((*byte)(p), n) }
