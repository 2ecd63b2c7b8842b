#include <stdexcept>
struct S { virtual ~S() {} virtual int v() { return 1; } };
inline int twice(int x) { return 2 * x; }
int thrower(int x) { if (x) throw std::runtime_error("boom"); return twice(x); }
int catcher(int x) { try { return thrower(x); } catch (const std::exception &) { return -1; } }
S *make() { return new S; }
