#include <stdio.h>
#include <stdarg.h>
extern int ext_data;
int common_var;
static int sdata = 3;
int gdata = 4;
static const char *names[] = {"a", "b"};
__attribute__((weak)) int weak_fn(void) { return 1; }
static int add(int a, int b) { return a + b; }
int (*table[])(int, int) = {add};
int vsum(int n, ...) { va_list ap; va_start(ap, n); int s = 0; while (n--) s += va_arg(ap, int); va_end(ap); return s; }
__attribute__((constructor)) static void init(void) { sdata++; }
int f(int i) { printf("%s %d\n", names[i & 1], ext_data); return table[0](gdata, sdata) + weak_fn() + common_var; }
