// A C-level check of the generic call and the callback entry points
// (ccall.c, callbacks.c) on one architecture: arguments placed by hand as
// ccall.go's placer would, in registers and on the stack; callbacks decoded
// by a C stand-in for gorcGoCallback. TestCABI builds it for the host and,
// with a cross compiler and qemu, for AArch64.
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include "../ccall.h"
int gorc_callback_slots(void);
uintptr_t gorc_callback_entry(int slot, int ret);

static uint64_t dbits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
static double bitsd(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }

long many(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j) {
	return a + 2*b + 3*c + 4*d + 5*e + 6*f + 7*g + 8*h + 9*i + 10*j;
}
double mixed(int a, double b, float c, long d) { return a + b + c + d; }
double manyf(double a, double b, double c, double d, double e, double f, double g, double h, double i, double k) {
	return a+b+c+d+e+f+g+h+10*i+100*k;
}
float halff(float x) { return x / 2; }

/* The Go side of callbacks, for this test: slot 0 sums its 10 longs, slot 1 returns
   double = ints[0] + fps[0] + stack... */
void gorcGoCallback(int slot, gorc_call_frame *f, uint64_t *r) {
	if (slot == 0) { long s = 0; for (int i = 0; i < GORC_INT_REGS; i++) s += (long)f->ints[i] * (i+1);
		for (int i = 0; i < 10 - GORC_INT_REGS; i++) s += (long)f->stack[i] * (GORC_INT_REGS+i+1); *r = s; }
	else if (slot == 1) { *r = dbits((double)(long)f->ints[0] + bitsd(f->fps[0]) + bitsd(f->fps[1])); }
	else { float x; uint32_t b = (uint32_t)f->fps[0]; memcpy(&x, &b, 4); x *= 3; memcpy(&b, &x, 4); *r = b; }
}

int main(void) {
	gorc_call_frame f; memset(&f, 0, sizeof f);
	for (int i = 0; i < 10; i++) { if (i < GORC_INT_REGS) f.ints[i] = i + 1; else f.stack[i - GORC_INT_REGS] = i + 1; }
	printf("many = %lu (want 385)\n", gorc_call_generic((uintptr_t)many, f, 10 - GORC_INT_REGS, GORC_RET_INT));
	memset(&f, 0, sizeof f); f.ints[0] = 1; f.fps[0] = dbits(2.5); float c = 0.25f; uint32_t cb; memcpy(&cb, &c, 4); f.fps[1] = cb; f.ints[1] = 100;
	printf("mixed = %g (want 103.75)\n", bitsd(gorc_call_generic((uintptr_t)mixed, f, 0, GORC_RET_F64)));
	memset(&f, 0, sizeof f); for (int i = 0; i < 8; i++) f.fps[i] = dbits(1); f.stack[0] = dbits(2); f.stack[1] = dbits(3);
	printf("manyf = %g (want 328)\n", bitsd(gorc_call_generic((uintptr_t)manyf, f, 2, GORC_RET_F64)));
	memset(&f, 0, sizeof f); float x = 5; uint32_t xb; memcpy(&xb, &x, 4); f.fps[0] = xb;
	uint32_t hb = (uint32_t)gorc_call_generic((uintptr_t)halff, f, 0, GORC_RET_F32); float h; memcpy(&h, &hb, 4);
	printf("halff = %g (want 2.5)\n", h);
	long (*cb0)(long,long,long,long,long,long,long,long,long,long) = (void *)gorc_callback_entry(0, GORC_RET_INT);
	printf("callback ints = %ld (want 385)\n", cb0(1,2,3,4,5,6,7,8,9,10));
	double (*cb1)(long, double, double) = (void *)gorc_callback_entry(1, GORC_RET_F64);
	printf("callback double = %g (want 4.75)\n", cb1(2, 1.5, 1.25));
	float (*cb2)(float) = (void *)gorc_callback_entry(2, GORC_RET_F32);
	printf("callback float = %g (want 7.5)\n", cb2(2.5f));
	return 0;
}
