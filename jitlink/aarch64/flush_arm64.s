#include "textflag.h"

// func flushICache(addr, size uint64)
//
// Cleans the data cache to the point of unification and invalidates the
// instruction cache over [addr, addr+size), line by line with the line
// sizes CTR_EL0 gives, then synchronizes the pipeline.
TEXT ·flushICache(SB), NOSPLIT, $0-16
	MOVD	addr+0(FP), R0
	MOVD	size+8(FP), R1
	ADD	R0, R1, R1            // end
	WORD	$0xd53b0022           // mrs x2, ctr_el0
	// Data cache line: 4 << CTR_EL0.DminLine (bits 16-19).
	UBFX	$16, R2, $4, R3
	MOVD	$4, R4
	LSL	R3, R4, R3
	SUB	$1, R3, R5
	BIC	R5, R0, R6
dloop:
	WORD	$0xd50b7b26           // dc cvau, x6
	ADD	R3, R6, R6
	CMP	R1, R6
	BLO	dloop
	WORD	$0xd5033b9f           // dsb ish
	// Instruction cache line: 4 << CTR_EL0.IminLine (bits 0-3).
	AND	$15, R2, R3
	MOVD	$4, R4
	LSL	R3, R4, R3
	SUB	$1, R3, R5
	BIC	R5, R0, R6
iloop:
	WORD	$0xd50b7526           // ic ivau, x6
	ADD	R3, R6, R6
	CMP	R1, R6
	BLO	iloop
	WORD	$0xd5033b9f           // dsb ish
	WORD	$0xd5033fdf           // isb
	RET
