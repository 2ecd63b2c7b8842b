// A call of any C function whose arguments and result are integers,
// pointers or floating-point values, with the platform's C ABI: calling
// through a prototype that has every argument register and stack slot as
// a parameter puts each value where the callee expects its own arguments.
#include <string.h>

#include "ccall.h"

static double as_f64(uint64_t bits) {
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

#if GORC_INT_REGS == 6
#define INTS(f) f->ints[0], f->ints[1], f->ints[2], f->ints[3], f->ints[4], f->ints[5]
#define INT_TYPES uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#else
#define INTS(f) f->ints[0], f->ints[1], f->ints[2], f->ints[3], f->ints[4], f->ints[5], f->ints[6], f->ints[7]
#define INT_TYPES uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#endif
#define FPS(f) as_f64(f->fps[0]), as_f64(f->fps[1]), as_f64(f->fps[2]), as_f64(f->fps[3]), \
	as_f64(f->fps[4]), as_f64(f->fps[5]), as_f64(f->fps[6]), as_f64(f->fps[7])
#define FP_TYPES double, double, double, double, double, double, double, double
#define STACK(f) f->stack[0], f->stack[1], f->stack[2], f->stack[3], f->stack[4], f->stack[5], \
	f->stack[6], f->stack[7], f->stack[8], f->stack[9], f->stack[10], f->stack[11], \
	f->stack[12], f->stack[13], f->stack[14], f->stack[15]
#define STACK_TYPES uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, \
	uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t

// CALL calls fn as returning type T, with or without stack slots (a call
// without them copies nothing onto the stack).
#define CALL(T) (nstack == 0 ? ((T (*)(INT_TYPES, FP_TYPES))fn)(INTS(f), FPS(f)) \
	: ((T (*)(INT_TYPES, FP_TYPES, STACK_TYPES))fn)(INTS(f), FPS(f), STACK(f)))

// The frame comes by value, so that Go need not allocate it on its heap.
uint64_t gorc_call_generic(uintptr_t fn, gorc_call_frame frame, int nstack, int ret) {
	const gorc_call_frame *f = &frame;
	uint64_t bits = 0;
	switch (ret) {
	case GORC_RET_F64: {
		double d = CALL(double);
		memcpy(&bits, &d, sizeof d);
		break;
	}
	case GORC_RET_F32: {
		float s = CALL(float);
		uint32_t b;
		memcpy(&b, &s, sizeof b);
		bits = b;
		break;
	}
	default:
		bits = CALL(uint64_t);
	}
	return bits;
}
