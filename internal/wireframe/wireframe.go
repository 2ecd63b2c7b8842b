// Package wireframe is the framing of ORC's remote-executor protocol (the
// one LLVM 14's SimpleRemoteEPC speaks): a message is a 32-byte header of
// four little-endian uint64s (total size, opcode, sequence number, tag) and
// a payload. The executor opens with Setup; either side then sends
// CallWrapper (tag = the callee: a wrapper function's address in the
// executor, or a controller handler's tag) and gets back Result with the
// same sequence number; Hangup ends the session.
//
// Only orc/shared/wire's Conn and tests that play a misbehaving peer speak
// frames; programs use a Conn.
package wireframe

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// Op is a message's opcode.
type Op uint64

// The opcodes.
const (
	OpSetup       Op = 0
	OpHangup      Op = 1
	OpResult      Op = 2
	OpCallWrapper Op = 3
)

func (o Op) String() string {
	switch o {
	case OpSetup:
		return "Setup"
	case OpHangup:
		return "Hangup"
	case OpResult:
		return "Result"
	case OpCallWrapper:
		return "CallWrapper"
	}
	return fmt.Sprintf("Op(%d)", uint64(o))
}

// HeaderSize is the size of a message header.
const HeaderSize = 32

// Message is one framed message.
type Message struct {
	Op      Op
	Seq     uint64
	Tag     uint64
	Payload []byte
}

// ProtocolError reports a message that breaks the protocol.
type ProtocolError struct {
	Msg string
}

func (e *ProtocolError) Error() string { return "remote executor protocol: " + e.Msg }

// AppendHeader appends the encoding of m's header to b.
func AppendHeader(b []byte, m Message) []byte {
	le := binary.LittleEndian
	b = le.AppendUint64(b, uint64(HeaderSize+len(m.Payload)))
	b = le.AppendUint64(b, uint64(m.Op))
	b = le.AppendUint64(b, m.Seq)
	return le.AppendUint64(b, m.Tag)
}

// Append appends m's encoding to b.
func Append(b []byte, m Message) []byte { return append(AppendHeader(b, m), m.Payload...) }

// Read reads one message, refusing sizes over limit. Memory for the
// payload grows as its bytes arrive, so a header announcing a large message
// costs nothing until the peer actually sends it.
func Read(r io.Reader, limit uint64) (Message, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Message{}, &ProtocolError{Msg: "connection closed inside a message header"}
		}
		return Message{}, err
	}
	le := binary.LittleEndian
	size := le.Uint64(h[0:])
	m := Message{Op: Op(le.Uint64(h[8:])), Seq: le.Uint64(h[16:]), Tag: le.Uint64(h[24:])}
	if size < HeaderSize {
		return Message{}, &ProtocolError{Msg: fmt.Sprintf("%s message of %d bytes is shorter than its header", m.Op, size)}
	}
	if size > limit {
		return Message{}, &ProtocolError{Msg: fmt.Sprintf("%s message of %d bytes exceeds the limit of %d", m.Op, size, limit)}
	}
	if m.Op > OpCallWrapper {
		return Message{}, &ProtocolError{Msg: fmt.Sprintf("unknown opcode %d", uint64(m.Op))}
	}
	n := int(size - HeaderSize)
	// Read in chunks that double, so memory follows the bytes received.
	buf := make([]byte, 0, min(n, 64<<10))
	for len(buf) < n {
		chunk := min(n-len(buf), max(len(buf), 64<<10))
		buf = slices.Grow(buf, chunk)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+got]
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return Message{}, &ProtocolError{Msg: fmt.Sprintf("connection closed after %d of %d payload bytes of a %s message", len(buf), n, m.Op)}
			}
			return Message{}, err
		}
	}
	if n > 0 {
		m.Payload = buf
	}
	return m, nil
}

// ErrorTag, in a Result message, says that the call failed and the
// payload is the error message. LLVM 14 allows no tag in a Result (it
// sends a failed call's result empty and rejects tagged results), so a Conn
// sends it only when told that its peer is gorc's; it understands it
// always.
const ErrorTag = 1

// AuthTag marks the messages of gorc's token handshake ("gorcauth" in
// ASCII; see orc/shared/wire).
const AuthTag = 0x6874756163726f67
