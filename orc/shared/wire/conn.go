package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorc-jit/gorc/internal/wireframe"
)

// ErrClosed is returned by calls on a connection that has ended.
var ErrClosed = errors.New("remote executor connection closed")

// Handler answers an incoming call: tag names the callee, args are its
// argument bytes. It must call reply exactly once, from any goroutine and
// at any time (wrapper functions may answer asynchronously). A non-nil
// error is sent as the protocol's failure (an empty result).
type Handler func(tag uint64, args []byte, reply func(result []byte, err error))

// Conn is one end of a remote-executor connection. Calls may be made from
// many goroutines at once; incoming calls are handled concurrently.
type Conn struct {
	r      *bufio.Reader
	w      io.Writer
	closer io.Closer
	max    uint64

	inflight chan struct{} // a slot per incoming call being handled; nil: no cap
	stall    *stallWatch   // nil: no idle timeout
	token    []byte        // answers an executor's token challenge

	wmu  sync.Mutex // one message written at a time
	wbuf []byte     // the message being written: its header, and a small payload

	mu      sync.Mutex
	nextSeq uint64
	pending map[uint64]chan wireframe.Message
	err     error // why the connection ended; nil while it lives
	done    chan struct{}
	calls   sync.WaitGroup // incoming calls not yet answered

	sendErrors atomic.Bool // report failed calls with wireframe.ErrorTag
	inOrder    atomic.Bool // call the handler on the reading goroutine
}

// CallError is the failure a peer reported for a call.
type CallError struct{ Msg string }

func (e *CallError) Error() string { return e.Msg }

// SendErrors makes the Conn report failed calls with an error tag and their
// message, instead of an empty result. Use it only with gorc peers.
func (c *Conn) SendErrors(on bool) { c.sendErrors.Store(on) }

// HandleInOrder makes Serve call the handler on its own goroutine, in the
// order calls arrive, so that the handler sees that order. The handler
// must then return promptly (answering later, from elsewhere), or the
// connection stops reading.
func (c *Conn) HandleInOrder() { c.inOrder.Store(true) }

// Option configures a Conn.
type Option func(*Conn)

// MaxMessage sets the largest message the Conn accepts.
func MaxMessage(n uint64) Option { return func(c *Conn) { c.max = n } }

// MaxInFlight caps the incoming calls being handled at once (n > 0). At
// the cap the Conn stops reading until a call is answered, so a peer that
// pipelines calls faster than they are answered (or never reads the
// results) meets backpressure on its transport instead of growing this
// side's memory. A peer must not keep n calls waiting on results it sends
// behind further calls: those results would not be read.
func MaxInFlight(n int) Option {
	return func(c *Conn) {
		if n > 0 {
			c.inflight = make(chan struct{}, n)
		}
	}
}

// IdleTimeout ends the connection with a ProtocolError when a message,
// once begun, stalls in either direction: no bytes of it arrive for d, or
// the peer takes none of one being sent for d. Between messages the peer
// may be silent for as long as it likes (a long-running main sends
// nothing).
func IdleTimeout(d time.Duration) Option {
	return func(c *Conn) {
		if d > 0 {
			c.stall = &stallWatch{d: d}
		}
	}
}

// AuthToken gives a controller the token with which it answers an
// executor's challenge (see Challenge).
func AuthToken(token []byte) Option { return func(c *Conn) { c.token = token } }

