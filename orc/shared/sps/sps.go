// Package sps implements ORC's simple packed serialization: the byte layout
// of the arguments and results of wrapper functions, the calls that pass
// between a JIT controller and its executor.
//
// SPS has no tags and no padding: values are concatenated. Go values map to
// SPS types by their Go type:
//
//	bool                    bool (one byte, 0 or 1)
//	int8..int64, uint8..uint64
//	                        fixed-width little-endian integers (ExecutorAddr
//	                        is a uint64; the Addr type names it)
//	string                  uint64 length, then the bytes (no NUL)
//	[]byte                  sequence<char>: uint64 count, then the bytes
//	[]T, [N]T               sequence<T>: uint64 count, then the elements
//	map[K]V                 sequence<tuple<K, V>>, in ascending key order
//	struct                  tuple of the exported fields in order
//	error (interface)       SPS Error: false, or true and the message
//	Expected[T]             SPS Expected<T>: true and the value, or false
//	                        and the message
//	Empty                   nothing
//
// Types may encode themselves by implementing Marshaler and Unmarshaler.
//
// Decoding never trusts the input: every length is checked against the
// bytes that remain before anything is allocated for it, so a hostile
// message costs at most memory in proportion to its size.
package sps

import (
	"errors"
	"fmt"
)

// Addr is an address in the executor (SPS's ExecutorAddr).
type Addr uint64

// AddrRange is a range of executor addresses [Start, End) (SPS's
// ExecutorAddrRange).
type AddrRange struct {
	Start, End Addr
}

// Size returns End - Start.
func (r AddrRange) Size() uint64 { return uint64(r.End - r.Start) }

// Empty is the SPS empty type: it encodes as nothing.
type Empty struct{}

// Marshaler is implemented by types that encode themselves.
type Marshaler interface {
	MarshalSPS(e *Encoder) error
}

// Unmarshaler is implemented by types that decode themselves.
type Unmarshaler interface {
	UnmarshalSPS(d *Decoder) error
}

// RemoteError is an error that came over the wire as an SPS Error or a
// failed Expected: the peer's message, without its type.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// DecodeError reports bytes that do not hold a value of the expected type.
type DecodeError struct {
	Type   string // the Go type being decoded
	Offset int    // where in the input
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("sps: decoding %s at byte %d: %s", e.Type, e.Offset, e.Msg)
}

// Expected is SPS's Expected<T>: a value, or the error that took its place.
type Expected[T any] struct {
	Value T
	Err   error
}

// Ok returns an Expected holding v.
func Ok[T any](v T) Expected[T] { return Expected[T]{Value: v} }

// Fail returns an Expected holding err.
func Fail[T any](err error) Expected[T] {
	if err == nil {
		err = errors.New("unknown error")
	}
	return Expected[T]{Err: err}
}

// Get returns the value and error.
func (x Expected[T]) Get() (T, error) { return x.Value, x.Err }

// MarshalSPS encodes the Expected.
func (x Expected[T]) MarshalSPS(e *Encoder) error {
	if x.Err != nil {
		e.Bool(false)
		e.String(x.Err.Error())
		return nil
	}
	e.Bool(true)
	return e.Encode(x.Value)
}

func (x *Expected[T]) minSPSSize() int { return 1 }

// UnmarshalSPS decodes the Expected.
func (x *Expected[T]) UnmarshalSPS(d *Decoder) error {
	ok, err := d.Bool()
	if err != nil {
		return err
	}
	if !ok {
		msg, err := d.String()
		if err != nil {
			return err
		}
		*x = Expected[T]{Err: &RemoteError{Msg: msg}}
		return nil
	}
	*x = Expected[T]{}
	return d.Decode(&x.Value)
}

// Marshal encodes v.
func Marshal(v any) ([]byte, error) {
	var e Encoder
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return e.Bytes(), nil
}

// Unmarshal decodes data into the value v points to. All of data must be
// used.
func Unmarshal(data []byte, v any) error {
	d := NewDecoder(data)
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.Len() != 0 {
		return &DecodeError{Type: fmt.Sprintf("%T", v), Offset: d.Offset(), Msg: fmt.Sprintf("%d bytes left over", d.Len())}
	}
	return nil
}
