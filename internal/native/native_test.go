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

func TestCallWrapper(t *testing.T) {
	syms := RuntimeSymbols()
	out, err := CallWrapper(syms["gorc_empty_wrapper"], []byte{1, 2, 3})
	if err != nil || len(out) != 0 {
		t.Fatalf("empty wrapper: %v %v", out, err)
	}
	// Malformed arguments come back as an SPS Error (a set flag and a
	// message).
	out, err = CallWrapper(syms["gorc_register_eh_frame_wrapper"], []byte{1})
	if err != nil || len(out) < 9 || out[0] != 1 || !strings.Contains(string(out[9:]), "malformed") {
		t.Fatalf("malformed eh-frame registration: %q %v", out, err)
	}
	// An empty range is accepted: an SPS success is a single zero byte.
	out, err = CallWrapper(syms["gorc_register_eh_frame_wrapper"], make([]byte, 16))
	if err != nil || len(out) != 1 || out[0] != 0 {
		t.Fatalf("empty eh-frame range: %v %v", out, err)
	}
	if m1, m2 := ReserveTLSModule(), ReserveTLSModule(); m1 == 0 || m2 == 0 || m1 == m2 {
		t.Fatalf("TLS module ids %d %d", m1, m2)
	}
}