// NewConn returns a connection reading r and writing w; closer (which may
// be nil) is closed when the connection ends, to release the transport.
func NewConn(r io.Reader, w io.Writer, closer io.Closer, opts ...Option) *Conn {
	c := &Conn{w: w, closer: closer, max: DefaultMaxMessage,
		pending: make(map[uint64]chan wireframe.Message), done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	if c.stall != nil {
		c.stall.r = r
		c.stall.timer = time.AfterFunc(time.Hour, func() {
			c.fail(&ProtocolError{Msg: fmt.Sprintf("the peer sent nothing for %v in the middle of a message", c.stall.d)})
		})
		c.stall.timer.Stop()
		r = c.stall
	}
	c.r = bufio.NewReaderSize(r, 64<<10)
	return c
}

// stallWatch sits under the Conn's buffered reader: while armed (inside a
// message), each read restarts a timer that ends the connection when it
// fires. Ending the connection closes the transport, which ends the read.
type stallWatch struct {
	r     io.Reader
	d     time.Duration
	timer *time.Timer
	armed bool // only the reading goroutine touches it
}

func (s *stallWatch) Read(p []byte) (int, error) {
	if s.armed {
		s.timer.Reset(s.d)
	}
	return s.r.Read(p)
}

// read reads the next message, under the idle timeout if there is one.
func (c *Conn) read() (wireframe.Message, error) {
	if c.stall == nil {
		return wireframe.Read(c.r, c.max)
	}
	// Wait for a message to begin, however long, then time its bytes.
	if _, err := c.r.Peek(1); err != nil {
		return wireframe.Message{}, err
	}
	c.stall.armed = true
	c.stall.timer.Reset(c.stall.d)
	m, err := wireframe.Read(c.r, c.max)
	c.stall.armed = false
	c.stall.timer.Stop()
	if err != nil {
		if cerr := c.Err(); cerr != nil {
			err = cerr // the timeout, rather than the closed transport
		}
	}
	return m, err
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended: nil while it lives, ErrClosed
// after a Hangup or a clean close, or the error that broke it.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// send writes one message.
func (c *Conn) send(m wireframe.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	c.wbuf = wireframe.AppendHeader(c.wbuf[:0], m)
	parts := [][]byte{c.wbuf, m.Payload}
	if len(m.Payload) <= joinedPayload {
		// One write: the peer wakes once for the message, not for its
		// header and then its payload.
		c.wbuf = append(c.wbuf, m.Payload...)
		parts = [][]byte{c.wbuf}
	}
	var t *time.Timer
	if c.stall != nil {
		// A peer that stops taking a message in the middle is cut off too.
		t = time.AfterFunc(c.stall.d, func() {
			c.fail(&ProtocolError{Msg: fmt.Sprintf("the peer took nothing for %v in the middle of a message", c.stall.d)})
		})
		defer t.Stop()
	}
	for _, b := range parts {
		if err := c.writeAll(b, t); err != nil {
			return c.fail(fmt.Errorf("%w: sending %s: %v", ErrClosed, m.Op, err))
		}
	}
	return nil
}

// joinedPayload is the largest payload sent in one write with its header
// (larger ones are not copied for that).
const joinedPayload = 64 << 10

// writeAll writes b; under an idle timeout, in pieces that each restart
// the timer t, so that a large message on a slow link is not cut off.
func (c *Conn) writeAll(b []byte, t *time.Timer) error {
	for len(b) > 0 {
		n := len(b)
		if t != nil {
			n = min(n, 256<<10)
			t.Reset(c.stall.d)
		}
		if _, err := c.w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// SendSetup sends the executor's opening message.
func (c *Conn) SendSetup(payload []byte) error {
	return c.send(wireframe.Message{Op: wireframe.OpSetup, Payload: payload})
}

// ReadSetup reads the executor's opening message; a controller calls it
// before Serve. An executor that challenges for a token first gets the
// answer, if the Conn has a token (AuthToken), or ErrTokenRequired.
func (c *Conn) ReadSetup() ([]byte, error) {
	m, err := c.read()
	answered := false
	if err == nil && isChallenge(m) {
		if c.token == nil {
			return nil, c.fail(ErrTokenRequired)
		}
		if err := c.send(answer(m, c.token)); err != nil {
			return nil, err
		}
		answered = true
		m, err = c.read()
	}
	if err != nil {
		if err == io.EOF {
			msg := "executor closed the connection before its Setup message"
			if answered {
				msg = "executor closed the connection after the token handshake: wrong token"
			}
			err = &ProtocolError{Msg: msg}
		}
		return nil, c.fail(err)
	}
	if m.Op != wireframe.OpSetup {
		return nil, c.fail(&ProtocolError{Msg: fmt.Sprintf("expected Setup, got %s", m.Op)})
	}
	if m.Tag == wireframe.AuthTag {
		return nil, c.fail(&ProtocolError{Msg: "the executor challenged for a token twice"})
	}
	return m.Payload, nil
}

// Call sends a call to tag and waits for its result. An empty result is
// what LLVM 14 sends for a call that failed; callers that expect bytes
// treat it as failure.
func (c *Conn) Call(tag uint64, args []byte) ([]byte, error) {
	ch := make(chan wireframe.Message, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	seq := c.nextSeq
	c.nextSeq++
	c.pending[seq] = ch
	c.mu.Unlock()
	if err := c.send(wireframe.Message{Op: wireframe.OpCallWrapper, Seq: seq, Tag: tag, Payload: args}); err != nil {
		c.mu.Lock()
		delete(c.pending, seq)
		c.mu.Unlock()
		return nil, err
	}
	select {
	case m := <-ch:
		return result(m)
	case <-c.done:
		// The result may have arrived just before the end.
		select {
		case m := <-ch:
			return result(m)
		default:
		}
		return nil, c.Err()
	}
}

func result(m wireframe.Message) ([]byte, error) {
	if m.Tag == wireframe.ErrorTag {
		return nil, &CallError{Msg: string(m.Payload)}
	}
	return m.Payload, nil
}

// Serve reads messages until the connection ends, answering calls with h
// (each on its own goroutine) and routing results to their callers. It
// returns nil when the peer hung up or closed the connection, otherwise
// the error that broke it; either way the connection is closed.
func (c *Conn) Serve(h Handler) error {
	for {
		m, err := c.read()
		if err != nil {
			if err == io.EOF {
				c.fail(ErrClosed)
				return nil
			}
			return c.fail(err)
		}
		switch m.Op {
		case wireframe.OpHangup:
			c.fail(ErrClosed)
			return nil
		case wireframe.OpResult:
			c.mu.Lock()
			ch, ok := c.pending[m.Seq]
			delete(c.pending, m.Seq)
			c.mu.Unlock()
			if !ok {
				return c.fail(&ProtocolError{Msg: fmt.Sprintf("result for unknown call %d", m.Seq)})
			}
			ch <- m
		case wireframe.OpCallWrapper:
			if c.inflight != nil {
				// At the cap, read nothing more until a call is answered.
				select {
				case c.inflight <- struct{}{}:
				case <-c.done:
					return c.Err()
				}
			}
			c.calls.Add(1)
			if c.inOrder.Load() {
				c.handle(h, m)
			} else {
				go c.handle(h, m)
			}
		case wireframe.OpSetup:
			return c.fail(&ProtocolError{Msg: "unexpected Setup message"})
		}
	}
}

func (c *Conn) handle(h Handler, m wireframe.Message) {
	var once sync.Once
	h(m.Tag, m.Payload, func(result []byte, err error) {
		once.Do(func() {
			defer c.calls.Done()
			if c.inflight != nil {
				defer func() { <-c.inflight }()
			}
			var tag uint64
			if err != nil {
				result, tag = nil, 0
				if c.sendErrors.Load() {
					result, tag = []byte(err.Error()), wireframe.ErrorTag
				}
			}
			c.send(wireframe.Message{Op: wireframe.OpResult, Seq: m.Seq, Tag: tag, Payload: result})
		})
	})
}

// hangupPayload is an SPS Error meaning success: LLVM 19 and later read
// a Hangup's payload as the reason for hanging up; LLVM 14 ignores it.
var hangupPayload = []byte{0}

// Hangup tells the peer the session is over and closes the connection.
func (c *Conn) Hangup() error {
	err := c.send(wireframe.Message{Op: wireframe.OpHangup, Payload: hangupPayload})
	c.fail(ErrClosed)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// Close closes the connection without a Hangup.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	return nil
}

// Wait waits until every incoming call has been answered.
func (c *Conn) Wait() { c.calls.Wait() }

// fail ends the connection with err (the first reason wins), failing the
// calls still waiting, and returns the reason it ended.
func (c *Conn) fail(err error) error {
	c.mu.Lock()
	if c.err != nil {
		err = c.err
		c.mu.Unlock()
		return err
	}
	c.err = err
	c.pending = nil
	close(c.done)
	c.mu.Unlock()
	if c.closer != nil {
		c.closer.Close()
	}
	return err
}

// Closers closes several closers as one, e.g. the two ends of a pipe pair
// given to NewConn. Their errors are ignored, as NewConn ignores its
// closer's.
type Closers []io.Closer

// Close closes every closer in order.
func (c Closers) Close() error {
	for _, x := range c {
		x.Close()
	}
	return nil
}
