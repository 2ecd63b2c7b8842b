package wire_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/gorc-jit/gorc/internal/wireframe"
	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// pair connects two Conns through pipes and serves both.
func pair(t *testing.T, ha, hb wire.Handler) (a, b *wire.Conn) {
	ar, bw := io.Pipe()
	br, aw := io.Pipe()
	a = wire.NewConn(ar, aw, wire.Closers{ar, aw})
	b = wire.NewConn(br, bw, wire.Closers{br, bw})
	go a.Serve(ha)
	go b.Serve(hb)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// echo answers with the tag and the arguments, asynchronously.
func echo(tag uint64, args []byte, reply func([]byte, error)) {
	go reply([]byte(fmt.Sprintf("%d:%s", tag, args)), nil)
}

// TestConcurrentCallsBothWays makes many calls from both ends at once and
// checks that each gets its own answer.
func TestConcurrentCallsBothWays(t *testing.T) {
	a, b := pair(t, echo, echo)
	var wg sync.WaitGroup
	for i := range 200 {
		for _, c := range []*wire.Conn{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := fmt.Sprintf("%d:arg%d", i, i)
				got, err := c.Call(uint64(i), []byte(fmt.Sprintf("arg%d", i)))
				if err != nil || string(got) != want {
					t.Errorf("call %d = %q, %v; want %q", i, got, err, want)
				}
			}()
		}
	}
	wg.Wait()
}

func TestFailedCallIsEmptyResult(t *testing.T) {
	a, _ := pair(t, echo, func(tag uint64, args []byte, reply func([]byte, error)) {
		reply([]byte("ignored"), errors.New("no such tag"))
	})
	got, err := a.Call(1, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("failed call = %q, %v; want an empty result", got, err)
	}
}

// TestHangupAndBrokenPeer: calls waiting when the peer hangs up or breaks
// the protocol fail, and later calls fail at once.
func TestHangupAndBrokenPeer(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	a, b := pair(t, echo, func(tag uint64, args []byte, reply func([]byte, error)) {
		<-block
		reply(nil, nil)
	})
	errc := make(chan error, 1)
	go func() { _, err := a.Call(1, nil); errc <- err }()
	for a.Err() == nil && len(errc) == 0 {
		if err := b.Hangup(); err != nil {
			t.Fatal(err)
		}
		break
	}
	if err := <-errc; !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("pending call after hangup: %v", err)
	}
	<-a.Done()
	if _, err := a.Call(2, nil); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("call after hangup: %v", err)
	}

	// A peer that sends a result for a call never made breaks the
	// connection with a protocol error.
	r, w := net.Pipe()
	c := wire.NewConn(r, r, r)
	done := make(chan error, 1)
	go func() { done <- c.Serve(echo) }()
	w.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpResult, Seq: 99}))
	if err := <-done; err == nil || !strings.Contains(err.Error(), "unknown call 99") {
		t.Fatalf("Serve = %v", err)
	}
	w.Close()
}

func TestSetup(t *testing.T) {
	r, w := net.Pipe()
	ctl := wire.NewConn(r, r, r)
	exe := wire.NewConn(w, w, w)
	go exe.SendSetup([]byte("setup"))
	got, err := ctl.ReadSetup()
	if err != nil || string(got) != "setup" {
		t.Fatalf("ReadSetup = %q, %v", got, err)
	}
	// A first message other than Setup is refused.
	r2, w2 := net.Pipe()
	ctl2 := wire.NewConn(r2, r2, r2)
	go w2.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper}))
	if _, err := ctl2.ReadSetup(); err == nil || !strings.Contains(err.Error(), "expected Setup") {
		t.Fatalf("ReadSetup of a call = %v", err)
	}
}

// TestErrorResults: a Conn told its peer is gorc's reports failures with
// their message; otherwise (LLVM 14) as an empty result.
func TestErrorResults(t *testing.T) {
	fail := func(tag uint64, args []byte, reply func([]byte, error)) { reply(nil, errors.New("no such tag")) }
	a, b := pair(t, echo, fail)
	if got, err := a.Call(1, nil); err != nil || len(got) != 0 {
		t.Fatalf("LLVM-style failure = %q, %v", got, err)
	}
	b.SendErrors(true)
	var ce *wire.CallError
	if _, err := a.Call(1, nil); !errors.As(err, &ce) || ce.Msg != "no such tag" {
		t.Fatalf("gorc-style failure = %v", err)
	}
}
