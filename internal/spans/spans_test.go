package spans

import (
	"slices"
	"testing"
)

func TestTakeAndGive(t *testing.T) {
	l := New(100)
	a, _ := l.Take(10)
	b, _ := l.Take(20)
	c, _ := l.Take(30)
	if a != 0 || b != 10 || c != 30 {
		t.Fatalf("offsets %d %d %d", a, b, c)
	}
	if _, ok := l.Take(41); ok {
		t.Fatal("took more than is free")
	}
	l.Give(b, 20)
	if off, _ := l.Take(15); off != 10 {
		t.Fatalf("first fit took %d", off)
	}
	l.Give(10, 15)
	l.Give(a, 10)
	l.Give(c, 30)
	if !slices.Equal(l.Free(), []Span{{0, 100}}) {
		t.Fatalf("after giving everything back: %v", l.Free())
	}
}
