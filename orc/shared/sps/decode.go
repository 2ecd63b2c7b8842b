package sps

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"
)

// Decoder reads SPS encodings from a byte slice. Decoded []byte values
// alias the input.
type Decoder struct {
	data []byte
	off  int
	typ  string // the type being decoded, for errors
}

// NewDecoder returns a decoder reading data.
func NewDecoder(data []byte) *Decoder { return &Decoder{data: data} }

// Len returns the number of bytes not yet read.
func (d *Decoder) Len() int { return len(d.data) - d.off }

// Offset returns the number of bytes read.
func (d *Decoder) Offset() int { return d.off }

func (d *Decoder) errorf(format string, args ...any) error {
	return &DecodeError{Type: d.typ, Offset: d.off, Msg: fmt.Sprintf(format, args...)}
}

func (d *Decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.Len() {
		return nil, d.errorf("need %d bytes, have %d", n, d.Len())
	}
	b := d.data[d.off : d.off+n : d.off+n]
	d.off += n
	return b, nil
}

// Uint8 reads a byte.
func (d *Decoder) Uint8() (uint8, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Uint16 reads a little-endian uint16.
func (d *Decoder) Uint16() (uint16, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

// Uint32 reads a little-endian uint32.
func (d *Decoder) Uint32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// Uint64 reads a little-endian uint64.
func (d *Decoder) Uint64() (uint64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// Bool reads a bool (any non-zero byte is true, as LLVM reads it).
func (d *Decoder) Bool() (bool, error) {
	b, err := d.Uint8()
	return b != 0, err
}

// length reads a sequence length and checks that n elements of at least
// elemSize bytes each fit in what remains. Zero-sized elements are capped
// too, so that a forged count cannot make a decoder loop forever.
func (d *Decoder) length(elemSize int) (int, error) {
	n, err := d.Uint64()
	if err != nil {
		return 0, err
	}
	limit := uint64(d.Len())
	if elemSize > 0 {
		limit /= uint64(elemSize)
	} else {
		limit += 1 << 16
	}
	if n > limit {
		return 0, d.errorf("sequence of %d elements does not fit in %d bytes", n, d.Len())
	}
	return int(n), nil
}

// String reads a string.
func (d *Decoder) String() (string, error) {
	n, err := d.length(1)
	if err != nil {
		return "", err
	}
	b, _ := d.take(n)
	return string(b), nil
}

// ByteSeq reads a sequence<char>. The result aliases the input.
func (d *Decoder) ByteSeq() ([]byte, error) {
	n, err := d.length(1)
	if err != nil {
		return nil, err
	}
	return d.take(n)
}

// Error reads an SPS Error: nil, or a *RemoteError with the message.
func (d *Decoder) Error() (error, error) {
	failed, err := d.Bool()
	if err != nil || !failed {
		return nil, err
	}
	msg, err := d.String()
	if err != nil {
		return nil, err
	}
	return &RemoteError{Msg: msg}, nil
}

var unmarshalerType = reflect.TypeFor[Unmarshaler]()

// Decode reads a value into what v points to.
func (d *Decoder) Decode(v any) error {
	switch x := v.(type) {
	case *uint64:
		n, err := d.Uint64()
		*x = n
		return err
	case *Addr:
		n, err := d.Uint64()
		*x = Addr(n)
		return err
	case *uint8:
		n, err := d.Uint8()
		*x = n
		return err
	case *bool:
		b, err := d.Bool()
		*x = b
		return err
	case *string:
		s, err := d.String()
		*x = s
		return err
	case *[]byte:
		b, err := d.ByteSeq()
		*x = b
		return err
	case Unmarshaler:
		return x.UnmarshalSPS(d)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("sps: Decode needs a non-nil pointer, not %T", v)
	}
	if d.typ == "" {
		d.typ = rv.Type().Elem().String()
		defer func() { d.typ = "" }()
	}
	return d.value(rv.Elem())
}

func (d *Decoder) value(v reflect.Value) error {
	t := v.Type()
	if t == errorType {
		e, err := d.Error()
		if err != nil {
			return err
		}
		if e != nil {
			v.Set(reflect.ValueOf(e))
		} else {
			v.SetZero()
		}
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return v.Addr().Interface().(Unmarshaler).UnmarshalSPS(d)
	}
	switch t.Kind() {
	case reflect.Bool:
		b, err := d.Bool()
		v.SetBool(b)
		return err
	case reflect.Uint8, reflect.Int8:
		n, err := d.Uint8()
		setInt(v, uint64(n), 8)
		return err
	case reflect.Uint16, reflect.Int16:
		n, err := d.Uint16()
		setInt(v, uint64(n), 16)
		return err
	case reflect.Uint32, reflect.Int32:
		n, err := d.Uint32()
		setInt(v, uint64(n), 32)
		return err
	case reflect.Uint64, reflect.Uint, reflect.Uintptr, reflect.Int64, reflect.Int:
		n, err := d.Uint64()
		setInt(v, n, 64)
		return err
	case reflect.String:
		s, err := d.String()
		v.SetString(s)
		return err
	case reflect.Slice:
		if t.Elem() == bytesType.Elem() {
			b, err := d.ByteSeq()
			v.SetBytes(b)
			return err
		}
		n, err := d.length(minSize(t.Elem()))
		if err != nil {
			return err
		}
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			if err := d.value(s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Array:
		n, err := d.length(minSize(t.Elem()))
		if err != nil {
			return err
		}
		if n != t.Len() {
			return d.errorf("sequence of %d elements for an array of %d", n, t.Len())
		}
		for i := range n {
			if err := d.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		n, err := d.length(minSize(t.Key()) + minSize(t.Elem()))
		if err != nil {
			return err
		}
		m := reflect.MakeMapWithSize(t, n)
		for range n {
			k := reflect.New(t.Key()).Elem()
			e := reflect.New(t.Elem()).Elem()
			if err := d.value(k); err != nil {
				return err
			}
			if err := d.value(e); err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			if err := d.value(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := d.value(p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	default:
		return fmt.Errorf("sps: cannot decode %s", t)
	}
	return nil
}

func setInt(v reflect.Value, n uint64, bits int) {
	if v.CanUint() {
		v.SetUint(n)
		return
	}
	// Sign-extend from the encoded width.
	shift := 64 - bits
	v.SetInt(int64(n<<shift) >> shift)
}

var minSizes sync.Map // reflect.Type -> int

// minSizer is implemented by this package's self-decoding types that know
// their smallest encoding.
type minSizer interface{ minSPSSize() int }

var minSizerType = reflect.TypeFor[minSizer]()

// minSize is the fewest bytes a value of type t encodes to; sequence
// lengths are checked against it before anything is allocated.
func minSize(t reflect.Type) int {
	if n, ok := minSizes.Load(t); ok {
		return n.(int)
	}
	n := computeMinSize(t, 0)
	minSizes.Store(t, n)
	return n
}

func computeMinSize(t reflect.Type, depth int) int {
	if depth > 32 {
		return 0
	}
	if t == errorType {
		return 1
	}
	if reflect.PointerTo(t).Implements(minSizerType) {
		return reflect.New(t).Interface().(minSizer).minSPSSize()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return 0 // unknown: treated as possibly empty
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Uint8, reflect.Int8:
		return 1
	case reflect.Uint16, reflect.Int16:
		return 2
	case reflect.Uint32, reflect.Int32:
		return 4
	case reflect.Uint64, reflect.Uint, reflect.Uintptr, reflect.Int64, reflect.Int,
		reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return 8
	case reflect.Struct:
		n := 0
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				n += computeMinSize(t.Field(i).Type, depth+1)
			}
		}
		return n
	case reflect.Pointer:
		return computeMinSize(t.Elem(), depth+1)
	}
	return 0
}
