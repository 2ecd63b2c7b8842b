package native

import (
	"strings"
	"testing"
)

func TestCallLibc(t *testing.T) {
	labs, ok := LookupDefault("labs")
	if !ok {
		t.Fatal("labs not found in the process")
	}
	r, err := CallInt(labs, uint64(0xffffffffffffff85)) // -123
	if err != nil || r != 123 {
		t.Fatalf("labs(-123) = %d, %v", r, err)
	}
	if _, err := CallInt(labs, 1, 2, 3, 4, 5, 6, 7); err == nil {
		t.Fatal("seven arguments accepted")
	}
	tzset, ok := LookupDefault("tzset")
	if !ok {
		t.Fatal("tzset not found")
	}
	CallVoid(tzset)
	if _, ok := LookupDefault("no_such_symbol_gorc"); ok {
		t.Fatal("found a symbol that does not exist")
	}
}

func TestLibrary(t *testing.T) {
	lib, err := Open("libm.so.6", RTLDNow|RTLDLocal)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	if _, ok := lib.Lookup("cos"); !ok {
		t.Fatal("cos not in libm")
	}
	self, err := Open("", RTLDNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := self.Lookup("malloc"); !ok {
		t.Fatal("malloc not visible through the process handle")
	}
	if _, err := Open("/no/such/libgorc.so", RTLDNow); err == nil || !strings.Contains(err.Error(), "libgorc.so") {
		t.Fatalf("want an error naming the library, got %v", err)
	}
}
