package tasks

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Every dispatcher runs every task, Shutdown waits for them, and a task
// dispatched after Shutdown still runs.
func TestDispatchersRunEveryTask(t *testing.T) {
	for name, d := range map[string]Dispatcher{"in-place": InPlace{}, "pool": NewPool(3), "goroutines": &Goroutines{}} {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int64
			for range 100 {
				d.Dispatch(func() {
					// A task may dispatch more without blocking.
					d.Dispatch(func() { n.Add(1) })
					n.Add(1)
				})
			}
			d.Shutdown()
			if got := n.Load(); got != 200 {
				t.Fatalf("%d tasks ran before Shutdown returned, want 200", got)
			}
			ran := false
			d.Dispatch(func() { ran = true })
			d.Shutdown()
			if !ran {
				t.Fatal("a task dispatched after Shutdown did not run")
			}
		})
	}
}

// A pool never runs more than its size at once.
func TestPoolBound(t *testing.T) {
	p := NewPool(2)
	var mu sync.Mutex
	cur, peak := 0, 0
	release := make(chan struct{})
	for range 8 {
		p.Dispatch(func() {
			mu.Lock()
			cur++
			peak = max(peak, cur)
			mu.Unlock()
			<-release
			mu.Lock()
			cur--
			mu.Unlock()
		})
	}
	close(release)
	p.Shutdown()
	if peak > 2 {
		t.Fatalf("%d tasks ran at once in a pool of 2", peak)
	}
}
