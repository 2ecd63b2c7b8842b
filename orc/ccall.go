package orc

import (
	"errors"
	"fmt"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"math"
	"strings"
)

// CType is the C type of a function's argument or result, for calls of
// JIT'd functions of any signature (FunctionCaller) and for Go callbacks.
type CType uint8

// The C types a call can pass: integers, pointers and floating-point
// values (and void, as a result).
const (
	CVoid CType = iota
	CBool
	CInt8
	CUint8
	CInt16
	CUint16
	CInt32
	CUint32
	CInt64
	CUint64
	CPointer
	CFloat
	CDouble
	numCTypes
)

var ctypeNames = [...]string{"void", "bool", "int8_t", "uint8_t", "int16_t", "uint16_t",
	"int32_t", "uint32_t", "int64_t", "uint64_t", "void *", "float", "double"}

func (t CType) String() string {
	if t < numCTypes {
		return ctypeNames[t]
	}
	return fmt.Sprintf("CType(%d)", uint8(t))
}

// IsFloat reports whether t travels in floating-point registers.
func (t CType) IsFloat() bool { return t == CFloat || t == CDouble }

// CSignature is a C function type.
type CSignature struct {
	Result CType
	Params []CType
}

// String spells the signature as a C function type, e.g.
// "double (double, double)".
func (s CSignature) String() string {
	ps := make([]string, len(s.Params))
	for i, p := range s.Params {
		ps[i] = p.String()
	}
	if len(ps) == 0 {
		ps = []string{"void"}
	}
	return fmt.Sprintf("%s (%s)", s.Result, strings.Join(ps, ", "))
}

// Validate checks that every type is known and only the result is void.
func (s CSignature) Validate() error {
	if s.Result >= numCTypes {
		return fmt.Errorf("signature %s: unknown result type", s)
	}
	for i, p := range s.Params {
		if p == CVoid || p >= numCTypes {
			return fmt.Errorf("signature %s: parameter %d has type %s", s, i+1, p)
		}
	}
	return nil
}

// FunctionCaller is offered by executors that can call a function of any
// CSignature (in process, and gorc's executor out of process).
//
// Arguments and the result travel as 64-bit words: integers and pointers
// sign- or zero-extended by their type, bool as 0 or 1, double as its IEEE
// bits, float as its bits in the low 32. CheckCValue tells whether a word
// is valid for a type; the result comes back normalized by NormalizeCValue.
type FunctionCaller interface {
	// CanCallFunctions returns nil if CallFunction works in this
	// executor, and else why not.
	CanCallFunctions() error
	CallFunction(addr uint64, sig CSignature, args []uint64) (uint64, error)
}

// CheckCValue reports an error if v is not a valid word for t (an integer
// out of its range, a bool other than 0 or 1, a float with high bits):
// values are never truncated.
func CheckCValue(t CType, v uint64) error {
	ok := true
	switch t {
	case CBool:
		ok = v <= 1
	case CInt8:
		ok = int64(v) == int64(int8(v))
	case CUint8:
		ok = v == uint64(uint8(v))
	case CInt16:
		ok = int64(v) == int64(int16(v))
	case CUint16:
		ok = v == uint64(uint16(v))
	case CInt32:
		ok = int64(v) == int64(int32(v))
	case CUint32, CFloat:
		ok = v == uint64(uint32(v))
	case CVoid:
		ok = v == 0
	}
	if !ok {
		return fmt.Errorf("value %#x does not fit C type %s", v, t)
	}
	return nil
}

// NormalizeCValue keeps the bits of a raw value of type t that the C ABI
// defines (a callee sets only the low bits of a small integer result; a
// caller may leave high bits of a small argument undefined) and extends
// them as the type does.
func NormalizeCValue(t CType, v uint64) uint64 {
	switch t {
	case CVoid:
		return 0
	case CBool:
		if uint8(v) != 0 {
			return 1
		}
		return 0
	case CInt8:
		return uint64(int64(int8(v)))
	case CUint8:
		return uint64(uint8(v))
	case CInt16:
		return uint64(int64(int16(v)))
	case CUint16:
		return uint64(uint16(v))
	case CInt32:
		return uint64(int64(int32(v)))
	case CUint32, CFloat:
		return uint64(uint32(v))
	}
	return v
}

