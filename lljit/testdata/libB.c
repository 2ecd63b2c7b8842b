int which(void) { return 2; }
int only_in_b(void) { return 20; }
