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

// The classes of values.
const (
	ClassInt Class = iota
	ClassF64
	ClassF32
)

// MaxStackArgs is how many arguments past the registers Call and callbacks
// take (they go on the stack).
const MaxStackArgs = C.GORC_STACK_SLOTS

// frameSlots assigns each argument its place, as the platform's C ABI does
// for a non-variadic function whose arguments are all integers, pointers
// or floating-point values: the integer and floating-point registers in
// order, then one eight-byte stack slot each, in argument order. It calls
// put(kind, index) for each: kind 0 integer register, 1 floating-point
// register, 2 stack slot.
func frameSlots(classes []Class, put func(arg, kind, index int)) (nstack int, err error) {
	var f C.gorc_call_frame
	nint, nfp := 0, 0
	for i, c := range classes {
		switch {
		case c == ClassInt && nint < len(f.ints):
			put(i, 0, nint)
			nint++
		case c != ClassInt && nfp < len(f.fps):
			put(i, 1, nfp)
			nfp++
		case nstack < len(f.stack):
			put(i, 2, nstack)
			nstack++
		default:
			return 0, fmt.Errorf("%d arguments: at most %d can go on the stack", len(classes), MaxStackArgs)
		}
	}
	return nstack, nil
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
	nstack, err := frameSlots(classes, func(arg, kind, index int) {
		v := C.uint64_t(args[arg])
		switch kind {
		case 0:
			f.ints[index] = v
		case 1:
			f.fps[index] = v
		default:
			f.stack[index] = v
		}
	})
	if err != nil {
		return 0, err
	}
	r := C.gorc_call_generic(C.uintptr_t(fn), &f, C.int(nstack), C.int(ret))
	return uint64(r), nil
}

// frameArgs reads the arguments of a callback out of the frame its
// trampoline saved.
func frameArgs(f *C.gorc_call_frame, classes []Class) ([]uint64, error) {
	args := make([]uint64, len(classes))
	_, err := frameSlots(classes, func(arg, kind, index int) {
		switch kind {
		case 0:
			args[arg] = uint64(f.ints[index])
		case 1:
			args[arg] = uint64(f.fps[index])
		default:
			args[arg] = uint64(f.stack[index])
		}
	})
	return args, err
}

// Pointer returns addr as a pointer, for memory the caller knows to be
// mapped (JIT'd data in this process).
func Pointer(addr uint64) unsafe.Pointer { return unsafe.Pointer(C.gorc_pointer(C.uintptr_t(addr))) }