// CheckCArgs checks a call's arguments against its signature.
func CheckCArgs(sig CSignature, args []uint64) error {
	if err := sig.Validate(); err != nil {
		return err
	}
	if len(args) != len(sig.Params) {
		return fmt.Errorf("call of %s with %d arguments", sig, len(args))
	}
	for i, a := range args {
		if err := CheckCValue(sig.Params[i], a); err != nil {
			return fmt.Errorf("argument %d of %s: %w", i+1, sig, err)
		}
	}
	return nil
}

var errNoFunctionCalls = errors.New("the executor cannot call functions by C signature: only gorc's executors can (in process, or gorc-executor)")

// CanCallFunctions returns nil if epc can call functions by C signature,
// and else why not.
func CanCallFunctions(epc ExecutorProcessControl) error {
	c, ok := epc.(FunctionCaller)
	if !ok {
		return errNoFunctionCalls
	}
	return c.CanCallFunctions()
}

// CallFunction calls the function at addr in epc's executor with
// signature sig, if the executor can (see FunctionCaller).
func CallFunction(epc ExecutorProcessControl, addr uint64, sig CSignature, args []uint64) (uint64, error) {
	c, ok := epc.(FunctionCaller)
	if !ok {
		return 0, errNoFunctionCalls
	}
	if err := c.CanCallFunctions(); err != nil {
		return 0, err
	}
	if err := CheckCArgs(sig, args); err != nil {
		return 0, err
	}
	return c.CallFunction(addr, sig, args)
}

// CIntArg checks that an int fits a C int, for RunAsIntFunction.
func CIntArg(arg int) (int32, error) {
	if arg < math.MinInt32 || arg > math.MaxInt32 {
		return 0, fmt.Errorf("argument %d does not fit a C int", arg)
	}
	return int32(arg), nil
}

// CallbackMaker is offered by executors that can make Go functions
// callable by JIT'd code (in process only: see docs/calls.md).
type CallbackMaker interface {
	// NewCallback returns the address of a C function of type sig that
	// calls fn with its arguments as words (normalized, see
	// FunctionCaller) and returns fn's result word; release frees it (C
	// must not call it after).
	NewCallback(name string, sig CSignature, fn func(args []uint64) uint64) (addr uint64, release func() error, err error)
}

// MaxCStackArgs is how many arguments past the registers gorc's calls and
// callbacks pass on the stack.
const MaxCStackArgs = 16

// CheckCArgCount reports an error if a call of sig in an executor of the
// given target triple would need more than MaxCStackArgs stack slots. Each
// argument takes an integer or floating-point register of the C ABI
// (x86-64: 6 and 8; AArch64: 8 and 8) while there are some, and a stack
// slot after.
func CheckCArgCount(t triple.Triple, sig CSignature) error {
	intRegs := 6
	if t.Arch == triple.AArch64 {
		intRegs = 8
	}
	ints, fps := 0, 0
	for _, p := range sig.Params {
		if p.IsFloat() {
			fps++
		} else {
			ints++
		}
	}
	if stack := max(ints-intRegs, 0) + max(fps-8, 0); stack > MaxCStackArgs {
		return fmt.Errorf("%s: %d arguments go on the stack, at most %d can", sig, stack, MaxCStackArgs)
	}
	return nil
}

// ForwardingCallbackMaker is offered by executors in another process that
// can make C functions forwarding their calls to the controller (gorc's
// executor): each call sends the argument words (SPS seq<uint64>) to the
// controller's JIT dispatch handler for tag and returns the uint64 word it
// answers.
type ForwardingCallbackMaker interface {
	NewForwardingCallback(name string, sig CSignature, tag uint64) (addr uint64, release func() error, err error)
}

// Bytes returns the signature as the wire carries it (gorc-executor's
// generic call and callbacks): the result type and the parameter types.
func (s CSignature) Bytes() (result uint8, params []uint8) {
	params = make([]uint8, len(s.Params))
	for i, p := range s.Params {
		params[i] = uint8(p)
	}
	return uint8(s.Result), params
}

// CSignatureFromBytes is the inverse of CSignature.Bytes (Validate checks
// the types).
func CSignatureFromBytes(result uint8, params []uint8) CSignature {
	s := CSignature{Result: CType(result), Params: make([]CType, len(params))}
	for i, p := range params {
		s.Params[i] = CType(p)
	}
	return s
}
