package rawcall

// Call2 calls the function at fn with two integer arguments and returns
// its integer result.
//
//go:noescape
func Call2(fn, a, b uintptr) uintptr
