package native

/*
#include "ccall.h"
static void *gorc_pointer(uintptr_t a) { return (void *)a; }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Class says where the C ABI passes a value: in an integer register (or
// the stack slot of one), or as a double or a float.
type Class uint8

// The classes of values (their numbers are ccall.h's GORC_RET_*).
const (
	ClassInt Class = iota
	ClassF64
	ClassF32
)

// MaxStackArgs is how many arguments past the registers Call and callbacks
// take (they go on the stack).
const MaxStackArgs = C.GORC_STACK_SLOTS

// placer assigns each argument its place, as the platform's C ABI does
// for a non-variadic function whose arguments are all integers, pointers
// or floating-point values: the integer and floating-point registers in
// order, then one eight-byte stack slot each, in argument order.
type placer struct{ nint, nfp, nstack int }

// Where an argument goes.
const (
	inInt = iota
	inFP
	onStack
)

// The register and slot counts of this architecture (ccall.h).
const (
	intRegs    = len(C.gorc_call_frame{}.ints)
	fpRegs     = len(C.gorc_call_frame{}.fps)
	stackSlots = len(C.gorc_call_frame{}.stack)
)

// place returns where the next argument of class c goes: kind and index.
func (p *placer) place(c Class) (kind, index int, err error) {
	switch {
	case c == ClassInt && p.nint < intRegs:
		p.nint++
		return inInt, p.nint - 1, nil
	case c != ClassInt && p.nfp < fpRegs:
		p.nfp++
		return inFP, p.nfp - 1, nil
	case p.nstack < stackSlots:
		p.nstack++
		return onStack, p.nstack - 1, nil
	}
	return 0, 0, fmt.Errorf("too many arguments: at most %d can go on the stack", MaxStackArgs)
}

// checkClasses reports an error if a call with these arguments needs more
// stack slots than there are.
func checkClasses(classes []Class) error {
	var p placer
	for _, c := range classes {
		if _, _, err := p.place(c); err != nil {
			return err
		}
	}
	return nil
}

// Call calls the C function at fn. args[i] holds argument i widened to 64
// bits (floating-point values as their IEEE bits, a float's in the low
// 32); classes[i] says how it travels. The result comes back as bits in
// the same form (an integer result's unused high bits are undefined).
func Call(fn uint64, args []uint64, classes []Class, ret Class) (uint64, error) {
	if len(args) != len(classes) {
		return 0, fmt.Errorf("native: %d arguments, %d classes", len(args), len(classes))
	}
	var f C.gorc_call_frame
	var p placer
	for i, c := range classes {
		kind, index, err := p.place(c)
		if err != nil {
			return 0, err
		}
		v := C.uint64_t(args[i])
		switch kind {
		case inInt:
			f.ints[index] = v
		case inFP:
			f.fps[index] = v
		default:
			f.stack[index] = v
		}
	}
	r := C.gorc_call_generic(C.uintptr_t(fn), f, C.int(p.nstack), C.int(ret))
	return uint64(r), nil
}

// frameArgs reads the arguments of a callback out of the frame its
// trampoline saved.
func frameArgs(f *C.gorc_call_frame, classes []Class) ([]uint64, error) {
	args := make([]uint64, len(classes))
	var p placer
	for i, c := range classes {
		kind, index, err := p.place(c)
		if err != nil {
			return nil, err
		}
		switch kind {
		case inInt:
			args[i] = uint64(f.ints[index])
		case inFP:
			args[i] = uint64(f.fps[index])
		default:
			args[i] = uint64(f.stack[index])
		}
	}
	return args, nil
}

// Pointer returns addr as a pointer, for memory the caller knows to be
// mapped (JIT'd data in this process).
func Pointer(addr uint64) unsafe.Pointer { return unsafe.Pointer(C.gorc_pointer(C.uintptr_t(addr))) }
