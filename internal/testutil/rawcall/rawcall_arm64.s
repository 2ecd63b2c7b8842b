#include "textflag.h"

// func Call2(fn, a, b uintptr) uintptr
//
// A frame of its own makes the assembler save the link register, which BLR
// overwrites; the callee preserves x19-x29 as AAPCS64 requires, which
// covers the registers Go keeps live (g in x28).
TEXT ·Call2(SB), NOSPLIT, $16-32
	MOVD	fn+0(FP), R9
	MOVD	a+8(FP), R0
	MOVD	b+16(FP), R1
	CALL	(R9)
	MOVD	R0, ret+24(FP)
	RET
