// Entry points of Go callbacks: a fixed pool of C functions that each take
// every argument register and stack slot as parameters (so each sees
// whatever arguments its caller passed), save them in a frame and hand the
// frame to Go (gorcGoCallback), which decodes it by the callback's
// signature and stores the result. There is a pool per kind of result
// (integer, double, float) since C returns each in its own register. The
// pools are fixed because C cannot make functions at run time; a slot is
// reused once its callback is released. The parameter lists follow
// ccall.h's register counts, so the same code serves every architecture
// ccall.h knows.
#include <string.h>

#include "ccall.h"

extern void gorcGoCallback(int slot, gorc_call_frame *frame, uint64_t *result);

#if GORC_INT_REGS == 6
#define INT_PARAMS uint64_t i0, uint64_t i1, uint64_t i2, uint64_t i3, uint64_t i4, uint64_t i5
#define INT_LIST {i0, i1, i2, i3, i4, i5}
#else
#define INT_PARAMS uint64_t i0, uint64_t i1, uint64_t i2, uint64_t i3, uint64_t i4, uint64_t i5, \
	uint64_t i6, uint64_t i7
#define INT_LIST {i0, i1, i2, i3, i4, i5, i6, i7}
#endif
#define CB_PARAMS INT_PARAMS, \
	double f0, double f1, double f2, double f3, double f4, double f5, double f6, double f7, \
	uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3, uint64_t s4, uint64_t s5, uint64_t s6, \
	uint64_t s7, uint64_t s8, uint64_t s9, uint64_t s10, uint64_t s11, uint64_t s12, uint64_t s13, \
	uint64_t s14, uint64_t s15

// The stack parameters past the caller's own arguments read the caller's
// frame: harmless, and never looked at.
#define SAVE_AND_CALL(n) \
	gorc_call_frame fr = {INT_LIST, {0}, \
		{s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15}}; \
	double fs[8] = {f0, f1, f2, f3, f4, f5, f6, f7}; \
	uint64_t r = 0; \
	memcpy(fr.fps, fs, sizeof fs); \
	gorcGoCallback(n, &fr, &r)

#define CB(n) \
	static uint64_t gorc_cbi_##n(CB_PARAMS) { SAVE_AND_CALL(n); return r; } \
	static double gorc_cbd_##n(CB_PARAMS) { SAVE_AND_CALL(n); double d; memcpy(&d, &r, sizeof d); return d; } \
	static float gorc_cbf_##n(CB_PARAMS) { SAVE_AND_CALL(n); uint32_t b = (uint32_t)r; float f; memcpy(&f, &b, sizeof f); return f; }

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

static const uintptr_t entries_i[] = {
	(uintptr_t)gorc_cbi_0,
	(uintptr_t)gorc_cbi_1,
	(uintptr_t)gorc_cbi_2,
	(uintptr_t)gorc_cbi_3,
	(uintptr_t)gorc_cbi_4,
	(uintptr_t)gorc_cbi_5,
	(uintptr_t)gorc_cbi_6,
	(uintptr_t)gorc_cbi_7,
	(uintptr_t)gorc_cbi_8,
	(uintptr_t)gorc_cbi_9,
	(uintptr_t)gorc_cbi_10,
	(uintptr_t)gorc_cbi_11,
	(uintptr_t)gorc_cbi_12,
	(uintptr_t)gorc_cbi_13,
	(uintptr_t)gorc_cbi_14,
	(uintptr_t)gorc_cbi_15,
	(uintptr_t)gorc_cbi_16,
	(uintptr_t)gorc_cbi_17,
	(uintptr_t)gorc_cbi_18,
	(uintptr_t)gorc_cbi_19,
	(uintptr_t)gorc_cbi_20,
	(uintptr_t)gorc_cbi_21,
	(uintptr_t)gorc_cbi_22,
	(uintptr_t)gorc_cbi_23,
	(uintptr_t)gorc_cbi_24,
	(uintptr_t)gorc_cbi_25,
	(uintptr_t)gorc_cbi_26,
	(uintptr_t)gorc_cbi_27,
	(uintptr_t)gorc_cbi_28,
	(uintptr_t)gorc_cbi_29,
	(uintptr_t)gorc_cbi_30,
	(uintptr_t)gorc_cbi_31,
	(uintptr_t)gorc_cbi_32,
	(uintptr_t)gorc_cbi_33,
	(uintptr_t)gorc_cbi_34,
	(uintptr_t)gorc_cbi_35,
	(uintptr_t)gorc_cbi_36,
	(uintptr_t)gorc_cbi_37,
	(uintptr_t)gorc_cbi_38,
	(uintptr_t)gorc_cbi_39,
	(uintptr_t)gorc_cbi_40,
	(uintptr_t)gorc_cbi_41,
	(uintptr_t)gorc_cbi_42,
	(uintptr_t)gorc_cbi_43,
	(uintptr_t)gorc_cbi_44,
	(uintptr_t)gorc_cbi_45,
	(uintptr_t)gorc_cbi_46,
	(uintptr_t)gorc_cbi_47,
	(uintptr_t)gorc_cbi_48,
	(uintptr_t)gorc_cbi_49,
	(uintptr_t)gorc_cbi_50,
	(uintptr_t)gorc_cbi_51,
	(uintptr_t)gorc_cbi_52,
	(uintptr_t)gorc_cbi_53,
	(uintptr_t)gorc_cbi_54,
	(uintptr_t)gorc_cbi_55,
	(uintptr_t)gorc_cbi_56,
	(uintptr_t)gorc_cbi_57,
	(uintptr_t)gorc_cbi_58,
	(uintptr_t)gorc_cbi_59,
	(uintptr_t)gorc_cbi_60,
	(uintptr_t)gorc_cbi_61,
	(uintptr_t)gorc_cbi_62,
	(uintptr_t)gorc_cbi_63
};

