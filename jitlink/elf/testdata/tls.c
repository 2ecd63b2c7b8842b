__thread int tv = 1;
static __thread int ltv;
int get(void) { return tv + ltv++; }
