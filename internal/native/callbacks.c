// Entry points of Go callbacks: each of a fixed pool of C functions takes
// every argument register and stack slot as a parameter (so it sees
// whatever arguments its caller passed), saves them in a frame and hands
// the frame to Go (gorcGoCallback), which decodes it by the callback's
// signature and stores the result. The pool is fixed because C cannot make
// functions at run time; a slot is reused once its callback is released.
#include <string.h>

#include "ccall.h"

#if defined(__x86_64__)

extern void gorcGoCallback(int slot, gorc_call_frame *frame, uint64_t *result);

// Returned in rax and xmm0 at once (SysV classes the first eightbyte
// INTEGER, the second SSE), so one trampoline serves integer and
// floating-point results.
typedef struct {
	uint64_t i;
	double f;
} gorc_cb_result;

#define CB_PARAMS uint64_t i0, uint64_t i1, uint64_t i2, uint64_t i3, uint64_t i4, uint64_t i5, \
	double f0, double f1, double f2, double f3, double f4, double f5, double f6, double f7, \
	uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3, uint64_t s4, uint64_t s5, uint64_t s6, \
	uint64_t s7, uint64_t s8, uint64_t s9, uint64_t s10, uint64_t s11, uint64_t s12, uint64_t s13, \
	uint64_t s14, uint64_t s15

static gorc_cb_result gorc_cb_dispatch(int slot, gorc_call_frame *fr) {
	uint64_t r[2] = {0, 0};
	gorc_cb_result res;
	gorcGoCallback(slot, fr, r);
	res.i = r[0];
	memcpy(&res.f, &r[1], sizeof res.f);
	return res;
}

// The stack parameters past the caller's own arguments read the caller's
// frame: harmless, and never looked at.
#define CB(n) static gorc_cb_result gorc_cb_##n(CB_PARAMS) { \
	gorc_call_frame fr = {{i0, i1, i2, i3, i4, i5}, {0}, \
		{s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15}}; \
	double fs[8] = {f0, f1, f2, f3, f4, f5, f6, f7}; \
	memcpy(fr.fps, fs, sizeof fs); \
	return gorc_cb_dispatch(n, &fr); \
}

CB(0)
CB(1)
CB(2)
CB(3)
CB(4)
CB(5)
CB(6)
CB(7)
CB(8)
CB(9)
CB(10)
CB(11)
CB(12)
CB(13)
CB(14)
CB(15)
CB(16)
CB(17)
CB(18)
CB(19)
CB(20)
CB(21)
CB(22)
CB(23)
CB(24)
CB(25)
CB(26)
CB(27)
CB(28)
CB(29)
CB(30)
CB(31)
CB(32)
CB(33)
CB(34)
CB(35)
CB(36)
CB(37)
CB(38)
CB(39)
CB(40)
CB(41)
CB(42)
CB(43)
CB(44)
CB(45)
CB(46)
CB(47)
CB(48)
CB(49)
CB(50)
CB(51)
CB(52)
CB(53)
CB(54)
CB(55)
CB(56)
CB(57)
CB(58)
CB(59)
CB(60)
CB(61)
CB(62)
CB(63)

static const uintptr_t entries[] = {
	(uintptr_t)gorc_cb_0,
	(uintptr_t)gorc_cb_1,
	(uintptr_t)gorc_cb_2,
	(uintptr_t)gorc_cb_3,
	(uintptr_t)gorc_cb_4,
	(uintptr_t)gorc_cb_5,
	(uintptr_t)gorc_cb_6,
	(uintptr_t)gorc_cb_7,
	(uintptr_t)gorc_cb_8,
	(uintptr_t)gorc_cb_9,
	(uintptr_t)gorc_cb_10,
	(uintptr_t)gorc_cb_11,
	(uintptr_t)gorc_cb_12,
	(uintptr_t)gorc_cb_13,
	(uintptr_t)gorc_cb_14,
	(uintptr_t)gorc_cb_15,
	(uintptr_t)gorc_cb_16,
	(uintptr_t)gorc_cb_17,
	(uintptr_t)gorc_cb_18,
	(uintptr_t)gorc_cb_19,
	(uintptr_t)gorc_cb_20,
	(uintptr_t)gorc_cb_21,
	(uintptr_t)gorc_cb_22,
	(uintptr_t)gorc_cb_23,
	(uintptr_t)gorc_cb_24,
	(uintptr_t)gorc_cb_25,
	(uintptr_t)gorc_cb_26,
	(uintptr_t)gorc_cb_27,
	(uintptr_t)gorc_cb_28,
	(uintptr_t)gorc_cb_29,
	(uintptr_t)gorc_cb_30,
	(uintptr_t)gorc_cb_31,
	(uintptr_t)gorc_cb_32,
	(uintptr_t)gorc_cb_33,
	(uintptr_t)gorc_cb_34,
	(uintptr_t)gorc_cb_35,
	(uintptr_t)gorc_cb_36,
	(uintptr_t)gorc_cb_37,
	(uintptr_t)gorc_cb_38,
	(uintptr_t)gorc_cb_39,
	(uintptr_t)gorc_cb_40,
	(uintptr_t)gorc_cb_41,
	(uintptr_t)gorc_cb_42,
	(uintptr_t)gorc_cb_43,
	(uintptr_t)gorc_cb_44,
	(uintptr_t)gorc_cb_45,
	(uintptr_t)gorc_cb_46,
	(uintptr_t)gorc_cb_47,
	(uintptr_t)gorc_cb_48,
	(uintptr_t)gorc_cb_49,
	(uintptr_t)gorc_cb_50,
	(uintptr_t)gorc_cb_51,
	(uintptr_t)gorc_cb_52,
	(uintptr_t)gorc_cb_53,
	(uintptr_t)gorc_cb_54,
	(uintptr_t)gorc_cb_55,
	(uintptr_t)gorc_cb_56,
	(uintptr_t)gorc_cb_57,
	(uintptr_t)gorc_cb_58,
	(uintptr_t)gorc_cb_59,
	(uintptr_t)gorc_cb_60,
	(uintptr_t)gorc_cb_61,
	(uintptr_t)gorc_cb_62,
	(uintptr_t)gorc_cb_63
};

int gorc_callback_slots(void) { return sizeof entries / sizeof entries[0]; }
uintptr_t gorc_callback_entry(int slot) { return entries[slot]; }

#else

// No trampolines for this architecture yet: NewCallback reports it.
int gorc_callback_slots(void) { return 0; }
uintptr_t gorc_callback_entry(int slot) { return 0; }

#endif
