package wireframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
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
	m := Message{Op: OpCallWrapper, Seq: 7, Tag: 0x1234, Payload: []byte("args")}
	b := Append(nil, m)
	if !bytes.Equal(b[:32], header(36, 3, 7, 0x1234)) || string(b[32:]) != "args" {
		t.Fatalf("encoding % x", b)
	}
	got, err := Read(bytes.NewReader(b), 1<<20)
	if err != nil || got.Op != m.Op || got.Seq != 7 || got.Tag != 0x1234 || string(got.Payload) != "args" {
		t.Fatalf("Read = %+v, %v", got, err)
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
			_, err := Read(bytes.NewReader(tc.data), 1<<20)
			var pe *ProtocolError
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
	_, err := Read(bytes.NewReader(data), 1<<30)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("truncated message accepted")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("reading a forged header allocated %d bytes", grew)
	}
}

// FuzzRead reads messages from arbitrary bytes until an error: no
// panic, and no more memory than the input justifies.
func FuzzRead(f *testing.F) {
	f.Add(Append(nil, Message{Op: OpSetup, Payload: []byte("x")}))
	f.Add(append(Append(nil, Message{Op: OpResult, Seq: 1}), header(1<<20, 3, 0, 0)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			m, err := Read(r, 1<<24)
			if err != nil {
				return
			}
			if cap(m.Payload) > 2*len(data)+64 {
				t.Fatalf("payload buffer of %d bytes for %d bytes of input", cap(m.Payload), len(data))
			}
		}
	})
}
