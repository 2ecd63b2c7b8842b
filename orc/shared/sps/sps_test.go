package sps_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// setup is the Setup message payload of the LLVM 14 protocol.
type setup struct {
	Triple   string
	PageSize uint64
	Symbols  []symbol
}

type symbol struct {
	Name string
	Addr sps.Addr
}

// segment and finalizeRequest are the memory manager's finalize argument.
type segment struct {
	Prot    uint8
	Addr    sps.Addr
	Size    uint64
	Content []byte
}

type wrapperCall struct {
	Fn   sps.Addr
	Args []byte
}

type finalizeRequest struct {
	Segments []segment
	Actions  []struct{ Finalize, Dealloc wrapperCall }
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
func u64(v uint64) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24), byte(v >> 32), byte(v >> 40), byte(v >> 48), byte(v >> 56)}
}
func str(s string) []byte { return cat(u64(uint64(len(s))), []byte(s)) }

// TestLayouts checks the exact bytes of the encodings the LLVM 14 protocol
// uses, and that they decode back to the same values.
func TestLayouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
		want  []byte
	}{
		{"bool", true, []byte{1}},
		{"uint8", uint8(0xab), []byte{0xab}},
		{"int16", int16(-2), []byte{0xfe, 0xff}},
		{"uint32", uint32(0x11223344), []byte{0x44, 0x33, 0x22, 0x11}},
		{"int64", int64(-1), u64(^uint64(0))},
		{"addr", sps.Addr(0x1000), u64(0x1000)},
		{"string", "hi", str("hi")},
		{"bytes", []byte{1, 2}, cat(u64(2), []byte{1, 2})},
		{"range", sps.AddrRange{Start: 0x10, End: 0x20}, cat(u64(0x10), u64(0x20))},
		{"empty", sps.Empty{}, nil},
		{"seq", []uint32{1, 2}, cat(u64(2), []byte{1, 0, 0, 0, 2, 0, 0, 0})},
		{"map", map[string]uint8{"b": 2, "a": 1}, cat(u64(2), str("a"), []byte{1}, str("b"), []byte{2})},
		{"setup", setup{"x86_64-pc-linux-gnu", 0x1000, []symbol{{"a", 1}}},
			cat(str("x86_64-pc-linux-gnu"), u64(0x1000), u64(1), str("a"), u64(1))},
		{"expected ok", sps.Ok[uint64](7), cat([]byte{1}, u64(7))},
		{"expected fail", sps.Fail[uint64](errors.New("no")), cat([]byte{0}, str("no"))},
		{"finalize", finalizeRequest{
			Segments: []segment{{Prot: 5, Addr: 0x1000, Size: 0x20, Content: []byte{0xc3}}},
			Actions:  []struct{ Finalize, Dealloc wrapperCall }{{wrapperCall{0x10, []byte{9}}, wrapperCall{0x20, []byte{}}}},
		}, cat(u64(1), []byte{5}, u64(0x1000), u64(0x20), u64(1), []byte{0xc3},
			u64(1), u64(0x10), u64(1), []byte{9}, u64(0x20), u64(0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sps.Marshal(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("Marshal = % x\nwant      % x", got, tc.want)
			}
			back := reflect.New(reflect.TypeOf(tc.value))
			if err := sps.Unmarshal(got, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if _, isExp := tc.value.(sps.Expected[uint64]); isExp {
				g, w := back.Elem().Interface().(sps.Expected[uint64]), tc.value.(sps.Expected[uint64])
				if g.Value != w.Value || (g.Err == nil) != (w.Err == nil) || g.Err != nil && g.Err.Error() != w.Err.Error() {
					t.Fatalf("round trip: %+v, want %+v", g, w)
				}
				return
			}
			if !reflect.DeepEqual(back.Elem().Interface(), tc.value) && !(len(tc.want) == 0) {
				t.Fatalf("round trip: %#v, want %#v", back.Elem().Interface(), tc.value)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	b, err := sps.Marshal(struct{ E error }{errors.New("boom")})
	if err != nil || !bytes.Equal(b, cat([]byte{1}, str("boom"))) {
		t.Fatalf("Marshal(error) = % x, %v", b, err)
	}
	var e error
	if err := sps.Unmarshal(b, &e); err != nil || e == nil || e.Error() != "boom" {
		t.Fatalf("Unmarshal(error) = %v, %v", e, err)
	}
	var re *sps.RemoteError
	if !errors.As(e, &re) {
		t.Fatalf("decoded error is %T, want *RemoteError", e)
	}
	if err := sps.Unmarshal([]byte{0}, &e); err != nil || e != nil {
		t.Fatalf("Unmarshal(success) = %v, %v", e, err)
	}
}

// TestActionResult checks the decoding of allocation actions' results:
// empty and a success Error are nil, a failure is its message, and a
// malformed result is an error naming the action.
func TestActionResult(t *testing.T) {
	for _, ok := range [][]byte{nil, {0}} {
		if err := sps.ActionResult(0x10, ok); err != nil {
			t.Errorf("ActionResult(% x) = %v, want nil", ok, err)
		}
	}
	if err := sps.ActionResult(0x10, cat([]byte{1}, str("boom"))); err == nil || err.Error() != "boom" {
		t.Errorf("ActionResult(failure) = %v, want boom", err)
	}
	for _, bad := range [][]byte{{1}, {1, 9, 0, 0, 0, 0, 0, 0, 0, 'x'}, {0, 0}} {
		err := sps.ActionResult(0x10, bad)
		var de *sps.DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "action 0x10") {
			t.Errorf("ActionResult(% x) = %v, want a DecodeError naming action 0x10", bad, err)
		}
	}
}

// TestHostileInput checks that truncated input and forged lengths give a
// DecodeError naming the type and offset, without allocating for the
// forged length.
func TestHostileInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		into any
		msg  string
	}{
		{"truncated uint64", []byte{1, 2, 3}, new(uint64), "need 8 bytes"},
		{"huge string", u64(1 << 62), new(string), "does not fit"},
		{"huge seq", cat(u64(1<<40), u64(0)), new([]uint64), "does not fit"},
		{"huge seq of tuples", cat(u64(1<<60), str("x")), new([]symbol), "does not fit"},
		{"huge seq of empties", u64(1 << 62), new([]sps.Empty), "does not fit"},
		{"huge map", u64(1 << 50), new(map[string]string), "does not fit"},
		{"left over", []byte{1, 2}, new(uint8), "left over"},
		{"truncated setup", cat(str("x86"), u64(4096), u64(2), str("a"), u64(1)), new(setup), "does not fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sps.Unmarshal(tc.data, tc.into)
			var de *sps.DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want a DecodeError with %q", err, tc.msg)
			}
		})
	}
}

