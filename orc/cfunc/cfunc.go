// Package cfunc binds JIT'd C functions to typed Go function values, and
// makes Go functions callable from JIT'd C code (in process; LLJIT.ExportFunc
// also forwards them from gorc's executor).
//
// Go types map to C types by kind: bool, int8..int64, uint8..uint64,
// int and uint (long and unsigned long), uintptr and unsafe.Pointer
// (pointers), float32 (float) and float64 (double). A bound function has
// at most one result, optionally followed by an error (without one,
// a failed call panics). See docs/calls.md for the ABI, the costs and the
// limits.
package cfunc

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/orc"
)

var errorType = reflect.TypeFor[error]()

// ctype maps a Go type to the C type it stands for.
func ctype(t reflect.Type) (orc.CType, bool) {
	if t == reflect.TypeFor[unsafe.Pointer]() {
		return orc.CPointer, true
	}
	switch t.Kind() {
	case reflect.Bool:
		return orc.CBool, true
	case reflect.Int8:
		return orc.CInt8, true
	case reflect.Uint8:
		return orc.CUint8, true
	case reflect.Int16:
		return orc.CInt16, true
	case reflect.Uint16:
		return orc.CUint16, true
	case reflect.Int32:
		return orc.CInt32, true
	case reflect.Uint32:
		return orc.CUint32, true
	case reflect.Int64, reflect.Int:
		return orc.CInt64, true
	case reflect.Uint64, reflect.Uint:
		return orc.CUint64, true
	case reflect.Uintptr, reflect.UnsafePointer:
		return orc.CPointer, true
	case reflect.Float32:
		return orc.CFloat, true
	case reflect.Float64:
		return orc.CDouble, true
	}
	return 0, false
}

// SignatureOf returns the C signature of the Go function type t, and
// whether t's last result is an error.
func SignatureOf(t reflect.Type) (sig orc.CSignature, withErr bool, err error) {
	if t.Kind() != reflect.Func || t.IsVariadic() {
		return sig, false, fmt.Errorf("%v is not a non-variadic function type", t)
	}
	for i := range t.NumIn() {
		c, ok := ctype(t.In(i))
		if !ok {
			return sig, false, fmt.Errorf("%v: parameter %d has type %v, which has no C counterpart", t, i+1, t.In(i))
		}
		sig.Params = append(sig.Params, c)
	}
	nout := t.NumOut()
	if nout > 0 && t.Out(nout-1) == errorType {
		withErr = true
		nout--
	}
	switch {
	case nout > 1:
		return sig, false, fmt.Errorf("%v: more than one result", t)
	case nout == 1:
		c, ok := ctype(t.Out(0))
		if !ok {
			return sig, false, fmt.Errorf("%v: the result has type %v, which has no C counterpart", t, t.Out(0))
		}
		sig.Result = c
	}
	return sig, withErr, nil
}

// toWord encodes a Go value as a call word (see orc.FunctionCaller).
func toWord(v reflect.Value) uint64 {
	if v.Kind() == reflect.UnsafePointer {
		return uint64(uintptr(v.UnsafePointer()))
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return 1
		}
		return 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return uint64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Float32:
		return uint64(math.Float32bits(float32(v.Float())))
	case reflect.Float64:
		return math.Float64bits(v.Float())
	}
	panic("cfunc: no word for " + v.Type().String())
}

// fromWord decodes a (normalized) word as a value of type t.
func fromWord(t reflect.Type, w uint64) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.UnsafePointer:
		v.SetPointer(native.Pointer(w))
	case reflect.Bool:
		v.SetBool(w != 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(w))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(w)
	case reflect.Float32:
		v.SetFloat(float64(math.Float32frombits(uint32(w))))
	case reflect.Float64:
		v.SetFloat(math.Float64frombits(w))
	}
	return v
}

