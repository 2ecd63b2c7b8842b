package orc_test

import (
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc"
)

func TestCValues(t *testing.T) {
	for _, c := range []struct {
		t  orc.CType
		v  uint64
		ok bool
	}{
		{orc.CInt32, 1<<33 + 5, false},
		{orc.CInt32, uint64(0xffffffff_ffffffff), true}, // -1
		{orc.CInt32, 0xffffffff, false},                 // 4294967295 is not an int32
		{orc.CUint32, 0xffffffff, true},
		{orc.CInt8, uint64(0xffffffff_ffffff80), true}, // -128
		{orc.CInt8, 128, false},
		{orc.CUint16, 1 << 16, false},
		{orc.CBool, 2, false},
		{orc.CFloat, 1 << 32, false},
		{orc.CDouble, 1 << 63, true},
		{orc.CPointer, 1 << 63, true},
	} {
		if err := orc.CheckCValue(c.t, c.v); (err == nil) != c.ok {
			t.Errorf("CheckCValue(%s, %#x) = %v", c.t, c.v, err)
		}
	}
	if got := orc.NormalizeCValue(orc.CInt8, 0x12345680); got != uint64(0xffffffff_ffffff80) {
		t.Errorf("int8 result %#x", got)
	}
	if got := orc.NormalizeCValue(orc.CBool, 0x100); got != 0 {
		t.Errorf("bool result with only high bits set = %d", got)
	}
	sig := orc.CSignature{Result: orc.CDouble, Params: []orc.CType{orc.CDouble, orc.CPointer}}
	if sig.String() != "double (double, void *)" {
		t.Errorf("String = %q", sig)
	}
	if err := (orc.CSignature{Params: []orc.CType{orc.CVoid}}).Validate(); err == nil {
		t.Error("a void parameter is valid")
	}
}

func TestCArgCount(t *testing.T) {
	x86 := triple.MustParse("x86_64-unknown-linux-gnu")
	arm := triple.MustParse("aarch64-unknown-linux-gnu")
	ints := func(n int) orc.CSignature {
		s := orc.CSignature{Params: make([]orc.CType, n)}
		for i := range s.Params {
			s.Params[i] = orc.CInt64
		}
		return s
	}
	if err := orc.CheckCArgCount(x86, ints(22)); err != nil {
		t.Errorf("22 ints on x86-64: %v", err)
	}
	if err := orc.CheckCArgCount(x86, ints(23)); err == nil || !strings.Contains(err.Error(), "stack") {
		t.Errorf("23 ints on x86-64: %v", err)
	}
	if err := orc.CheckCArgCount(arm, ints(24)); err != nil {
		t.Errorf("24 ints on AArch64: %v", err)
	}
}

func TestStrings(t *testing.T) {
	es := orc.NewExecutionSession()
	defer es.Close()
	jd, err := es.CreateJITDylib("main")
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := es.CreateJITDylib("lib")
	jd.AddToLinkOrder(lib, orc.MatchExportedOnly)
	if got := jd.LinkOrder().String(); got != "[main (all symbols), lib]" {
		t.Errorf("LinkOrder = %s", got)
	}
	if got := jd.CreateResourceTracker().String(); got != "resource tracker of main" {
		t.Errorf("tracker = %s", got)
	}
	if got := (orc.LookupEntry{Name: orc.Intern("f"), Weak: true}).String(); got != "f (weak)" {
		t.Errorf("lookup entry = %s", got)
	}
}
