package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gorc-jit/gorc/orc/shared/wire"
)

func header(size, op, seq, tag uint64) []byte {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint64(b[0:], size)
	binary.LittleEndian.PutUint64(b[8:], op)
	binary.LittleEndian.PutUint64(b[16:], seq)
	binary.LittleEndian.PutUint64(b[24:], tag)
	return b
}

func TestFraming(t *testing.T) {
	m := wire.Message{Op: wire.OpCallWrapper, Seq: 7, Tag: 0x1234, Payload: []byte("args")}
	b := wire.AppendMessage(nil, m)
	if !bytes.Equal(b[:32], header(36, 3, 7, 0x1234)) || string(b[32:]) != "args" {
		t.Fatalf("encoding % x", b)
	}
	got, err := wire.ReadMessage(bytes.NewReader(b), 1<<20)
	if err != nil || got.Op != m.Op || got.Seq != 7 || got.Tag != 0x1234 || string(got.Payload) != "args" {
		t.Fatalf("ReadMessage = %+v, %v", got, err)
	}
}

func TestMalformedMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"short size", header(31, 3, 0, 0), "shorter than its header"},
		{"too big", header(1<<40, 3, 0, 0), "exceeds the limit"},
		{"bad opcode", header(32, 9, 0, 0), "unknown opcode 9"},
		{"truncated header", header(32, 3, 0, 0)[:20], "inside a message header"},
		{"truncated payload", append(header(100, 3, 0, 0), 1, 2, 3), "after 3 of 68 payload bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.ReadMessage(bytes.NewReader(tc.data), 1<<20)
			var pe *wire.ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want a ProtocolError with %q", err, tc.msg)
			}
		})
	}
}

// TestForgedSizeAllocatesNothing: a header announcing a near-limit message
// followed by nothing must not allocate the announced size.
func TestForgedSizeAllocatesNothing(t *testing.T) {
	data := header(1<<29, 3, 0, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := wire.ReadMessage(bytes.NewReader(data), 1<<30)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("truncated message accepted")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("reading a forged header allocated %d bytes", grew)
	}
}

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
	w.Write(wire.AppendMessage(nil, wire.Message{Op: wire.OpResult, Seq: 99}))
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
	go w2.Write(wire.AppendMessage(nil, wire.Message{Op: wire.OpCallWrapper}))
	if _, err := ctl2.ReadSetup(); err == nil || !strings.Contains(err.Error(), "expected Setup") {
		t.Fatalf("ReadSetup of a call = %v", err)
	}
}

// FuzzReadMessage reads messages from arbitrary bytes until an error: no
// panic, and no more memory than the input justifies.
func FuzzReadMessage(f *testing.F) {
	f.Add(wire.AppendMessage(nil, wire.Message{Op: wire.OpSetup, Payload: []byte("x")}))
	f.Add(append(wire.AppendMessage(nil, wire.Message{Op: wire.OpResult, Seq: 1}), header(1<<20, 3, 0, 0)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			m, err := wire.ReadMessage(r, 1<<24)
			if err != nil {
				return
			}
			if cap(m.Payload) > 2*len(data)+64 {
				t.Fatalf("payload buffer of %d bytes for %d bytes of input", cap(m.Payload), len(data))
			}
		}
	})
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
