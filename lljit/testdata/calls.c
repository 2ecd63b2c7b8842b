#include <stdio.h>

double hyp2(double x, double y) { return x * x + y * y; }
int add3(int a, int b, int c) { return a + b + c; }
long weigh(long a, long b, long c, long d, long e, long f, long g, long h) {
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;   /* g and h go on the stack */
}
static const char hello[] = "hello from C";
const char *greeting(void) { return hello; }

void say(const char *what) { printf("C says: %s\n", what); }
