package wire_test

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/internal/wireframe"
	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// TestMaxInFlight: a peer pipelining calls whose answers do not come is
// stopped (its writes block) once the cap is reached; the calls run, at
// most the cap at once, when answers flow again.
func TestMaxInFlight(t *testing.T) {
	const limit = 4
	raw, side := net.Pipe() // unbuffered: a write waits for the reader
	release := make(chan struct{})
	var running, most atomic.Int32
	c := wire.NewConn(side, side, side, wire.MaxInFlight(limit))
	served := make(chan error, 1)
	go func() {
		served <- c.Serve(func(tag uint64, args []byte, reply func([]byte, error)) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			running.Add(-1)
			reply(nil, nil)
		})
	}()
	const calls = 50
	written := 0
	raw.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	for i := range calls {
		if _, err := raw.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Seq: uint64(i), Tag: 2})); err != nil {
			break
		}
		written++
	}
	// At most limit calls running and one read, waiting for a slot.
	if written > limit+1 {
		t.Fatalf("the peer wrote %d calls before meeting backpressure; want %d", written, limit+1)
	}
	raw.SetWriteDeadline(time.Time{})
	close(release)
	results := make(chan int, 1)
	go func() {
		n := 0
		for n < calls {
			if _, err := wireframe.Read(raw, 1<<20); err != nil {
				break
			}
			n++
		}
		results <- n
	}()
	for i := written; i < calls; i++ {
		if _, err := raw.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Seq: uint64(i), Tag: 2})); err != nil {
			t.Fatal(err)
		}
	}
	if n := <-results; n != calls {
		t.Fatalf("%d results for %d calls", n, calls)
	}
	if most.Load() > limit {
		t.Fatalf("%d calls ran at once; the cap is %d", most.Load(), limit)
	}
	raw.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
}

// TestIdleTimeout: a peer that stops in the middle of a message, sending
// or receiving, is cut off; one that is silent between messages is not.
func TestIdleTimeout(t *testing.T) {
	raw, side := net.Pipe()
	c := wire.NewConn(side, side, side, wire.IdleTimeout(100*time.Millisecond))
	served := make(chan error, 1)
	answered := make(chan struct{}, 1)
	go func() {
		served <- c.Serve(func(tag uint64, args []byte, reply func([]byte, error)) {
			answered <- struct{}{}
			reply(nil, nil)
		})
	}()
	go func() { // drain results
		for {
			if _, err := wireframe.Read(raw, 1<<20); err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // silent between messages: fine
	raw.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Tag: 2, Payload: []byte("x")}))
	select {
	case <-answered:
	case err := <-served:
		t.Fatalf("a peer silent between messages was cut off: %v", err)
	}
	msg := wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Seq: 1, Tag: 2, Payload: make([]byte, 100)})
	start := time.Now()
	raw.Write(msg[:40])
	select {
	case err := <-served:
		var pe *wire.ProtocolError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "sent nothing for 100ms in the middle of a message") {
			t.Fatalf("Serve = %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("cut off after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a peer stalled mid-message was not cut off")
	}
	if _, err := raw.Write(msg[40:]); err == nil {
		t.Fatal("the connection is still open")
	}

	// A peer that stops taking a message being sent is cut off as well.
	deaf, side2 := net.Pipe()
	c2 := wire.NewConn(side2, side2, side2, wire.IdleTimeout(100*time.Millisecond))
	go c2.Serve(echo)
	if _, err := c2.Call(1, []byte("nobody reads this")); err == nil || !strings.Contains(err.Error(), "took nothing for 100ms") {
		t.Fatalf("call to a peer that reads nothing = %v", err)
	}
	deaf.Close()
}

// TestTokenHandshake: a controller with the executor's token gets Setup; a
// wrong token or none ends the connection before it.
func TestTokenHandshake(t *testing.T) {
	token := []byte("s3cret")
	for _, tc := range []struct {
		name    string
		ctl     []byte
		exeErr  error
		ctlWant string
	}{
		{"right", token, nil, ""},
		{"wrong", []byte("guess"), wire.ErrBadToken, "wrong token"},
		{"none", nil, nil, "requires a token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := net.Pipe()
			var opts []wire.Option
			if tc.ctl != nil {
				opts = append(opts, wire.AuthToken(tc.ctl))
			}
			ctl := wire.NewConn(r, r, r, opts...)
			exeErr := make(chan error, 1)
			go func() {
				err := wire.Challenge(w, token)
				if err == nil {
					err = wire.NewConn(w, w, w).SendSetup([]byte("setup"))
				} else {
					w.Close()
				}
				exeErr <- err
			}()
			got, err := ctl.ReadSetup()
			if tc.ctlWant == "" {
				if err != nil || string(got) != "setup" {
					t.Fatalf("ReadSetup = %q, %v", got, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.ctlWant) {
				t.Fatalf("ReadSetup = %q, %v; want an error with %q", got, err, tc.ctlWant)
			}
			if err := <-exeErr; tc.exeErr != nil && !errors.Is(err, tc.exeErr) {
				t.Fatalf("Challenge = %v, want %v", err, tc.exeErr)
			}
		})
	}
}
