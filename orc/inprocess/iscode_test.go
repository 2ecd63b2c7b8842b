package inprocess

import (
	"reflect"
	"testing"
	"unsafe"
)

func TestIsCode(t *testing.T) {
	fn := uint64(reflect.ValueOf(TestIsCode).Pointer())
	data := new([64]byte)
	if !IsCode(fn) {
		t.Errorf("a Go function at %#x is not code", fn)
	}
	if a := uint64(uintptr(unsafe.Pointer(data))); IsCode(a) {
		t.Errorf("heap memory at %#x is code", a)
	}
	if IsCode(0) {
		t.Error("address 0 is code")
	}
}
