package wire

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gorc-jit/gorc/internal/wireframe"
)

// gorc's token handshake, an addition to LLVM 14's protocol for executors
// that listen on a socket. An executor configured with a token opens not
// with Setup but with a challenge: a Setup message whose tag is
// wireframe.AuthTag and whose payload is authMagic followed by a random
// nonce. The controller answers with a Setup message, tag AuthTag, whose
// payload is HMAC-SHA256(token, authMagic+nonce); the executor then sends
// its real Setup, or closes the connection if the answer is wrong. An
// executor without a token opens with Setup as LLVM's does, so LLVM's
// controllers pair with it unchanged. The token never crosses the wire, but
// the session after the handshake is neither encrypted nor signed.

// authMagic starts a challenge. As the first bytes of an SPS-encoded Setup
// it reads as an impossible string length, so a controller that knows no
// handshake (LLVM's, an older gorc) fails to decode it rather than
// misreading it.
var authMagic = []byte("gorc-auth-v1")

const nonceSize = 32

// ErrBadToken is the executor's verdict on a wrong answer.
var ErrBadToken = errors.New("the controller's token is wrong")

// ErrTokenRequired is a controller's error when the executor challenges it
// and it has no token.
var ErrTokenRequired = errors.New("the executor requires a token, and none is configured")

func tokenMAC(token, challenge []byte) []byte {
	h := hmac.New(sha256.New, token)
	h.Write(challenge)
	return h.Sum(nil)
}

// Challenge is the executor's side of the handshake on a fresh connection:
// it sends a challenge and checks the controller's answer, returning nil
// if the controller holds token. The caller bounds its duration (a
// deadline on the connection) and closes the connection on failure.
func Challenge(rw io.ReadWriter, token []byte) error {
	challenge := append(bytes.Clone(authMagic), make([]byte, nonceSize)...)
	if _, err := rand.Read(challenge[len(authMagic):]); err != nil {
		return err
	}
	if _, err := rw.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpSetup, Tag: wireframe.AuthTag, Payload: challenge})); err != nil {
		return fmt.Errorf("sending the token challenge: %w", err)
	}
	m, err := wireframe.Read(rw, wireframe.HeaderSize+sha256.Size)
	if err != nil {
		return fmt.Errorf("reading the answer to the token challenge: %w", err)
	}
	if m.Op != wireframe.OpSetup || m.Tag != wireframe.AuthTag || !hmac.Equal(m.Payload, tokenMAC(token, challenge)) {
		return ErrBadToken
	}
	return nil
}

// isChallenge reports whether m, an executor's first message, is a token
// challenge.
func isChallenge(m wireframe.Message) bool {
	return m.Op == wireframe.OpSetup && m.Tag == wireframe.AuthTag && len(m.Payload) == len(authMagic)+nonceSize &&
		bytes.HasPrefix(m.Payload, authMagic)
}

// answer is the controller's side: the answer to challenge m.
func answer(m wireframe.Message, token []byte) wireframe.Message {
	return wireframe.Message{Op: wireframe.OpSetup, Tag: wireframe.AuthTag, Payload: tokenMAC(token, m.Payload)}
}

// TokenEnv names the environment variable that holds the token when no
// token file is given (to the executor or the controller).
const TokenEnv = "GORC_EXECUTOR_TOKEN"

// LoadToken reads the token from file, without surrounding white space,
// or, when file is "", takes $GORC_EXECUTOR_TOKEN; nil if neither gives
// one. An empty token file is an error.
func LoadToken(file string) ([]byte, error) {
	if file == "" {
		if v := os.Getenv(TokenEnv); v != "" {
			return []byte(v), nil
		}
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the token: %w", err)
	}
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return nil, fmt.Errorf("the token file %s is empty", file)
	}
	return b, nil
}
