/* Go functions, exported to this code with LLJIT.ExportFunc. */
extern long go_twice(long x);
extern void go_log(const char *line);
long twice_plus_one(long x) {
	go_log("C is calling Go");
	return go_twice(x) + 1;
}

