package sps

import (
	"fmt"
	"reflect"
)

// A WrapperFunc is a wrapper function as Go sees it: SPS-encoded arguments
// in, SPS-encoded result out. A non-nil error is an out-of-band failure
// (the arguments could not be decoded, say), reported to the caller
// instead of a result.
type WrapperFunc func(args []byte) ([]byte, error)

// Caller calls wrapper functions by executor address.
type Caller interface {
	CallWrapper(fn uint64, args []byte) ([]byte, error)
}

// Handler turns a typed Go function into a WrapperFunc: the arguments are
// decoded into A (a struct for a tuple of several), the result R encoded.
// R may be error (an SPS Error), Expected[T], Empty, or any encodable type.
func Handler[A, R any](f func(A) R) WrapperFunc {
	return func(args []byte) ([]byte, error) {
		var a A
		if err := Unmarshal(args, &a); err != nil {
			return nil, err
		}
		return marshalResult(f(a))
	}
}

// marshalResult encodes r, including a nil error (which any(r) would lose).
func marshalResult[R any](r R) ([]byte, error) {
	if reflect.TypeFor[R]() == errorType {
		var e Encoder
		err, _ := any(r).(error)
		e.Error(err)
		return e.Bytes(), nil
	}
	return Marshal(r)
}

// Call calls the wrapper function at fn with args and decodes its result.
func Call[R, A any](c Caller, fn uint64, args A) (R, error) {
	var r R
	in, err := Marshal(args)
	if err != nil {
		return r, err
	}
	out, err := c.CallWrapper(fn, in)
	if err != nil {
		return r, err
	}
	if len(out) == 0 && minSize(reflect.TypeFor[R]()) > 0 {
		// What LLVM's executors send for a call that failed.
		return r, fmt.Errorf("wrapper function %#x failed (empty result)", fn)
	}
	if err := Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("result of wrapper function %#x: %w", fn, err)
	}
	return r, nil
}

// CallError calls a wrapper function whose result is an SPS Error and
// returns that error.
func CallError[A any](c Caller, fn uint64, args A) error {
	r, err := Call[error](c, fn, args)
	if err != nil {
		return err
	}
	return r
}

// CallExpected calls a wrapper function whose result is an Expected<T>.
func CallExpected[T, A any](c Caller, fn uint64, args A) (T, error) {
	r, err := Call[Expected[T]](c, fn, args)
	if err != nil {
		var zero T
		return zero, err
	}
	return r.Value, r.Err
}

// ActionResult decodes what the allocation action at fn returned: an SPS
// Error, where an empty result also means success.
func ActionResult(fn uint64, out []byte) error {
	if len(out) == 0 {
		return nil
	}
	var e error
	if err := Unmarshal(out, &e); err != nil {
		return fmt.Errorf("result of action %#x: %w", fn, err)
	}
	return e
}