// Bind sets *fnptr (a pointer to a variable of function type) to a function
// that calls the C function at addr in epc's executor. The executor must be
// a orc.FunctionCaller (this process, or gorc's executor).
//
// Pointers to Go memory passed as arguments follow cgo's rules: C must not
// keep them.
func Bind(epc orc.ExecutorProcessControl, addr uint64, fnptr any) error {
	p := reflect.ValueOf(fnptr)
	if p.Kind() != reflect.Pointer || p.IsNil() || p.Elem().Kind() != reflect.Func {
		return fmt.Errorf("cfunc.Bind: %T is not a non-nil pointer to a function variable", fnptr)
	}
	ft := p.Elem().Type()
	sig, withErr, err := SignatureOf(ft)
	if err != nil {
		return fmt.Errorf("cfunc.Bind: %w", err)
	}
	if err := orc.CanCallFunctions(epc); err != nil {
		return fmt.Errorf("cfunc.Bind: %w", err)
	}
	caller := epc.(orc.FunctionCaller)
	if addr == 0 {
		return errors.New("cfunc.Bind: function at address 0")
	}
	if err := orc.CheckCArgCount(epc.TargetTriple(), sig); err != nil {
		return fmt.Errorf("cfunc.Bind: %w", err)
	}
	p.Elem().Set(reflect.MakeFunc(ft, func(in []reflect.Value) []reflect.Value {
		words := make([]uint64, len(in))
		for i, v := range in {
			words[i] = toWord(v)
		}
		r, err := caller.CallFunction(addr, sig, words)
		runtime.KeepAlive(in)
		var out []reflect.Value
		if sig.Result != orc.CVoid {
			out = append(out, fromWord(ft.Out(0), r))
		}
		if withErr {
			ev := reflect.New(errorType).Elem()
			if err != nil {
				ev.Set(reflect.ValueOf(err))
			}
			out = append(out, ev)
		} else if err != nil {
			panic(fmt.Errorf("call of %s at %#x: %w", sig, addr, err))
		}
		return out
	}))
	return nil
}

// WordFunc returns the C signature of the Go function fn (which must not
// return an error) and a function that calls fn with argument words and
// returns its result word: what a callback runs.
func WordFunc(fn any) (orc.CSignature, func(args []uint64) uint64, error) {
	fv := reflect.ValueOf(fn)
	if fv.Kind() != reflect.Func || fv.IsNil() {
		return orc.CSignature{}, nil, fmt.Errorf("%T is not a function", fn)
	}
	ft := fv.Type()
	sig, withErr, err := SignatureOf(ft)
	if err == nil && withErr {
		err = fmt.Errorf("%v returns an error, which C cannot receive", ft)
	}
	if err != nil {
		return orc.CSignature{}, nil, err
	}
	return sig, func(args []uint64) uint64 {
		in := make([]reflect.Value, len(args))
		for i, a := range args {
			in[i] = fromWord(ft.In(i), a)
		}
		out := fv.Call(in)
		if len(out) == 0 {
			return 0
		}
		return toWord(out[0])
	}, nil
}

// Export makes the Go function fn callable by JIT'd code in epc's executor
// as a C function (its signature follows from fn's type, which must not
// return an error), and returns its address. release frees it; C must not
// call it after. The executor must be a orc.CallbackMaker (this process);
// out of process, LLJIT.ExportFunc forwards calls through JIT dispatch.
func Export(epc orc.ExecutorProcessControl, name string, fn any) (addr uint64, release func() error, err error) {
	sig, words, err := WordFunc(fn)
	if err != nil {
		return 0, nil, fmt.Errorf("export %s: %w", name, err)
	}
	m, ok := epc.(orc.CallbackMaker)
	if !ok {
		return 0, nil, fmt.Errorf("export %s: the executor cannot call Go functions directly", name)
	}
	return m.NewCallback(name, sig, words)
}

// Function is a C function of a known signature in an executor, called
// with words (see orc.FunctionCaller) rather than typed Go values: it costs
// no reflection, for hot paths.
type Function struct {
	caller orc.FunctionCaller
	addr   uint64
	sig    orc.CSignature
}

// NewFunction returns the function at addr in epc's executor, of type sig.
func NewFunction(epc orc.ExecutorProcessControl, addr uint64, sig orc.CSignature) (*Function, error) {
	if err := orc.CanCallFunctions(epc); err != nil {
		return nil, err
	}
	if err := sig.Validate(); err != nil {
		return nil, err
	}
	if err := orc.CheckCArgCount(epc.TargetTriple(), sig); err != nil {
		return nil, err
	}
	if addr == 0 {
		return nil, errors.New("function at address 0")
	}
	return &Function{caller: epc.(orc.FunctionCaller), addr: addr, sig: sig}, nil
}

// Signature returns the function's C type.
func (f *Function) Signature() orc.CSignature { return f.sig }

// Call calls the function. An argument that does not fit its C type is an
// error, never truncated.
func (f *Function) Call(args ...uint64) (uint64, error) {
	return f.caller.CallFunction(f.addr, f.sig, args)
}
