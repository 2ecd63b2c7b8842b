/* Data defined by Go in JIT'd memory (LLJIT.DefineData): this non-PIC code
   reaches it with a 32-bit PC-relative offset. */
extern int go_counter;
int bump(int by) { return go_counter += by; }

