// Package wire carries ORC's remote-executor protocol (the one LLVM 14's
// SimpleRemoteEPC speaks) over a byte stream: a Conn frames messages
// (internal/wireframe), keeps calls in both directions outstanding at once
// and matches them by sequence number, and enforces the limits and the
// token handshake it is given.
package wire

import "github.com/gorc-jit/gorc/internal/wireframe"

// DefaultMaxMessage bounds the size of a message a Conn accepts unless told
// otherwise: large enough for the segments of big programs, small enough
// that a forged size cannot exhaust memory.
const DefaultMaxMessage = 1 << 30

// ProtocolError reports a message that breaks the protocol.
type ProtocolError = wireframe.ProtocolError
