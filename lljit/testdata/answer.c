/* The "hello world" of the examples: functions JIT'd code exports. */
int answer(void) { return 42; }
int add1000(int a) { return a + 1000; }
