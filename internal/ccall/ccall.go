// Package ccall calls functions of this process by C signature, and makes
// Go callbacks C can call: the part of typed calls shared by the
// in-process executor and gorc's executor.
package ccall

import (
	"fmt"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/orc"
)

// Call calls the function at addr of this process with signature sig.
func Call(addr uint64, sig orc.CSignature, args []uint64) (uint64, error) {
	if err := orc.CheckCArgs(sig, args); err != nil {
		return 0, err
	}
	if addr == 0 {
		return 0, fmt.Errorf("call of %s at address 0", sig)
	}
	r, err := native.Call(addr, args, classes(sig.Params), class(sig.Result))
	if err != nil {
		return 0, fmt.Errorf("call of %s: %w", sig, err)
	}
	return orc.NormalizeCValue(sig.Result, r), nil
}

// NewCallback makes fn callable from C as a function of type sig, until
// release. fn gets the arguments and returns the result as words (see
// orc.FunctionCaller).
func NewCallback(name string, sig orc.CSignature, fn func(args []uint64) uint64) (addr uint64, release func(), err error) {
	if err := sig.Validate(); err != nil {
		return 0, nil, err
	}
	cb := &native.Callback{Name: name, Classes: classes(sig.Params), Ret: class(sig.Result),
		Fn: func(raw []uint64) uint64 {
			for i, t := range sig.Params {
				raw[i] = orc.NormalizeCValue(t, raw[i])
			}
			return fn(raw)
		}}
	addr, release, err = native.NewCallback(cb)
	if err != nil {
		return 0, nil, fmt.Errorf("Go callback %s: %w", name, err)
	}
	return addr, release, nil
}

// class says how a value of C type t travels in a call.
func class(t orc.CType) native.Class {
	switch t {
	case orc.CDouble:
		return native.ClassF64
	case orc.CFloat:
		return native.ClassF32
	}
	return native.ClassInt
}

func classes(ts []orc.CType) []native.Class {
	cs := make([]native.Class, len(ts))
	for i, t := range ts {
		cs[i] = class(t)
	}
	return cs
}
