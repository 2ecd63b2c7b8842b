/* A static constructor, run by the platform's initializers. */
static int ready;
__attribute__((constructor)) static void setup(void) { ready = 42; }
int get_ready(void) { return ready; }