static const uintptr_t entries_d[] = {
	(uintptr_t)gorc_cbd_0,
	(uintptr_t)gorc_cbd_1,
	(uintptr_t)gorc_cbd_2,
	(uintptr_t)gorc_cbd_3,
	(uintptr_t)gorc_cbd_4,
	(uintptr_t)gorc_cbd_5,
	(uintptr_t)gorc_cbd_6,
	(uintptr_t)gorc_cbd_7,
	(uintptr_t)gorc_cbd_8,
	(uintptr_t)gorc_cbd_9,
	(uintptr_t)gorc_cbd_10,
	(uintptr_t)gorc_cbd_11,
	(uintptr_t)gorc_cbd_12,
	(uintptr_t)gorc_cbd_13,
	(uintptr_t)gorc_cbd_14,
	(uintptr_t)gorc_cbd_15,
	(uintptr_t)gorc_cbd_16,
	(uintptr_t)gorc_cbd_17,
	(uintptr_t)gorc_cbd_18,
	(uintptr_t)gorc_cbd_19,
	(uintptr_t)gorc_cbd_20,
	(uintptr_t)gorc_cbd_21,
	(uintptr_t)gorc_cbd_22,
	(uintptr_t)gorc_cbd_23,
	(uintptr_t)gorc_cbd_24,
	(uintptr_t)gorc_cbd_25,
	(uintptr_t)gorc_cbd_26,
	(uintptr_t)gorc_cbd_27,
	(uintptr_t)gorc_cbd_28,
	(uintptr_t)gorc_cbd_29,
	(uintptr_t)gorc_cbd_30,
	(uintptr_t)gorc_cbd_31,
	(uintptr_t)gorc_cbd_32,
	(uintptr_t)gorc_cbd_33,
	(uintptr_t)gorc_cbd_34,
	(uintptr_t)gorc_cbd_35,
	(uintptr_t)gorc_cbd_36,
	(uintptr_t)gorc_cbd_37,
	(uintptr_t)gorc_cbd_38,
	(uintptr_t)gorc_cbd_39,
	(uintptr_t)gorc_cbd_40,
	(uintptr_t)gorc_cbd_41,
	(uintptr_t)gorc_cbd_42,
	(uintptr_t)gorc_cbd_43,
	(uintptr_t)gorc_cbd_44,
	(uintptr_t)gorc_cbd_45,
	(uintptr_t)gorc_cbd_46,
	(uintptr_t)gorc_cbd_47,
	(uintptr_t)gorc_cbd_48,
	(uintptr_t)gorc_cbd_49,
	(uintptr_t)gorc_cbd_50,
	(uintptr_t)gorc_cbd_51,
	(uintptr_t)gorc_cbd_52,
	(uintptr_t)gorc_cbd_53,
	(uintptr_t)gorc_cbd_54,
	(uintptr_t)gorc_cbd_55,
	(uintptr_t)gorc_cbd_56,
	(uintptr_t)gorc_cbd_57,
	(uintptr_t)gorc_cbd_58,
	(uintptr_t)gorc_cbd_59,
	(uintptr_t)gorc_cbd_60,
	(uintptr_t)gorc_cbd_61,
	(uintptr_t)gorc_cbd_62,
	(uintptr_t)gorc_cbd_63
};