func TestBytesAlias(t *testing.T) {
	data := cat(u64(3), []byte("abc"), []byte("x"))
	d := sps.NewDecoder(data)
	b, err := d.ByteSeq()
	if err != nil || string(b) != "abc" || cap(b) != 3 {
		t.Fatalf("ByteSeq = %q (cap %d), %v", b, cap(b), err)
	}
	if d.Len() != 1 || d.Offset() != 11 {
		t.Fatalf("Len %d Offset %d", d.Len(), d.Offset())
	}
}

type pair struct {
	A uint32
	B string
}

type echoCaller map[uint64]sps.WrapperFunc

func (c echoCaller) CallWrapper(fn uint64, args []byte) ([]byte, error) { return c[fn](args) }

// TestWrapperHelpers writes handlers as typed Go functions and calls them.
func TestWrapperHelpers(t *testing.T) {
	c := echoCaller{
		1: sps.Handler(func(p pair) sps.Expected[string] {
			if p.A == 0 {
				return sps.Fail[string](errors.New("zero"))
			}
			return sps.Ok(strings.Repeat(p.B, int(p.A)))
		}),
		2: sps.Handler(func(r sps.AddrRange) error {
			if r.Size() == 0 {
				return errors.New("empty range")
			}
			return nil
		}),
		3: sps.Handler(func(args []string) int64 { return int64(len(args)) }),
	}
	if s, err := sps.CallExpected[string](c, 1, pair{3, "ab"}); err != nil || s != "ababab" {
		t.Errorf("CallExpected = %q, %v", s, err)
	}
	if _, err := sps.CallExpected[string](c, 1, pair{0, "ab"}); err == nil || err.Error() != "zero" {
		t.Errorf("CallExpected failure = %v", err)
	}
	if err := sps.CallError(c, 2, sps.AddrRange{Start: 1, End: 2}); err != nil {
		t.Errorf("CallError = %v", err)
	}
	if err := sps.CallError(c, 2, sps.AddrRange{Start: 1, End: 1}); err == nil || err.Error() != "empty range" {
		t.Errorf("CallError failure = %v", err)
	}
	if n, err := sps.Call[int64](c, 3, []string{"a", "b"}); err != nil || n != 2 {
		t.Errorf("Call = %d, %v", n, err)
	}
	// Arguments that do not decode are an out-of-band error.
	if _, err := c[2]([]byte{1}); err == nil {
		t.Error("handler accepted truncated arguments")
	}
}

// TestEmptyResultIsFailure: LLVM's executors answer a failed call with an
// empty result, which must read as failure, not as a short value.
func TestEmptyResultIsFailure(t *testing.T) {
	c := echoCaller{1: func([]byte) ([]byte, error) { return nil, nil }}
	if _, err := sps.CallExpected[uint64](c, 1, sps.Empty{}); err == nil || !strings.Contains(err.Error(), "failed (empty result)") {
		t.Errorf("Expected from an empty result: %v", err)
	}
	if err := sps.CallError(c, 1, sps.Empty{}); err == nil || !strings.Contains(err.Error(), "failed (empty result)") {
		t.Errorf("Error from an empty result: %v", err)
	}
	if _, err := sps.Call[sps.Empty](c, 1, sps.Empty{}); err != nil {
		t.Errorf("void call with an empty result: %v", err)
	}
}
