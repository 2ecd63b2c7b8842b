// gorc's generic C call and Go callbacks (ccall.c, callbacks_*.c).
#ifndef GORC_CCALL_H
#define GORC_CCALL_H

#include <stdint.h>

// The registers a C call passes arguments in, by architecture. Every
// argument takes one slot: an integer register, a floating-point register,
// or an eight-byte stack slot, in the order the ABI assigns them (abi.go
// does the assignment). The counts must agree with abi_GOARCH.go.
#if defined(__x86_64__)
#define GORC_INT_REGS 6
#elif defined(__aarch64__)
#define GORC_INT_REGS 8
#else
#error "gorc: unsupported architecture"
#endif
#define GORC_FP_REGS 8
#define GORC_STACK_SLOTS 16

typedef struct {
	uint64_t ints[GORC_INT_REGS];
	uint64_t fps[GORC_FP_REGS];
	uint64_t stack[GORC_STACK_SLOTS];
} gorc_call_frame;

// How a result comes back: an integer register, a double or a float.
enum { GORC_RET_INT = 0, GORC_RET_F64 = 1, GORC_RET_F32 = 2 };

uint64_t gorc_call_generic(uintptr_t fn, gorc_call_frame frame, int nstack, int ret);

#endif
