/* Reads a value the host program provides as an absolute symbol. */
extern int host_counter;
int bump(int by) { host_counter += by; return host_counter; }
