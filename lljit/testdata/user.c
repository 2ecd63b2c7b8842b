/* Binds to which() through its JITDylib's link order. */
int which(void);
int only_in_b(void);
int ask(int unused) { return which() * 100 + only_in_b(); }