static const uintptr_t entries_f[] = {
	(uintptr_t)gorc_cbf_0,
	(uintptr_t)gorc_cbf_1,
	(uintptr_t)gorc_cbf_2,
	(uintptr_t)gorc_cbf_3,
	(uintptr_t)gorc_cbf_4,
	(uintptr_t)gorc_cbf_5,
	(uintptr_t)gorc_cbf_6,
	(uintptr_t)gorc_cbf_7,
	(uintptr_t)gorc_cbf_8,
	(uintptr_t)gorc_cbf_9,
	(uintptr_t)gorc_cbf_10,
	(uintptr_t)gorc_cbf_11,
	(uintptr_t)gorc_cbf_12,
	(uintptr_t)gorc_cbf_13,
	(uintptr_t)gorc_cbf_14,
	(uintptr_t)gorc_cbf_15,
	(uintptr_t)gorc_cbf_16,
	(uintptr_t)gorc_cbf_17,
	(uintptr_t)gorc_cbf_18,
	(uintptr_t)gorc_cbf_19,
	(uintptr_t)gorc_cbf_20,
	(uintptr_t)gorc_cbf_21,
	(uintptr_t)gorc_cbf_22,
	(uintptr_t)gorc_cbf_23,
	(uintptr_t)gorc_cbf_24,
	(uintptr_t)gorc_cbf_25,
	(uintptr_t)gorc_cbf_26,
	(uintptr_t)gorc_cbf_27,
	(uintptr_t)gorc_cbf_28,
	(uintptr_t)gorc_cbf_29,
	(uintptr_t)gorc_cbf_30,
	(uintptr_t)gorc_cbf_31,
	(uintptr_t)gorc_cbf_32,
	(uintptr_t)gorc_cbf_33,
	(uintptr_t)gorc_cbf_34,
	(uintptr_t)gorc_cbf_35,
	(uintptr_t)gorc_cbf_36,
	(uintptr_t)gorc_cbf_37,
	(uintptr_t)gorc_cbf_38,
	(uintptr_t)gorc_cbf_39,
	(uintptr_t)gorc_cbf_40,
	(uintptr_t)gorc_cbf_41,
	(uintptr_t)gorc_cbf_42,
	(uintptr_t)gorc_cbf_43,
	(uintptr_t)gorc_cbf_44,
	(uintptr_t)gorc_cbf_45,
	(uintptr_t)gorc_cbf_46,
	(uintptr_t)gorc_cbf_47,
	(uintptr_t)gorc_cbf_48,
	(uintptr_t)gorc_cbf_49,
	(uintptr_t)gorc_cbf_50,
	(uintptr_t)gorc_cbf_51,
	(uintptr_t)gorc_cbf_52,
	(uintptr_t)gorc_cbf_53,
	(uintptr_t)gorc_cbf_54,
	(uintptr_t)gorc_cbf_55,
	(uintptr_t)gorc_cbf_56,
	(uintptr_t)gorc_cbf_57,
	(uintptr_t)gorc_cbf_58,
	(uintptr_t)gorc_cbf_59,
	(uintptr_t)gorc_cbf_60,
	(uintptr_t)gorc_cbf_61,
	(uintptr_t)gorc_cbf_62,
	(uintptr_t)gorc_cbf_63
};

int gorc_callback_slots(void) { return sizeof entries_i / sizeof entries_i[0]; }

// gorc_callback_entry returns slot's entry point for results of class ret
// (GORC_RET_INT, _F64, _F32).
uintptr_t gorc_callback_entry(int slot, int ret) {
	switch (ret) {
	case GORC_RET_F64:
		return entries_d[slot];
	case GORC_RET_F32:
		return entries_f[slot];
	}
	return entries_i[slot];
}
