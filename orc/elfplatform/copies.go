package elfplatform

// CopyableVariable reports whether a variable of the C library may be
// copied for code that cannot reach it (see x86_64.FarExternals), and the
// symbol whose address it holds. Only glibc's stdin, stdout and stderr
// qualify: glibc initializes each to the address of its FILE object
// (_IO_2_1_stdout_ ...) and never assigns it again, and code that uses
// them only reads them. A program that assigns one (legal, rare) faults on
// the read-only copy. Every other variable (optind, environ, timezone...)
// changes while the program runs, so a copy would silently go stale.
func CopyableVariable(name string) (pointee string, ok bool) {
	switch name {
	case "stdin", "stdout", "stderr":
		return "_IO_2_1_" + name + "_", true
	}
	return "", false
}
