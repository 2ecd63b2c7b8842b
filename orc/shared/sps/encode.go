package sps

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
)

// Encoder appends SPS encodings to a buffer.
type Encoder struct {
	buf []byte
}

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Grow makes room for n more bytes, so that encoding that many does not
// grow the buffer step by step.
func (e *Encoder) Grow(n int) { e.buf = slices.Grow(e.buf, n) }

// Reset empties the buffer, keeping its memory.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// Uint8 appends a byte.
func (e *Encoder) Uint8(v uint8) { e.buf = append(e.buf, v) }

// Uint16 appends a little-endian uint16.
func (e *Encoder) Uint16(v uint16) { e.buf = binary.LittleEndian.AppendUint16(e.buf, v) }

// Uint32 appends a little-endian uint32.
func (e *Encoder) Uint32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }

// Uint64 appends a little-endian uint64.
func (e *Encoder) Uint64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }

// Bool appends a bool.
func (e *Encoder) Bool(v bool) {
	if v {
		e.Uint8(1)
	} else {
		e.Uint8(0)
	}
}

// String appends a string: its length, then its bytes.
func (e *Encoder) String(s string) {
	e.Uint64(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// ByteSeq appends a sequence<char>: its length, then the bytes.
func (e *Encoder) ByteSeq(b []byte) {
	e.Uint64(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// Error appends an SPS Error: false for nil, else true and the message.
func (e *Encoder) Error(err error) {
	if err == nil {
		e.Bool(false)
		return
	}
	e.Bool(true)
	e.String(err.Error())
}

var (
	marshalerType = reflect.TypeFor[Marshaler]()
	errorType     = reflect.TypeFor[error]()
	bytesType     = reflect.TypeFor[[]byte]()
)

// Encode appends the encoding of v (see the package documentation for how
// Go types map to SPS types).
func (e *Encoder) Encode(v any) error {
	switch x := v.(type) {
	case uint64:
		e.Uint64(x)
	case Addr:
		e.Uint64(uint64(x))
	case uint32:
		e.Uint32(x)
	case uint8:
		e.Uint8(x)
	case bool:
		e.Bool(x)
	case string:
		e.String(x)
	case []byte:
		e.ByteSeq(x)
	case Marshaler:
		return x.MarshalSPS(e)
	case nil:
		return fmt.Errorf("sps: cannot encode nil")
	default:
		return e.value(reflect.ValueOf(v))
	}
	return nil
}

func (e *Encoder) value(v reflect.Value) error {
	t := v.Type()
	if t == errorType {
		if v.IsNil() {
			e.Error(nil)
		} else {
			e.Error(v.Interface().(error))
		}
		return nil
	}
	if t.Implements(marshalerType) {
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return fmt.Errorf("sps: cannot encode nil %s", t)
		}
		return v.Interface().(Marshaler).MarshalSPS(e)
	}
	if v.CanAddr() && reflect.PointerTo(t).Implements(marshalerType) {
		return v.Addr().Interface().(Marshaler).MarshalSPS(e)
	}
	switch t.Kind() {
	case reflect.Bool:
		e.Bool(v.Bool())
	case reflect.Uint8:
		e.Uint8(uint8(v.Uint()))
	case reflect.Int8:
		e.Uint8(uint8(v.Int()))
	case reflect.Uint16:
		e.Uint16(uint16(v.Uint()))
	case reflect.Int16:
		e.Uint16(uint16(v.Int()))
	case reflect.Uint32:
		e.Uint32(uint32(v.Uint()))
	case reflect.Int32:
		e.Uint32(uint32(v.Int()))
	case reflect.Uint64, reflect.Uint, reflect.Uintptr:
		e.Uint64(v.Uint())
	case reflect.Int64, reflect.Int:
		e.Uint64(uint64(v.Int()))
	case reflect.String:
		e.String(v.String())
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			e.ByteSeq(v.Bytes())
			return nil
		}
		e.Uint64(uint64(v.Len()))
		for i := range v.Len() {
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		if err := sortKeys(keys); err != nil {
			return err
		}
		e.Uint64(uint64(len(keys)))
		for _, k := range keys {
			if err := e.value(k); err != nil {
				return err
			}
			if err := e.value(v.MapIndex(k)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			if err := e.value(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			return fmt.Errorf("sps: cannot encode nil %s", t)
		}
		return e.value(v.Elem())
	default:
		return fmt.Errorf("sps: cannot encode %s", t)
	}
	return nil
}

// sortKeys orders map keys so that encodings are deterministic.
func sortKeys(keys []reflect.Value) error {
	if len(keys) == 0 {
		return nil
	}
	switch keys[0].Kind() {
	case reflect.String:
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(a.String(), b.String()) })
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint, reflect.Uintptr:
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(a.Uint(), b.Uint()) })
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(a.Int(), b.Int()) })
	case reflect.Bool:
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool()))
		})
	default:
		return fmt.Errorf("sps: cannot encode a map keyed by %s", keys[0].Type())
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
